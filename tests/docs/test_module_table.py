"""docs/development.md's module table names exactly the modules of the normcheck package."""

import pkgutil
import re
from pathlib import Path

import normcheck

ROOT = Path(__file__).resolve().parents[2]


def package_modules() -> set[str]:
    """Every module as a path inside the package: `cli.py`, a subpackage's `calibration/__init__.py` and `calibration/store.py`."""
    out = {"__init__.py"}
    for info in pkgutil.walk_packages(normcheck.__path__, prefix="normcheck."):
        path = info.name.removeprefix("normcheck.").replace(".", "/")
        out.add(f"{path}/__init__.py" if info.ispkg else f"{path}.py")
    return out


def table_modules(text: str) -> list[str]:
    """The `*.py` names in the first column of the table under "| module |"."""
    lines = text.split("| module |", 1)[1].splitlines()[2:]
    rows = [line for line in lines[:next((i for i, line in enumerate(lines) if not line.startswith("|")), len(lines))]]
    return [name for row in rows for name in re.findall(r"`([\w/]+\.py)`", row.split("|")[1])]


def test_module_table_names_every_module_once():
    listed = table_modules((ROOT / "docs" / "development.md").read_text())
    assert len(listed) == len(set(listed)), f"listed twice: {sorted({m for m in listed if listed.count(m) > 1})}"
    modules = package_modules()
    assert not set(listed) - modules, f"docs/development.md lists modules normcheck has not: {sorted(set(listed) - modules)}"
    assert not modules - set(listed), f"docs/development.md's module table misses: {sorted(modules - set(listed))}"


def test_table_reader_sees_subpackages():
    text = "| module | job |\n|---|---|\n| `a.py`, `pkg/b.py` | x |\n| `pkg/__init__.py` | y |\n\nafter `c.py`\n"
    assert table_modules(text) == ["a.py", "pkg/b.py", "pkg/__init__.py"]
