"""Reading policy versions from files and families of them: :func:`read_policy` checks a file (schema, model,
lint), :func:`load_policy` refuses one with errors, :class:`PolicyDirectory` holds a family's published
versions and its lock, and resolves the version in force for a Service Month (§6.2)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
import threading
from collections import OrderedDict
from pathlib import Path

from ..cache import file_digest
from ..calendar import month_problem, written_as_month
from ..errors import ArgumentError, Diagnostic, InputError, NoVersionInForce, PolicyError, shell_word
from ..forks import renewed_in_child
from ..files import FileProblem, load_json, path_argument, read_limited
from ..plugins import get_manager
from . import check_record
from .lint import (PLACEMENT_CODES, family_id_problem, lint_directory, lint_policy, lock_line, lock_problem,
                   moved_versions, superseded_problem, linked_kept)
from .load import MAX_POLICY_BYTES, load_yaml
from .lock import LOCK_FILE, among_versions, kept_by_family, under_drafts
from .model import Policy, _build, schema_diagnostics

MAX_LOCK_BYTES = 1024 * 1024  # one line per published version: thousands of versions fit
_SHA256 = re.compile(r"[0-9a-f]{64}")
# What a lock records: a published version, or a superseded encoding kept by a correction (docs/policy-format.md).
_LOCKED_NAME = re.compile(r"(superseded/)?[^/\\\x00.][^/\\\x00]*\.yaml")


# Files already checked in this process, by path and content: a Policy is immutable, and checking one again
# (YAML with positions, the schema, the model, lint) cost 0.1 s at every module-level call, reload and CLI run
# in a test. A changed file has another sha256, so it is read afresh; so is a file after the plugins change.
_CHECKED: OrderedDict = OrderedDict()
_CHECKED_LOCK = threading.Lock()
renewed_in_child(sys.modules[__name__], "_CHECKED_LOCK")
_CHECKED_MAX = 64


def read_policy(path: str | os.PathLike, run_examples: bool = True) -> tuple[Policy | None, list[Diagnostic]]:
    """Load and check one policy file: (the policy or None, every diagnostic: schema, model, lint).
    ``run_examples=False``: without the warnings only running every example finds (see :func:`lint_policy`)."""
    return read_policy_bytes(path, run_examples)[1:]


def read_policy_bytes(path: str | os.PathLike, run_examples: bool = True) \
        -> tuple[bytes | None, Policy | None, list[Diagnostic]]:
    """:func:`read_policy`, with the bytes read (None when none could be): for a command that checks them against
    the record of published versions too (validate, render), which read the file again and could check other bytes
    than those checked and rendered (the file saved, or restored, in between)."""
    path = str(path_argument(path, "the policy file"))
    if (data := _DATA_FILES.get(Path(path).suffix.lower())) is not None:
        return None, None, [Diagnostic(path, 1, 1, "error", "not-a-policy",
                                       f"a data file ({data}), not a policy version: a policy version is a YAML file "
                                       "(.yaml); give minutes and billing to evaluate, claim or replay (--minutes, "
                                       "--billing)")]
    try:
        raw = read_limited(path, "policy file", MAX_POLICY_BYTES)
    except FileProblem as exc:
        return None, None, [Diagnostic(path, 1, 1, "error", exc.code, exc.reason + _a_file_of(path))]
    return (raw, *check_policy_bytes(raw, path, run_examples))


# The formats the data commands read by extension (inputs/tables.py): a file of one given where a policy file is asked
# for was read as YAML and said to hold "a single value (text)" (a CSV), or to be too large (a Parquet file).
_DATA_FILES = {".csv": "CSV", ".parquet": "Parquet", ".jsonl": "JSON Lines", ".ndjson": "JSON Lines"}


def _a_file_of(path: str) -> str:
    """For a family's directory given where a policy file is asked for (diff, render, --policy-file, --under): the
    latest of its versions, to give instead."""
    try:
        versions = sorted(Path(path).glob("*.yaml")) if os.path.isdir(path) else []
    except OSError:
        versions = []
    return f": give one of its files, such as {versions[-1]}" if versions else ""


def check_policy_bytes(raw: bytes, path: str, run_examples: bool = True) -> tuple[Policy | None, list[Diagnostic]]:
    """:func:`read_policy` of the bytes ``raw`` already read from ``path``: what publish checks is then what it
    writes, whatever the file holds by the time it is written."""
    # lint asks the plugins, and where the file sits
    key = (path, hashlib.sha256(raw).hexdigest(), run_examples, id(get_manager()), among_versions(path),
           kept_by_family(path))
    with _CHECKED_LOCK:
        if key in _CHECKED:
            _CHECKED.move_to_end(key)
            policy, problems = _CHECKED[key]
            return policy, list(problems)
    policy, problems = _check(path, raw, run_examples, get_manager())
    with _CHECKED_LOCK:
        _CHECKED[key] = (policy, tuple(problems))
        while len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)
    return policy, problems


NOT_A_MAPPING = "a policy version is a mapping of keys to values (id, version, effective_from, …)"


def not_a_mapping(data) -> str:
    """What a YAML file that is no mapping holds: most often a file of data (incidents, notices) in the folder given
    as the policy directory, which must be told it is not a version, not how to record it as one."""
    kind = {str: "text", bool: "true or false", int: "a number", type(None): "nothing, an empty value"}
    held = "a list (as incidents and notices are)" if isinstance(data, list) else \
        f"a single value ({kind.get(type(data), type(data).__name__)})"
    return f"{NOT_A_MAPPING}; this file holds {held}, so it is not a policy version"


def _check(path: str, raw: bytes, run_examples: bool, manager) -> tuple[Policy | None, list[Diagnostic]]:
    # A pass recorded for these bytes under this very checker (check_record.py) stands for the YAML's parse, the
    # schema and lint; the model is still built, from the recorded document.
    key = check_record.record_key(raw, path, run_examples, manager)
    recorded = check_record.passed(key, path)
    doc = recorded.document if recorded is not None else None
    if doc is None:
        doc, problems = load_yaml(raw, path)
        if doc is None:
            return None, problems
    if not isinstance(doc.data, dict):
        return None, [doc.diagnostic((), "schema", not_a_mapping(doc.data))]
    if recorded is None:
        problems = schema_diagnostics(doc)
        if problems:
            return None, problems
    policy, problems = _build(doc, path, hashlib.sha256(raw).hexdigest())
    if policy is None:
        return None, problems
    linted = recorded.warnings if recorded is not None else lint_policy(policy, run_examples)
    problems = sorted(problems + linted)
    if recorded is None and not any(p.severity == "error" for p in problems):
        check_record.record_pass(key, linted, doc)
    return policy, problems


def load_policy(path: str | os.PathLike, strict: bool = True) -> Policy:
    """Load one policy file, raising :class:`PolicyError` with every error if it cannot be used.

    ``strict=False`` accepts a version with lint errors (overlapping tiers, a misnamed file)
    as long as it could be built: enough to read or diff it, not to evaluate under it."""
    policy, problems = read_policy(path, run_examples=False)  # its warnings are not shown
    return _usable(policy, problems, strict)


def load_policy_content(raw: bytes, path: str, strict: bool = True) -> Policy:
    """:func:`load_policy` of a version handed over as its bytes (to a worker, or to replay's tasks), checked as
    the file ``path`` they were read from: the same lint of its name and place, the same record of a pass
    (check_record.py), the same messages."""
    policy, problems = _check(str(path), raw, False, get_manager())
    return _usable(policy, problems, strict)


def _usable(policy: Policy | None, problems: list, strict: bool) -> Policy:
    # A version loaded on its own (--policy-file, --under, load_policy) is judged by what it says, not where it sits:
    # a draft saved outside a drafts/ folder, or an edited copy not named by its date, is still a version to evaluate
    # under, as render, diff and publish judge it. A family's own files are checked in place (PolicyDirectory).
    errors = [p for p in problems if p.severity == "error" and p.code not in PLACEMENT_CODES]
    if policy is None or (errors and strict):
        raise PolicyError(errors or problems)
    return policy


# ---------------------------------------------------------------------------- directory

def _month_start(month: str | dt.date) -> dt.date:
    if isinstance(month, dt.datetime) or not isinstance(month, (str, dt.date)):
        raise ArgumentError(f"month must be a string written YYYY-MM or a datetime.date, not {type(month).__name__}")
    if isinstance(month, dt.date):
        return month
    # Checked as evaluate's month and the CLI's --month are (calendar.month_problem): a regex of its own here took
    # ' 2019-03' (after strip()) and told '0000-03' "(no month 03)".
    problem = month_problem(month, "month")
    if problem is None:
        return dt.date(int(month[:4]), int(month[5:]), 1)
    number = month[5:]
    if (not written_as_month(month) and len(month) == 7 and number.isascii() and number.isdigit()
            and written_as_month(month[:5] + "01")):
        problem += f" (no month {number})"  # 2019-13: its year and shape are right, its month is none
    raise InputError(problem)


def directory_signature(path, *files) -> tuple:
    """What changes when a version is published into the family at ``path`` (or ``files`` change):
    the name, size and modification time of each ``*.yaml`` and of the lock. One ``stat`` per
    file, cheap enough to ask before every request of a long-running service."""
    def stamp(entry_path):
        try:
            st = os.stat(entry_path)
        except OSError:
            return (str(entry_path), None)
        return (str(entry_path), st.st_size, st.st_mtime_ns, st.st_ino)

    directory = Path(path)
    try:
        names = sorted(e.name for e in os.scandir(directory) if e.name.endswith(".yaml") or e.name == LOCK_FILE)
    except OSError:
        names = []
    return tuple(stamp(directory / name) for name in names) + tuple(stamp(f) for f in files)


def not_a_directory(given, path: Path) -> PolicyError:
    """The error of a policy directory ``given`` (as ``path``) that is none: a file (the directory holding it was
    meant), or nothing there, where a relative path is read from the working directory, not always the one in mind
    (a command run from another directory than the README's root)."""
    if path.exists() and (data := _DATA_FILES.get(path.suffix.lower())) is not None:
        # The minutes given first (`slapolicy evaluate minutes.csv --month ...`): the folder holding them is no family.
        what = (f"a data file ({data}), not a policy directory: the policy family's directory comes first (e.g. "
                "policies/ccc), and the minutes and billing after their options (--minutes, --billing)")
    elif path.exists():
        what = "a file, not a policy directory (give the directory that holds it)"
    elif path.is_absolute():
        what = "no such policy directory"
    else:
        what = f"no such policy directory (a relative path, read from the working directory {Path.cwd()})"
    return PolicyError([Diagnostic(str(given), 1, 1, "error", "not-a-directory", what)])


def family_below(path: Path) -> Path | None:
    """What a user who named ``path`` where a family is asked for most likely meant: the first family below it (a
    directory holding a versions.lock) one or two levels down (``policies/ccc`` below ``policies``, the folder of the
    families, and below ``.``, the repository's root, where the README's commands run: there it was told to publish a
    first version into the root), else the first directory just below it holding policy files. Hidden directories
    (``.git``, ``.venv``) are not looked into, and at most 1,000 directories are: an error path only."""
    try:
        children = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
        for level in (children, [d for child in children[:1000] for d in _visible_dirs(child)]):
            family = next((d for d in level[:1000] if (d / LOCK_FILE).is_file()), None)
            if family is not None:
                return family
        return next((d for d in children if any(d.glob("*.yaml"))), None)
    except OSError:
        return None


def _visible_dirs(path: Path) -> list[Path]:
    """The directories just below ``path``, by name, hidden ones left out; none when ``path`` cannot be listed."""
    try:
        return sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    except OSError:
        return []


def drafts_given(family: Path) -> str:
    """The error of a family's drafts/ given where a family is asked for: read as one, its drafts were each an
    unrecorded published version, and the user was told to start a lock inside drafts/."""
    return (f"the drafts of the family {family}, not a family: give {family} (validate checks its drafts too); "
            f"a draft is evaluated with --policy-file, replayed with --under, published with "
            f"slapolicy publish {shell_word(family)} DRAFT.yaml")


def read_lock(family: Path) -> dict[str, str]:
    """The family's versions.lock, file name → sha256 (empty when there is none), checked entry by entry: ``bad-lock``
    (:class:`PolicyError`) at the entry's line for one that is not a file of the family or not a sha256 as `publish`
    and `lock` write it."""
    family = Path(family)
    lock = family / LOCK_FILE
    if not os.path.lexists(lock):
        return {}

    def bad(reason: str, line: int = 1, col: int = 1) -> PolicyError:
        return PolicyError([Diagnostic(str(lock), line, col, "error", "bad-lock", reason)])

    try:
        # A byte order mark (an editor's, on saving the file) changes no digest the lock records: read past it.
        text = read_limited(lock, LOCK_FILE, MAX_LOCK_BYTES).decode("utf-8-sig")
        data = load_json(text, lock)
    except FileProblem as exc:
        raise bad(exc.reason) from None
    except UnicodeDecodeError:
        raise bad(f"{LOCK_FILE} is not UTF-8") from None
    except InputError as exc:  # "LOCK: why" or "LOCK:LINE:COL: why": the place kept for the diagnostic
        place = re.match(r"(\d+):(\d+): (.*)", str(exc)[len(str(lock)) + 1:], re.S)
        line, col, why = (int(place[1]), int(place[2]), place[3]) if place else (1, 1, str(exc).split(": ", 1)[1])
        raise bad(f"{LOCK_FILE} is not a JSON object of file → sha256: {why}", line, col) from None
    if not isinstance(data, dict):
        raise bad(f"{LOCK_FILE} is not a JSON object of file → sha256")
    for name, digest in data.items():
        if not isinstance(digest, str):
            raise bad(f"{LOCK_FILE}: the sha256 of {name} is {json.dumps(digest)}, not a string of 64 hex digits",
                      lock_line(family, name))
        if not _SHA256.fullmatch(digest):
            # Compared as written: an upper-case or padded copy of the right digest would be reported as a change.
            raise bad(f"{LOCK_FILE}: the sha256 of {json.dumps(name)} is {json.dumps(digest)}, not 64 lowercase "
                      "hex digits as `publish` and `lock` write it", lock_line(family, name))
        if not _LOCKED_NAME.fullmatch(name):
            raise bad(f"{LOCK_FILE} records {json.dumps(name)}: it records files of the family by name "
                      "(2019-01-01.yaml, superseded/2019-01-01.32cfebe23efd.yaml), never a path out of it",
                      lock_line(family, name))
    return data


# What `render` prints as the status of a file that published_nowhere warns of, where it printed "published".
PUBLISHED_NOWHERE = "published nowhere: it says status: published, but no versions.lock records it"


def published_nowhere(policy, raw: bytes, drafts: bool = False) -> Diagnostic | None:
    """``published-nowhere``, a warning at the ``status`` of a file that says ``status: published`` outside a family's
    published versions (no lock beside it; a draft under drafts/ is ``draft-status``) when no family records its
    bytes: the family of the nearest folder above it holding a ``versions.lock`` records no file with its sha256, or
    there is none. Such a file is most often a copy of a published version, edited into an amendment and never
    published (`render`, `show` and a redline print "(published)" for it): only `publish` makes a version published.
    A copy of a published version kept unchanged (a superseded encoding, a backup beside the family) is recorded, and
    said nothing of. Checked by `validate` only: it depends on a lock the record of a file's checks does not name.
    ``drafts``: a file under drafts/ too, for `render`, which renders a draft judged by its content alone and leaves
    aside validate's error there (draft-status)."""
    path = Path(policy.path)
    if policy.status != "published" or among_versions(path) or under_drafts(path) and not drafts:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    write_draft = "Only `slapolicy publish` makes a version published: if it is a draft, write status: draft"
    # The folders above it as named (the paths in the message as the user gave them), then where it really is
    family = next((folder for folder in [*path.parents, *path.resolve().parents]
                   if os.path.lexists(folder / LOCK_FILE)), None)
    if family is None:
        return policy.doc.diagnostic(("status",), "published-nowhere",
                                     f"status is published, but no {LOCK_FILE} beside this file or in a folder above it "
                                     f"records it, so nothing shows it is a published version (its sha256 is "
                                     f"{digest[:12]}…; `slapolicy versions FAMILY` lists each published version's). "
                                     f"{write_draft}", severity="warning")
    try:
        lock = read_lock(family)
    except PolicyError:
        return None  # the family's own error (bad-lock), said where the family is validated
    if digest in lock.values():
        return None
    same_label = f"{policy.version}.yaml"
    told = (f"; version {policy.version} is published there as {family / same_label} (sha256 "
            f"{lock[same_label][:12]}…), with other bytes (`slapolicy diff {family / same_label} {policy.path}` shows "
            "what differs)" if same_label in lock else "")
    return policy.doc.diagnostic(("status",), "published-nowhere",
                                 f"status is published, but {family / LOCK_FILE} records no file with this file's sha256 "
                                 f"({digest[:12]}…): it is no published version of {family}{told}. {write_draft} and "
                                 f"keep it under {family / 'drafts'}", severity="warning")


def unrecorded_published(policy, raw: bytes, drafts: bool = False) -> Diagnostic | None:
    """What the record of published versions says against a file that says ``status: published`` (``raw``, its
    bytes), or None when a lock records it as it is (or it says draft): among a family's versions, the family's own
    error at it (``unlocked``, ``published-changed``; lint.lock_problem), which every command reading the family
    stops at; elsewhere, :func:`published_nowhere`'s warning. `validate` and `render` of the file alone say it: they
    judged the file by its content, and `render` printed "(published)" for a text published nowhere, or edited since.
    A file of a family's superseded/ (whatever its status): lint.superseded_problem's, as `validate FAMILY` says it;
    an edited one passed `validate FILE`. ``drafts``: as :func:`published_nowhere` takes it."""
    path = Path(policy.path)
    if kept_by_family(path):  # whatever it says, a superseded encoding is kept as recorded
        return kept_problem(path, raw)
    if policy.status != "published":
        return None
    if not among_versions(path):
        return published_nowhere(policy, raw, drafts)
    try:
        lock = read_lock(path.parent)
    except PolicyError as exc:
        return exc.diagnostics[0]  # a lock that cannot be read records nothing: its own error (bad-lock)
    return lock_problem(path.parent, path, raw, lock, moved_versions(path.parent, lock))


def broken_recorded(path: Path, raw: bytes | None) -> Diagnostic | None:
    """What the record of published versions says against a file that could not be read as a policy (its YAML
    broken, say), ``raw`` its bytes, or None: a superseded encoding's lock (:func:`kept_problem`), or, for a file the
    lock beside it records by name, the lock's own error (lint.lock_problem, ``published-changed``). An edit that
    breaks a published version is an edit of it all the same: `validate` and `render` of the file alone said only
    where the YAML broke, and legal, mending the YAML, was never told the file is one that never changes. A file the
    lock does not record (a draft beside it, broken) is left to its own errors: what it says cannot be read. ``raw``
    None: a file too large to read as a policy, hashed a block at a time."""
    path = Path(path)
    if kept_by_family(path):
        return kept_problem(path, raw)
    if not among_versions(path):
        return None
    try:
        lock = read_lock(path.parent)
    except PolicyError as exc:
        return exc.diagnostics[0]  # a lock that cannot be read records nothing: its own error (bad-lock)
    if path.name not in lock:
        return None
    return lock_problem(path.parent, path, raw, lock, {}, digest=None if raw is not None else file_digest(path))


def kept_problem(path: Path, raw: bytes | None) -> Diagnostic | None:
    """What the lock of the family whose superseded/ holds ``path`` (lock.kept_by_family) says against it, its bytes
    ``raw`` (lint.superseded_problem), or None (so too for a file held nowhere such): said whatever else is wrong
    with the file, since an edit that breaks the file is an edit of what was kept all the same."""
    if not kept_by_family(path):
        return None
    # the family as named (its paths in the messages), or found from where the file is (given inside superseded/)
    family = path.parent.parent if path.parent.name == "superseded" else Path(os.path.abspath(path)).parent.parent
    try:
        lock = read_lock(family)
    except PolicyError as exc:
        return exc.diagnostics[0]  # a lock that cannot be read records nothing: its own error (bad-lock)
    changed = superseded_problem(family, path, raw, lock)
    if path.is_symlink() and f"superseded/{path.name}" in lock and changed is None:
        return linked_kept(path)  # a link to the bytes kept: warned of; to other bytes, the error (restoring mends both)
    return changed


def superseded_given(family: Path) -> str:
    """The error of a family's superseded/ given where a family is asked for: read as one, each superseded encoding was
    an unrecorded published version, and the user was told to start a lock inside superseded/ (`lock --new`), which
    would have made the encodings a correction replaced a family to evaluate under."""
    return (f"the superseded encodings of the family {family}, not a family: give {family} (validate checks them "
            f"against its lock). A superseded encoding governs no Service Month: it is kept unchanged so that the "
            f"decisions made under it can be audited (slapolicy audit LEDGER --policies {family})")


class PolicyDirectory:
    """A family of published versions (``policies/<family>/*.yaml``) and its lock of sha256s."""

    def __init__(self, path: str | os.PathLike, run_examples: bool = True):
        """``run_examples=False`` for a directory read to evaluate under it: the warnings for rules no example
        exercises are left out (see :func:`slapolicy.policy.lint.lint_policy`); every error is still found."""
        self.path = path_argument(path, "policy_dir")
        if not self.path.is_dir():
            raise not_a_directory(path, self.path)
        if self.path.name in ("drafts", "superseded") and (self.path.parent / LOCK_FILE).is_file() \
                and not (self.path / LOCK_FILE).exists():
            given = drafts_given if self.path.name == "drafts" else superseded_given
            raise PolicyError([Diagnostic(str(path), 1, 1, "error", "not-a-family", given(self.path.parent))])
        self.versions: list[Policy] = []
        self.diagnostics: list[Diagnostic] = []
        self.not_versions: set[Path] = set()  # files that are no mapping: data, not a version to record in a lock
        # The bytes of each file as read once: checked, loaded and asked about against the lock (lint_directory). Read
        # again for the lock, a version edited as it was first read and restored before the second was evaluated
        # under, and the lock asked about other bytes.
        self.bytes_read: dict[Path, bytes] = {}
        for file in sorted(self.path.glob("*.yaml")):
            raw, policy, problems = read_policy_bytes(file, run_examples)
            if raw is not None:
                self.bytes_read[file] = raw
            self.diagnostics.extend(problems)
            if policy is not None:
                self.versions.append(policy)
            elif any(p.message.startswith(NOT_A_MAPPING) for p in problems):
                self.not_versions.add(file)
        self.diagnostics.extend(lint_directory(self))
        self.diagnostics.sort()
        self.versions.sort(key=lambda p: p.effective_from)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def holds_nothing(self) -> list[Diagnostic]:
        """The error of a directory without a version and without an error of its own to say why (an empty or
        mistyped family): every command that reads it, `validate` and `lock` included, refuses it alike."""
        if self.versions or self.errors:
            return []
        return [Diagnostic(str(self.path), 1, 1, "error", "no-versions",
                           f"the directory holds no policy version (*.yaml): {self._what_to_give()}")]

    def _what_to_give(self) -> str:
        """What a user who named a directory without versions most likely meant: the family below it (``policies``
        for ``policies/ccc``), or else to publish a first version into it."""
        family = family_below(self.path)
        if family is not None:
            return f"give the directory of a family, such as {family}"
        return f"publish a first version into it from a draft: slapolicy publish {shell_word(self.path)} DRAFT.yaml"

    def check(self) -> "PolicyDirectory":
        """Raise :class:`PolicyError` if any published version has an error."""
        if self.errors or self.holds_nothing:
            raise PolicyError(self.errors or self.holds_nothing)
        return self

    @property
    def first(self) -> Policy | None:
        """The family's first version, whose ``id`` names the agreement every version of it amends."""
        return self.versions[0] if self.versions else None

    def check_member(self, policy: Policy, doing: str) -> Policy:
        """``policy`` if it is a version of this family's agreement (a draft evaluated or replayed under: ``doing``
        is "evaluate" or "replay"): else :class:`PolicyError` ``family-id``, as `validate`, `lock` and `publish`
        refuse a version of another, with the advice for what was being done."""
        problem = family_id_problem(policy, self.first, doing)
        if problem is not None:
            raise PolicyError([problem])
        return policy

    def published_itself(self, draft) -> Diagnostic | None:
        """``draft-is-published``, an error at a file of drafts/ that is a published version or a superseded encoding
        itself, not a copy of it: a hard link (``ln``, ``cp -l``: one file under two names) or a symbolic link to it.
        Whatever is written in it is written in the published file, and validate told it, saying status: published,
        to write status: draft there (draft-status)."""
        kept = [*sorted(self.path.glob("*.yaml")), *sorted((self.path / "superseded").glob("*.yaml"))]
        try:
            same = next((file for file in kept if os.path.samefile(file, draft)), None)
        except OSError:
            return None  # a file gone or unreadable: said where it is read
        if same is None:
            return None
        how = "a symbolic link to it" if os.path.islink(draft) else "a hard link: one file under two names"
        return Diagnostic(str(draft), 1, 1, "error", "draft-is-published",
                          f"this draft is {same} itself, not a copy of it ({how}): whatever is written in it is "
                          f"written in that file, which never changes. Remove it (rm {shell_word(draft)}: {same} stays) and copy "
                          f"the published file instead (cp {shell_word(same)} {shell_word(draft)})")

    def drafts(self) -> list[Path]:
        return self.drafts_of(self.path)

    @staticmethod
    def drafts_of(family: Path) -> list[Path]:
        """The drafts of the family ``family``: its drafts/' YAML files, by name."""
        return sorted((Path(family) / "drafts").glob("*.yaml"))

    def read_lock(self) -> dict[str, str]:
        return read_lock(self.path)

    def superseded_file(self, sha256: str) -> Path | None:
        """The superseded encoding with this sha256, kept by a correction (docs/policy-format.md, "Correcting an
        encoding") and recorded in the lock, if the directory has it and it still matches."""
        for name, digest in self.read_lock().items():
            if digest == sha256 and name.startswith("superseded/"):
                path = self.path / name
                if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
                    return path
        return None

    def in_force(self, month: str | dt.date) -> Policy:
        """The version governing the Service Month starting on (or in) ``month``: the latest whose
        effective_from is on or before the Service Month's first day (§6.2)."""
        first_day = _month_start(month)
        self.check()
        chosen = None
        for policy in self.versions:
            if policy.effective_from <= first_day:
                chosen = policy
        if chosen is None:
            earliest = self.versions[0].effective_from
            raise NoVersionInForce(
                f"no version of {self.path} is in force for the Service Month starting {first_day}: "
                f"the earliest version takes effect on {earliest}")
        return chosen
