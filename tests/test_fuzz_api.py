"""``fuzz/fuzz_api.py``, briefly: a few hundred random calls over the whole API in worker processes find no new
bug, crash or hang (known findings in code owned elsewhere are listed in ``fuzz/_api_known.py``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import ferronet as fnet
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Where this process imported ferronet from (a source tree or site-packages): the subprocesses use the same one.
IMPORTED_FROM = str(Path(fnet.__file__).resolve().parents[1])
FUZZER = ROOT / "fuzz" / "fuzz_api.py"


def environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [IMPORTED_FROM, os.environ.get("PYTHONPATH")]))}


def fuzz(tmp_path: Path, *flags: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, str(FUZZER), *flags, "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(),
    )
    return result, json.loads(report.read_text()) if report.exists() else {}


@pytest.mark.fuzz
def test_a_short_fuzz_run_finds_no_new_bug_crash_or_hang(tmp_path):
    # 400 calls take a few seconds on two workers; --seconds bounds the run on a slow or busy machine
    result, report = fuzz(
        tmp_path, "--calls", "400", "--workers", "2", "--seed", "11", "--seconds", "18", "--timeout", "10"
    )
    assert report, result.stderr[-2000:]
    assert report["calls"] >= 100, report["counts"]
    assert report["new"] == {}, result.stdout[-4000:]
    assert report["counts"].get("crash", 0) == 0 and report["counts"].get("hang", 0) == 0, result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:]
    assert report["counts"]["ok"] > 0 and report["counts"]["ValueError"] > 0 and report["counts"]["TypeError"] > 0


@pytest.mark.fuzz
def test_calls_are_reproducible_by_index():
    def replay() -> list[str]:
        result = subprocess.run(
            [sys.executable, str(FUZZER), "--seed", "11", "--replay", "3", "4", "5"],
            capture_output=True,
            text=True,
            timeout=30,
            env=environment(),
        )
        calls = [line for line in result.stderr.splitlines() if re.match(r"call \d+ \(", line)]
        # scratch directories and object addresses differ between runs; nothing else may
        return [re.sub(r"ferronet-fuzz-replay-\w+|0x[0-9a-f]+", "*", line) for line in calls]

    first = replay()
    assert len(first) == 3 and first == replay()


@pytest.mark.fuzz
@pytest.mark.parametrize("kind", ["bug", "crash", "hang"])
def test_the_fuzzer_catches_bugs_crashes_and_hangs(tmp_path, kind):
    # every call fails so: the exception is recorded, the aborted or stuck worker is replaced, the run goes on
    result, report = fuzz(tmp_path, "--calls", "3", "--workers", "2", "--self-test", kind, "--timeout", "2")
    assert result.returncode == 1, result.stderr[-2000:]
    assert report["counts"] == {kind: 3}, report["counts"]
    ((signature, group),) = report["new"].items()
    assert len(group) == 3 and f"self-test-{kind}" in signature
    assert f"--seed 0 --replay {group[0]['index']}" in result.stdout
