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


KNOWN: list[Known] = [
    # None open: every finding so far is fixed (delete entries as their owners fix them).
]  # fmt: skip


def known(record: dict[str, str]) -> Known | None:
    return next((entry for entry in KNOWN if entry.matches(record)), None)
