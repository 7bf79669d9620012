"""Atomic file writes: a reader sees the old file or the whole new one, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import InputError


def check_writable(path: str | Path, *, force: bool = True) -> Path:
    """Fail before any work if `path` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path {str(path)!r} is a directory; allowed: a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"output path {str(path)!r}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output path {str(path)!r}: folder {str(parent)!r} is not writable")
    if not force and path.exists():
        raise InputError(f"output path {str(path)!r} exists; pass --force to overwrite it")
    return path


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=1) + "\n")
