"""Random calls over ferronet's whole API, in worker processes with a memory limit and a watchdog.

    python fuzz/fuzz_api.py --calls 20000 --workers 2 --seed 1   # a long run
    python fuzz/fuzz_api.py --seconds 60                         # as many calls as fit in a minute
    python fuzz/fuzz_api.py --seed 1 --replay 1234               # call 1234 again, here, with its traceback

Each call (``_api_targets``) is drawn from (seed, call index) alone, so any call is reproduced by its index,
whichever worker ran it. Targets: ``Sequential`` (construction, fit, predict, evaluate, train_step, gradients,
weights, save/load, pickling), optimizers, schedules, callbacks, data sets, preprocessing, ``ops``, diagnostics,
plots, utils, the scikit-learn estimators, the command line (``ferronet.cli.main``) and the private
``ferronet._core`` module, introspected. Arguments (``_api_values``) are hostile: object, complex, bool, int8,
float16, datetime and string dtypes; Fortran, strided, unaligned, byte-swapped, zero-size, 0-d, 3-D and huge
broadcast shapes; NaN, inf, huge and negative values; paths that are missing, directories, FIFOs, devices,
sockets, symbolic-link loops, too long or hold NUL bytes (all inside a scratch directory).

Every call ends in one outcome: ok, ValueError, TypeError, MemoryError, OSError (only when a path argument was
bad, or a data set was not found), FloatingPointError (a diverging fit, documented), exit (the command line's own
error statuses), or a finding: bug (any other exception, or a warning), crash (the worker died: a signal or an
abort) or hang (no result within --timeout seconds). Workers run under RLIMIT_AS (--memory GiB) and are restarted
after a crash or a hang. The report counts outcomes and lists each distinct finding with a reproducer; the exit
status is 1 when there is a new one: findings in code owned elsewhere, listed in ``_api_known.py`` with a note
for their owners, are reported as known (``--strict`` counts them too).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTCOMES = ("ok", "ValueError", "TypeError", "MemoryError", "OSError", "FloatingPointError", "exit")
FINDINGS = ("bug", "crash", "hang")
#: Seconds a worker may take to start (imports) before its first call counts against the watchdog.
STARTUP_SECONDS = 120


# ---- one call ------------------------------------------------------------------------------------------------------


def classify(error: BaseException, bad_path: bool) -> str:
    """The outcome class of an exception raised by a call."""
    from ferronet.datasets import DatasetNotFoundError

    if isinstance(error, Warning):
        return "bug"  # a warning escaped to the user (warnings are errors here, as in the test suite)
    if isinstance(error, SystemExit):
        return "ok" if error.code in (0, None) else "exit" if error.code == 2 else "bug"
    for kind in (ValueError, TypeError, MemoryError, FloatingPointError):
        if isinstance(error, kind):
            return kind.__name__
    if isinstance(error, OSError) and (bad_path or isinstance(error, DatasetNotFoundError)):
        return "OSError"
    if isinstance(error, OSError) and error.errno == errno.EFBIG:
        return "MemoryError"  # the worker's file-size limit, the disk's counterpart of its memory limit
    return "bug"


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}"


def run_one(
    seed: int,
    index: int,
    root: Path,
    *,
    reraise: bool = False,
    announce: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Draw and make call ``index`` in a fresh scratch directory; its record (or, with ``reraise``, its error).
    ``announce`` gets the record once the call is drawn, before it runs (a crash or hang then has a name)."""
    from _api_targets import draw_call
    from _api_values import Values

    scratch = root / f"call-{index}"
    scratch.mkdir(parents=True, exist_ok=True)
    os.chdir(scratch)
    record: dict[str, Any] = {"index": index, "target": "draw", "outcome": "ok", "detail": "", "call": ""}
    try:
        values = Values(seed, index, scratch)
        try:
            record["target"], call = draw_call(values)
        except Exception as error:  # a bug of the fuzzer itself: reported like any other
            record.update(outcome="bug", detail="drawing the call failed: " + first_line(error))
            if reraise:
                raise
            return record
        record["call"] = call.description
        if announce is not None:
            announce(record)
        if reraise:
            print(f"call {index} ({record['target']}): {call.description}", file=sys.stderr)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            # scikit-learn's own documented warnings, which ferronet.sklearn mirrors on purpose
            warnings.filterwarnings(
                "ignore", message=".*(Maximum iterations|Stochastic Optimizer|lbfgs failed to converge).*"
            )
            warnings.filterwarnings("ignore", message="Got `batch_size` less than 1 or larger than sample size")
            try:
                result = call.thunk()
                if record["target"] == "cli" and result not in (0, None):
                    record["outcome"] = "exit" if result in (1, 2) else "bug"
                    record["detail"] = f"exit status {result}"
            except KeyboardInterrupt:
                raise
            except BaseException as error:
                record.update(outcome=classify(error, values.bad_path), detail=first_line(error))
                if reraise:
                    raise
        violations = values.policy_violations()
        if violations:  # whatever the call returned, it replaced a special file or a link
            record.update(outcome="bug", detail="file policy: " + "; ".join(violations))
            if reraise:
                raise AssertionError(record["detail"])
    finally:
        os.chdir(root)
        shutil.rmtree(scratch, ignore_errors=True)
    return record


