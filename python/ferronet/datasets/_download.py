"""Where dataset files are looked for, and how they are downloaded.

The lookup chain for a dataset called ``name`` (``"mnist"``, ``"fashion-mnist"``), first match wins, per file:

1. the ``path`` argument (a directory): when given, the only place (the loader refuses a directory without the
   files rather than load another copy);
2. ``$FERRONET_DATA/<name>/``, then ``$FERRONET_DATA/`` itself;
3. the cache, ``$XDG_CACHE_HOME/ferronet/<name>/`` (``~/.cache/ferronet/<name>/`` when ``XDG_CACHE_HOME`` is unset);
4. the system directory ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist`` installs there);
5. a download from a mirror into the cache (the only place ferronet ever writes).

In every directory a file may be gzipped (``train-images-idx3-ubyte.gz``) or not (``train-images-idx3-ubyte``).
Downloads are atomic: the bytes go to a hidden temporary file in the cache directory, are checked, and only then
renamed to their final name with :func:`os.replace`; a failed check or a network error leaves nothing behind.

This module knows about files and URLs only; reading and checking the contents is the caller's business
(see :mod:`ferronet.datasets.idx`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

__all__ = ["SYSTEM_DATA_ROOT", "DatasetNotFoundError", "cache_root", "download", "find_file", "search_dirs"]

#: Root of the system-wide data sets (Debian's ``dataset-*`` packages). A module constant so tests can move it.
SYSTEM_DATA_ROOT = Path("/usr/share/datasets")

#: Environment variable naming a directory that holds data sets (``$FERRONET_DATA/<name>/`` or directly inside).
DATA_ENV = "FERRONET_DATA"

_CHUNK = 1 << 20
_USER_AGENT = "ferronet-datasets (+https://pypi.org/project/ferronet/)"

T = TypeVar("T")


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are in none of the places looked at, and could not be downloaded.

    ``places`` lists what was tried, one human-readable line each (directories with their exact paths, URLs
    with the reason they failed); the message repeats them and says how to provide the files.

    Parameters
    ----------
    message : str
        The whole message (``str(error)``).
    places : sequence of str, default ()
        The places looked at, kept as ``places``.
    """

    def __init__(self, message: str, places: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.places = list(places)

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno/filename, which we do not set
        return str(self.args[0])


class DownloadError(Exception):
    """Every mirror failed for a network reason (not a checksum): ``reasons`` has one line per URL."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/ferronet`` if that variable is set (and absolute), else ``~/.cache/ferronet``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "ferronet"


def search_dirs(name: str, path: str | os.PathLike[str] | None) -> list[tuple[str, Path | None]]:
    """The local directories of the lookup chain, in order, as ``(description, directory)`` pairs.

    A place that does not apply (no ``path`` given, ``FERRONET_DATA`` unset) is kept with directory ``None`` so
    error messages can still mention it.
    """
    places: list[tuple[str, Path | None]] = []
    places.append(("path argument", Path(path).expanduser() if path is not None else None))
    data = os.environ.get(DATA_ENV, "")
    if data:
        root = Path(data).expanduser()
        places.append((f"${DATA_ENV}/{name}", root / name))
        places.append((f"${DATA_ENV}", root))
    else:
        places.append((f"${DATA_ENV}", None))
    places.append(("cache", cache_root() / name))
    places.append(("system", SYSTEM_DATA_ROOT / name))
    return places


def candidate_names(filename: str) -> tuple[str, str]:
    """The names a file may have in a directory: as is, and gzipped."""
    return filename, filename + ".gz"


def find_file(directory: Path | None, filename: str) -> Path | None:
    """``directory/filename`` or ``directory/filename.gz``, whichever exists first as a regular file."""
    if directory is None:
        return None
    for candidate in candidate_names(filename):
        full = directory / candidate
        if full.is_file():
            return full
    return None


def _fetch_to(url: str, out: BinaryIO, *, timeout: float, max_bytes: int) -> None:
    """Stream ``url`` into the open binary file ``out``; raise ``DownloadError`` with the reason on any failure."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise DownloadError(
                    [f"{url}: the server announces {int(length)} bytes, more than the {max_bytes} expected"]
                )
            received = 0
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadError([f"{url}: more than the {max_bytes} bytes expected; download stopped"])
                out.write(chunk)
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        error.close()
        raise DownloadError([f"{url}: HTTP {error.code} {error.reason}"]) from None
    except urllib.error.URLError as error:
        raise DownloadError([f"{url}: {error.reason}"]) from None
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as error:
        # TimeoutError/socket errors while reading, a connection dropped mid-body, an unknown URL scheme...
        reason = (
            f"timed out after {timeout:g} s" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
        )
        raise DownloadError([f"{url}: {reason}"]) from None


def download(
    urls: Sequence[str],
    destination: Path,
    *,
    check: Callable[[Path, str], T],
    timeout: float = 30.0,
    max_bytes: int,
) -> T:
    """Download the first URL that answers into ``destination``, atomically, and return ``check``'s result.

    ``check(temporary_path, url)`` reads and verifies the downloaded bytes; it raises ``ValueError`` on a bad
    checksum or a malformed file, which is propagated at once (a mirror serving wrong data is not papered over by
    trying the next). Network failures move on to the next URL; when all fail, ``DownloadError`` lists the reasons.
    Whatever happens, no temporary file is left behind, and ``destination`` appears only once checked.
    """
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DownloadError([f"cannot create the cache directory {destination.parent}: {error}"]) from None
    reasons: list[str] = []
    for url in urls:
        try:
            descriptor, name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
            os.close(descriptor)
        except OSError as error:
            raise DownloadError([f"cannot write in the cache directory {destination.parent}: {error}"]) from None
        temporary = Path(name)
        try:
            with open(temporary, "wb") as handle:
                _fetch_to(url, handle, timeout=timeout, max_bytes=max_bytes)
            result = check(temporary, url)
            os.replace(temporary, destination)
            return result
        except DownloadError as error:
            reasons.extend(error.reasons)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    raise DownloadError(reasons or ["no mirror URL to try"])
