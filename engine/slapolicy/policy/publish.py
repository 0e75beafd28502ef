"""``slapolicy publish``: check a draft and publish it as a version of its family, or write nothing.

Publishing is the one step between a draft (``policies/<family>/drafts/*.yaml``, ``status:
draft``) and a published version (``policies/<family>/<effective_from>.yaml``, recorded in
``versions.lock``). It refuses, listing every reason at once, when:

- the draft fails the schema or the linter, or one of its examples gives another answer;
- its ``version`` label is not its ``effective_from`` date (every published version is
  labelled by the day it takes effect, so no two can share a label);
- its ``effective_from`` is not after every published version's (a version is never
  slipped in before one already in force);
- ``amends:`` is missing, or names something other than the latest published version (the
  draft was written from an older text, and would undo what was published since);
- the family itself has errors (an edited published file, a broken version).

On success the draft's text is written unchanged except ``status: published`` (comments
kept), and the lock records it. The written file and the lock are each replaced whole
(temporary file, then rename), under an exclusive lock on the family directory, so that
two publishers never interleave; see docs/policy-format.md.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, PolicyError
from ..files import FileProblem, path_argument, read_limited
from .directory import PolicyDirectory, check_policy_bytes
from .examples import run_examples
from .lint import PLACEMENT_CODES, family_id_problem
from .load import MAX_POLICY_BYTES, compose_only
from .lock import LOCK_FILE, create_beside, family_lock, write_lock


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote: the version's file, its label, date and sha256, and the warnings seen."""

    path: Path
    version: str
    effective_from: str
    sha256: str
    warnings: list[Diagnostic] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"path": str(self.path), "version": self.version, "effective_from": self.effective_from,
                "sha256": self.sha256, "warnings": [w.as_dict() for w in self.warnings]}


def published_text(text: str) -> str:
    """The draft's text with its top-level ``status`` set to ``published``; every other byte kept."""
    import yaml  # PyYAML (0.015 s): publishing reads the draft's YAML

    root = yaml.compose(text, Loader=compose_only())
    for key, value in root.value:
        if key.value == "status":
            return text[: value.start_mark.index] + "published" + text[value.end_mark.index:]
    raise ValueError("the document has no status")


def _draft_checks(directory: PolicyDirectory, policy) -> list[Diagnostic]:
    """What publishing asks beyond `validate`: the label, the date, what it amends, the examples."""
    doc, found = policy.doc, []
    effective = policy.effective_from.isoformat()
    if policy.version != effective:
        found.append(doc.diagnostic(("version",), "version-label",
                                    f"version is {policy.version!r}; a published version is labelled by its "
                                    f"effective_from: write version: \"{effective}\""))
    later = [p for p in directory.versions if p.effective_from >= policy.effective_from]
    for other in later:
        found.append(doc.diagnostic(("effective_from",), "not-after-published",
                                    f"effective_from {effective} is not after published version {other.version} "
                                    f"(effective {other.effective_from}): a new version takes effect after every "
                                    "published one"))
    if (directory.path / f"{effective}.yaml").exists() and not later:
        found.append(doc.diagnostic(("effective_from",), "file-exists",
                                    f"{directory.path / (effective + '.yaml')} already exists"))
    latest = directory.versions[-1] if directory.versions else None
    found += filter(None, [family_id_problem(policy, directory.first)])
    amends = policy.raw.get("amends")
    if latest is not None and amends is None:
        # An error: a draft copied from an older text, published after a newer one, would silently undo it.
        found.append(doc.diagnostic(("version",), "amends-missing",
                                    f"no amends: say which version this one amends, the text it was copied from "
                                    f"(the latest is {latest.version}: write amends: \"{latest.version}\")"))
    elif latest is not None and amends != latest.version:
        found.append(doc.diagnostic(("amends",), "amends-not-latest",
                                    f"amends {amends!r}, but the latest published version is {latest.version!r}: "
                                    f"start from that text (`slapolicy diff` shows what it changed) and write "
                                    f"amends: \"{latest.version}\""))
    found.extend(run_examples(policy).failures)
    return found