# ---- workers -------------------------------------------------------------------------------------------------------


#: Largest file a worker may write: a broadcast array claiming terabytes must not fill the disk.
MAX_FILE_BYTES = 64 << 20


def limit_resources(gib: float) -> None:
    """Address space ``gib`` GiB (0: unlimited) and files of at most MAX_FILE_BYTES (a write beyond fails with
    EFBIG instead of the default SIGXFSZ)."""
    import resource

    if gib > 0:
        limit = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def worker_main(args: argparse.Namespace) -> int:
    """Read call indices on stdin; report "S index" when starting one and its JSON record when done."""
    limit_resources(args.memory)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the API's own printing (verbose fits, the CLI) goes nowhere
    os.dup2(os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 2)  # kept for crash reports
    sys.path.insert(0, str(HERE))
    import _api_targets  # imports ferronet before the first call: startup is not a hang
    import ferronet

    if args.self_test:
        _api_targets.use_self_test(args.self_test)
    if args.only:
        _api_targets.restrict(args.only.split(","))
    root = Path(args.scratch)
    threads = ferronet.get_num_threads()
    for line in sys.stdin:
        index = int(line)
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)
        protocol.write(f"S {index}\n")
        record = run_one(args.seed, index, root, announce=lambda drawn: protocol.write("D " + json.dumps(drawn) + "\n"))
        if ferronet.get_num_threads() != threads:
            ferronet.set_num_threads(threads)
        protocol.write(json.dumps(record) + "\n")
    return 0


