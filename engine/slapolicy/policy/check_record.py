"""The record of policy checks passed: a file whose check found no error need not be checked again by every
process, while neither its bytes nor the checker changed (as Python keeps a module's bytecode in a .pyc).

A check (:func:`slapolicy.policy.directory.read_policy`) parses the YAML, validates it against the JSON
Schema, builds the model and lints it. Its verdict depends on the file's bytes and on the path it was
named by (lint reads the file's name, its folder's and whether it is a family's), on whether the
examples are run, on the checker's code, the schema, the installed plugins (lint asks them for the §3.2 business
calendar) and the libraries all of these use. Each record is named by the sha256 of all of that:

- the policy's bytes, and whether the examples were run;
- what the check reads of the path (:func:`place`): the file's name, its folder's name, whether a lock is beside it
  and whether it is in a family's ``superseded/``; not the folders above, so that a family copied or moved elsewhere
  (a checkout in another folder, a copy made to try an amendment) is not checked again;
- every file of the ``slapolicy`` package (its code and ``schema/``), read once and then known by what ``stat``
  says of each file (:data:`PACKAGES`);
- every file of the package of each plugin registered, by plugin name (a plugin registered as an object
  rather than a module cannot be fingerprinted: then nothing is recorded or read);
- the name and version of every installed distribution (``*.dist-info`` in ``sys.path``: jsonschema,
  PyYAML, holidays, ...), and the Python version.

Only passes are recorded, with the warnings they found and the parsed document (its data and the line and
column of every node, :meth:`~slapolicy.policy.load.YamlDocument.record`): a file with an error is always checked
again, so its messages are those of a fresh check. A record read is one whose model is built afresh from the
recorded document (the policy itself is never stored); what it saves is parsing the YAML (and importing PyYAML),
the schema validation (and importing jsonschema) and lint (and importing the holiday calendars). A document too
large for a record (:data:`~slapolicy.cache.MAX_RECORD_BYTES`) is left out, and parsed again from the file. A record that is unreadable, corrupt or not
the one its name promises is ignored, and a record is written atomically (a temporary file renamed), so a
process killed while writing leaves no half record.

Where: ``checks/`` in the user's cache (:mod:`slapolicy.cache`: ``~/.cache/slapolicy`` or
``$SLAPOLICY_CACHE_DIR``; ``SLAPOLICY_CACHE_DIR=off`` turns it off). A directory that cannot be written only
means that every process checks again.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import types
from pathlib import Path

from typing import NamedTuple

from ..cache import MAX_RECORD_BYTES, read_record, write_record
from ..errors import Diagnostic
from ..forks import renewed_in_child
from .load import YamlDocument
from .lock import among_versions, kept_by_family

FOLDER = "checks"
FORMAT = 2  # bumped when a record's contents change meaning (2: with the document)

_LOCK = threading.Lock()
renewed_in_child(sys.modules[__name__], "_LOCK")
_TREES: dict[str, str] = {}  # package directory or module file -> sha256 of its files, once per process
_DISTRIBUTIONS: list[str] = []  # the installed distributions, listed once per process


def _tree_digest(location: str) -> str:
    """sha256 of every file under a package directory (or of one module file), by relative name: read once, then
    recorded (:data:`PACKAGES`) under what ``stat`` says of each file, which a later process compares instead of
    reading the files again."""
    with _LOCK:
        if location in _TREES:
            return _TREES[location]
    if os.path.isdir(location):
        files = []
        for folder, folders, names in os.walk(location):
            folders[:] = [name for name in folders if name != "__pycache__"]
            files.extend(os.path.join(folder, name) for name in names)
    else:
        files = [location]
    files.sort()
    now = time.time_ns()
    stats = [_stat(file) for file in files]
    # (each file by its path as walked: os.path.relpath, a tenth of a millisecond for 70 files, is for the digest)
    key = hashlib.sha256(json.dumps([PACKAGES_FORMAT, location, [[file, *stat] for file, stat in zip(files, stats)]
                                     ]).encode()).hexdigest()
    recorded = read_record(PACKAGES, key)
    if isinstance(recorded, str) and len(recorded) == 64 and all(c in "0123456789abcdef" for c in recorded):
        found = recorded
    else:
        digest = hashlib.sha256()
        for file in files:
            with open(file, "rb") as opened:
                content = opened.read()
            digest.update(json.dumps([os.path.relpath(file, location), len(content)]).encode())
            digest.update(content)
        found = digest.hexdigest()
        # Recorded only once every file has settled, and when none changed while it was read (see SETTLED_NS).
        if all(max(stat[1], stat[2]) < now - SETTLED_NS for stat in stats) and stats == [_stat(f) for f in files]:
            write_record(PACKAGES, key, found)
    with _LOCK:
        _TREES[location] = found
    return found


# The checker's packages' digests (_tree_digest), each named by every file's name, size, modification and change
# times, inode and device: read, the ~70 files of slapolicy's package cost every start ~2.7 ms, stat ~0.6
# (benchmarks/README.md, the fifteenth round). The change time is the kernel's, which no program sets back: a file
# copied or edited with its size and modification time kept (cp -p, rsync, a time set back) is read again. As git
# does with its index's "racily clean" entries, a package holding a file written in the last SETTLED_NS when it is
# hashed is not recorded: written again within the same clock tick (1-4 ms on Linux), its times would not change.
PACKAGES = "packages"
PACKAGES_FORMAT = 1
SETTLED_NS = 2_000_000_000


def _stat(file: str) -> list:
    """What names a file's bytes in a package's record (see PACKAGES)."""
    stat = os.stat(file)
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def _package_location(module) -> str | None:
    """The directory of the top-level package a module belongs to, or the module's own file."""
    top = sys.modules.get(module.__name__.split(".")[0])
    top_file = getattr(top, "__file__", None)
    if top_file and os.path.basename(top_file) == "__init__.py":
        return os.path.dirname(top_file)
    own = getattr(module, "__file__", None)
    if top_file is None and own:  # a namespace package: the module's own directory
        return os.path.dirname(own)
    return top_file or own