def check_draft(policy_dir, draft) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes :func:`publish` would write for ``draft``, and every diagnostic (errors and warnings).

    The bytes are None when anything is an error."""
    content, found, _ = _checked_draft(policy_dir, draft)
    return content, found


def _checked_draft(policy_dir, draft):
    """(bytes to write or None, diagnostics, the policy checked). The draft is read once: the draft file saved
    again while it was checked (an editor's autosave, its examples taking a second) must not have its new,
    unchecked bytes published under the old ones' checks."""
    directory = PolicyDirectory(policy_dir)
    found = [d for d in directory.diagnostics if d.severity == "error"]
    path = str(path_argument(draft, "the policy file"))
    try:
        raw = read_limited(path, "policy file", MAX_POLICY_BYTES)
    except FileProblem as exc:
        return None, sorted(set(found + [Diagnostic(path, 1, 1, "error", exc.code, exc.reason)])), None
    policy, problems = check_policy_bytes(raw, path)
    # Where the draft sits does not matter to publishing (a draft in the family's own folder is
    # already reported above, as a directory error).
    found.extend(p for p in problems if p.code not in PLACEMENT_CODES)
    if policy is None:
        return None, sorted(set(found)), None
    found.extend(_draft_checks(directory, policy))
    if any(d.severity == "error" for d in found):
        return None, sorted(set(found)), policy
    return published_text(raw.decode("utf-8-sig")).encode("utf-8"), sorted(set(found)), policy


def publish(policy_dir, draft) -> Published:
    """Publish ``draft`` into the family ``policy_dir``: write ``<effective_from>.yaml`` with
    ``status: published`` and record its sha256 in versions.lock, or raise :class:`PolicyError`
    listing every reason and write nothing. Safe to call from several threads or processes."""
    path = Path(policy_dir)
    if not path.is_dir():
        raise PolicyError([Diagnostic(str(policy_dir), 1, 1, "error", "not-a-directory", "no such policy directory")])
    with family_lock(path):
        content, found, policy = _checked_draft(path, draft)
        if content is None:
            raise PolicyError([d for d in found if d.severity == "error"])
        name = f"{policy.effective_from.isoformat()}.yaml"
        digest = hashlib.sha256(content).hexdigest()
        lock = PolicyDirectory(path).read_lock()
        try:
            _write_version(path, name, content, {**lock, name: digest})
        except OSError as exc:  # a full disk, a read-only directory: the user's to fix, and nothing is left behind
            raise PolicyError([cannot_write(path / name, exc)]) from None
    return Published(path / name, policy.version, policy.effective_from.isoformat(), digest,
                     [d for d in found if d.severity == "warning"])


def _write_version(directory: Path, name: str, content: bytes, lock: dict) -> None:
    """Create ``directory/name`` (never over an existing file), then replace the lock, which syncs the directory for
    both names; undo the file if the lock fails."""
    tmp = None
    target = directory / name
    try:
        fd, tmp = create_beside(directory, name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)  # fails if the name exists: a published file is never overwritten
        except FileExistsError:
            raise PolicyError([Diagnostic(str(target), 1, 1, "error", "file-exists", f"{target} already exists")]) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    try:
        write_lock(directory, lock)
    except BaseException:
        target.unlink()
        raise


def cannot_write(target: Path, exc: OSError) -> Diagnostic:
    return Diagnostic(str(target), 1, 1, "error", "cannot-write",
                      f"cannot write {target.name} in {target.parent}: {exc.strerror or exc}")


__all__ = ["Published", "check_draft", "publish", "published_text", "LOCK_FILE"]


def record_published(directory, new: bool = False) -> list[str]:
    """Add published versions missing from the lock, refusing (and writing nothing) while
    `validate` reports any error in the family other than "not yet recorded", while an example of a version to
    record gives another answer, and for a version dated on or before one already recorded.

    ``new``: start the lock of a family that has none. Without it a family without ``versions.lock`` is refused,
    naming what would be recorded: a lock deleted (by mistake, or to make an edited published file pass) would
    otherwise be made again from whatever bytes the files hold now, and an edit would be recorded as published."""
    with family_lock(directory.path):
        directory = PolicyDirectory(directory.path)  # read again under the lock
        refused = [d for d in directory.diagnostics if d.severity == "error" and d.code != "unlocked"]
        refused += directory.holds_nothing  # not "nothing to lock: every published version is recorded"
        refused += _lock_start_problems(directory, new)
        lock = directory.read_lock()
        refused += _slipped_in(directory, lock)
        for policy in directory.versions:
            if Path(policy.path).name not in lock:
                refused += run_examples(policy).failures  # as publish checks a draft's: its own tests must hold
        if refused:
            raise PolicyError(sorted(refused))
        added = []
        for file in sorted(directory.path.glob("*.yaml")):
            if file.name not in lock:
                lock[file.name] = hashlib.sha256(read_limited(file, "policy file", MAX_POLICY_BYTES)).hexdigest()
                added.append(file.name)
        if added:
            try:
                write_lock(directory.path, lock)
            except OSError as exc:
                raise PolicyError([cannot_write(directory.path / LOCK_FILE, exc)]) from None
        return added


def _lock_start_problems(directory: PolicyDirectory, new: bool) -> list[Diagnostic]:
    """A lock started only when asked (``lock --new``), and only where there is none."""
    lock_path = directory.path / LOCK_FILE
    exists = os.path.lexists(lock_path)
    if exists != new:
        return []
    if exists:
        return [Diagnostic(str(lock_path), 1, 1, "error", "lock-exists",
                           f"{LOCK_FILE} exists: `lock --new` starts the lock of a family that has none; "
                           f"`slapolicy lock {directory.path}` adds the versions it does not record")]
    if not directory.versions:
        return []  # nothing to record: said by the directory's own errors (no-versions, or why none could be read)
    recorded = ", ".join(f"{Path(p.path).name} (sha256 {p.sha256[:12]}…)"
                         for p in sorted(directory.versions, key=lambda p: p.effective_from))
    return [Diagnostic(str(lock_path), 1, 1, "error", "no-lock",
                       f"there is no {LOCK_FILE} in {directory.path}: `lock` would record {recorded} as published, as "
                       "the files are now. If its lock was deleted, restore it (from version control or a backup): a "
                       "published file edited since would be recorded as published. If this family was never locked, "
                       f"start its lock with `slapolicy lock --new {directory.path}`")]


def _slipped_in(directory: PolicyDirectory, lock: dict) -> list[Diagnostic]:
    """Versions not yet recorded that take effect on or before a recorded one: `lock` records a file copied in by
    hand, but never one that would change which version governed Service Months already decided (the rule
    `publish` applies to a draft)."""
    recorded = [p for p in directory.versions if Path(p.path).name in lock]
    if not recorded:
        return []  # a family locked for the first time (or whose lock was deleted): nothing to keep
    latest = max(recorded, key=lambda p: p.effective_from)
    return [p.doc.diagnostic(("effective_from",), "not-after-published",
                             f"effective_from {p.effective_from} is not after published version {latest.version} "
                             f"(effective {latest.effective_from}, recorded in {LOCK_FILE}): `lock` records only a version "
                             "taking effect after every recorded one, since an earlier one would change the version "
                             "in force for months already decided")
            for p in directory.versions if Path(p.path).name not in lock and p.effective_from <= latest.effective_from]