def environment(root: Path) -> dict[str, str]:
    """Workers find no data set, download from nowhere and cache in the scratch directory."""
    for name in ("data", "cache"):
        (root / name).mkdir(exist_ok=True)
    nowhere = (root / "no-mirror").as_uri() + "/"
    return {
        **os.environ,
        "FERRONET_DATA": str(root / "data"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "FERRONET_MNIST_MIRROR": nowhere,
        "FERRONET_FASHION_MNIST_MIRROR": nowhere,
        "FERRONET_NUM_THREADS": os.environ.get("FERRONET_NUM_THREADS", "1"),
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }


@dataclass
class Worker:
    number: int
    args: argparse.Namespace
    root: Path
    process: subprocess.Popen[bytes] = field(init=False)
    buffer: bytes = b""
    index: int | None = None
    drawn: dict[str, Any] = field(default_factory=dict)
    since: float = 0.0
    started: bool = False

    def __post_init__(self) -> None:
        scratch = self.root / f"worker-{self.number}"
        scratch.mkdir(exist_ok=True)
        self.log = self.root / f"worker-{self.number}.log"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--seed", str(self.args.seed)]
        command += ["--scratch", str(scratch), "--log", str(self.log), "--memory", str(self.args.memory)]
        if self.args.self_test:
            command += ["--self-test", self.args.self_test]
        if self.args.only:
            command += ["--only", self.args.only]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment(self.root), start_new_session=True
        )

    def send(self, index: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{index}\n".encode())
        self.process.stdin.flush()
        self.index, self.since = index, time.monotonic()

    def finding(self, outcome: str, detail: str) -> dict[str, Any]:
        """The record of the call this worker was making when it crashed or hung."""
        drawn = self.drawn if self.drawn.get("index") == self.index else {}
        return {"index": self.index, "target": drawn.get("target", "?"), "outcome": outcome, "detail": detail,
                "call": drawn.get("call", "(died before the call was drawn)")}  # fmt: skip

    def deadline(self, timeout: float) -> float:
        return self.since + timeout + (0 if self.started else STARTUP_SECONDS)

    def log_tail(self) -> str:
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return ""
        return " | ".join(lines[-3:])[-400:]

    def kill(self) -> int:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: kills only this worker
        except ProcessLookupError:
            pass
        return self.process.wait()

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def coordinate(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="ferronet-fuzz-"))
    records: dict[int, dict[str, Any]] = {}
    begin = time.monotonic()
    next_index = args.first
    last_index = args.first + args.calls
    selector = selectors.DefaultSelector()
    workers: list[Worker] = []

    def spawn(number: int) -> Worker:
        worker = Worker(number, args, root)
        assert worker.process.stdout is not None
        selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        return worker

    def replace(worker: Worker) -> Worker:
        assert worker.process.stdout is not None
        selector.unregister(worker.process.stdout)
        worker.process.stdout.close()
        if worker.process.stdin is not None:
            worker.process.stdin.close()
        fresh = spawn(worker.number)
        workers[workers.index(worker)] = fresh
        return fresh

    early_deaths = 0  # workers that died before starting a call: a broken setup, not a finding
    try:
        workers.extend(spawn(number) for number in range(args.workers))
        while True:
            accepting = time.monotonic() - begin < args.seconds
            for worker in workers:
                if worker.index is None and accepting and next_index < last_index:
                    worker.send(next_index)
                    next_index += 1
            if all(worker.index is None for worker in workers):
                break
            for key, _ in selector.select(timeout=0.5):
                worker = key.data
                chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                if not chunk:  # the worker died
                    status = worker.process.wait()
                    if not worker.started:
                        early_deaths += 1
                        if early_deaths > 3:
                            raise RuntimeError(f"workers die before their first call: {worker.log_tail()}")
                    if worker.index is not None:
                        how = f"signal {signal.Signals(-status).name}" if status < 0 else f"exit status {status}"
                        records[worker.index] = worker.finding("crash", f"worker died ({how}): {worker.log_tail()}")
                    replace(worker)
                    continue
                worker.buffer += chunk
                while b"\n" in worker.buffer:
                    line, worker.buffer = worker.buffer.split(b"\n", 1)
                    if line.startswith(b"S "):
                        worker.started, worker.since = True, time.monotonic()
                        continue
                    if line.startswith(b"D "):  # drawn: what a crash or a hang of this call will be reported as
                        worker.drawn = json.loads(line[2:])
                        continue
                    record = json.loads(line)
                    records[record["index"]] = record
                    worker.index = None
                    if len(records) % args.progress == 0:
                        progress(records, begin)
            now = time.monotonic()
            for worker in list(workers):
                if worker.index is not None and now > worker.deadline(args.timeout):
                    index = worker.index
                    worker.kill()
                    assert index is not None
                    records[index] = worker.finding("hang", f"no result after {args.timeout:g}s")
                    replace(worker)
    finally:
        for worker in workers:
            worker.close()
        shutil.rmtree(root, ignore_errors=True)
    return report(records, args, time.monotonic() - begin)


# ---- the report ----------------------------------------------------------------------------------------------------


def progress(records: dict[int, dict[str, Any]], begin: float) -> None:
    counts = Counter(record["outcome"] for record in records.values())
    summary = "  ".join(f"{name} {counts[name]}" for name in (*OUTCOMES, *FINDINGS) if counts[name])
    print(f"[{len(records)} calls, {time.monotonic() - begin:.0f}s] {summary}", file=sys.stderr, flush=True)


def signature(record: dict[str, Any]) -> str:
    """What makes two findings the same: the target, the outcome and the message without its numbers."""
    detail = re.sub(r"0x[0-9a-f]+|\d+(\.\d+)?(e[-+]?\d+)?", "N", record["detail"])
    detail = re.sub(r"'[^']{30,}'", "'...'", detail)[:160]
    return f"{record['outcome']} | {record['target']} | {detail}"


