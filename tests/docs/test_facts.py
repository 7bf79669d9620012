"""Facts that live in code are not retyped in prose: counts come from registries, seed ranges name their constant."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = re.compile(r"<!-- (\w+):start.*?<!-- \1:end -->", re.S)


def prose(page: Path) -> str:
    """A page without its generated blocks (docs/claims.md is generated whole)."""
    return "" if page.name == "claims.md" else GENERATED.sub("", page.read_text())


def test_no_page_types_the_number_of_claims():
    """The registry's size changes with every claim; prose says "the claims", generated tables count them."""
    for page in PAGES:
        if page.name == "CHANGELOG.md":
            continue  # history: the counts of its time
        text = prose(page)
        for m in re.finditer(r"(?<![/\d-])\b\d+ claims\b", text):
            raise AssertionError(f"{page.relative_to(ROOT)}: {m[0]!r} typed by hand; drop the count or render it")
