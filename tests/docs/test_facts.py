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


def test_readme_stays_a_front_door_of_at_most_10_kb():
    """Details belong in docs/; a generated block that grows has to push prose out, not the page past 10 KB."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 10 * 1024, f"README.md is {size} bytes; allowed: at most {10 * 1024}"
