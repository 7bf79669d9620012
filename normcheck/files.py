"""Files normcheck reads and writes: input checked before it is trusted, output written atomically.

Reads: regular files only, below a size cap, strict JSON (no NaN or Infinity) unless
normcheck wrote the file itself, nesting errors caught, .npz archives without pickles
and bounded once unpacked; each problem is one `InputError` naming the file.
Writes: to a temporary file in the target's folder, flushed and fsynced, then
renamed over the target: a reader sees the old file or the whole new one; on
failure the old file is intact, no temporary file is left, and the error names
the path and what the OS said. An existing target keeps its mode (and owner,
where the process may set it); a target that is a FIFO, device, socket or folder
is never replaced.
`gate` checks every path one command reads or writes before any work: outputs
regular files or absent, none of them also an input or another output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, shown

MAX_INPUT_BYTES = 256 * 2**20
# Parsed JSON costs about 64 bytes per list or object and 32 per number: a file with more of them per byte than these
# would take many times its size in memory. normcheck's own files hold one container per ~200 bytes, one value per ~25.
BYTES_PER_CONTAINER = 32
BYTES_PER_VALUE = 8
SLACK = 4096


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


def _regular(path: str | Path, where: str, max_bytes: int) -> None:
    """Refuse, before opening it, a path that is missing, not a regular file (a FIFO would hang) or above `max_bytes`."""
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


def read_text(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The text of a regular file of at most `max_bytes`, checked before reading: no FIFO, device or folder."""
    where = f"{what} {shown(str(path))}"
    _regular(path, where, max_bytes)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(max_bytes + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} cannot be read: {exc}") from None


