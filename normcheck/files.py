"""Files normcheck reads and writes: input checked before it is trusted, output written atomically.

Reads: regular files only, below a size cap, strict JSON (no NaN or Infinity),
nesting errors caught; each problem is one `InputError` naming the file.
Writes: to a temporary file in the target's folder, flushed and fsynced, then
renamed over the target: a reader sees the old file or the whole new one; on
failure the old file is intact, no temporary file is left, and the error names
the path and what the OS said.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InputError

MAX_INPUT_BYTES = 256 * 2**20


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def split_block(text: str, start: str, end: str, where: str) -> tuple[str, str, str]:
    """(before `start`, between the markers, after `end`): a generated block inside a hand-written file."""
    if start not in text or end not in text:
        raise InputError(f"{where} has no generated block; add the lines {start!r} and {end!r}")
    head, rest = text.split(start, 1)
    inner, tail = rest.split(end, 1)
    return head, inner, tail


def with_block(text: str, start: str, end: str, render: Callable[[], str], where: str) -> str:
    """`text` with its generated block replaced by `render()` (markers included): the one routine every generated
    block goes through. The markers are checked first, so a file without them fails before any rendering."""
    before, _, after = split_block(text, start, end, where)
    return before + render() + after


def replace_block(path: str | Path, start: str, end: str, render: Callable[[], str]) -> None:
    """Rewrite a hand-written file's generated block with `render()` (markers included); the file is read and
    its markers checked first, so a bad path fails before any rendering."""
    write_text(path, with_block(read_text(path, "README"), start, end, render, repr(str(path))))


def read_text(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of a regular file of at most `max_bytes`, checked before reading: no FIFO, device or folder."""
    where = f"{what} {str(path)!r}"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{where} does not exist") from None
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{where} is a directory; allowed: a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{where} is not a regular file (a FIFO, device or socket); allowed: a regular file")
    if info.st_size > max_bytes:
        raise InputError(f"{where} is {info.st_size} bytes; allowed: at most {max_bytes}")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(max_bytes + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} cannot be read: {exc}") from None


def parse_json(text: str, where: str) -> Any:
    """Strict JSON: NaN, Infinity and nesting deeper than Python can follow are errors naming `where`."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise InputError(f"{where} is not strict JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{where} nests too deeply to read") from None


def read_json(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    return parse_json(read_text(path, what, max_bytes), f"{what} {str(path)!r}")


def check_writable(path: str | Path, *, force: bool = True) -> Path:
    """Fail before any work if `path` cannot be written: its folder must take a new file (a real trial)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path {str(path)!r} is a directory; allowed: a file path")
    target = _target(path)
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"output path {str(path)!r}: folder {str(parent)!r} does not exist")
    if not force and path.exists():
        raise InputError(f"output path {str(path)!r} exists; pass --force to overwrite it")
    try:
        fd, trial = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(trial)
    except OSError as exc:
        raise InputError(f"output path {str(path)!r}: folder {str(parent)!r} does not take new files ({exc.strerror})") from None
    return path


def _target(path: Path) -> Path:
    """Where the bytes go: a symlink's target, so the link stays a link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path.absolute()


def write_bytes(path: str | Path, data: bytes) -> None:
    target = _target(Path(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(target.parent)
    except OSError as exc:
        raise InputError(f"output path {str(path)!r} cannot be written: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=1) + "\n")
