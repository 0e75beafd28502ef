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
- its ``effective_from`` is before today in the policy's timezone, unless ``retroactive`` is given: it would
  govern Service Months that have begun, some already evaluated and claimed under the version in force
  until now (see :func:`retroactive_span`);
- the family itself has errors (an edited published file, a broken version).

On success the draft's text is written unchanged except ``status: published`` and its line ends
(LF; comments kept), and the lock records it. The written file and the lock are each replaced whole
(temporary file, then rename), under an exclusive lock on the family directory, so that
two publishers on one machine never interleave, and only if the family's files are still those
checked (publishers on two machines sharing it over NFS are not excluded by the lock); see
docs/policy-format.md, "Two publishers at once".
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..errors import Diagnostic, LedgerError, PolicyError, shell_word
from ..files import FileProblem, path_argument, read_limited
from .diff import diff_policies, renumbered
from .directory import PolicyDirectory, check_policy_bytes, directory_signature, not_a_directory, read_policy
from .examples import run_examples
from .lint import PLACEMENT_CODES, amends_problem, family_id_problem, timezone_handover, version_label_problem
from .load import MAX_POLICY_BYTES, compose_only, load_yaml
from .lock import LOCK_FILE, create_beside, family_lock, write_lock


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote: the version's file, its label, date and sha256, and the warnings seen."""

    path: Path
    version: str
    effective_from: str
    sha256: str
    warnings: list[Diagnostic] = field(default_factory=list)
    takes_over: str | None = None  # published with retroactive=True: what it now governs in whose place
    decided: str | None = None  # with a ledger: the claims it records as decided for those months

    def as_dict(self) -> dict:
        return {"path": str(self.path), "version": self.version, "effective_from": self.effective_from,
                "sha256": self.sha256, "warnings": [w.as_dict() for w in self.warnings], "takes_over": self.takes_over,
                "decided": self.decided}


def policy_today(policy) -> dt.date:
    """Today's date where the agreement is kept: in the policy's timezone, as its Service Months begin."""
    return dt.datetime.now(ZoneInfo(policy.timezone)).date()


