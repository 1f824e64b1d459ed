"""Reading and writing model files: the one place the package touches them.

Writes are atomic: a temporary file in the same directory, fsync, then ``os.replace``; a failed write leaves
nothing behind and the old file intact.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


def as_path(path: Any, what: str = "path") -> Path:
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        result = Path(path)
        if str(result) in ("", "."):
            raise ValueError(f"{what} must name a file; got {path!r}")
        return result
    raise TypeError(f"{what} must be a str or os.PathLike; got {type(path).__name__} {path!r}"[:200])


def atomic_write(path: Any, data: bytes, *, what: str = "path") -> Path:
    """Write ``data`` to ``path`` atomically (an existing file is replaced only by a complete new one)."""
    target = as_path(path, what)
    directory = target.parent
    while True:  # a fresh name: O_EXCL never follows or clobbers another file; mode 0o666 & ~umask as open() gives
        temporary = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return target


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_bytes(path: Any, *, what: str = "path") -> bytes:
    """The whole file at ``path``; a missing path or a directory raises FileNotFoundError."""
    target = as_path(path, what)
    if not target.is_file():
        state = "is not a file" if target.exists() else "does not exist"
        raise FileNotFoundError(f"cannot load a model: {str(target)!r} {state}")
    return target.read_bytes()
