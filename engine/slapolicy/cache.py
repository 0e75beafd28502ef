"""The user's cache: answers a process would otherwise derive again at every start, each in a record named by the
sha256 of everything the answer depends on (as Python keeps a module's bytecode in a .pyc, named by its source).

Four kinds live here: the policy checks passed (:mod:`slapolicy.policy.check_record`) and the digests of the
checker's packages they are named by (``packages/``, named by what ``stat`` says of each file), the built-in
calendars' holidays, year by year (``slapolicy_builtins.calendars``), and the plugins' entry points of an
installation (:mod:`slapolicy.plugins`). A plugin may keep its own under a folder of its name.

Where: ``$SLAPOLICY_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/slapolicy`` (``~/.cache/slapolicy``);
``SLAPOLICY_CACHE_DIR=off`` turns the cache off. A record that is unreadable, corrupt or not the one its name
promises reads as absent; one is written atomically (a temporary file renamed into place), and a directory that
cannot be written means only that the answer is derived again next time. A folder past :data:`MAX_RECORDS`
loses its least recently used quarter. Deleting the cache is always safe.

A record is not synced to disk, nor its directory (as a ledger and a policy family are): a power loss may take a
record away or leave it empty or torn, and each of these reads as absent (it must parse, and carry the key its
name promises), so the answer is derived again. A sync would cost every first run a few milliseconds, tens on a
busy disk, to keep what is only a shortcut.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

from .files import xdg_base

VARIABLE = "SLAPOLICY_CACHE_DIR"
MAX_RECORD_BYTES = 1024 * 1024  # a record is a few hundred bytes: anything larger is not one of ours
# Records kept per folder: every edit of a draft is a new record, so the least recently used quarter is
# removed when a folder grows past this (a few hundred kilobytes).
MAX_RECORDS = 1000


def cache_directory() -> Path | None:
    """The cache's directory, or None when ``SLAPOLICY_CACHE_DIR=off``."""
    chosen = os.environ.get(VARIABLE, "")
    if chosen.strip().lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    base, _ = xdg_base("XDG_CACHE_HOME", ".cache")
    if base is None:  # no home directory (HOME unset, empty or relative): no cache, not /.cache nor ./~
        return None
    return Path(base) / "slapolicy"


def distribution_folders() -> list[str] | None:
    """The metadata folders (``*.dist-info``, ``*.egg-info``) on ``sys.path``, in the order ``importlib.metadata``
    finds distributions (path entry by path entry, each directory as listed), without importing it (0.03 s):
    what a record of what it would answer is named by. None where it alone can look: a zip or an egg on the
    path, or an import finder that offers distributions of its own. The ``importlib_metadata`` backport's finder
    (installed as that package loads: Dask's ``distributed`` imports it) offers those of the same path entries,
    which ``importlib.metadata`` finds first and keeps (one distribution per name), so it changes nothing."""
    import importlib.machinery  # loaded at every start already (the import system's own)

    if any(finder is not importlib.machinery.PathFinder and hasattr(finder, "find_distributions")
           and not _same_as_path_finder(finder) for finder in sys.meta_path):
        return None
    found = []
    for entry in sys.path:
        root = entry or "."
        if root.lower().endswith(".egg") or os.path.isfile(root):
            return None
        try:
            names = os.listdir(root)
        except OSError:
            continue
        found.extend(os.path.join(root, name) for name in names if name.lower().endswith((".dist-info", ".egg-info")))
    return found


def _same_as_path_finder(finder) -> bool:
    """The ``importlib_metadata`` backport's own finder of distributions on ``sys.path`` (see distribution_folders)."""
    kind = finder if isinstance(finder, type) else type(finder)
    return kind.__module__ == "importlib_metadata" and kind.__qualname__ == "MetadataPathFinder"


def distribution_name(folder: str) -> str:
    """A metadata folder's distribution, normalized as ``importlib.metadata`` matches names (``Foo.Bar-1.0.dist-info``
    -> ``foo_bar``)."""
    name = os.path.basename(folder).lower().rpartition(".")[0].partition("-")[0]
    return re.sub(r"[-_.]+", "-", name).replace("-", "_")


def file_digest(path: str) -> str | None:
    """sha256 of a file's bytes, or None when it cannot be read (absent, or a folder that is a file). Read a block at
    a time: a published version edited into a file of 10 MB is hashed to be told it changed, not held whole."""
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None


def read_record(folder: str, key: str | None):
    """The content stored under ``key`` in ``folder`` by :func:`write_record`, or None."""
    directory = cache_directory()
    if key is None or directory is None:
        return None
    path = directory / folder / f"{key}.json"
    try:
        with open(path, "rb") as file:
            text = file.read(MAX_RECORD_BYTES + 1)
        data = json.loads(text) if len(text) <= MAX_RECORD_BYTES else None
    except (OSError, ValueError, RecursionError):  # RecursionError: json's answer to brackets nested too deep
        return None
    if not (isinstance(data, dict) and data.get("key") == key and "content" in data):
        return None  # a record under a name not its own: copied, renamed or written by something else
    try:
        os.utime(path)  # used now: the last to be removed when the folder is pruned
    except OSError:
        pass
    return data["content"]


def write_record(folder: str, key: str | None, content) -> None:
    """Store ``content`` (JSON) under ``key`` in ``folder``; quietly nothing when it cannot be written."""
    directory = cache_directory()
    if key is None or directory is None:
        return
    body = json.dumps({"key": key, "content": content}, ensure_ascii=False).encode("utf-8")
    temporary = None
    try:
        (directory / folder).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory / folder, prefix=".", suffix=".tmp", delete=False) as file:
            temporary = file.name
            file.write(body)
        os.replace(temporary, directory / folder / f"{key}.json")
        _prune(directory / folder)
    except OSError:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _prune(folder: Path) -> None:
    """Past :data:`MAX_RECORDS`, remove the least recently used quarter of a folder's records."""
    with os.scandir(folder) as entries:
        records = [entry for entry in entries if entry.name.endswith(".json")]
    if len(records) <= MAX_RECORDS:
        return
    used = []
    for entry in records:
        try:
            used.append((entry.stat().st_mtime_ns, entry.path))
        except OSError:
            continue  # removed meanwhile by another process
    for _, path in sorted(used)[: len(used) - MAX_RECORDS * 3 // 4]:
        try:
            os.unlink(path)
        except OSError:
            pass
