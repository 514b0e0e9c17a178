"""The one way files are written: a short, per-run temp name beside the target, every byte checked,
fsync, then ``os.replace``; a failure removes the temp and leaves any previous file untouched.

Why each step:

- the temp name does not contain the target's name, so a 255-byte file name still fits
  (``NAME_MAX`` applies to the temp as well), and it carries this run's tag, so cleanup after a
  crash removes only this run's temps (:func:`remove_temps`), never a user's ``.draft.tmp.txt``
  or another run's in-flight file;
- bytes are written with ``os.write`` in a loop and the size is checked with ``fstat`` before the
  rename: a short write (``ENOSPC``, quota) is an error, never a truncated file reported as done;
- ``fsync`` before ``rename`` so a crash cannot leave a renamed but empty file (ext4/xfs delayed
  allocation);
- files are created with mode 0666 minus the umask (``tempfile.mkstemp`` would force 0600, which
  other users, servers and containers cannot read).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

from edgeinpaint.core.errors import InputError

#: Prefix of every temp file this package creates; followed by a run tag and a counter.
TEMP_PREFIX = ".eip-"
TEMP_SUFFIX = ".tmp"
_counter = itertools.count()


def new_run_tag() -> str:
    """A short tag naming one run's temp files: ``<pid of the run's main process>-<4 hex digits>``.

    The pid lets a later run recognise temps whose run is gone (:func:`remove_stale_temps`).
    """
    return f"{os.getpid()}-{secrets.token_hex(2)}"


#: This process's tag, for writes outside a run; runs pass their own tag to worker processes.
PROCESS_TAG = new_run_tag()


def temp_path(path: Path, tag: str | None = None) -> Path:
    """A fresh temp name in ``path``'s folder: ``.eip-<tag>-<n>.tmp`` (at most ~30 bytes)."""
    return Path(path).parent / f"{TEMP_PREFIX}{tag or PROCESS_TAG}-{next(_counter):x}{TEMP_SUFFIX}"


def _create(tmp: Path) -> int:
    # O_EXCL: never follow or reuse an existing name (another run's temp, a planted symlink).
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def write_bytes(path: Path, data: bytes, tag: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically; parents are created.

    Raises:
        OSError: the write failed (disk full, permission); nothing is left at ``path``'s temp and
            a previous ``path`` is unchanged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, tag)
    fd = _create(tmp)
    try:
        view = memoryview(data)
        written = 0
        while written < len(view):
            n = os.write(fd, view[written:])
            if n <= 0:  # pragma: no cover - os.write raises on ENOSPC; a 0 return is the same failure
                raise OSError(28, "No space left on device")
            written += n
        os.fsync(fd)
        size = os.fstat(fd).st_size
        if size != len(data):
            raise OSError(28, f"short write: {size} of {len(data)} bytes landed")
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str, tag: str | None = None) -> None:
    """:func:`write_bytes` of UTF-8 text."""
    write_bytes(path, text.encode("utf-8"), tag)


@contextlib.contextmanager
def publish(path: Path, tag: str | None = None) -> Iterator[Path]:
    """For libraries that write files themselves (ONNX, torch): yield a temp path, publish it on success.

    The temp is created empty with umask permissions; on an exception it is removed and ``path``
    is left as it was. The written file is fsynced before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, tag)
    os.close(_create(tmp))
    try:
        yield tmp
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError(5, f"{path}: nothing was written")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def remove_temps(folders: set[Path] | list[Path], tag: str) -> int:
    """Remove the temp files run ``tag`` left in ``folders`` (a writer killed mid-write); returns the count.

    Only names this module creates with this tag are touched.
    """
    if not re.fullmatch(r"\d+-[0-9a-f]+", tag):
        raise InputError(f"temp tag {tag!r}: expected PID-HEX")
    removed = 0
    for folder in folders:
        with contextlib.suppress(OSError):
            for tmp in Path(folder).glob(f"{TEMP_PREFIX}{tag}-*{TEMP_SUFFIX}"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                    removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_stale_temps(folders: set[Path] | list[Path]) -> int:
    """Remove temps in ``folders`` whose run's main process no longer exists (a run killed with -9).

    A temp of a live run (this one, or a concurrent one) is never touched.
    """
    removed = 0
    for folder in folders:
        with contextlib.suppress(OSError):
            for tmp in Path(folder).glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
                found = re.fullmatch(rf"{re.escape(TEMP_PREFIX)}(\d+)-[0-9a-f]+-[0-9a-f]+{TEMP_SUFFIX}", tmp.name)
                if found and not _alive(int(found.group(1))):
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                        removed += 1
    return removed


@contextlib.contextmanager
def exclusive(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (``.lock`` inside it) across processes.

    Concurrent ``run --weights`` calls on an empty cache export into the same directory: the
    second waits for the first and then finds every file up to date. OpenVINO's model cache is
    not safe for concurrent writers either (a process can find another's half-written blob:
    "cannot set permissions: No such file or directory [.../<hash>.blob]", reproduced with three
    processes compiling into one fresh cache), so compiling with a cache holds this lock too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