def report(records: dict[int, dict[str, Any]], args: argparse.Namespace, seconds: float) -> int:
    counts = Counter(record["outcome"] for record in records.values())
    print(f"ferronet API fuzz: seed {args.seed}, {len(records)} calls in {seconds:.0f}s ({args.workers} workers, "
          f"{args.memory:g} GiB address space, hang after {args.timeout:g}s)")  # fmt: skip
    print("outcomes: " + "  ".join(f"{name} {counts[name]}" for name in (*OUTCOMES, *FINDINGS)))
    per_target: dict[str, Counter[str]] = {}
    for record in records.values():
        per_target.setdefault(record["target"], Counter())[record["outcome"]] += 1
    for target, target_counts in sorted(per_target.items()):
        print(f"  {target:<17} " + "  ".join(f"{k} {n}" for k, n in target_counts.most_common()))
    from _api_known import KNOWN, known

    groups: dict[str, list[dict[str, Any]]] = {}
    for index in sorted(records):
        if records[index]["outcome"] in FINDINGS:
            groups.setdefault(signature(records[index]), []).append(records[index])
    new = {key: group for key, group in groups.items() if known(group[0]) is None}
    old = {key: group for key, group in groups.items() if key not in new}
    script = Path(sys.argv[0]).as_posix() if sys.argv and sys.argv[0].endswith(".py") else "fuzz/fuzz_api.py"
    if args.only:
        script += f" --only {args.only}"

    def show(group: list[dict[str, Any]], note: str = "") -> None:
        first = group[0]
        print(f"- [{first['outcome']}] x{len(group)} {first['target']}: {first['detail']}")
        if note:
            print(f"    known: {note}")
        print(f"    reproduce: python {script} --seed {args.seed} --replay {first['index']}")
        print(f"    call: {first['call'][:600]}")
        if len(group) > 1:
            others = " ".join(str(record["index"]) for record in group[1:21])
            print(f"    also: --replay {others}{' ...' if len(group) > 21 else ''}")

    print(f"findings: {len(new)} new ({sum(map(len, new.values()))} calls), "
          f"{len(old)} known ({sum(map(len, old.values()))} calls)")  # fmt: skip
    for group in sorted(new.values(), key=len, reverse=True):
        show(group)
    for group in sorted(old.values(), key=len, reverse=True):
        entry = known(group[0])
        assert entry is not None
        show(group, f"for {entry.owner}: {entry.note}")
    unmet = [entry for entry in KNOWN if not any(entry.matches(group[0]) for group in old.values())]
    if unmet:
        print(f"known findings not met in this run: {len(unmet)} (after a long run: fixed? then delete them)")
    if args.json:
        summary = {"seed": args.seed, "calls": len(records), "counts": counts, "new": new, "known": old}
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))
    return 1 if new or (args.strict and old) else 0


def replay(args: argparse.Namespace) -> int:
    """Run the given calls in this process, showing each call and its traceback."""
    limit_resources(args.memory)
    root = Path(tempfile.mkdtemp(prefix="ferronet-fuzz-replay-"))
    os.environ.update({k: v for k, v in environment(root).items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(HERE))
    if args.only:
        from _api_targets import restrict

        restrict(args.only.split(","))
    status = 0
    try:
        for index in args.replay:
            try:
                record = run_one(args.seed, index, root, reraise=True)
                print(f"call {index}: {record['outcome']} {record['detail']}")
            except Exception:
                traceback.print_exc()
                status = 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="calls to make (default: 1000)")
    parser.add_argument("--seconds", type=float, default=float("inf"), help="stop starting calls after this long")
    parser.add_argument("--seed", type=int, default=0, help="the seed every call is drawn from (default: 0)")
    parser.add_argument("--first", type=int, default=0, help="index of the first call (default: 0)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--memory", type=float, default=4.0, help="address-space limit per worker in GiB (0: none)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds without a result before a hang")
    parser.add_argument("--progress", type=int, default=1000, help="print counts every N calls (stderr)")
    parser.add_argument("--json", help="also write the counts and findings as JSON")
    parser.add_argument("--strict", action="store_true", help="known findings (fuzz/_api_known.py) fail the run too")
    parser.add_argument("--replay", type=int, nargs="+", metavar="INDEX", help="run these calls here, with tracebacks")
    parser.add_argument(
        "--self-test", choices=("bug", "crash", "hang"), help="every call fails so (checks the fuzzer's own watchdog)"
    )
    parser.add_argument("--only", metavar="T,T", help="draw only from these targets (e.g. files,cli)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    sys.path.insert(0, str(HERE))
    if args.replay:
        return replay(args)
    return coordinate(args)


if __name__ == "__main__":
    sys.exit(main())