def _distributions() -> list[str]:
    """``name-version.dist-info`` (and ``.egg-info``) of every distribution on ``sys.path``: installing,
    upgrading or removing any of them names records afresh."""
    with _LOCK:
        if _DISTRIBUTIONS:
            return _DISTRIBUTIONS
    found = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(name for name in names if name.endswith((".dist-info", ".egg-info")))
    with _LOCK:
        _DISTRIBUTIONS[:] = sorted(found) or ["none"]
    return _DISTRIBUTIONS


def _checker(manager) -> list | None:
    """What a check's verdict depends on besides the file: None when a plugin cannot be fingerprinted."""
    plugins = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda pair: str(pair[0])):
        location = _package_location(plugin) if isinstance(plugin, types.ModuleType) else None
        if location is None:
            return None
        plugins.append([str(name), plugin.__name__, _tree_digest(location)])
    engine = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the slapolicy package
    return [FORMAT, sys.version, _tree_digest(engine), plugins, _distributions()]


def place(path: str) -> list:
    """What a check reads of where the file is (lint: a published version is named by its date, a draft sits under
    drafts/, a published one beside its family's lock, an encoding a correction keeps in its family's superseded/):
    its name, its folder's name (as given, and where the file really is), whether a lock is beside it and whether it
    sits in a family's superseded/ (lock.kept_by_family)."""
    where = Path(path)  # as lint reads it
    return [where.parent.name, where.name, Path(os.path.abspath(path)).parent.name, among_versions(path),
            kept_by_family(path)]


def record_key(raw: bytes, path: str, run_examples: bool, manager) -> str | None:
    """The name of the record of this check, or None when no record may be used."""
    try:
        checker = _checker(manager)
    except (OSError, ValueError):
        return None
    if checker is None:
        return None
    named = [checker, place(path), bool(run_examples), hashlib.sha256(raw).hexdigest()]
    return hashlib.sha256(json.dumps(named).encode("utf-8")).hexdigest()


def _diagnostic(item, filename: str) -> Diagnostic | None:
    """A recorded warning, at the file named ``filename`` now (the record may be that of a copy of it elsewhere)."""
    if not (isinstance(item, list) and len(item) == 6):
        return None
    file, line, col, severity, code, message = item
    if not (isinstance(file, str) and type(line) is int and type(col) is int and severity == "warning"
            and isinstance(code, str) and isinstance(message, str)):
        return None  # a pass has no error: a record that says otherwise is not one of ours
    return Diagnostic(filename, line, col, severity, code, message)


class Pass(NamedTuple):  # a NamedTuple: a tenth of a dataclass's making at every start
    """A recorded pass: its warnings, and the document that was checked (None when it was too large to record)."""

    warnings: list[Diagnostic]
    document: YamlDocument | None


def passed(key: str | None, filename: str) -> Pass | None:
    """The recorded pass named ``key`` (its document named ``filename`` in messages), or None when there is none
    to trust."""
    content = read_record(FOLDER, key)
    if not (isinstance(content, dict) and content.get("format") == FORMAT and isinstance(content.get("warnings"), list)):
        return None
    warnings = [_diagnostic(item, filename) for item in content["warnings"]]
    if None in warnings:
        return None
    document = None
    if content.get("document") is not None:
        document = YamlDocument.from_record(content["document"], filename)
        if document is None:
            return None  # a document that is not one this module wrote
    return Pass(warnings, document)


def record_pass(key: str | None, warnings: list[Diagnostic], document: YamlDocument) -> None:
    """Record that the check named ``key`` passed with these warnings, on this document."""
    # Only warnings at the file itself: read back, each is put at the file named then (a copy of it, elsewhere).
    if any(w.severity != "warning" or w.file != document.filename for w in warnings):
        return
    content = {"format": FORMAT, "warnings": [[w.file, w.line, w.col, w.severity, w.code, w.message] for w in warnings],
               "document": document.record()}
    if len(json.dumps(content, ensure_ascii=False).encode("utf-8")) > MAX_RECORD_BYTES - 1024:  # room for the key
        content["document"] = None
    write_record(FOLDER, key, content)
