"""Committing a stage whole: a staging folder, a journal, and recovery after a crash.

A stage writes every file it makes (tables, pages, notes, the catalogue) into
``<root>/.stage-<stage>-<pid>-<n>/``, laid out as they will sit in the
workspace. Publishing writes a journal, ``<root>/.commit-<same>.json``, that
lists every file to move into place and every stale file to remove; the
journal's rename is the commit point. The moves follow; a crash among them is
finished by whoever opens the workspace next (:func:`recover`), so after any
crash the workspace holds the stage's old files or all of its new ones.

Staging folders are held by an exclusive ``flock`` while their stage runs:
one that can be locked by someone else belongs to a dead process and is
removed, as are ``.NAME.tmp-PID`` files of dead processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locks, the journal still holds
    fcntl = None  # type: ignore[assignment]

__all__ = ["Journal", "StagingDir", "digest", "jsonable", "locked", "recover", "remove_litter",
           "write_json"]

log = logging.getLogger("forestock.workspace")

STAGE_PREFIX = ".stage-"
JOURNAL_PREFIX = ".commit-"
_TMP = re.compile(r"^\..+\.tmp-(\d+)(\.wal)?$")


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def jsonable(value: object) -> object:
    """``value`` as strict JSON data: NaN and infinities become ``None`` (JSON ``null``).

    NumPy scalars and arrays become numbers and lists, dates ISO text, other
    objects their ``str``.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    text = str(value)
    return None if text in ("NaT", "nan", "<NA>") else text


def write_json(path: Path, payload: object) -> None:
    """Write ``payload`` as UTF-8 JSON through a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(jsonable(payload), fh, indent=2, ensure_ascii=False, allow_nan=False)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the workspace's exclusive lock (a ``flock`` on its folder) for a publish."""
    if fcntl is None:
        yield
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class StagingDir:
    """A stage's private folder inside the workspace, locked while the stage runs."""

    _count = 0

    def __init__(self, root: Path, stage: str) -> None:
        StagingDir._count += 1
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", stage) or "stage"
        self.root = root
        self.path = root / f"{STAGE_PREFIX}{slug}-{os.getpid()}-{StagingDir._count}"
        self._fd: int | None = None

    def create(self) -> Path:
        """Make the folder (and the workspace) on first use, and lock it."""
        if self._fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self.path.mkdir()
            self._fd = os.open(self.path, os.O_RDONLY)
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self.path

    @property
    def created(self) -> bool:
        return self._fd is not None

    def files(self) -> list[str]:
        """Every file staged, as paths relative to the staging folder."""
        if not self.created:
            return []
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        """Remove the folder and everything staged in it."""
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
        self.release()


class Journal:
    """What a publish does: files to move from a staging folder, stale files to remove."""

    def __init__(self, root: Path, staging: str, moves: Sequence[str],
                 deletes: Sequence[str]) -> None:
        self.root = root
        self.staging = staging
        self.moves = list(moves)
        self.deletes = list(deletes)

    @property
    def path(self) -> Path:
        return self.root / f"{JOURNAL_PREFIX}{self.staging[len(STAGE_PREFIX):]}.json"

    @classmethod
    def read(cls, path: Path) -> Journal:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path.parent, str(data["staging"]), data["moves"], data["deletes"])

    def commit(self) -> None:
        """Write the journal: from here on the stage is published, crash or not."""
        write_json(self.path, {"staging": self.staging, "moves": self.moves,
                               "deletes": self.deletes})
        _fsync_dir(self.root)

    def apply(self) -> None:
        """Move the staged files into place and remove the stale ones (idempotent)."""
        staging = self.root / self.staging
        for rel in self.moves:
            src, dst = staging / rel, self.root / rel
            if src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                src.replace(dst)
        for rel in self.deletes:
            (self.root / rel).unlink(missing_ok=True)
        _fsync_dir(self.root)
        shutil.rmtree(staging, ignore_errors=True)
        self.path.unlink(missing_ok=True)


def pending(root: Path) -> list[Path]:
    """Journals of publishes not finished (a crash, or one under way)."""
    try:
        return [p for p in Path(root).iterdir()
                if p.name.startswith(JOURNAL_PREFIX) and p.name.endswith(".json")]
    except OSError:
        return []


def recover(root: Path) -> int:
    """Finish every committed publish a crash interrupted; call with the lock held."""
    done = 0
    for path in sorted(pending(root)):
        try:
            journal = Journal.read(path)
        except (OSError, ValueError, KeyError) as err:  # never committed whole: cannot be
            log.warning("ignoring an unreadable journal %s: %s", path, err)
            continue
        journal.apply()
        log.info("finished the publish interrupted in %s", root)
        done += 1
    return done


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(folder: Path) -> bool:
    """Whether nobody holds ``folder``'s lock: its stage died."""
    if fcntl is None:
        match = re.search(r"-(\d+)-\d+$", folder.name)
        return bool(match) and not _alive(int(match.group(1)))
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    finally:
        os.close(fd)
    return True


def remove_litter(root: Path, folders: Sequence[str] = ()) -> list[str]:
    """Remove what dead runs left: staging folders and ``.NAME.tmp-PID`` files.

    Looks in ``root`` and in its sub-folders named in ``folders``; call with
    the lock held and after :func:`recover`. Returns the names removed.
    """
    removed = []
    for folder in (root, *(root / f for f in folders)):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            match = _TMP.match(entry.name)
            if entry.name.startswith(STAGE_PREFIX) and entry.is_dir(follow_symlinks=False):
                if folder == root and _abandoned(path):
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(entry.name)
            elif match and not _alive(int(match.group(1))):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(entry.name)
    if removed:
        log.info("removed what interrupted runs left in %s: %s", root, ", ".join(removed))
    return removed
