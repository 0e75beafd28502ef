"""versions.lock: the sha256 of every published version, so that an edit to one is caught."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from ..errors import Diagnostic, PolicyError
from ..files import create_beside, sync_directory

LOCK_FILE = "versions.lock"


def among_versions(path) -> bool:
    """Whether the file ``path`` sits among a family's published versions: beside its lock. A check of the file
    depends on it (lint's ``draft-published``), so the records of checks passed name it too."""
    return os.path.lexists(os.path.join(os.path.dirname(os.fspath(path)), LOCK_FILE))


def under_drafts(path) -> bool:
    """Whether the file ``path`` sits in a ``drafts/`` folder, where drafts are kept (a draft saying published there is
    lint's ``draft-status``). Where the file really is: ``v3.yaml`` given bare from inside drafts/ is under drafts/ as
    much as by its whole path, and was told it was a published version misnamed (``file-name``)."""
    return os.path.basename(os.path.dirname(os.path.abspath(os.fspath(path)))) == "drafts"


def kept_by_family(path) -> bool:
    """Whether the file ``path`` sits in the ``superseded/`` folder of a family (its lock in the folder above), where
    a correction keeps the encodings it replaced, each checked against the lock (lint.superseded_problem). A check of
    the file depends on it (lint's ``file-name``), so the records of checks passed name it too. Where the file really
    is: ``2019-01-01.32cfebe23efd.yaml`` given inside superseded/ is kept there as much as its whole path."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    return os.path.basename(folder) == "superseded" and among_versions(folder)


@contextlib.contextmanager
def family_lock(path, *, shared: bool = False):
    """Hold an exclusive lock on a family directory while its versions or lock are written
    (``shared=True``: while they are read, so that a reader never sees half a publication).

    ``flock`` on the directory itself: no extra file in the family, released when the
    process dies, and exclusive between threads too (each call opens its own descriptor).
    It excludes the processes of one machine only: over NFS, Linux takes a lock on a directory
    on the client alone (docs/policy-format.md, "Two publishers at once").

    A filesystem that refuses the lock (``ENOLCK``, ``EOPNOTSUPP``: some network and FUSE filesystems) stops a writer
    with :class:`PolicyError` ``cannot-lock``, before anything is written; a reader goes on without it, since half a
    publication reads as a version not yet recorded (``unlocked``), an error that a later read no longer sees."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        except OSError as exc:
            if not shared:
                raise cannot_lock(path, exc) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def cannot_lock(path, exc: OSError) -> PolicyError:
    return PolicyError([Diagnostic(str(path), 1, 1, "error", "cannot-lock",
                                   f"cannot lock the family {path} against another publisher writing it at the same "
                                   f"time: its filesystem refuses the lock (flock: {exc.strerror or exc}); nothing was "
                                   "written. Work on a copy of the family on a local disk, shared through version "
                                   "control")])


def write_lock(directory, lock: dict) -> None:
    """Replace versions.lock whole: written beside it and renamed, so a crash never leaves half a lock; then the
    directory is synced, so a power loss cannot bring the old lock back (nor lose a version linked in before)."""
    directory = Path(directory)
    tmp = None
    try:
        fd, tmp = create_beside(directory, LOCK_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(sorted(lock.items())), handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / LOCK_FILE)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    sync_directory(directory)
