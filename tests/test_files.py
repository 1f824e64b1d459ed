"""``ferronet._files``: the policy for every file ferronet writes or reads (symbolic links, special files, long
names, odd paths, failures half-way, file modes)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import ferronet as fnet
import numpy as np
import pytest
from ferronet import _files

#: Where this process imported ferronet from (a source tree or site-packages): the subprocesses use the same one.
IMPORTED_FROM = str(Path(fnet.__file__).resolve().parents[1])
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo is POSIX-only")
needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
not_root = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions, so nothing is denied"
)


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def within(seconds: float, action) -> object:
    """Run ``action`` in a daemon thread; fail (instead of hanging the suite) if it blocks for ``seconds``."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(("ok", action()))
        except BaseException as error:
            outcome.append(("error", error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"blocked for more than {seconds}s"
    kind, value = outcome[0]
    if kind == "error":
        raise value  # type: ignore[misc]
    return value


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.fixture
def model() -> fnet.Sequential:
    return fnet.Sequential([fnet.Dense(3)], input_dim=2, seed=1)


# ---- plain writes and reads ---------------------------------------------------------------------------------


def test_write_creates_and_replaces_and_read_gives_the_bytes(tmp_path):
    path = tmp_path / "m.safetensors"
    assert _files.atomic_write(str(path), b"first") == path
    assert _files.read_bytes(path) == b"first"
    _files.atomic_write(path, bytearray(b"second"))
    assert _files.read_bytes(str(path)) == b"second"
    _files.atomic_write(path, memoryview(b""))
    assert path.read_bytes() == b""
    assert names(tmp_path) == ["m.safetensors"]


def test_relative_path_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _files.atomic_write("here.bin", b"x")
    assert (tmp_path / "here.bin").read_bytes() == b"x"


# ---- symbolic links -----------------------------------------------------------------------------------------


@needs_symlinks
def test_a_symlink_keeps_being_a_link_and_its_target_is_replaced(tmp_path):
    real, latest = tmp_path / "real.st", tmp_path / "latest.st"
    _files.atomic_write(real, b"old")
    os.symlink("real.st", latest)
    _files.atomic_write(latest, b"new")
    assert latest.is_symlink() and os.readlink(latest) == "real.st"
    assert real.read_bytes() == b"new"
    assert names(tmp_path) == ["latest.st", "real.st"]


@needs_symlinks
def test_a_chain_of_links_into_another_directory(tmp_path):
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "run7.st"
    real.write_bytes(b"old")
    os.symlink(real, tmp_path / "middle")  # absolute
    os.symlink("middle", tmp_path / "latest")  # relative, to a link
    _files.atomic_write(tmp_path / "latest", b"new")
    assert real.read_bytes() == b"new"
    assert (tmp_path / "latest").is_symlink() and (tmp_path / "middle").is_symlink()
    assert names(tmp_path / "runs") == ["run7.st"]


@needs_symlinks
def test_a_dangling_link_creates_its_target_as_open_does(tmp_path):
    os.symlink("made.st", tmp_path / "link.st")
    _files.atomic_write(tmp_path / "link.st", b"data")
    assert (tmp_path / "link.st").is_symlink()
    assert (tmp_path / "made.st").read_bytes() == b"data"


@needs_symlinks
def test_a_dangling_link_into_a_missing_directory_names_the_users_path(tmp_path):
    os.symlink("gone/made.st", tmp_path / "link.st")
    with pytest.raises(FileNotFoundError, match=r"link\.st.*symbolic link to .*gone.* does not exist"):
        _files.atomic_write(tmp_path / "link.st", b"data")
    assert names(tmp_path) == ["link.st"]


@needs_symlinks
def test_a_symlink_loop_is_an_error_naming_the_path(tmp_path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError, match=r"cannot write path '.*/a': too many levels of symbolic links") as info:
        _files.atomic_write(tmp_path / "a", b"x")
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError, match=r"cannot read path '.*/a'") as info:
        _files.read_bytes(tmp_path / "a")
    assert info.value.errno == errno.ELOOP
    assert names(tmp_path) == ["a", "b"]


@needs_symlinks
def test_a_loop_among_the_directories_is_an_error_naming_the_path(tmp_path):
    os.symlink("d2", tmp_path / "d1")
    os.symlink("d1", tmp_path / "d2")
    with pytest.raises(OSError, match=r"cannot write path '.*d1/m\.st'") as info:
        _files.atomic_write(tmp_path / "d1" / "m.st", b"x")
    assert info.value.errno == errno.ELOOP


@needs_symlinks
def test_model_save_through_a_symlink_keeps_the_link(tmp_path, model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model.save("real.st")
    os.symlink("real.st", "latest.st")
    other = fnet.Sequential([fnet.Dense(3)], input_dim=2, seed=2)
    other.save("latest.st")
    assert Path("latest.st").is_symlink()
    np.testing.assert_array_equal(fnet.load("real.st").get_weights()[0]["W"], other.get_weights()[0]["W"])


# ---- paths that are not regular files ----------------------------------------------------------------------


@needs_fifo
def test_a_fifo_is_refused_without_blocking_and_left_alone(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"path '.*pipe' is a FIFO \(named pipe\), not a regular file"):
        within(10, lambda: _files.atomic_write(fifo, b"x"))
    with pytest.raises(ValueError, match="is a FIFO"):
        within(10, lambda: _files.read_bytes(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert names(tmp_path) == ["pipe"]


@needs_symlinks
@needs_fifo
def test_a_symlink_to_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    os.symlink("pipe", tmp_path / "link")
    with pytest.raises(ValueError, match=r"path '.*link' is a FIFO"):
        within(10, lambda: _files.atomic_write(tmp_path / "link", b"x"))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode) and (tmp_path / "link").is_symlink()


def test_reading_a_character_device_is_refused():
    # os.devnull is only read here: a write test on a real device could damage the system if the policy broke
    if not os.path.exists(os.devnull) or not stat.S_ISCHR(os.stat(os.devnull).st_mode):
        pytest.skip(reason=f"{os.devnull} is not a character device here")
    with pytest.raises(ValueError, match=rf"path '{os.devnull}' is a character device, not a regular file"):
        _files.read_bytes(os.devnull)


def test_writing_to_a_character_device_is_refused_and_it_is_never_opened(tmp_path, monkeypatch):
    # A regular file that os.stat reports as a character device stands in for one: nothing real is at risk.
    device = tmp_path / "device"
    device.write_bytes(b"untouched")
    real_stat, real_open = os.stat, os.open

    def fake_stat(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if Path(os.fspath(path)) == device:
            mode = stat.S_IFCHR | 0o666
            return os.stat_result((mode, *tuple(result)[1:10]))
        return result

    def guarded_open(path, *args, **kwargs):
        assert Path(os.fspath(path)) != device, "the device was opened"
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_files.os, "stat", fake_stat)
    monkeypatch.setattr(_files.os, "open", guarded_open)
    with pytest.raises(ValueError, match=r"path '.*device' is a character device, not a regular file"):
        _files.atomic_write(device, b"x")
    with pytest.raises(ValueError, match="is a character device"):
        _files.read_bytes(device)
    monkeypatch.undo()
    assert device.read_bytes() == b"untouched" and names(tmp_path) == ["device"]


def test_a_directory_is_refused_and_left_empty(tmp_path):
    directory = tmp_path / "adir"
    directory.mkdir()
    with pytest.raises(IsADirectoryError, match=r"path '.*adir' is a directory; give a file name"):
        _files.atomic_write(directory, b"x")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        _files.read_bytes(directory)
    with pytest.raises(IsADirectoryError, match="ends with a separator"):
        _files.atomic_write(f"{tmp_path}/new/", b"x")
    assert names(tmp_path) == ["adir"] and names(directory) == []


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix domain sockets are not available")
def test_a_socket_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "sock"
    if len(os.fsencode(path)) >= 100:
        pytest.skip(reason="the temporary directory's path is too long for a Unix socket address")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(ValueError, match=r"path '.*sock' is a socket, not a regular file"):
            _files.atomic_write(path, b"x")
        with pytest.raises(ValueError, match="is a socket"):
            _files.read_bytes(path)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


# ---- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [238, 250, 254, 255])
def test_long_file_names_save(tmp_path, length):
    path = tmp_path / ("m" * (length - 3) + ".st")
    _files.atomic_write(path, b"data")
    _files.atomic_write(path, b"again")  # the replacing path (a temporary name next to the target) too
    assert path.read_bytes() == b"again" and names(tmp_path) == [path.name]


def test_a_name_over_the_limit_is_an_error_naming_it(tmp_path):
    path = tmp_path / ("m" * 256)
    with pytest.raises(OSError, match=r"cannot write path '.*mmm': File name too long") as info:
        _files.atomic_write(path, b"data")
    assert info.value.errno == errno.ENAMETOOLONG
    assert names(tmp_path) == []


@pytest.mark.parametrize("function", [_files.atomic_write, _files.read_bytes], ids=["write", "read"])
def test_a_nul_byte_is_a_value_error_naming_the_argument(tmp_path, function):
    args = (f"{tmp_path}/m\0.st", b"x") if function is _files.atomic_write else (f"{tmp_path}/m\0.st",)
    with pytest.raises(ValueError, match=r"^--out must not contain a NUL byte; got '.*m\\x00\.st'"):
        function(*args, what="--out")
    assert names(tmp_path) == []


def test_unencodable_names_are_value_errors_naming_the_argument(tmp_path):
    with pytest.raises(ValueError, match="path cannot be encoded as a file name"):
        _files.atomic_write(f"{tmp_path}/\ud800.st", b"x")


@pytest.mark.parametrize("path", [b"m.st", 3, None, ["m.st"]], ids=["bytes", "int", "None", "list"])
def test_paths_are_str_or_pathlike_only(path):
    with pytest.raises(TypeError, match=r"^path must be a str or os\.PathLike; got"):
        _files.atomic_write(path, b"x")
    with pytest.raises(TypeError, match=r"^path must be a str or os\.PathLike; got"):
        _files.read_bytes(path)


def test_a_pathlike_of_bytes_is_a_type_error():
    class BytesPath:
        def __fspath__(self) -> bytes:
            return b"m.st"

    with pytest.raises(TypeError, match=r"os\.PathLike of str"):
        _files.atomic_write(BytesPath(), b"x")


@pytest.mark.parametrize("path", ["", "."])
def test_empty_names_are_value_errors(path):
    with pytest.raises(ValueError, match="path must name a file"):
        _files.atomic_write(path, b"x")


def test_data_must_be_bytes(tmp_path):
    with pytest.raises(TypeError, match="data must be bytes; got str"):
        _files.atomic_write(tmp_path / "m.st", "text")  # type: ignore[arg-type]
    assert names(tmp_path) == []


# ---- missing directories and permissions -------------------------------------------------------------------


def test_a_missing_directory_is_file_not_found_naming_the_users_path(tmp_path):
    path = tmp_path / "missing" / "m.st"
    with pytest.raises(FileNotFoundError, match=r"cannot write path '.*missing/m\.st': directory .* does not exist"):
        _files.atomic_write(path, b"x")
    with pytest.raises(FileNotFoundError, match=r"cannot read path '.*missing/m\.st'"):
        _files.read_bytes(path)
    with pytest.raises(FileNotFoundError, match=r"cannot read path '.*nothing\.st'"):
        _files.read_bytes(tmp_path / "nothing.st")
    assert names(tmp_path) == []


def test_a_file_used_as_a_directory_is_an_error_naming_the_path(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match=r"cannot write path '.*file/m\.st'"):
        _files.atomic_write(tmp_path / "file" / "m.st", b"x")


@not_root
def test_permission_denied_names_the_path_and_leaves_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "m.st").write_bytes(b"old")
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"cannot write path '.*locked/m\.st': Permission denied"):
            _files.atomic_write(locked / "m.st", b"new")
        assert (locked / "m.st").read_bytes() == b"old" and names(locked) == ["m.st"]
    finally:
        locked.chmod(0o700)


# ---- failures half-way ---------------------------------------------------------------------------------------


@pytest.fixture(params=["unnamed", "named"])
def write_strategy(request, monkeypatch):
    """Both ways of writing: Linux's O_TMPFILE, and the short-named temporary file used elsewhere."""
    if request.param == "named":
        monkeypatch.setattr(_files, "_write_unnamed", lambda *args, **kwargs: False)
    elif not hasattr(os, "O_TMPFILE"):
        pytest.skip(reason="O_TMPFILE is Linux-only")
    return request.param


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("failing", ["fsync", "write", "replace", "link"])
def test_a_failure_half_way_leaves_the_old_file_and_no_temporary(
    tmp_path, monkeypatch, write_strategy, existing, failing
):
    path = tmp_path / "m.st"
    if existing:
        path.write_bytes(b"old")
    if failing == "link" and write_strategy == "named":
        pytest.skip(reason="the named strategy does not link")
    if failing == "replace" and not existing and write_strategy == "unnamed":
        pytest.skip(reason="a new file is linked into place, not renamed")

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, f"simulated {failing} failure")

    if failing == "write":
        real_fdopen = os.fdopen

        class HalfWrite:
            def __init__(self, *args, **kwargs):
                self.file = real_fdopen(*args, **kwargs)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def write(self, data):
                self.file.write(data[:1])
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(_files.os, "fdopen", HalfWrite)
    else:
        monkeypatch.setattr(_files.os, failing, broken)
    with pytest.raises(OSError, match=r"cannot write path '.*m\.st': ") as info:
        _files.atomic_write(path, b"new contents")
    monkeypatch.undo()
    assert ".ferronet-" not in str(info.value)  # never an internal name
    assert info.value.errno in (errno.EIO, errno.ENOSPC)
    assert names(tmp_path) == (["m.st"] if existing else [])
    if existing:
        assert path.read_bytes() == b"old"


