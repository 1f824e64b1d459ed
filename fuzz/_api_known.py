"""Findings of ``fuzz_api.py`` in code whose owners were told (see each note): reported as known, with their
count and a reproducer, but they do not fail a run (``--strict`` makes them). Delete an entry once it is fixed:
a known finding that no longer occurs is reported as such, so stale entries show up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    outcome: str
    target: str
    pattern: str  # searched in "<detail> <call>"
    owner: str
    note: str

    def matches(self, record: dict[str, str]) -> bool:
        return (
            record["outcome"] == self.outcome
            and record["target"] == self.target
            and re.search(self.pattern, f"{record['detail']} {record['call']}") is not None
        )


KNOWN = [
    Known(
        "bug", "core", r"^OverflowError: ", "rust/",
        "PyO3 converts out-of-range ints (negative, beyond u64, beyond f64) and Fractions with OverflowError; "
        "the private API should raise ValueError naming the argument (the public API checks first)",
    ),
    Known(
        "bug", "core", r"^ComplexWarning: ", "rust/",
        "a complex NumPy scalar converts to f64 with NumPy's ComplexWarning; refuse complex scalars",
    ),
    Known(
        "bug", "training-objects", r"^(InvalidOperation|OverflowError|TypeError)\b.*EarlyStopping", "callbacks.py",
        "EarlyStopping.update compares the monitored value unchecked: Decimal('sNaN') raises InvalidOperation; "
        "check it with _validation.check_float",
    ),
    Known(
        "bug", "files", r"^file policy: |File name too long: '[^']*/\.n{100,}", "io.py",
        "Sequential.save (io.save) writes through a temporary named after the target (too long for 250+ byte "
        "names) and os.replace()s the path: FIFOs, devices and symbolic links are replaced by a regular file; "
        "call _files.atomic_write (the call-site change is in the report)",
    ),
    Known(
        "bug", "cli", r"^file policy: a symbolic link", "io.py",
        "train --out through a symbolic link: model.save replaces the link (io.py; fixed by the same change)",
    ),
    Known(
        "bug", "sklearn", r"^OverflowError: ", "sklearn.py",
        "_check_params uses scikit-learn's check_scalar, then float() overflows on 10**400 or huge Fractions "
        "(use _validation.check_float/check_int); X=10**400 (a Python int) overflows in check_array too",
    ),
    Known(
        "hang", "sklearn", r"array\(float\d+,\((\d+, )?\d{7,}[,)]", "sklearn.py",
        "validate_data/check_array scans a broadcast view claiming 2**51 elements for NaN without copying it: "
        "minutes of work; check the size (or copy, which fails fast with MemoryError) before the finiteness scan",
    ),
]  # fmt: skip


def known(record: dict[str, str]) -> Known | None:
    return next((entry for entry in KNOWN if entry.matches(record)), None)
