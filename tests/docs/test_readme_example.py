"""README's library example runs as written (a code block is a test that has not been run yet)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def library_example() -> str:
    section = (ROOT / "README.md").read_text().split("## As a library", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_library_example_runs_as_written(tmp_path):
    code = library_example() + "assert verdicts and all(v.holds for v in verdicts), verdicts\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