def test_a_non_os_error_half_way_also_cleans_up(tmp_path, monkeypatch, write_strategy):
    path = tmp_path / "m.st"
    path.write_bytes(b"old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(_files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _files.atomic_write(path, b"new")
    monkeypatch.undo()
    assert names(tmp_path) == ["m.st"] and path.read_bytes() == b"old"


@pytest.mark.skipif(not hasattr(os, "O_TMPFILE"), reason="O_TMPFILE is Linux-only")
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
def test_a_killed_writer_leaves_no_temporary_file(tmp_path, existing):
    path = tmp_path / "m.st"
    if existing:
        path.write_bytes(b"old")
    child = textwrap.dedent(
        f"""
        import os, sys, time
        from ferronet import _files
        def stalled_fsync(fd):
            print("writing", flush=True)
            time.sleep(60)
        os.fsync = stalled_fsync
        _files.atomic_write({str(path)!r}, b"x" * 1_000_000)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [IMPORTED_FROM, os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout.readline() == "writing\n"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stdout.close()
    assert names(tmp_path) == (["m.st"] if existing else [])


# ---- file modes ---------------------------------------------------------------------------------------------


def test_a_new_file_gets_the_mode_open_gives(tmp_path, write_strategy):
    previous = os.umask(0o027)
    try:
        _files.atomic_write(tmp_path / "m.st", b"x")
        with open(tmp_path / "by-open", "wb"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "m.st").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "m.st").st_mode) == stat.S_IMODE(os.stat(tmp_path / "by-open").st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path, write_strategy, mode):
    path = tmp_path / "m.st"
    path.write_bytes(b"old")
    path.chmod(mode)
    _files.atomic_write(path, b"new")
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert path.read_bytes() == b"new"


def test_default_mode_follows_the_umask(tmp_path):
    _files.atomic_write(tmp_path / "m.st", b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "m.st").st_mode) == 0o666 & ~current_umask()


# ---- the package's writers use the policy ---------------------------------------------------------------------


@needs_fifo
def test_write_idx_and_read_idx_follow_the_policy(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    with pytest.raises(ValueError, match="is a FIFO"):
        within(10, lambda: fnet.datasets.write_idx(tmp_path / "pipe", array))
    with pytest.raises(ValueError, match="is a FIFO"):
        within(10, lambda: fnet.datasets.read_idx(tmp_path / "pipe"))
    fnet.datasets.write_idx(tmp_path / "real.idx.gz", array)
    os.symlink("real.idx.gz", tmp_path / "latest.idx.gz")
    fnet.datasets.write_idx(tmp_path / "latest.idx.gz", array * 2)
    assert (tmp_path / "latest.idx.gz").is_symlink()
    np.testing.assert_array_equal(fnet.datasets.read_idx(tmp_path / "real.idx.gz"), array * 2)


@needs_fifo
def test_model_save_and_load_refuse_a_fifo_without_blocking(tmp_path, model):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="is a FIFO"):
        within(10, lambda: model.save(tmp_path / "pipe"))


def test_model_save_with_a_nul_byte_names_the_argument(tmp_path, model):
    with pytest.raises(ValueError, match="path must not contain a NUL byte"):
        model.save(f"{tmp_path}/m\0.st")


def test_model_save_with_a_long_name(tmp_path, model):
    model.save(tmp_path / ("m" * 252 + ".st"))


def test_check_target_reports_what_a_write_would_without_writing(tmp_path):
    user, target, existing = _files.check_target(tmp_path / "new.st")
    assert user == target == tmp_path / "new.st" and existing is None
    (tmp_path / "real.st").write_bytes(b"x")
    if sys.platform != "win32":
        os.symlink("real.st", tmp_path / "link.st")
        user, target, existing = _files.check_target(tmp_path / "link.st")
        assert target == tmp_path / "real.st" and existing is not None and existing.st_size == 1
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _files.check_target(tmp_path / "missing" / "m.st", what="--out")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        _files.check_target(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["real.st"] + (["link.st"] if sys.platform != "win32" else [])
    )
