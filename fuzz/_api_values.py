"""Hostile argument values for ``fuzz_api.py``: numbers, arrays and paths, mostly plausible, often not.

``Values`` draws everything from one ``random.Random`` seeded by (seed, call index), so a call is reproduced by
its index alone. Each drawer returns a valid value most of the time (so that calls get past the first check and
reach the deeper ones) and otherwise a hostile one: wrong types, NaN/inf, huge or negative sizes, odd dtypes and
memory layouts, shapes claimed by broadcasting or stride tricks, and paths that are directories, FIFOs, devices,
symbolic-link loops, missing, too long or hold NUL bytes. Paths always point inside the call's scratch directory.
"""

from __future__ import annotations

import os
import random
import socket
import stat
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

#: Argument names whose valid values cost time in proportion: only cheap or invalid values are drawn (a valid
#: epochs=2**40 would be a legitimate "hang").
TIME_NAMES = frozenset(
    {"epochs", "max_iter", "max_fun", "repeats", "n_iter_no_change", "max_entries", "limit", "seconds"}
)
#: Argument names whose valid values cost memory: sometimes huge (2**31...2**62), which must end in MemoryError or
#: ValueError, never in a crash.
MEMORY_NAMES = frozenset(
    {"rows", "cols", "n", "n_per_class", "n_classes", "units", "bins", "resolution", "input_dim",
     "hidden_layer_sizes", "columns", "batch_size"}
)  # fmt: skip
HUGE_SIZES = (2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1)

HOSTILE_SCALARS: list[Any] = [
    None, "1", "", "nan", b"1", [1], (1,), {"a": 1}, {1}, object(), 1j, np.complex64(1), True, False, np.bool_(True),
    float("nan"), float("inf"), -float("inf"), -0.0, 1e300, -1e300, 5e-324, 10**400, -(10**400), 2**64, 2**63, -1,
    Fraction(10**400, 3), Fraction(1, 3), Decimal("NaN"), Decimal("sNaN"), Decimal("1e400"), Decimal("0.5"),
    np.float16("nan"), np.float32("inf"), np.longdouble("1e4000"), np.int8(-1), np.uint64(2**64 - 1),
    np.datetime64("2024-01-01"), np.timedelta64(1, "s"), np.str_("x"), np.array(1.0), np.array([1.0, 2.0]),
]  # fmt: skip

HOSTILE_DTYPES = [
    np.float16, np.int8, np.uint8, np.int64, np.uint64, np.bool_, np.complex64, np.complex128, object,
    "datetime64[s]", "timedelta64[s]", "U3", "S3", ">f8", "<f4", np.longdouble,
]  # fmt: skip