def retroactive_span(policy, governing, today: dt.date) -> str | None:
    """What publishing ``policy`` would take over from ``governing`` (the version in force until now), said in
    Service Months, when it would govern one that began before ``today``; None when it would not (it takes effect
    today or later, or no version governs before it: months before a family's first version were never decided).

    §6.2: a version governs every Service Month whose first day is on or after its effective_from, and a Service Month
    begins on the 1st or on the day a term starts, so every day from effective_from to yesterday began one."""
    if governing is None or policy.effective_from >= today:
        return None
    first, last = policy.effective_from, today - dt.timedelta(days=1)
    first_month = first if first.day == 1 else (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    months = (f"the calendar months {first_month:%Y-%m} to {last:%Y-%m}" if first_month <= last
              else "no calendar month: those of terms starting on these days")
    return f"the Service Months beginning {first} to {last} ({months}), governed until now by version {governing.version}"


def retroactive_problem(policy, governing, today: dt.date, doing: str = "publishing",
                        decided: str | None = None) -> Diagnostic | None:
    """``retroactive``: ``policy`` would govern Service Months already begun (:func:`retroactive_span`), at its
    effective_from. Said alike by publish and lock (``doing``: "publishing", "recording"); ``decided``: the claims a
    ledger records for those months (:func:`decided_claims`)."""
    span = retroactive_span(policy, governing, today)
    if span is None:
        return None
    among = f"; {decided}" if decided else ", months already evaluated and claims already decided among them"
    return policy.doc.diagnostic(("effective_from",), "retroactive",
                                 f"effective_from {policy.effective_from} is before today ({today} in "
                                 f"{policy.timezone}): {doing} it would take over {span}{among}. If the amendment is "
                                 "agreed to apply to them, give --retroactive; else date it today or later")


SHOWN_DECISIONS = 5  # a ledger of thousands: the first few by id, and how many more


def decided_claims(ledger, family: Path, shas, policy, today: dt.date) -> str | None:
    """The claims ``ledger`` (a path) records as decided under a version of the family (one of ``shas``, the sha256s
    its lock records) for a Service Month that ``policy`` would take over: one beginning on or after its
    effective_from and before ``today`` (:func:`retroactive_span`). Said for legal, who decides whether the amendment
    reaches back over them: they stay as decided, and `slapolicy audit` shows each against a decision made now; or
    that there is none. :class:`~slapolicy.errors.LedgerError` for a ledger that cannot be read."""
    from ..ledger import Ledger  # sqlite3's: only a publish given --ledger reads one

    found = []
    with Ledger(ledger, create=False, readonly=True) as book:
        for record in book.decisions():
            month = ((record["result"] or {}).get("evaluation") or {}).get("service_month") or {}
            try:
                begins = dt.date.fromisoformat(month.get("start") or f"{record['service_month']}-01")
            except (TypeError, ValueError):
                continue
            if record["policy_sha256"] in shas and policy.effective_from <= begins < today:
                found.append(record)
    if not found:  # evaluations are not recorded: only claims are
        return (f"{ledger} records no claim decided for them (evaluations of months without a claim are not "
                "recorded)")
    shown = ", ".join(f"{r['decision_id']} ({r['account']} {r['service_month']}, {r['decision']} under version "
                      f"{r['policy_version']})" for r in found[:SHOWN_DECISIONS])
    more = f" and {len(found) - SHOWN_DECISIONS} more" if len(found) > SHOWN_DECISIONS else ""
    return (f"{len(found)} claim(s) already decided for them are recorded in {ledger}: {shown}{more}; they stay as "
            f"decided, and `slapolicy audit {shell_word(ledger)} --policies {shell_word(family)}` shows each against a decision made now")


def published_bytes(raw: bytes) -> bytes:
    """The bytes `publish` writes of a draft's bytes ``raw`` (UTF-8, a BOM dropped): :func:`published_text`, encoded.
    What a version file is compared with to find the draft it was published from."""
    return published_text(raw.decode("utf-8-sig")).encode("utf-8")


def published_text(text: str) -> str:
    """The draft's text with its top-level ``status`` set to ``published``, its lines ended by LF, and a line end at
    its end; every other byte kept.

    The line ends: a draft saved by a Windows editor (CRLF) or without a last line end was published as it was, and
    the editor that later gave it LF, or a last line end, made it "changed" (put the change in a new version) rather
    than "rewritten" (restore it): the lock's check of a rewrite knows a file published with LF and one line end at
    its end (lint.only_rewritten). YAML reads CRLF, CR and LF alike, so no value changes."""
    import yaml  # PyYAML (0.015 s): publishing reads the draft's YAML

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text if text.endswith("\n") else text + "\n"
    root = yaml.compose(text, Loader=compose_only())
    for key, value in root.value:
        if key.value == "status":
            # A block scalar (`status: >-` and `draft` on the next line) ends after its line breaks: they stay, or the
            # next key ran on after the value ('status: publishedeffective_from: ...', no YAML at all).
            replaced = text[value.start_mark.index: value.end_mark.index]
            ends = replaced[len(replaced.rstrip("\n")):] if value.style in (">", "|") else ""
            return text[: value.start_mark.index] + "published" + ends + text[value.end_mark.index:]
    raise ValueError("the document has no status")


def says_the_same(draft: bytes, content: bytes, path: str) -> Diagnostic | None:
    """``status-rewrite`` when ``content``, the bytes publish would write for ``draft`` (:func:`published_text`), do
    not hold the draft's document with status published: a published version is never written that does not say what
    was checked. One more reading of the YAML (the draft's was checked, not these bytes)."""
    before, _ = load_yaml(draft, path)
    after, _ = load_yaml(content, path)
    if before is not None and after is not None and after.data == {**before.data, "status": "published"}:
        return None
    return Diagnostic(path, 1, 1, "error", "status-rewrite",
                      "setting status: published in this draft's text would write a version that says something else "
                      "than the draft checked: write its status on one line, `status: draft`, and publish it again; "
                      "nothing was written")


def _draft_checks(directory: PolicyDirectory, policy, retroactive: bool, today: dt.date,
                  decided: str | None = None) -> list[Diagnostic]:
    """What publishing asks beyond `validate`: the label, the date, what it amends, the examples."""
    doc, found = policy.doc, []
    effective = policy.effective_from.isoformat()
    found += filter(None, [version_label_problem(policy)])
    later = [p for p in directory.versions if p.effective_from >= policy.effective_from]
    if not retroactive and not later:  # one dated on or before a published version is refused below, whatever today
        latest = directory.versions[-1] if directory.versions else None
        found += filter(None, [retroactive_problem(policy, latest, today, decided=decided)])
    found += [not_after_published(policy, other) for other in later]
    if (directory.path / f"{effective}.yaml").exists() and not later:
        found.append(doc.diagnostic(("effective_from",), "file-exists",
                                    f"{directory.path / (effective + '.yaml')} already exists"))
    latest = directory.versions[-1] if directory.versions else None
    found += filter(None, [family_id_problem(policy, directory.first), timezone_handover(latest, policy)])
    found += filter(None, [amends_problem(policy, latest, directory.path)])
    found.extend(run_examples(policy).failures)
    found.extend(renumbered_clauses(latest, policy))
    found += filter(None, [unchanged_terms(latest, policy) or description_copied(directory, policy),
                           correction_undone(directory, policy)])
    return found


def description_copied(directory: PolicyDirectory, policy) -> Diagnostic | None:
    """``description-unchanged``, a warning at a draft's ``description`` when it is word for word that of the version
    it amends (or else the family's latest): a draft is a copy of that version's file, and its description, which
    `versions`, `show` and `render` print as what this version is, still says what the amended one was (the first
    version's "The whole seed text ... as the first published version"), not what this one changes. Said by
    `validate` of a draft in the family's drafts/ and by `publish`; unsaid where the draft changes nothing else
    (``no-change`` says that, at publish)."""
    amends = policy.raw.get("amends")
    amended = next((p for p in directory.versions if p.version == amends), None) or \
        (directory.versions[-1] if directory.versions else None)
    described = policy.raw.get("description")
    if amended is None or not isinstance(described, str) or \
            " ".join(described.split()) != " ".join(str(amended.raw.get("description", "")).split()):
        return None
    return policy.doc.diagnostic(("description",), "description-unchanged",
                                 f"description is word for word that of version {amended.version}, which this draft "
                                 f"amends: it says what {amended.version} is, and `versions`, `show` and `render` "
                                 "would print it as what this version is. Say what this version changes and why "
                                 f"(`slapolicy diff {amended.path} {policy.path}` shows what it changes)",
                                 severity="warning")


def correction_undone(directory: PolicyDirectory, policy) -> Diagnostic | None:
    """``correction-undone``, a warning at a draft's ``amends`` when, where a correction changed the version it amends
    (docs/policy-format.md, "Correcting an encoding"), the draft holds the text the correction replaced: a draft
    copied from the encoding kept in ``superseded/`` rather than from the published file. Published, it takes the
    correction back from its effective_from on, every Service Month since decided under the misreading again, and
    `publish` said nothing: `diff` showed the changes as the amendment's own. Said by `validate` of a draft in the
    family's drafts/ and by `publish`."""
    amends = policy.raw.get("amends")
    amended = next((p for p in directory.versions if p.version == amends), None)
    if amended is None:
        return None
    try:
        lock = directory.read_lock()
    except PolicyError:
        return None  # the lock's own error, bad-lock, is the family's to say
    drafted = None
    for name in sorted(n for n in lock if n.startswith(f"superseded/{amended.effective_from}.")):
        kept, problems = read_policy(directory.path / name, run_examples=False)
        if kept is None or any(p.severity == "error" for p in problems):
            continue  # an encoding that cannot be read is the lock's to say (published-changed)
        corrected = diff_policies(kept, amended)["changes"]
        if drafted is None:
            drafted = {change["what"]: change["new"] for change in diff_policies(amended, policy)["changes"]}
        undone = [change["what"] for change in corrected
                  if change["what"] in drafted and drafted[change["what"]] == change["old"]]
        if undone:
            shown = ", ".join(undone[:5]) + (f" and {len(undone) - 5} more" if len(undone) > 5 else "")
            return policy.doc.diagnostic(
                ("amends",), "correction-undone",
                f"where version {amended.version} was corrected, this draft holds the text the correction replaced, "
                f"that of {directory.path / name}: {len(undone)} of the {len(corrected)} change(s) of the correction "
                f"are undone ({shown}). A draft copied from a superseded encoding takes the correction back from its "
                f"effective_from on: copy the published version instead (cp {shell_word(amended.path)} {shell_word(policy.path)}) and make "
                "the amendment's changes again; if a change back is meant, say so in its description",
                severity="warning")
    return None


# What every amendment changes of the version it amends: its label, date, status, what it amends, and the
# description that says what it changes. Nothing else changed, it decides every month as that version does.
_HEADER = ("version", "effective_from", "amends", "status", "description")


def unchanged_terms(latest, policy, recording: bool = False) -> Diagnostic | None:
    """``no-change``, a warning when ``policy`` changes nothing of ``latest`` (the version it amends) but its header
    (:data:`_HEADER`): no setting, tier, clause, cause, fact, provision's words, title or ref (`slapolicy diff`'s
    terms; examples test the terms and change none). Published, it would add a version that decides every Service
    Month as ``latest`` does: usually the change was made in another copy, or not saved. ``recording``: said by
    `lock` of a published file copied in by hand, recorded all the same (as publish publishes such a draft)."""
    if latest is None:
        return None
    changes = [change for change in diff_policies(latest, policy)["changes"] if change["what"] not in _HEADER]
    if changes:
        return None
    shown = f"`slapolicy diff {latest.path} {policy.path}` shows what it changes"
    what, done, remedy = (("version", "recorded", "the file copied in is not the one agreed: compare it with that file "
                           f"({shown}) and publish the change as an amendment") if recording else
                          ("draft", "published", f"make the change in this draft ({shown})"))
    return policy.doc.diagnostic(("effective_from",), "no-change",
                                 f"this {what} changes nothing of version {latest.version}, which it amends, but its "
                                 f"header ({', '.join(_HEADER)}): {done}, it decides every Service Month from "
                                 f"{policy.effective_from} as version {latest.version} does. If it was meant to change "
                                 f"something, {remedy}", severity="warning")


def not_after_published(policy, other) -> Diagnostic:
    """``not-after-published`` at a draft's effective_from, on or before that of ``other``, a published version: a
    version slipped in before one already in force would change the version that governed months already decided."""
    return policy.doc.diagnostic(("effective_from",), "not-after-published",
                                 f"effective_from {policy.effective_from} is not after published version "
                                 f"{other.version} (effective {other.effective_from}): a new version takes effect after "
                                 "every published one")


def against_family(directory: PolicyDirectory, policy, raw: bytes) -> list[Diagnostic]:
    """What `publish` would refuse in a draft kept in the family's drafts/ because of the family, said by `validate`
    as warnings (as it says a label publish refuses, version-label): an ``amends`` that is not the latest published
    version (another version was published since the draft was copied) and an effective_from not after every
    published version's; and a description copied unchanged (description_copied), which publish warns of too. Nothing
    for a draft published already (kept in drafts/ after publishing)."""
    if directory.errors or not directory.versions or published_already(directory, policy, raw) is not None:
        return []
    latest = directory.versions[-1]
    found = [problem for problem in (amends_problem(policy, latest, directory.path),) if problem is not None]
    if latest.effective_from >= policy.effective_from:
        found.append(not_after_published(policy, latest))
    return [dataclasses.replace(d, severity="warning", message=f"`slapolicy publish` refuses this draft: {d.message}")
            for d in found] + list(filter(None, [description_copied(directory, policy),
                                                 correction_undone(directory, policy)])) + same_date(directory, policy)


def same_date(directory: PolicyDirectory, policy) -> list[Diagnostic]:
    """``draft-same-date``, a warning at a draft's effective_from for each other draft of the family's drafts/ that
    takes effect on the same day (not one published already, kept there): a family publishes one version a day (its
    label is the date), so the second to be published is refused, and two lawyers' drafts passed validate without a
    word until then. The other drafts' dates are read from their text (``effective_from:`` at the top level), not
    checked: their own problems are theirs."""
    day = policy.effective_from.isoformat()
    written = re.compile(rb"(?m)^effective_from:[ \t]*[\"']?" + re.escape(day.encode()) + rb"[\"']?[ \t]*(?:#.*)?$")
    found = []
    for other in directory.drafts():
        try:
            if other.resolve() == Path(policy.path).resolve():
                continue
            raw = read_limited(other, "policy file", MAX_POLICY_BYTES)
        except (OSError, FileProblem):
            continue
        if written.search(raw) and published_as(directory, raw) is None:
            found.append(policy.doc.diagnostic(("effective_from",), "draft-same-date",
                                               f"effective_from {day} is also that of the draft {other}: a family "
                                               "publishes one version a day, so once one of them is published the "
                                               "other is refused (not-after-published); give one of them another "
                                               "effective_from, or keep one", severity="warning"))
    return found


def renumbered_clauses(latest, policy) -> list[Diagnostic]:
    """``clause-renumbered``, a warning at each clause of ``policy`` whose words ``latest`` holds under another number:
    excluded minutes, reports and recorded decisions name clauses by number, so "§5.13" would mean one clause in the
    months before and another after (`slapolicy diff` shows the renumbering as such)."""
    if latest is None:
        return []
    moved = renumbered({c.id: c for c in latest.clauses}, {c.id: c for c in policy.clauses})
    index = {c.id: c.index for c in policy.clauses}
    return [policy.doc.diagnostic(("disclaimers", index[new], "id"), "clause-renumbered",
                                  f"clause {new} holds the words of clause {old} of version {latest.version}: excluded "
                                  f"minutes, reports and decisions name clauses by number, so §{new} means another "
                                  f"clause before this version than after it", severity="warning")
            for old, new in sorted(moved.items(), key=lambda pair: index[pair[1]])]


def check_draft(policy_dir, draft, *, retroactive: bool = False, today: dt.date | None = None,
                ledger=None) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes :func:`publish` would write for ``draft``, and every diagnostic (errors and warnings).

    The bytes are None when anything is an error."""
    checked = _checked_draft(policy_dir, draft, retroactive, today, ledger)
    return checked.content, checked.found


class _Checked(NamedTuple):
    """A draft checked for publishing: the bytes to write (None on any error), every diagnostic, the policy (None
    when it could not be built), the family as read for the check, and the day it was checked on."""

    content: bytes | None
    found: list
    policy: object
    directory: PolicyDirectory
    today: dt.date | None
    decided: str | None = None  # the claims a ledger records for the months it takes over (decided_claims)


def _checked_draft(policy_dir, draft, retroactive: bool = False, today: dt.date | None = None,
                   ledger=None) -> _Checked:
    """The draft checked against the family, each read once. The draft: saved again while it was checked (an
    editor's autosave, its examples taking a second), its new, unchecked bytes must not be published under the old
    ones' checks. The family and today: what `publish` writes and reports (the lock, the months taken over) is
    what was checked, on one day, even for a run across midnight."""
    directory = PolicyDirectory(policy_dir)
    found = [d for d in directory.diagnostics if d.severity == "error"]
    path = str(path_argument(draft, "the policy file"))
    if (among := _among_versions(directory, path)) is not None:
        return _Checked(None, sorted(set(among)), None, directory, today)
    try:
        raw = read_limited(path, "policy file", MAX_POLICY_BYTES)
    except FileProblem as exc:
        return _Checked(None, sorted(set(found + [Diagnostic(path, 1, 1, "error", exc.code, exc.reason)])), None,
                        directory, today)
    policy, problems = check_policy_bytes(raw, path)
    # Where the draft sits does not matter to publishing (a draft in the family's own folder is
    # already reported above, as a directory error), and the label validate warns of is refused below, as an error.
    found.extend(p for p in problems if p.code not in PLACEMENT_CODES
                 and not (p.code == "version-label" and p.severity == "warning"))
    if policy is None:
        return _Checked(None, sorted(set(found)), None, directory, today)
    today = today or policy_today(policy)
    decided = None
    if ledger is not None and directory.versions and policy.effective_from < today:
        try:
            decided = decided_claims(ledger, directory.path, set(directory.read_lock().values()), policy, today)
        except LedgerError as exc:  # named before anything is written, as every reason is
            found.append(Diagnostic(str(ledger), 1, 1, "error", "ledger", str(exc)))
    found.extend(_draft_checks(directory, policy, retroactive, today, decided))
    if any(d.severity == "error" for d in found):
        if (unfinished := publish_unfinished(directory, policy, raw)) is not None:
            return _Checked(None, [unfinished], policy, directory, today, decided)
        again = published_already(directory, policy, raw)
        return _Checked(None, [again] if again else sorted(set(found)), policy, directory, today, decided)
    content = published_bytes(raw)
    if (rewritten := says_the_same(raw, content, path)) is not None:
        return _Checked(None, sorted(set(found + [rewritten])), policy, directory, today, decided)
    return _Checked(content, sorted(set(found)), policy, directory, today, decided)


def _among_versions(directory: PolicyDirectory, path: str) -> list[Diagnostic] | None:
    """The refusal of a draft given from the family's own folder, beside its published versions, that its lock does
    not record (saved or copied there by hand), or None for a draft anywhere else. Checked as a draft there, it was
    a published version not yet recorded, and a version dated on and amending itself: four errors (`unlocked`,
    `draft-published`, `not-after-published` and `amends-not-latest` against itself) where one thing was to be done,
    moving it. The family's errors about other files are kept."""
    draft = Path(path)
    try:
        if draft.resolve().parent != directory.path.resolve() or draft.name in directory.read_lock():
            return None
    except (OSError, PolicyError):
        return None  # a file that cannot be found, a lock that cannot be read: said by the checks that follow
    copied = ""
    try:
        if re.search(rb"(?m)^status:[ \t]*[\"']?published\b", read_limited(path, "policy file", MAX_POLICY_BYTES)):
            copied = (f" (or, if it is a version published elsewhere and copied in by hand, record it with "
                      f"`slapolicy lock {shell_word(directory.path)}`)")
    except FileProblem:
        pass
    others = [d for d in directory.diagnostics if d.severity == "error" and Path(d.file).resolve() != draft.resolve()]
    return others + [Diagnostic(path, 1, 1, "error", "draft-among-versions",
                                f"{draft.name} is in the family's own folder, among its published versions, where "
                                f"`publish` writes the version it publishes: move it into {directory.path / 'drafts'} "
                                f"(mv {shell_word(path)} {shell_word(directory.path / 'drafts')}/) and publish it from there{copied}; "
                                "nothing was written")]


def published_already(directory: PolicyDirectory, policy, raw: bytes) -> Diagnostic | None:
    """``already-published``, when the draft's text is that of a version the family has published (the command run
    again, or a colleague publishing the same draft first), in place of the errors its date and amends then give
    ("not after published version ...", "amends ..., but the latest ..."), which asked for a draft to be rewritten.
    Looked for only when the draft is refused: it reads the draft's YAML once more."""
    if directory.errors:
        return None  # the family itself is refused: that is said, whatever the draft
    same = published_as(directory, raw)
    if same is None:
        return None
    return policy.doc.diagnostic(("effective_from",), "already-published",
                                 f"this draft is published already, as {same.path} (version {same.version}, sha256 "
                                 f"{same.sha256[:16]}…): nothing was written. A change to it is a new draft, with its "
                                 "own effective_from")


def publish_unfinished(directory: PolicyDirectory, policy, raw: bytes) -> Diagnostic | None:
    """``publish-unfinished``, in place of the errors the family then gives the draft (its version unrecorded,
    ``unlocked``; "not after published version …" and "amends …, but the latest …", the draft compared with itself),
    when the file the draft is published as holds the bytes publish writes of it and the lock does not record it: a
    publish of it stopped between placing the file and recording it (its process killed, a power loss:
    :func:`_write_version` undoes the file on any error it can see). Either way out is the user's: record it
    (`lock`, which checks it as publish does) or remove it and publish again."""
    target = directory.path / f"{policy.effective_from.isoformat()}.yaml"
    try:
        if target.name in directory.read_lock() or target.is_symlink() or not target.is_file():
            return None
        content = published_bytes(raw)
        if read_limited(target, "policy file", MAX_POLICY_BYTES) != content:
            return None
    except (PolicyError, FileProblem, ValueError, UnicodeDecodeError, OSError):
        return None  # a lock that cannot be read, a file gone meanwhile: the family's own errors say it
    return policy.doc.diagnostic(("effective_from",), "publish-unfinished",
                                 f"this draft was being published as {target} {unfinished_said(target, 'this draft')}; "
                                 "nothing was written")


def unfinished_said(target: Path, draft: str) -> str:
    """What a publish of ``draft`` (its words: "this draft", or its path) stopped between placing ``target`` and
    recording it left, and the two ways out: said by `publish` run again (:func:`publish_unfinished`) and by every
    other command, at the unrecorded file (lint.lock_problem, :func:`unfinished_draft`), in these words."""
    family = shell_word(target.parent)
    return (f"when that publish stopped before recording it in {LOCK_FILE} (its process killed, or the machine losing "
            f"power): the file holds the bytes publish writes of {draft}. Finish the publication with `slapolicy lock "
            f"{family}`, which checks it as publish does and records it, or remove the file (rm {shell_word(target)}) "
            "and publish again")


def unfinished_draft(family: Path, content: bytes) -> Path | None:
    """The draft of ``family``'s drafts/ whose bytes as `publish` writes them are ``content`` (a version file its lock
    does not record), or None: that file is what a publish of the draft stopped before recording it left, and every
    command other than `publish` said only "unlocked … record this file with slapolicy lock". The first, by name, of
    drafts saying the same."""
    for draft in PolicyDirectory.drafts_of(family):
        try:
            if published_bytes(read_limited(draft, "policy file", MAX_POLICY_BYTES)) == content:
                return draft
        except (FileProblem, OSError, ValueError, UnicodeDecodeError):
            continue  # a draft unreadable, not YAML: not the one published
    return None


def published_as(directory: PolicyDirectory, raw: bytes):
    """The published version of ``directory`` whose bytes are what `publish` writes of the draft ``raw``, or None:
    the draft is that version, published already (and kept in drafts/, as publish leaves it)."""
    try:
        digest = hashlib.sha256(published_bytes(raw)).hexdigest()
    except ValueError:
        return None
    return next((p for p in directory.versions if p.sha256 == digest), None)


def publish(policy_dir, draft, *, retroactive: bool = False, today: dt.date | None = None,
            ledger=None) -> Published:
    """Publish ``draft`` into the family ``policy_dir``: write ``<effective_from>.yaml`` with
    ``status: published`` and record its sha256 in versions.lock, or raise :class:`PolicyError`
    listing every reason and write nothing. Safe to call from several threads or processes.

    ``retroactive``: publish a draft taking effect before ``today`` (default: today in the policy's timezone),
    which governs Service Months already begun; :attr:`Published.takes_over` says which. ``ledger``: the claims'
    ledger (a path) whose decisions for those months are named, in the refusal and in
    :attr:`Published.decided`."""
    path = Path(policy_dir)
    if path.is_file() and Path(draft).is_dir():  # `publish DRAFT FAMILY`: the order of cp, not of this command
        raise PolicyError([Diagnostic(str(policy_dir), 1, 1, "error", "not-a-directory",
                                      f"a file, not a policy directory: the family comes first, then the draft "
                                      f"(slapolicy publish {draft} {policy_dir})")])
    if not path.is_dir():
        raise not_a_directory(policy_dir, path)
    with family_lock(path):
        seen = directory_signature(path)
        content, found, policy, directory, today, decided = _checked_draft(path, draft, retroactive, today, ledger)
        if content is None:
            raise PolicyError([d for d in found if d.severity == "error"])
        unchanged_since(path, seen, "the draft was checked")
        name = f"{policy.effective_from.isoformat()}.yaml"
        digest = hashlib.sha256(content).hexdigest()
        governing = directory.versions[-1] if directory.versions else None
        takes_over = retroactive_span(policy, governing, today)
        try:
            _write_version(path, name, content, {**directory.read_lock(), name: digest})
        except OSError as exc:  # a full disk, a read-only directory: the user's to fix, and nothing is left behind
            raise PolicyError([cannot_write(path / name, exc)]) from None
    return Published(path / name, policy.version, policy.effective_from.isoformat(), digest,
                     [d for d in found if d.severity == "warning"], takes_over, decided if takes_over else None)


def unchanged_since(family: Path, seen: tuple, while_: str) -> None:
    """Raise :class:`PolicyError` ``family-changed`` when the family's files (its versions and lock: their names,
    sizes, times and inodes) are not those ``seen`` before it was read: a publisher that our lock does not exclude
    (one on another machine, over NFS) wrote it meanwhile, and what was checked is not what would be written over.
    Asked just before writing, it leaves two such publishers only the instant of their writes to meet in, not the
    seconds of their checks."""
    now = directory_signature(family)
    if now == seen:
        return
    before, after = {entry[0]: entry for entry in seen}, {entry[0]: entry for entry in now}
    changed = sorted(Path(name).name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    raise PolicyError([Diagnostic(str(family), 1, 1, "error", "family-changed",
                                  f"{family} changed while {while_} ({', '.join(changed)} written by another "
                                  "process, one the family's lock does not exclude: a publisher on another machine, "
                                  "over NFS); nothing was written. Run the command again: it checks against the "
                                  "family as it is now")])


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


def retroactive_note(version: str, takes_over: str) -> str:
    """What `publish --retroactive` and `lock --retroactive` say of a version that took over Service Months already
    begun (:func:`retroactive_span`)."""
    return (f"retroactive: version {version} now governs {takes_over}; decisions already recorded for them stay as "
            "decided, and `slapolicy audit` reports them as differing from a decision made now")


__all__ = ["Published", "Recorded", "check_draft", "publish", "published_text", "record_versions", "LOCK_FILE"]


class Recorded(NamedTuple):
    """A version `lock` recorded: its file's name, its label, and with ``retroactive``, what it took over (as
    :attr:`Published.takes_over` says it; None when it governs no Service Month already begun), and the sha256 it
    recorded: whoever copied the file in compares it with that of the file agreed (``sha256sum``)."""

    name: str
    version: str
    takes_over: str | None = None
    sha256: str = ""
    decided: str | None = None  # with a ledger: the claims it records as decided for the months taken over
    warnings: tuple = ()  # what `lock` warns of it, as publish of a draft: no-change, clause-renumbered


def record_published(directory, new: bool = False, *, retroactive: bool = False,
                     today: dt.date | None = None) -> list[str]:
    """The names of the versions :func:`record_versions` recorded."""
    return [recorded.name for recorded in record_versions(directory, new, retroactive=retroactive, today=today)]


def record_versions(directory, new: bool = False, *, retroactive: bool = False,
                    today: dt.date | None = None, ledger=None) -> list[Recorded]:
    """Add published versions missing from the lock, refusing (and writing nothing) while
    `validate` reports any error in the family other than "not yet recorded", while an example of a version to
    record gives another answer, for a version dated on or before one already recorded, and, unless
    ``retroactive``, for one that would govern Service Months already begun (as :func:`publish` refuses a draft);
    with it, each says what it took over, as `publish --retroactive` does.

    ``ledger``: the claims' ledger (a path) whose decisions for the Service Months taken over are named, as
    :func:`publish` names them.

    ``new``: start the lock of a family that has none. Without it a family without ``versions.lock`` is refused,
    naming what would be recorded: a lock deleted (by mistake, or to make an edited published file pass) would
    otherwise be made again from whatever bytes the files hold now, and an edit would be recorded as published."""
    with family_lock(directory.path):
        seen = directory_signature(directory.path)
        directory = PolicyDirectory(directory.path)  # read again under the lock
        refused = [d for d in directory.diagnostics if d.severity == "error" and d.code != "unlocked"]
        refused += directory.holds_nothing  # not "nothing to lock: every published version is recorded"
        refused += _lock_start_problems(directory, new)
        lock = directory.read_lock()
        refused += _slipped_in(directory, lock)
        refused += _amends_unchecked(directory, lock)
        taken = _taken_over(directory, lock, today, ledger)
        refused += [] if retroactive else [problem for problem, _, _ in taken.values()]
        for policy in directory.versions:
            if Path(policy.path).name not in lock:
                refused += run_examples(policy).failures  # as publish checks a draft's: its own tests must hold
        if refused:
            raise PolicyError(sorted(refused))
        added = []
        before = dict(zip(directory.versions[1:], directory.versions))
        for policy in sorted(directory.versions, key=lambda p: Path(p.path).name):
            name = Path(policy.path).name  # the sha256 of the bytes checked: a file written since is found below
            if name not in lock:
                lock[name] = policy.sha256
                _, takes_over, decided = taken.get(name, (None, None, None))
                amended = before.get(policy)  # a family locked anew may hold versions that predate amends:
                amended = amended if amended is not None and policy.raw.get("amends") == amended.version else None
                warned = tuple(filter(None, [unchanged_terms(amended, policy, recording=True)])) + tuple(
                    renumbered_clauses(amended, policy))  # what publish warns of a draft, said of a copy too
                added.append(Recorded(name, policy.version, takes_over, policy.sha256, decided, warned))
        if added:
            unchanged_since(directory.path, seen, "its versions were checked")
            try:
                write_lock(directory.path, lock)
            except OSError as exc:
                raise PolicyError([cannot_write(directory.path / LOCK_FILE, exc)]) from None
        return added


def _lock_start_problems(directory: PolicyDirectory, new: bool) -> list[Diagnostic]:
    """A lock started only when asked (``lock --new``), and only where none records a version: a lock that records
    no published version (one emptied by hand, or holding only a superseded encoding's entry) is no record of what
    was published, as a lock deleted is none."""
    lock_path = directory.path / LOCK_FILE
    exists = os.path.lexists(lock_path)
    started = exists and any(Path(p.path).name in directory.read_lock() for p in directory.versions)
    if new and started:
        return [Diagnostic(str(lock_path), 1, 1, "error", "lock-exists",
                           f"{LOCK_FILE} exists: `lock --new` starts the lock of a family that has none; "
                           f"`slapolicy lock {shell_word(directory.path)}` adds the versions it does not record")]
    if new or started or not directory.versions:
        return []  # nothing to record: said by the directory's own errors (no-versions, or why none could be read)
    recorded = ", ".join(f"{Path(p.path).name} (sha256 {p.sha256[:12]}…)"
                         for p in sorted(directory.versions, key=lambda p: p.effective_from))
    if exists:
        return [Diagnostic(str(lock_path), 1, 1, "error", "no-lock",
                           f"{LOCK_FILE} in {directory.path} records no published version: `lock` would record "
                           f"{recorded} as published, as the files are now. If entries were removed from it, restore "
                           "it (from version control or a backup): a published file edited since would be recorded as "
                           f"published. If this family was never locked, start its lock with `slapolicy lock --new "
                           f"{directory.path}`")]
    return [Diagnostic(str(lock_path), 1, 1, "error", "no-lock",
                       f"there is no {LOCK_FILE} in {directory.path}: `lock` would record {recorded} as published, as "
                       "the files are now. If its lock was deleted, restore it (from version control or a backup): a "
                       "published file edited since would be recorded as published. If this family was never locked, "
                       f"start its lock with `slapolicy lock --new {shell_word(directory.path)}`")]


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


def _amends_unchecked(directory: PolicyDirectory, lock: dict) -> list[Diagnostic]:
    """Versions to record, in a family already locked, whose ``amends:`` does not name the version before them: a
    file copied in by hand is held to what `publish` asks of a draft (:func:`amends_problem`). A family locked for
    the first time (`lock --new`) is recorded as it stands: its versions may predate ``amends:``."""
    recorded = [p.effective_from for p in directory.versions if Path(p.path).name in lock]
    if not recorded:
        return []
    return [problem for before, policy in zip(directory.versions, directory.versions[1:])  # one before: _slipped_in's
            if Path(policy.path).name not in lock and policy.effective_from > max(recorded)
            and (problem := amends_problem(policy, before, directory.path)) is not None]


def _taken_over(directory: PolicyDirectory, lock: dict, today: dt.date | None, ledger=None) -> dict:
    """Versions to record that would take over Service Months already begun from the version before them, in a
    family already locked (one locked the first time had nothing decided under it by slapolicy's lock): by file
    name, (its ``retroactive`` diagnostic, what it takes over, the claims ``ledger`` records for those months), each
    worked out on one today in its timezone. A ledger that cannot be read: :class:`PolicyError`, nothing written."""
    recorded = [p.effective_from for p in directory.versions if Path(p.path).name in lock]
    if not recorded:
        return {}
    taken = {}
    for before, policy in zip(directory.versions, directory.versions[1:]):  # one before max(recorded): _slipped_in's
        if Path(policy.path).name in lock or policy.effective_from <= max(recorded):
            continue
        day = today or policy_today(policy)
        if retroactive_span(policy, before, day) is None:
            continue
        decided = None
        if ledger is not None:
            try:
                decided = decided_claims(ledger, directory.path, set(lock.values()), policy, day)
            except LedgerError as exc:
                raise PolicyError([Diagnostic(str(ledger), 1, 1, "error", "ledger", str(exc))]) from None
        problem = retroactive_problem(policy, before, day, "recording", decided)
        taken[Path(policy.path).name] = (problem, retroactive_span(policy, before, day), decided)
    return taken
