"""The one place ferronet writes and reads model, checkpoint and output files.

Policy, for every path a user gives (``what`` names the argument in messages, e.g. "path" or "--out"):

- a path is a ``str`` or ``os.PathLike[str]`` (``TypeError`` otherwise: bytes paths are not accepted); a NUL byte
  or an empty name is a ``ValueError`` naming the argument;
- a symbolic link is followed and its target is replaced, so the link stays a link (``latest.st -> run7.st``);
  a dangling link creates its target, as ``open(path, "w")`` does; a loop is an ``OSError`` (ELOOP);
- an existing path that is not a regular file (directory, device, FIFO, socket) is an error that names the path
  and leaves it untouched: it is never opened, so writing cannot block on a FIFO or write to a device;
- writes are atomic: the bytes go to an unnamed file (Linux ``O_TMPFILE``) in the target's directory, are
  fsynced, then get their name (``linkat`` through /proc/self/fd); an existing file is replaced by
  ``os.replace`` from a short hidden name that exists only between the link and the rename. Elsewhere a
  short-named temporary file is used. A killed process therefore leaves no temporary file on Linux, and any
  failure removes what was created; the directory is fsynced so that the new name survives a power cut;
- a new file gets the mode ``open()`` gives (0o666 & ~umask); a replaced file keeps its mode;
- OS errors are re-raised with the same class and errno, with a message that names the user's path, never an
  internal temporary name.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from pathlib import Path
from typing import Any

__all__ = ["as_path", "atomic_write", "check_target", "open_regular", "read_bytes", "read_error"]

#: The kernel's limit on symbolic links followed while resolving one path (Linux MAXSYMLINKS).
MAX_SYMLINKS = 40

_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def as_path(path: Any, what: str = "path") -> Path:
    """``path`` as a ``Path``: a ``str`` or ``os.PathLike[str]`` naming something (not empty, no NUL byte)."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or os.PathLike; got {type(path).__name__} {path!r}"[:200])
    text = os.fspath(path)
    if not isinstance(text, str):  # an os.PathLike whose __fspath__ returns bytes
        raise TypeError(f"{what} must be a str or os.PathLike of str; got a path of {type(text).__name__}")
    if "\0" in text:
        raise ValueError(f"{what} must not contain a NUL byte; got {text!r}"[:300])
    try:
        os.fsencode(text)
    except UnicodeEncodeError:  # e.g. a lone surrogate: no file system name can hold it
        raise ValueError(f"{what} cannot be encoded as a file name; got {text!r}"[:300]) from None
    result = Path(text)
    if str(result) in ("", "."):
        raise ValueError(f"{what} must name a file; got {text!r}")
    return result


def _kind(mode: int) -> str:
    return _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _not_regular(user: Path, what: str, mode: int) -> OSError | ValueError:
    if stat.S_ISDIR(mode):
        return IsADirectoryError(errno.EISDIR, f"{what} {str(user)!r} is a directory; give a file name")
    return ValueError(f"{what} {str(user)!r} is {_kind(mode)}, not a regular file; give a file name")


def _renamed(error: OSError, user: Path, what: str, action: str, target: Path | None = None) -> OSError:
    """``error`` again (same class and errno) with a message that names the user's path."""
    reason = error.strerror or str(error) or type(error).__name__
    directory = (target or user).parent
    if error.errno == errno.ENOENT and not directory.is_dir():
        reason = f"directory {str(directory)!r} does not exist"
        if target is not None and target != user:
            reason = f"it is a symbolic link to {str(target)!r}, whose {reason}"
    message = f"cannot {action} {what} {str(user)!r}: {reason}"
    renamed = OSError(error.errno, message) if error.errno is not None else type(error)(message)
    if not isinstance(renamed, type(error)):  # keep a subclass the caller may catch (OSError maps errno to one)
        renamed = type(error)(*renamed.args)
    return renamed


def _trailing_separator(path: Any) -> bool:
    text = os.fspath(path)
    return isinstance(text, str) and text.endswith((os.sep, os.altsep or os.sep))


def _resolve_links(user: Path, what: str) -> Path:
    """Follow the chain of symbolic links of the last component: the file a write must replace."""
    target = user
    for _ in range(MAX_SYMLINKS):
        try:
            if not stat.S_ISLNK(os.lstat(target).st_mode):
                return target
            link = os.readlink(target)
        except FileNotFoundError:
            return target  # nothing there (or a dangling link's target): the write creates it
        except OSError as error:  # a loop among the directories, a component that is a file, no permission
            raise _renamed(error, user, what, "write") from None
        target = target.parent / link
    raise OSError(errno.ELOOP, f"cannot write {what} {str(user)!r}: too many levels of symbolic links (a loop?)")


# ----------------------------------------------------------------------------------------------- writing