def read_bytes(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, checked as `read_text` checks."""
    where = f"{what} {shown(str(path))}"
    _regular(path, where, max_bytes)
    try:
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{where} cannot be read: {exc.strerror or exc}") from None


def npz_arrays(data: bytes, where: str, max_bytes: int = MAX_INPUT_BYTES) -> dict[str, Any]:
    """The arrays of a .npz file's bytes (no pickles), at most `max_bytes` once unpacked; a bad archive is one
    InputError naming `where`, never NumPy's advice to allow pickles."""
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise InputError(f"{where} is not an .npz archive (no zip header)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            unpacked = sum(info.file_size for info in npz.zip.infolist())
            if unpacked > max_bytes:
                raise InputError(f"{where} unpacks to {unpacked} bytes; allowed: at most {max_bytes}")
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        text = str(exc)
        reason = ("holds pickled Python objects; allowed: arrays of numbers and text" if "pickle" in text
                  else f"is not a readable .npz archive ({text})")
        raise InputError(f"{where} {reason}") from None


def read_npz(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> dict[str, Any]:
    """The arrays of a regular .npz file of at most `max_bytes` (packed and unpacked), checked before reading."""
    return npz_arrays(read_bytes(path, what, max_bytes), f"{what} {shown(str(path))}", max_bytes)


def parse_json(text: str, where: str, *, non_finite: bool = False) -> Any:
    """Strict JSON: NaN, Infinity, nesting deeper than Python can follow and more values per byte than normcheck's
    files hold (memory bounded by the size) are errors naming `where`. `non_finite=True` reads NaN and Infinity
    (as `json.dumps` writes them) in a file normcheck wrote itself: a calibration run that diverged is a finding."""
    containers = text.count("[") + text.count("{")
    if containers > len(text) // BYTES_PER_CONTAINER + SLACK:
        _refuse_deep(text[:65536], where)
        raise InputError(f"{where} holds {containers} lists and objects in {len(text)} characters; allowed: at most one "
                         f"per {BYTES_PER_CONTAINER} characters (normcheck's files hold one per ~200)")
    values = containers + text.count(",")
    if values > len(text) // BYTES_PER_VALUE + SLACK:
        raise InputError(f"{where} holds {values} values in {len(text)} characters; allowed: at most one per "
                         f"{BYTES_PER_VALUE} characters (normcheck's files hold one per ~25)")
    try:
        return json.loads(text) if non_finite else json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:
        raise InputError(f"{where} is not strict JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{where} nests too deeply to read") from None


def _refuse_deep(head: str, where: str) -> None:
    """Nesting too deep shows in the first characters already: say so rather than count the brackets."""
    try:
        json.loads(head)
    except RecursionError:
        raise InputError(f"{where} nests too deeply to read") from None
    except ValueError:
        pass


def read_json(path: str | Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    return parse_json(read_text(path, what, max_bytes), f"{what} {shown(str(path))}")


def _kind(mode: int) -> str:
    return ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")


def _not_regular(path: str | Path, what: str) -> None:
    """Refuse an existing path that is not a regular file (a link is followed): normcheck never replaces one."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"{what} {shown(str(path))} cannot be checked: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{what} {shown(str(path))} is a directory; allowed: a file path")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{what} {shown(str(path))} is {_kind(info.st_mode)}; allowed: a regular file or a new path")


def check_writable(path: str | Path, *, force: bool = True, what: str = "output path") -> Path:
    """Fail before any work if `path` cannot be written: not empty, a regular file or absent, its folder must take a
    new file (a real trial)."""
    if str(path) == "":
        raise InputError(f"{what} '' is empty; allowed: a file path")
    path = Path(path)
    _not_regular(path, what)
    target = _target(path)
    parent = target.parent
    if not parent.is_dir():
        raise InputError(f"{what} {shown(str(path))}: folder {shown(str(parent))} does not exist")
    if not force and path.exists():
        raise InputError(f"{what} {shown(str(path))} exists; pass --force to overwrite it")
    try:
        fd, trial = tempfile.mkstemp(dir=parent, prefix=_temp_prefix(target), suffix=".probe")
        os.close(fd)
        os.unlink(trial)
    except OSError as exc:
        raise InputError(f"{what} {shown(str(path))}: folder {shown(str(parent))} does not take new files "
                         f"({exc.strerror})") from None
    return path


def _identity(path: str | Path) -> tuple[Any, ...]:
    """What makes two paths the same file: device and inode when it exists, else the resolved path."""
    try:
        info = os.stat(path)
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


def gate(reads: Mapping[str, str | Path | None], writes: Mapping[str, str | Path | None], *, force: bool = True) -> None:
    """Every path one command reads (`reads`) or writes (`writes`), each labelled as the user named it (an option or an
    environment variable), checked before any work: outputs writable regular files or absent, and no output is an
    input or another output of the same command (one would silently replace the other)."""
    for label, path in {**reads, **writes}.items():
        if path is not None and str(path) == "":
            raise InputError(f"{label} '' is empty; allowed: a file path")
    for label, path in writes.items():
        if path is not None:
            check_writable(path, force=force, what=label)
    seen: dict[tuple[Any, ...], tuple[str, str]] = {}
    for role, paths in (("read", reads), ("write", writes)):
        for label, path in paths.items():
            if path is None:
                continue
            key = _identity(path)
            if key in seen and (role == "write" or seen[key][1] == "write"):
                other = seen[key][0]
                raise InputError(f"{label} {shown(str(path))} is the same file as {other}; allowed: an output that is "
                                 "no input and no other output of this command")
            seen.setdefault(key, (label, role))


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _temp_prefix(target: Path) -> str:
    """`.name.` cut so the temporary name (prefix, 8 random characters, `.probe`/`.tmp`) fits the folder's name limit."""
    room = max(1, _name_max(target.parent) - len(".." + "x" * 8 + ".probe") - 8)
    return f".{target.name[:room]}."


def _target(path: Path) -> Path:
    """Where the bytes go: a symlink's target, so the link stays a link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path.absolute()


def write_bytes(path: str | Path, data: bytes) -> None:
    """`data` to `path` atomically; an existing file keeps its mode and owner, a non-regular one is refused."""
    target = _target(Path(path))
    _not_regular(target, "output path")
    try:
        existing: os.stat_result | None = os.stat(target)
    except OSError:
        existing = None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if existing is not None:
            _keep_owner(tmp, existing)
            os.chmod(tmp, stat.S_IMODE(existing.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(target.parent)
    except OSError as exc:
        raise InputError(f"output path {shown(str(path))} cannot be written: {exc.strerror or exc}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _keep_owner(tmp: str, existing: os.stat_result) -> None:
    """The replaced file's owner and group, where this process may give them (root, or already its own)."""
    if (existing.st_uid, existing.st_gid) == (os.getuid(), os.getgid()):
        return
    with contextlib.suppress(PermissionError):
        os.chown(tmp, existing.st_uid, existing.st_gid)


def append_text(path: str | Path, text: str, what: str) -> None:
    """`text` appended to a regular file (made if absent): a CI summary, never a FIFO or device."""
    _not_regular(path, what)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o666)
    except OSError as exc:
        raise InputError(f"{what} {shown(str(path))} cannot be written: {exc.strerror}") from None
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise InputError(f"{what} {shown(str(path))} is not a regular file; allowed: a regular file or a new path")
        fh.write(text)


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