class Values:
    """The argument drawer of one call."""

    def __init__(self, seed: int, index: int, scratch: Path):
        self.random = random.Random(f"{seed}/{index}")
        self.numpy = np.random.default_rng([seed, index])
        self.scratch = scratch
        self.bad_path = False  # a hostile path was drawn: an OSError is then an accepted outcome
        self.special: dict[Path, int] = {}  # special files and links drawn, with their modes
        self._counter = 0

    # ---- choices -----------------------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def choice(self, options: Any) -> Any:
        options = list(options)
        return options[self.random.randrange(len(options))]

    def hostile(self) -> Any:
        return self.choice(HOSTILE_SCALARS)

    # ---- numbers ---------------------------------------------------------------------------------------------

    def int_(self, low: int = 0, high: int = 10, *, name: str = "", p_bad: float = 0.15) -> Any:
        """An int in [low, high], or a hostile value (cost arguments get only cheap values or invalid ones)."""
        if not self.chance(p_bad):
            value = self.random.randint(low, high)
            numpy_int = np.int64(value) if -(2**63) <= value < 2**63 else np.uint64(value) if value < 2**64 else value
            return self.choice([value, value, value, numpy_int, np.uint8(value) if 0 <= value < 256 else value])
        if name in TIME_NAMES and self.chance(0.5):
            return self.choice([-1, -(2**63), 2**63, 2**64, 10**400, 1.5, "3", None, True, float("nan")])
        if name in TIME_NAMES:
            return self.hostile_cheap()
        if name in MEMORY_NAMES and self.chance(0.3):
            return self.choice(HUGE_SIZES)
        return self.choice([0, -1, 2**31, 2**32 - 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30, *HOSTILE_SCALARS])

    def hostile_cheap(self) -> Any:
        """A hostile value that can never be a large valid size."""
        return self.choice([v for v in HOSTILE_SCALARS if not (isinstance(v, int) and not isinstance(v, bool))])

    def float_(self, low: float = 0.0, high: float = 1.0, *, p_bad: float = 0.15) -> Any:
        if not self.chance(p_bad):
            value = self.random.uniform(low, high)
            return self.choice([value, value, np.float32(value), Fraction(value).limit_denominator(1000), low])
        return self.choice([high, 2 * high + 1, -1e-3, 1e308, 1e39, *HOSTILE_SCALARS])

    def seed(self) -> Any:
        return self.int_(0, 2**64 - 1) if self.chance(0.8) else self.choice([None, -1, 2**64, 1.0, "0"])

    def bool_(self) -> Any:
        return self.choice([True, False]) if self.chance(0.9) else self.choice([0, 1, "yes", None, np.bool_(True)])

    def string(self, options: Any) -> Any:
        if self.chance(0.9):
            return self.choice(options)
        return self.choice(["", "RELU", "x" * 1000, "\0", "\ud800", None, 3, b"relu", ["relu"]])

    # ---- arrays ----------------------------------------------------------------------------------------------

    def _values(self, shape: tuple[int, ...], low: float, high: float) -> np.ndarray:
        array = self.numpy.uniform(low, high, size=shape)
        if self.chance(0.1) and array.size:
            flat = array.reshape(-1)
            flat[self.random.randrange(flat.size)] = self.choice([np.nan, np.inf, -np.inf, 1e300, -1e300, 5e-324])
        return array

    def array(self, shape: tuple[int, ...], *, low: float = -2.0, high: float = 2.0, p_bad: float = 0.15) -> Any:
        """A float array of ``shape`` (float64 or float32, contiguous), or one with a hostile dtype, layout,
        size or form."""
        if not self.chance(p_bad):
            array = self._values(shape, low, high)
            dtype = self.choice([np.float64, np.float32, np.float64])
            return self._layout(array.astype(dtype), p_odd=0.2)
        return self.hostile_array(shape)

    def labels(self, n: int, k: int, *, p_bad: float = 0.15) -> Any:
        if not self.chance(p_bad):
            labels = self.numpy.integers(0, max(k, 1), size=n)
            return self.choice([labels, labels.astype(np.float64), labels.astype(np.uint8), labels.tolist()])
        bad = self.numpy.integers(-2, k + 3, size=max(n + self.random.randint(-1, 1), 0))
        return self.choice([bad, bad.astype(np.float64) + 0.5, self.hostile_array((n,)), [k] * n, [-1] * n])

    def _layout(self, array: np.ndarray, *, p_odd: float) -> Any:
        if not self.chance(p_odd) or array.ndim == 0:
            return array
        kind = self.random.randrange(8)
        if kind == 0:
            return np.asfortranarray(array)
        if kind == 1:  # non-contiguous: every other element of a twice-as-large array
            big = np.repeat(array, 2, axis=-1)
            return big[..., ::2]
        if kind == 2:
            view = array.copy()
            view.setflags(write=False)
            return view
        if kind == 3:  # unaligned: the data starts one byte into a buffer
            raw = np.zeros(array.nbytes + 1, dtype=np.uint8)
            unaligned = raw[1:].view(array.dtype).reshape(array.shape)
            unaligned[...] = array
            return unaligned
        if kind == 4:
            return array.astype(array.dtype.newbyteorder(">"))
        if kind == 5:
            return np.ma.masked_invalid(array)
        if kind == 6:
            return array.tolist()
        return array[::-1] if array.ndim == 1 else array[::-1, ...]

    def hostile_array(self, shape: tuple[int, ...]) -> Any:
        try:
            return self._hostile_array(shape)
        except (ValueError, TypeError, OverflowError, MemoryError):  # NumPy refused to build it: another value
            return self.hostile()

    def _hostile_array(self, shape: tuple[int, ...]) -> Any:
        kind = self.random.randrange(12)
        base = self._values(shape, -3, 3)
        if kind == 0:
            dtype = self.choice(HOSTILE_DTYPES)
            try:
                return base.astype(dtype)
            except (TypeError, ValueError):
                return base.astype(object)
        if kind == 1:  # zero-size along some axis
            return np.zeros(
                tuple(0 if i == self.random.randrange(max(len(shape), 1)) else s for i, s in enumerate(shape))
            )
        if kind == 2:
            return np.array(self.random.uniform(-1, 1))  # 0-d
        if kind == 3:
            return self._values((*shape, 2), -1, 1)  # one dimension too many
        if kind == 4:
            return base.reshape(-1)  # one too few (or flattened)
        if kind == 5:  # a huge shape claimed by broadcasting (read-only, zero strides)
            huge = tuple(self.choice([2**31, 2**40, 2**20]) for _ in shape) or (2**40,)
            return np.broadcast_to(np.float64(1.0), huge)
        if kind == 6:  # a huge shape claimed by stride tricks over a tiny buffer
            huge = tuple(self.choice([2**31, 2**33, 3]) for _ in shape) or (2**33,)
            return np.lib.stride_tricks.as_strided(np.zeros(1), shape=huge, strides=(0,) * len(huge), writeable=False)
        if kind == 7:
            return self._values(tuple(s + self.random.randint(1, 3) for s in shape), -1, 1)  # wrong size
        if kind == 8:
            return np.full(shape, self.choice([np.nan, np.inf, -np.inf, 1e300, 3.5e38]))
        if kind == 9:
            return [["a", 1]] if self.chance(0.5) else [[1.0, 2.0], [3.0]]  # strings, ragged
        if kind == 10:
            return self._layout(base, p_odd=1.0)
        return self.hostile()

    # ---- paths -----------------------------------------------------------------------------------------------

    def fresh_name(self, suffix: str = ".st") -> Path:
        self._counter += 1
        return self.scratch / f"f{self._counter}{suffix}"

    def path(self, *, existing: Path | None = None, suffix: str = ".st", p_bad: float = 0.3) -> Any:
        """A path for writing (or reading ``existing``); hostile ones are made real inside the scratch directory.

        Special files and symbolic links are remembered: ``policy_violations`` reports any that a call replaced
        (ferronet's file policy: special files are refused untouched, a link's target is written, not the link).
        """
        if not self.chance(p_bad):
            if existing is not None:
                return self.choice([existing, str(existing)])
            return self.choice([self.fresh_name(suffix), str(self.fresh_name(suffix))])
        kind = self.random.randrange(16)
        place = self.fresh_name(suffix)
        self.bad_path = kind not in (6, 14, 15)  # long-but-legal names and links to files must just work
        if kind == 0:
            return self.scratch / "missing" / place.name
        if kind == 1:
            place.mkdir()
            return self._remember(place)
        if kind == 2 and hasattr(os, "mkfifo"):
            os.mkfifo(place)
            return self._remember(place)
        if kind == 3:
            os.symlink(place.name + ".b", place)
            os.symlink(place.name, str(place) + ".b")
            return place
        if kind == 4:
            os.symlink("nowhere/" + place.name, place)  # dangling, into a missing directory
            return place
        if kind == 5:
            return str(place) + "\0x"
        if kind == 6:
            long_name = self.scratch / ("n" * self.choice([238, 250, 254, 255]))
            if existing is not None and existing.is_file():  # for reading: the same content under a long name
                long_name.write_bytes(existing.read_bytes())
            return long_name
        if kind == 7:
            return self.scratch / ("n" * self.choice([256, 300, 5000]))
        if kind == 8:
            return self.choice([3, None, ["a"], 1.5, os.fsencode(place)])
        if kind == 9:
            return self.choice(["", ".", str(self.scratch) + "/"])
        if kind == 10:  # a character device node, inside the scratch directory only (needs root)
            try:
                os.mknod(place, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            except (OSError, AttributeError):
                place.mkdir()
            return self._remember(place)
        if kind == 11:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.bind(str(place))
            except OSError:
                place.write_bytes(b"")
            finally:
                server.close()
            return self._remember(place)
        if kind == 12:
            (place.parent / "file").write_bytes(b"x")
            return place.parent / "file" / "below.st"  # a file used as a directory
        if kind == 13:  # exists, not what it should be
            place.write_bytes(self.choice([b"", b"\0" * 64, b"garbage", self.random.randbytes(100)]))
            return place
        target = existing if existing is not None and kind == 14 else self.fresh_name(suffix)
        if target != existing:
            target.write_bytes(b"")  # a link to an existing file: the link stays, its target is written
        os.symlink(target.name if target.parent == place.parent else target, place)
        return self._remember(place)

    def _remember(self, path: Path) -> Path:
        self.special[path] = os.lstat(path).st_mode
        return path

    def policy_violations(self) -> list[str]:
        """Special files and links that are no longer what they were (see ``path``)."""
        found = []
        for path, mode in self.special.items():
            try:
                now = os.lstat(path).st_mode
            except FileNotFoundError:
                now = 0
            if stat.S_IFMT(now) != stat.S_IFMT(mode):
                was, became = _kind(mode), _kind(now) if now else "nothing"
                found.append(f"{was} {path.name} was replaced by {became}")
        return found


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"), (stat.S_ISREG, "a regular file")):  # fmt: skip
        if test(mode):
            return name
    return "a special file"
