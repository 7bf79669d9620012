"""Every block in README.md and docs/*.md that is meant to run is run or checked here, so an example cannot rot.

A fenced block with a language is code:
- `python`: executed for real, in this process, on the session's backend.
- `bash` / `sh`: each command (split at `&&`, `||`, `;` and `|`; comments dropped) is checked by what runs it:
  `python -m normcheck ...` and `normcheck ...` are parsed by normcheck's own parser (and run when cheap:
  `--version`, `-h`); `pytest ...` by this session's pytest parser, which holds normcheck's, xdist's and
  pytest-benchmark's options (`-m` names registered markers, `--normcheck-seeds` and `--normcheck-backend`
  values are checked); `python ci/matrix.py ...` against that subcommand's `--help` (and `--check` runs);
  `nox -f ci/noxfile.py -s ...` against the noxfile's sessions; `pip install -e '.[extras]'` against
  pyproject's extras; `python FILE.py` must exist and compile. Set-up (`python3 -m venv`, `. activate`,
  `pip install` of packages, `ruff`, `mypy`) is taken as written. Any other command fails the test: teach
  it here, or opt the block out.
- `[...]` in a command marks optional arguments: the command is checked with them.

Markers, an HTML comment on the line before the fence:
- `<!-- not-run: reason -->`: the block is not run or checked (the reason is required).
- `<!-- excerpt: PATH -->`: an output excerpt; each of its lines other than `...` must be a line of PATH.
A fence without a language is output and is not run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from normcheck import cli
from normcheck.framework import BACKENDS
from normcheck.seeds import parse as parse_seeds

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|excerpt):\s*(?P<arg>.*?)\s*-->\s*$")
CODE = {"python", "bash", "sh", "shell"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: tuple[str, str] | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the marker comment on the line before it, if any."""
    lines = page.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, start = m["indent"], i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{page.relative_to(ROOT)}:{start + 1}: unclosed code fence")
        marker = MARKER.match(lines[start - 1]) if start else None
        out.append(Block(page, start + 1, m["lang"], "\n".join(body) + "\n",
                         (marker["kind"], marker["arg"]) if marker else None))
        i += 1
    return out


ALL = [b for page in PAGES for b in blocks(page)]
CODE_BLOCKS = [b for b in ALL if b.lang in CODE and (b.marker is None or b.marker[0] != "not-run")]
EXCERPTS = [b for b in ALL if b.marker is not None and b.marker[0] == "excerpt"]


# ---- shell commands ---------------------------------------------------------------------------------------

