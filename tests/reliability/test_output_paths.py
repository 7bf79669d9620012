"""Issue 22: one gate for every path a command reads or writes, options and environment alike, checked before
training: outputs are regular files or absent (a FIFO, device or socket is never replaced), no output is an input or
another output, an existing file keeps its mode and owner, temporary names fit the name limit."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from normcheck import cli, files
from normcheck.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "baselines" / "jax.json"


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry of `folder`: its mode and, for a regular file, its bytes."""
    return {p.name: (p.lstat().st_mode, p.read_bytes() if p.is_file() else None) for p in sorted(folder.iterdir())}


def special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"out-{kind}.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a copy of /dev/null
        except PermissionError:
            pytest.skip("making a device needs root")
    return path



@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_an_output_that_is_a_fifo_or_a_device_is_refused_and_kept(tmp_path, error_line, no_work, kind, option):
    path = special(tmp_path, kind)
    before = snapshot(tmp_path)
    assert cli.main([option, str(path), "--quiet"]) == 2
    assert f"{option} '{path}' is a {kind.replace('fifo', 'FIFO')}; allowed: a regular file or a new path" \
        in error_line()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_the_library_never_replaces_a_fifo_or_a_device(tmp_path, kind):
    path = special(tmp_path, kind)
    before = snapshot(tmp_path)
    with pytest.raises(InputError, match="allowed: a regular file or a new path"):
        files.write_json(path, {"a": 1})
    assert snapshot(tmp_path) == before


def test_an_empty_output_path_is_refused_not_ignored(error_line, no_work):
    assert cli.main(["--json", "", "--quiet"]) == 2
    assert "--json '' is empty; allowed: a file path" in error_line()


def test_a_comparison_never_replaces_the_baseline_it_reads(tmp_path, error_line, no_work):
    base = tmp_path / "b.json"
    shutil.copy(BASELINE, base)
    before = snapshot(tmp_path)
    assert cli.main(["baseline", "compare", str(base), "--json", str(base), "--quiet"]) == 2
    assert f"--json '{base}' is the same file as the baseline PATH" in error_line()
    assert snapshot(tmp_path) == before


def test_a_comparison_refuses_the_baseline_through_another_name(tmp_path, error_line, no_work):
    base = tmp_path / "b.json"
    shutil.copy(BASELINE, base)
    (tmp_path / "link.json").symlink_to(base)
    before = snapshot(tmp_path)
    assert cli.main(["baseline", "compare", str(base), "--markdown", str(tmp_path / "link.json"), "--quiet"]) == 2
    assert "is the same file as the baseline PATH" in error_line()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv", [["--json", "same.out", "--markdown", "same.out"],
                                  ["--plot", "same.png", "--json", "same.png"],
                                  ["sweep", "--csv", "same.png", "--plot", "same.png"]])
def test_two_outputs_of_one_command_may_not_be_one_file(tmp_path, error_line, no_work, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / argv[-1]).write_text("kept\n")
    before = snapshot(tmp_path)
    assert cli.main([*argv, "--quiet"]) == 2
    assert f"'{argv[-1]}' is the same file as" in error_line()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["missing folder", "directory", "fifo", "same as --markdown"])
def test_github_step_summary_is_checked_before_training(tmp_path, error_line, monkeypatch, no_work, kind):
    target = {"missing folder": tmp_path / "nowhere" / "summary.md", "directory": tmp_path,
              "fifo": tmp_path / "out-fifo.json", "same as --markdown": tmp_path / "m.md"}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    argv = ["--markdown", str(tmp_path / "m.md")] if kind == "same as --markdown" else []
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert cli.main([*argv, "--quiet"]) == 2
    line = error_line()
    assert "$GITHUB_STEP_SUMMARY" in line
    assert str(target) in line


def test_the_step_summary_is_appended_to_a_regular_file_only(tmp_path):
    fifo = tmp_path / "summary"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is a FIFO"):
        files.append_text(fifo, "x", "$GITHUB_STEP_SUMMARY")
    regular = tmp_path / "summary.md"
    regular.write_text("earlier step\n")
    files.append_text(regular, "normcheck\n", "$GITHUB_STEP_SUMMARY")
    assert regular.read_text() == "earlier step\nnormcheck\n"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_rewriting_a_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "out.json"
    path.write_text("{}")
    path.chmod(mode)
    files.write_json(path, {"new": 1})
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert json.loads(path.read_text()) == {"new": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_rewriting_a_file_as_root_keeps_its_owner(tmp_path):
    if os.getuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path = tmp_path / "out.json"
    path.write_text("{}")
    os.chown(path, 12345, 12346)
    files.write_json(path, {"new": 1})
    assert (path.stat().st_uid, path.stat().st_gid) == (12345, 12346)


def test_a_file_name_at_the_length_limit_is_written_with_no_temporary_file_left(tmp_path):
    name = "n" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".json")) + ".json"
    files.check_writable(tmp_path / name)
    files.write_json(tmp_path / name, {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == [name]