def check_target(path: Any, *, what: str = "path") -> tuple[Path, Path, os.stat_result | None]:
    """What ``atomic_write`` checks before writing, for callers that want to fail before expensive work:
    returns (the user's path, the file a write replaces, its status or None when it does not exist yet).

    Raises as ``atomic_write`` would: a directory ``IsADirectoryError``, a device, FIFO or socket ``ValueError``,
    a missing directory ``FileNotFoundError``, all naming the user's path.
    """
    user = as_path(path, what)
    if _trailing_separator(path):
        raise IsADirectoryError(errno.EISDIR, f"{what} {os.fspath(path)!r} ends with a separator: give a file name")
    target = _resolve_links(user, what)
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise _renamed(error, user, what, "write", target) from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise _not_regular(user, what, existing.st_mode)
    if existing is None and not target.parent.is_dir():
        missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        raise _renamed(missing, user, what, "write", target)
    return user, target, existing


def atomic_write(path: Any, data: bytes | bytearray | memoryview, *, what: str = "path") -> Path:
    """Write ``data`` to ``path`` atomically (see the module doc for the policy); returns ``path`` as a Path.

    Readers see the old file or the complete new one, never a part; a failure leaves the old file (or nothing)
    and no temporary file behind.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        as_path(path, what)  # a bad path is reported first, as for any other call
        raise TypeError(f"data must be bytes; got {type(data).__name__}")
    user, target, existing = check_target(path, what=what)
    mode = None if existing is None else stat.S_IMODE(existing.st_mode)
    try:
        _write_replacing(target, bytes(data), mode, replace=existing is not None)
    except OSError as error:
        raise _renamed(error, user, what, "write", target) from None
    return user


def _write_replacing(target: Path, data: bytes, mode: int | None, *, replace: bool) -> None:
    directory = target.parent
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not _write_unnamed(dir_fd, target.name, data, mode, replace=replace):
            _write_named(dir_fd, target.name, data, mode)
        with contextlib.suppress(OSError):  # some file systems cannot fsync a directory: best effort
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _temporary_name() -> str:
    # Short whatever the target's name: a 255-byte target name must still leave room for the temporary one.
    return f".ferronet-{secrets.token_hex(8)}.tmp"


def _fill(fd: int, data: bytes, mode: int | None) -> None:
    """Write all of ``data`` to the new file ``fd``, set the kept mode, fsync; closes ``fd``."""
    with os.fdopen(fd, "wb", closefd=False) as file:
        file.write(data)
        file.flush()
        if mode is not None:
            os.fchmod(fd, mode)
        os.fsync(fd)


def _write_unnamed(dir_fd: int, name: str, data: bytes, mode: int | None, *, replace: bool) -> bool:
    """Linux: write into an ``O_TMPFILE`` and link it into place. False when the system cannot (then nothing
    was created and the caller falls back to a named temporary file)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return False
    try:
        fd = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)
    except OSError as error:
        # EOPNOTSUPP: this file system has no O_TMPFILE; EISDIR/EINVAL: kernels that predate it
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return False
        raise
    try:
        _fill(fd, data, mode)
        source = f"/proc/self/fd/{fd}"
        if not replace:
            try:
                os.link(source, name, dst_dir_fd=dir_fd)
                return True
            except FileExistsError:
                pass  # created meanwhile by someone else: replace it as below
        temporary = _temporary_name()
        os.link(source, temporary, dst_dir_fd=dir_fd)
        try:
            os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=dir_fd)
            raise
        return True
    finally:
        os.close(fd)  # an unnamed file that was not linked disappears with its last descriptor


def _write_named(dir_fd: int, name: str, data: bytes, mode: int | None) -> None:
    """Elsewhere: a short-named temporary file, created exclusively (never follows or clobbers a file)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    while True:
        temporary = _temporary_name()
        try:
            fd = os.open(temporary, flags | getattr(os, "O_CLOEXEC", 0), 0o666, dir_fd=dir_fd)
            break
        except FileExistsError:
            continue
    try:
        try:
            _fill(fd, data, mode)
        finally:
            os.close(fd)
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise


# ----------------------------------------------------------------------------------------------- reading


def open_regular(path: Any, *, what: str = "path") -> io.BufferedReader:
    """``path`` opened for binary reading, after checking that it is a regular file (symbolic links followed).

    A missing path raises ``FileNotFoundError``, a directory ``IsADirectoryError``, a device, FIFO or socket
    ``ValueError``, all naming the path; such paths are not opened (opening a FIFO would block, a device may act).
    """
    user = as_path(path, what)
    try:
        status = os.stat(user)
    except OSError as error:
        raise _renamed(error, user, what, "read") from None
    if not stat.S_ISREG(status.st_mode):
        raise _not_regular(user, what, status.st_mode)
    # O_NONBLOCK: if the path was swapped for a FIFO since the check, opening it must not block either
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(user, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _renamed(error, user, what, "read") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise _not_regular(user, what, status.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_error(error: OSError, path: Any, what: str = "path") -> OSError:
    """``error``, raised while reading ``path``, as the error that names the user's path."""
    return _renamed(error, as_path(path, what), what, "read")


def read_bytes(path: Any, *, what: str = "path") -> bytes:
    """The contents of the regular file ``path`` (see ``open_regular`` for the errors)."""
    with open_regular(path, what=what) as file:
        try:
            return file.read()
        except OSError as error:
            raise _renamed(error, as_path(path, what), what, "read") from None