def commands(text: str) -> list[list[str]]:
    """Each simple command of a shell block as its words: comments dropped, `\\` continuations joined."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in lexer:
            if token in ("&&", "||", ";", "|", "&"):
                if words:
                    out.append(words)
                words = []
            else:
                words.append(token)
        if words:
            out.append(words)
    return out


def optional_removed(words: list[str]) -> list[str]:
    """`[--backend jax]` in a documented command: the optional words, checked as if given."""
    out, depth = [], 0
    for word in words:
        if word.startswith("["):
            word, depth = word[1:], depth + 1
        if depth and word.endswith("]"):
            word, depth = word[:-1], depth - 1
        if word:
            out.append(word)
    return out


def _matrix():
    spec = importlib.util.spec_from_file_location("ci_matrix_docs", ROOT / "ci" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def check_normcheck(args: list[str]) -> None:
    if args in (["--version"], ["-h"], ["--help"]) or (len(args) == 2 and args[1] in ("-h", "--help")):
        done = _run(["-m", "normcheck", *args])  # cheap: no framework imported
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("normcheck " if args == ["--version"] else "usage: ")
        return
    try:
        cli.parse(args)
    except SystemExit as exc:  # argparse's own exit (help, or an error it printed)
        raise AssertionError(f"`normcheck {shlex.join(args)}`: argparse exited {exc.code}") from None
    except Exception as exc:  # normcheck's parser raises its usage error instead of exiting
        raise AssertionError(f"`normcheck {shlex.join(args)}`: {exc}") from None


def check_pytest(args: list[str], config: pytest.Config) -> None:
    namespace, unknown = config._parser.parse_known_and_unknown_args(args)
    options = [u for u in unknown if u.startswith("-")]
    assert not options, f"`pytest {shlex.join(args)}`: pytest has no option(s) {options}"
    if namespace.normcheck_seeds is not None:
        parse_seeds(namespace.normcheck_seeds)
    if namespace.normcheck_backend is not None:
        assert namespace.normcheck_backend in BACKENDS
    if namespace.normcheck_baseline is not None:
        assert namespace.normcheck_baseline == "PATH" or (ROOT / namespace.normcheck_baseline).is_file()
    if "-m" in args:
        markers = {line.split(":")[0].strip() for line in config.getini("markers")}
        named = set(re.findall(r"[A-Za-z_]\w*", args[args.index("-m") + 1])) - {"and", "or", "not"}
        assert named <= markers, f"`pytest {shlex.join(args)}`: no marker(s) {sorted(named - markers)}"


def check_matrix(args: list[str]) -> None:
    matrix = _matrix()
    sub = args[0]
    if "--check" in args:
        assert matrix.main(args) == 0, f"`python ci/matrix.py {shlex.join(args)}` exited 1"
        return
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        matrix.main([sub, "--help"])
    assert exited.value.code == 0, f"`python ci/matrix.py {sub}` is no subcommand"
    for word in args[1:]:
        if word.startswith("-"):
            assert word in out.getvalue(), f"`python ci/matrix.py {shlex.join(args)}`: {word} is not an option of {sub}"
        else:
            assert (ROOT / word).exists(), f"`python ci/matrix.py {shlex.join(args)}`: {word} does not exist"


def check_nox(args: list[str]) -> None:
    assert args[:2] == ["-f", "ci/noxfile.py"], f"nox {shlex.join(args)}: give -f ci/noxfile.py"
    default, others = _matrix().nox_sessions()
    sessions = {*default, *others}
    names = args[args.index("-s") + 1:] if "-s" in args else []
    names = names[:names.index("--")] if "--" in names else names
    for name in names:
        assert name in sessions or any(s.startswith(f"{name}-") for s in sessions), f"nox has no session {name!r}"


def check_pip(args: list[str]) -> None:
    assert args[0] == "install", f"pip {shlex.join(args)}"
    for word in args[1:]:
        if word.startswith("."):
            extras = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", word)
            assert extras, f"pip install {word}: not this project"
            section = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
            known = set(re.findall(r"^([\w-]+) = ", section, re.M))
            for extra in (extras[1] or "").split(",") if extras[1] else []:
                assert extra in known, f"pip install {word}: pyproject has no extra {extra!r}"


def check_command(words: list[str], config: pytest.Config) -> None:
    words = optional_removed(words)
    head, args = words[0], words[1:]
    if head in ("python", "python3") and args[:2] == ["-m", "normcheck"]:
        check_normcheck(args[2:])
    elif head == "normcheck":
        check_normcheck(args)
    elif head == "pytest" or (head in ("python", "python3") and args[:2] == ["-m", "pytest"]):
        check_pytest(args if head == "pytest" else args[2:], config)
    elif head in ("python", "python3") and args[:1] == ["ci/matrix.py"]:
        check_matrix(args[1:])
    elif head == "nox":
        check_nox(args)
    elif head == "pip":
        check_pip(args)
    elif head in ("python", "python3") and args[:2] == ["-m", "venv"]:
        pass
    elif head in ("python", "python3") and len(args) == 1 and args[0].endswith(".py"):
        compile((ROOT / args[0]).read_text(), args[0], "exec")
    elif (head in (".", "source") and args[0].endswith("/bin/activate")) or head in ("ruff", "mypy"):
        pass  # set-up and linters, taken as written
    else:
        raise AssertionError(f"no check knows `{shlex.join(words)}`: teach tests/docs/test_examples.py, "
                             "or put `<!-- not-run: reason -->` before the block")


# ---- the tests --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b in CODE_BLOCKS if b.lang != "python"], ids=lambda b: b.id)
def test_shell_block_commands_are_valid(block, pytestconfig):
    found = commands(block.text)
    assert found, f"{block.id}: an empty shell block"
    for words in found:
        try:
            check_command(words, pytestconfig)
        except AssertionError as exc:
            raise AssertionError(f"{block.id}: {exc}") from None


@pytest.mark.parametrize("block", [b for b in CODE_BLOCKS if b.lang == "python"], ids=lambda b: b.id)
def test_python_block_runs(block, normcheck_backend):
    """Executed as written, on the session's backend (README's library example trains one run)."""
    exec(compile(block.text, block.id, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("block", EXCERPTS, ids=lambda b: b.id)
def test_output_excerpt_is_in_its_file(block):
    source = (ROOT / block.marker[1]).read_text().splitlines()
    missing = [line for line in block.text.splitlines() if line != "..." and line not in source]
    assert not missing, f"{block.id}: not in {block.marker[1]} (re-take the excerpt): {missing[:3]}"


def test_every_opt_out_gives_a_reason():
    for b in ALL:
        if b.marker is not None:
            assert b.marker[1], f"{b.id}: `<!-- {b.marker[0]}: ... -->` needs a reason or a path"


def test_readme_setup_commands_are_what_ci_runs():
    """README's two set-up commands stay as CI runs them: the install + test command is ci/run.sh's."""
    setup = next(b for b in blocks(ROOT / "README.md") if b.lang == "bash")
    script = (ROOT / "ci" / "run.sh").read_text()
    test_line = setup.text.splitlines()[1].split("#")[0].strip()
    assert test_line.split(" && ", 2)[2] in script


# ---- the checker itself -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "python -m normcheck --seedz 0-4",
    "python -m normcheck bench --readme",
    "python -m normcheck calibrate --engine nope",
    "pytest --normcheck-seedz 0-4",
    "pytest --normcheck-backend tensorflw",
    "pytest -m 'unit or upgarde'",
    "python ci/matrix.py render --wrte docs/matrix.md",
    "nox -f ci/noxfile.py -s keras2_tf999",
    "pip install -e '.[tset]'",
    "rm -rf calibration",
])
def test_a_broken_command_fails_its_check(command, pytestconfig):
    def check() -> None:
        for words in commands(command):
            check_command(words, pytestconfig)

    with pytest.raises((AssertionError, ValueError)):
        check()


def test_markers_and_fences_are_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n<!-- not-run: needs a GPU -->\n```bash\nrm -rf /\n```\n\n   ```python\n   x = 1\n   ```\n"
                    "```\noutput\n```\n")
    found = blocks(page)
    assert [(b.lang, b.marker, b.text) for b in found] == [
        ("bash", ("not-run", "needs a GPU"), "rm -rf /\n"), ("python", None, "x = 1\n"), ("", None, "output\n")]
    assert commands("a 'b c' && d # e\nf | g") == [["a", "b c"], ["d"], ["f"], ["g"]]
    assert optional_removed(["bench", "[--backend", "jax]", "[--targets]", ".[test,jax]"]) == [
        "bench", "--backend", "jax", "--targets", ".[test,jax]"]
