"""The engine's thread count follows the limits of the processes and libraries around it: threadpoolctl's
``threadpool_limits`` (a registered controller), and ``OMP_NUM_THREADS`` when ``FERRONET_NUM_THREADS`` is unset
(what joblib's loky workers and Dask's nanny set), so that n workers on n cores do not run n * cores threads."""

from __future__ import annotations

import os
import subprocess
import sys

import ferronet as fnet
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _engine_threads() -> int:
    import ferronet

    return ferronet.get_num_threads()


# ---- threadpoolctl ----------------------------------------------------------------------------------------------


def test_threadpool_limits_limit_the_engine_and_restore_it(restore_threads):
    fnet.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1):
        assert fnet.get_num_threads() == 1
    assert fnet.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits={"ferronet": 1}):  # by its API name, as "blas" or "openmp"
        assert fnet.get_num_threads() == 1
    assert fnet.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):  # a BLAS-only limit leaves the engine alone
        assert fnet.get_num_threads() == 2


def test_a_model_trains_inside_threadpool_limits_with_the_same_result(restore_threads):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(256, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)

    def weights():
        model = fnet.Sequential([fnet.Dense(64, activation="relu"), fnet.Dense(2)], input_dim=20, seed=3)
        model.fit(X, y, epochs=2, batch_size=32)
        return model.get_weights()

    fnet.set_num_threads(2)
    expected = weights()
    with threadpoolctl.threadpool_limits(limits=1):
        assert fnet.get_num_threads() == 1
        limited = weights()
    for a, b in zip(expected, limited, strict=True):
        np.testing.assert_array_equal(a["W"], b["W"])


def test_threadpool_info_lists_the_engine_once():
    infos = [info for info in threadpoolctl.threadpool_info() if info["internal_api"] == "ferronet"]
    assert len(infos) == 1
    info = infos[0]
    assert info["user_api"] == "ferronet" and info["num_threads"] == fnet.get_num_threads()
    assert os.path.samefile(info["filepath"], fnet._core.__file__)


def test_another_libraries_core_extension_is_not_taken_for_the_engine(tmp_path):
    """threadpoolctl matches libraries by file name: a "_core" library of another package is skipped."""
    code = f"""
import ctypes, shutil, ferronet, threadpoolctl
other = shutil.copy(ferronet._core.__file__, {str(tmp_path / "_core_other.so")!r})
ctypes.CDLL(other)  # loaded, never initialised as a module
infos = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "ferronet"]
assert len(infos) == 1 and "_core_other" not in infos[0]["filepath"], infos
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ---- OMP_NUM_THREADS ----------------------------------------------------------------------------------------------


def _default_threads(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "FERRONET_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-c", "import ferronet; print(ferronet.get_num_threads())"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OMP_NUM_THREADS": "1"}, 1),
        ({"OMP_NUM_THREADS": "3"}, 3),
        ({"OMP_NUM_THREADS": " 3,1"}, 3),  # OpenMP's nested levels: the first is the outer one
        ({"OMP_NUM_THREADS": "1", "FERRONET_NUM_THREADS": "2"}, 2),  # ferronet's own variable wins
        ({"OMP_NUM_THREADS": "0"}, None),  # not a count: ignored, as if unset
        ({"OMP_NUM_THREADS": "many"}, None),
        ({"OMP_NUM_THREADS": "2000"}, None),  # beyond the engine's 1024
    ],
)
def test_the_default_thread_count_follows_omp_num_threads(env, expected):
    cores = _default_threads()  # neither variable: the cores this process may use
    assert _default_threads(**env) == (cores if expected is None else expected)


# ---- worker processes ---------------------------------------------------------------------------------------------


def test_loky_workers_run_the_engine_on_their_share_of_the_cores():
    joblib = pytest.importorskip("joblib")
    # joblib gives each of n_jobs workers OMP_NUM_THREADS = cores // n_jobs (or the parent's own value)
    share = int(os.environ.get("OMP_NUM_THREADS", max(joblib.cpu_count() // 2, 1)))
    seen = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_engine_threads)() for _ in range(4))
    assert set(seen) == {share}
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        assert set(joblib.Parallel(n_jobs=2)(joblib.delayed(_engine_threads)() for _ in range(4))) == {1}


def test_dask_workers_run_the_engine_on_one_thread():
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        seen = client.run(_engine_threads)  # the nanny starts workers with OMP_NUM_THREADS=1
    assert set(seen.values()) == {1}
