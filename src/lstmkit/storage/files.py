"""Writing safely: lstmkit replaces only what it wrote, and never leaves half a file.

Every file and directory lstmkit writes goes through this module.

* ``atomic_file`` (``write_text``): the bytes go to a temporary file beside the target,
  are fsynced and renamed over it, then the directory is fsynced: a crash leaves the
  old file or the new one, never a mix.
* ``atomic_directory``: a directory is built as a temporary beside the target and
  swapped in with two renames (old one aside, new one in). ``recover`` puts the old
  one back when a save died between the two.
* Temporaries are named ``.NAME.tmp-PID-TOKEN`` (``.NAME.old-PID-TOKEN`` for a
  directory set aside). ``recover`` removes those whose writing process is gone, and
  those lstmkit 0.2.0 named without a PID once they are a day old; never a live
  writer's. It runs before anything reads or writes the path.
* ``check_output_file`` / ``check_output_dir``, run before any data is read: an output
  may not be a symbolic link, the current directory (or one holding it), an input
  being read (or a directory holding one), a path inside a model or backtest
  directory, or in a folder that cannot be written. An existing output is replaced
  only with ``overwrite``, and only if it is lstmkit's own of the same kind.

The names of what lstmkit writes into a model or run directory are defined here, once: the
writers (``lstmkit.storage.artifact``, ``lstmkit.cli.runs``, ``lstmkit.analysis.plots``) use
them, and the checks
tell lstmkit's own directories by them. What lstmkit wrote is told as 0.2.0 wrote it too: a
model (or ``lstmkit fit`` run) directory by its ``config.json`` of format ``lstmkit.model``,
an unfinished run by its ``checkpoints/checkpoint.safetensors`` whose header says
``lstmkit.checkpoint``, a backtest or tune directory by holding nothing but what lstmkit
writes there (``backtest.csv`` and ``backtest.png``; ``study.db``, ``best.yaml``,
``trials.csv`` and the ``best`` run).

Example:
    >>> check_output_file(Path("forecast.csv"), overwrite=False, reading=[Path("data.csv")])
    >>> with atomic_directory(Path("models/etth1"), MODEL) as tmp:
    ...     (tmp / "config.json").write_text("{}")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import quote
from ..errors import ArtifactError, ConfigError, LSTMKitError

MODEL, BACKTEST, TUNE = "model", "backtest", "tune"      # the kinds of directory lstmkit writes
MODEL_FORMAT = "lstmkit.model"                # config.json of a model (or run) directory
CHECKPOINT_FORMAT = "lstmkit.checkpoint"      # header of a training checkpoint
# The names in a model directory (lstmkit.storage.artifact) ...
MODEL_CONFIG, WEIGHTS, NEIGHBOURS, CARD = ("config.json", "weights.safetensors",
                                           "neighbours.safetensors", "README.md")
# ... and in the run directory built around it (lstmkit.cli.runs): the run's record, its plots
# (lstmkit.analysis.plots.save_run), TensorBoard's logs, and an unfinished run's training
# checkpoint.
RUN_CONFIG, METRICS, EPOCHS, ENVIRONMENT = ("config.yaml", "metrics.json", "metrics.csv",
                                            "environment.json")
LEARNING_CURVES, FORECASTS, HORIZON_ERRORS, CONFUSION, RELIABILITY = (
    "learning_curves.png", "forecasts.png", "horizon_errors.png", "confusion.png",
    "reliability.png")
TENSORBOARD = "tensorboard"
CHECKPOINTS, CHECKPOINT = "checkpoints", "checkpoint.safetensors"
# Everything lstmkit (0.2.0 included) writes into each kind of directory. Anything else in
# one is the user's, so the directory is not replaced while it is there.
OWN_NAMES = {
    MODEL: frozenset({MODEL_CONFIG, WEIGHTS, NEIGHBOURS, CARD, RUN_CONFIG, METRICS, EPOCHS,
                      ENVIRONMENT, LEARNING_CURVES, FORECASTS, HORIZON_ERRORS, CONFUSION,
                      RELIABILITY,
                      TENSORBOARD, CHECKPOINTS}),
    BACKTEST: frozenset({"backtest.csv", "backtest.png"}),
    TUNE: frozenset({"study.db", "study.db-journal", "study.db-wal", "study.db-shm",
                     "best.yaml", "trials.csv", "best"}),
}
SEALED = (MODEL, BACKTEST)    # replaced whole, never written into; a tune directory grows
LITTER = frozenset({".DS_Store", "Thumbs.db"})   # what file browsers leave: not the user's work
STALE_AFTER = 24 * 3600       # seconds before a temporary without a PID (0.2.0) counts as left
TEMPORARY = re.compile(r"(?P<tag>tmp|old)-(?:(?P<pid>\d+)-)?[0-9a-f]{8}")
PATH_CHARS = 300              # the most characters of a path that a message shows
REPLACE = "pass --overwrite (Python: overwrite=True) to replace it, or choose another path"


# -- writing ------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; it replaces ``path`` once the block
    succeeds (fsynced, renamed, directory fsynced), and is removed if the block fails.

    Example:
        >>> with atomic_file(Path("out.csv")) as tmp:
        ...     frame.to_csv(tmp, index=False)
    """
    path = Path(path)
    recover(path)
    tmp = path.parent / f".{path.name}.tmp-{_token()}"
    try:
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            _fsync(tmp)
            os.replace(tmp, path)
            _fsync(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def json_text(data: Any) -> str:
    """``data`` as lstmkit writes JSON: indented, strict (no NaN), numpy scalars as numbers."""
    return json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n"


@contextlib.contextmanager
def atomic_directory(path: Path, kind: str, overwrite: bool = False,
                     reading: Iterable[Path] = (),
                     error: type[LSTMKitError] = ConfigError) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` (a ``kind`` directory) only if the
    block succeeds; ``check_output_dir`` runs first.

    Args:
        path: the directory to write.
        kind: ``MODEL`` or ``BACKTEST``.
        overwrite: replace an existing ``kind`` directory that holds only lstmkit's files.
        reading: the inputs being read, which the directory may not hold.
        error: the class of a refusal.
    """
    path = Path(path)
    check_output_dir(path, kind, overwrite, reading, error)
    token = _token()
    tmp = path.parent / f".{path.name}.tmp-{token}"
    try:
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            yield tmp
            for root, _, names in os.walk(tmp):
                for name in names:
                    _fsync(Path(root) / name)
                _fsync(Path(root))
            _swap(tmp, path, token)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover(path: Path) -> None:
    """Undo what a killed save left beside ``path``; call it before reading ``path``.

    If a directory swap died between its two renames (``path`` missing, the previous
    directory set aside), the previous directory is put back. Temporaries whose writer
    is gone are removed.
    """
    path = Path(path)
    left = _leftovers(path)
    if not os.path.lexists(path):
        previous = [t for t in left if t.tag == "old" and t.abandoned(max_age=0)]
        if previous:
            newest = max(previous, key=lambda t: _mtime(t.path))
            with contextlib.suppress(FileNotFoundError):     # another process was quicker
                os.rename(newest.path, path)
            left.remove(newest)
    for leftover in left:
        if leftover.abandoned(max_age=STALE_AFTER):
            _remove(leftover.path)


# -- checks -------------------------------------------------------------------------------
def check_output_file(path: Path, overwrite: bool = False, reading: Iterable[Path] = (),
                      kind: str = "file", is_own: Callable[[Path], bool] | None = None,
                      error: type[LSTMKitError] = ConfigError,
                      suffixes: tuple[str, ...] = ()) -> None:
    """Raise ``error`` unless lstmkit may write the file ``path``.

    Args:
        path: the file to write.
        overwrite: replace an existing file, if ``is_own`` says it is lstmkit's.
        reading: the inputs being read: never replaced, even with ``overwrite``.
        kind: what the file is, for messages ("ONNX export").
        is_own: whether an existing file is an lstmkit ``kind``; None: not known yet.
        error: the class of a refusal.
        suffixes: the endings the file's name may have (``(".onnx",)``), any case; empty:
            any name. What is written is of that format whatever the name says, so a name
            that says otherwise is refused.
    """
    path = Path(path)
    recover(path)
    _check_place(path, reading, error, directory=False)
    if suffixes and path.suffix.lower() not in suffixes:
        raise error(f"{shown(path)} must end in {' or '.join(suffixes)}: lstmkit writes "
                    f"{kind}s in that format; give a name such as "
                    f"{shown(path.with_suffix(suffixes[0]).name)}")
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise error(f"{shown(path)} already exists; {REPLACE}")
    if not path.is_file():
        raise error(f"{shown(path)} is not a regular file; choose another path")
    if is_own is not None and not is_own(path):
        raise error(f"{shown(path)} is not an lstmkit {kind}, so it is kept even with "
                    "--overwrite (lstmkit replaces only what it wrote): choose another path, "
                    "or move the file away")


def check_output_dir(path: Path, kind: str, overwrite: bool = False,
                     reading: Iterable[Path] = (),
                     error: type[LSTMKitError] = ConfigError) -> None:
    """Raise ``error`` unless lstmkit may write the ``kind`` directory ``path``: it is new (or
    empty), or, with ``overwrite``, a ``kind`` directory holding only lstmkit's files.

    Args:
        path: the directory to write.
        kind: ``MODEL`` or ``BACKTEST``.
        overwrite: replace an existing ``kind`` directory.
        reading: the inputs being read, which the directory may not hold.
        error: the class of a refusal.
    """
    if inspect_output_dir(path, kind, reading, error) is not None:
        check_replaceable(path, kind, overwrite, error)


def inspect_output_dir(path: Path, kind: str, reading: Iterable[Path] = (),
                       error: type[LSTMKitError] = ConfigError) -> str | None:
    """Raise ``error`` unless ``path`` is free for a ``kind`` directory or already is one.

    ``recover`` runs first. The directory may not be a symbolic link, a file, the current
    directory or one holding it, hold an input being read, lie inside a model or backtest
    directory, or sit where nothing can be written; an existing, non-empty one must be an
    lstmkit ``kind`` directory. Whether it may be replaced is ``check_replaceable``'s.

    Returns:
        ``kind`` if such a directory is there, None if nothing (or an empty directory) is.
    """
    path = Path(path)
    recover(path)
    _check_place(path, reading, error, directory=True)
    entries = _entries(path)
    if not entries:
        return None
    found = kind_of(path)
    if found is None:
        raise error(f"{shown(path)} already exists and lstmkit did not write it (it holds "
                    f"{_names(entries)}); lstmkit writes into no folder it did not create, even "
                    "with --overwrite: choose a new directory")
    if found != kind:
        raise error(f"{shown(path)} is an lstmkit {found} directory, not a {kind} one; "
                    "choose another directory")
    return found


def check_replaceable(path: Path, kind: str, overwrite: bool,
                      error: type[LSTMKitError] = ConfigError) -> None:
    """Raise ``error`` unless the ``kind`` directory at ``path`` may be replaced whole:
    ``overwrite`` is given and it holds nothing lstmkit did not write."""
    if not overwrite:
        raise error(f"{shown(path)} already exists; {REPLACE}")
    foreign = sorted(set(_entries(path)) - OWN_NAMES[kind] - LITTER)
    if foreign:
        raise error(f"{shown(path)} holds {_names(foreign)}, which lstmkit did not write; "
                    "replacing the directory would delete it: move it out first, or choose "
                    "another directory")


def kind_of(path: Path) -> str | None:
    """Which kind of lstmkit directory ``path`` is; None if none.

    A model (or run) directory is told by its own record, its ``config.json`` or its
    checkpoint; a backtest or tune directory, which has none, by holding nothing but
    the files lstmkit writes there.
    """
    path = Path(path)
    if _model_config(path / MODEL_CONFIG) or unfinished_run(path):
        return MODEL
    entries = set(_entries(path)) - LITTER
    for kind in (BACKTEST, TUNE):
        if entries and entries <= OWN_NAMES[kind]:
            return kind
    return None


def unfinished_run(path: Path) -> bool:
    """Whether ``path`` holds a run's training checkpoint (``lstmkit fit --resume`` continues)."""
    file = Path(path) / CHECKPOINTS / CHECKPOINT
    if not file.is_file():
        return False
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), "np") as handle:
            return (handle.metadata() or {}).get("format") == CHECKPOINT_FORMAT
    except (SafetensorError, OSError, ValueError):
        return False


# -- internals ----------------------------------------------------------------------------
def _check_place(path: Path, reading: Iterable[Path], error: type[LSTMKitError],
                 directory: bool) -> None:
    """The checks every output shares, whether it exists or not."""
    name = shown(path)
    if path.is_symlink():
        raise error(f"{name} is a symbolic link; lstmkit writes no output through a link: "
                    "pass the path it points to, or another one")
    if directory and path.exists() and not path.is_dir():
        raise error(f"{name} exists and is not a directory; choose another path")
    if not directory and path.is_dir():
        raise error(f"{name} is a directory; pass a file name inside it")
    target = path.resolve()
    if directory and _within(Path.cwd().resolve(), target):
        raise error(f"{name} is the current directory or holds it; lstmkit writes a directory "
                    "whole, so give it one of its own (e.g. runs/NAME)")
    for source in reading:
        if _reads(Path(source), target, directory):
            raise error(f"{name} {'holds' if directory else 'is'} the input "
                        f"{shown(source)} being read, which lstmkit never writes over, "
                        "even with --overwrite: choose another path")
    for parent in target.parents:
        if _temporary(parent.name):
            break           # a directory lstmkit is building: its place was checked
        if (found := kind_of(parent)) in SEALED:
            raise error(f"{name} is inside the lstmkit {found} directory "
                        f"{shown(parent)}, which lstmkit replaces whole and writes nothing "
                        "else into: choose a path outside it")
    _check_writable(path, target, error)


def _reads(source: Path, target: Path, directory: bool) -> bool:
    """Whether writing ``target`` would write over the input ``source``."""
    resolved = source.resolve()
    if directory:
        return _within(resolved, target)
    if resolved == target:
        return True
    try:
        return os.path.samefile(source, target)      # a hard link to the input
    except OSError:
        return False


def _check_writable(path: Path, target: Path, error: type[LSTMKitError]) -> None:
    """The nearest existing folder above ``target`` must be one where lstmkit can create
    entries: it tries, with a temporary directory it removes at once."""
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise error(f"cannot write {shown(path)}: {shown(folder)} is a file where a directory "
                    "is expected; choose another path")
    probe = folder / f".{target.name}.tmp-{_token()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise error(f"cannot write {shown(path)}: nothing can be created in the folder "
                    f"{shown(folder)} ({exc.strerror}: permissions, or a read-only disk); "
                    "choose a folder you can write to") from None


def shown(path: str | Path) -> str:
    """A path for a message: quoted, cut only if it is absurdly long."""
    return quote(str(path), limit=PATH_CHARS)


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _entries(path: Path) -> list[str]:
    """The names in the directory ``path`` ([] if it is not a directory)."""
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _names(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(quote(n) for n in names[:shown]) + more


def _model_config(file: Path) -> bool:
    """Whether ``file`` is a model directory's config.json."""
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == MODEL_FORMAT


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Report a failed write (disk full, permissions) as an lstmkit error naming ``path``."""
    try:
        yield
    except LSTMKitError:
        raise
    except OSError as exc:
        raise ArtifactError(f"could not write {shown(path)} ({exc}); nothing there was "
                            "changed: free space or fix permissions and write again") from exc


def _swap(tmp: Path, path: Path, token: str) -> None:
    """Put the directory ``tmp`` in the place of ``path``; ``recover`` undoes a half swap."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        _fsync(path.parent)
        return
    old = path.parent / f".{path.name}.old-{token}"
    os.rename(path, old)
    os.rename(tmp, path)
    _fsync(path.parent)
    shutil.rmtree(old)


@dataclass(frozen=True)
class _Leftover:
    """A temporary beside a target: ``tag`` "tmp" (being written) or "old" (set aside)."""

    path: Path
    tag: str
    pid: int | None     # the writer's process; None in names lstmkit 0.2.0 gave

    def abandoned(self, max_age: float) -> bool:
        """Whether its writer is gone (without a PID: it is older than ``max_age`` seconds)."""
        if self.pid is None:
            return time.time() - _mtime(self.path) > max_age
        return not _alive(self.pid)


def _temporary(name: str) -> bool:
    """Whether ``name`` is that of an lstmkit temporary (``.NAME.tmp-PID-TOKEN``)."""
    return name.startswith(".") and TEMPORARY.fullmatch(name.rpartition(".")[2]) is not None


def _leftovers(path: Path) -> list[_Leftover]:
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = []
    for name in names:
        match = TEMPORARY.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
        if match:
            pid = match["pid"]
            found.append(_Leftover(path.parent / name, match["tag"],
                                   None if pid is None else int(pid)))
    return found


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (on this machine); unsure counts as alive."""
    if pid <= 0 or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _mtime(path: Path) -> float:
    """When ``path`` last changed; the present if it is gone (another process removed it)."""
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:
        return time.time()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _token() -> str:
    """This writer's part of a temporary name: its PID and 8 random hex digits."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
