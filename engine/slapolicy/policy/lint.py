"""The linter: contradictions and slips a schema cannot see, each reported at its line.

Checks on one version: tiers that overlap or leave gaps, the part of a tier the
compensation gate makes unreachable (the shipped SLA has one: §3.1's first tier starts
at 99.95 % although §3 pays only below the 99.5 % standard of §2.2), duplicated clause
ids, gaps in clause numbering, clauses without examples, effective dates not on the
first of a month, a timezone that changes its clocks (§1.6), a file name that differs from effective_from, a ``ref`` citing no provision
of the agreement and an ``applied_by`` naming no setting.

Checks on a directory: two versions with one effective date, and published files whose
sha256 differs from ``versions.lock`` (a published version never changes), and files the lock records that are
gone (a published version is never removed).
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import unicodedata
import datetime as dt
import difflib
import zoneinfo
from decimal import Decimal
from zoneinfo import ZoneInfo
from pathlib import Path

from ..cache import file_digest
from ..calendar import calendar_month
from ..errors import Diagnostic, PluginError, SlapolicyError, lookalike_note, shell_word
from ..files import FileProblem, read_limited
from .load import MAX_POLICY_BYTES
from .lock import LOCK_FILE, among_versions, kept_by_family, under_drafts
from .model import _place, node_at, not_a_zone


def _interval(tier) -> str:
    low = "(-∞" if tier.lower is None else ("[" if tier.lower_inclusive else "(") + f"{tier.lower} %"
    high = "+∞)" if tier.upper is None else f"{tier.upper} %" + ("]" if tier.upper_inclusive else ")")
    return f"{low}, {high}"


def _overlap(a, b) -> bool:
    """Do two tiers share at least one availability value?"""
    def below_upper(value, inclusive_value, tier):
        if tier.upper is None or value is None:
            return True
        return value < tier.upper or (value == tier.upper and inclusive_value and tier.upper_inclusive)

    return below_upper(b.lower, b.lower_inclusive, a) and below_upper(a.lower, a.lower_inclusive, b)


def lint_tiers(policy) -> list[Diagnostic]:
    doc, found = policy.doc, []
    tiers = sorted(policy.tiers, key=lambda t: (Decimal("-1") if t.lower is None else t.lower, not t.lower_inclusive))
    for i, a in enumerate(policy.tiers):
        if a.lower is not None and a.upper is not None and (a.lower > a.upper or (
                a.lower == a.upper and not (a.lower_inclusive and a.upper_inclusive))):
            found.append(doc.diagnostic(("compensation", "tiers", i), "tier-empty",
                                        f"tier {i + 1} ({a.ref}) {_interval(a)} contains no availability value"))
        for j, b in enumerate(policy.tiers[i + 1:], start=i + 1):
            if _overlap(a, b):
                found.append(doc.diagnostic(("compensation", "tiers", j), "tier-overlap",
                                            f"tier {j + 1} {_interval(b)} overlaps tier {i + 1} {_interval(a)} ({b.ref}): "
                                            "one availability would match two credits"))
    # Gaps: walking up from the lowest availability a Service Month can have, each tier must start where the previous
    # one ended. That is 0 %, or below it where the zone moves its clocks back: more minutes elapse (and can fail)
    # than the Total Minutes (§1.6, docs/readings.md), and a tier starting at 0 % would pay nothing for such a month.
    if tiers and tiers[0].lower is not None and tiers[0].lower > 0:
        first = tiers[0]
        found.append(doc.diagnostic(("compensation", "tiers", first.index), "tier-gap",
                                    f"no tier covers availability below {first.lower} % ({first.ref})"))
    elif tiers and tiers[0].lower is not None and any(more > 0 for _, more in _clock_changes(policy)):
        first = tiers[0]
        # An error for a draft (validate, publish), a warning for a version published among a family's versions: its
        # terms are what was agreed and stay served (an error stopped the whole family, every month of it, once this
        # check came in after it was locked); an amendment is what changes them.
        published = policy.status == "published" and not under_drafts(policy.path) and \
            among_versions(policy.path)
        remedy = ("Amend it with a version whose lowest tier has no lower bound" if published else
                  "Remove the tier's lower bound")
        found.append(doc.diagnostic(("compensation", "tiers", first.index), "tier-gap",
                                    f"no tier covers availability below {first.lower} % ({first.ref}), which a Service "
                                    f"Month can have: {policy.timezone} changes its clocks, and in the month they go "
                                    "back more minutes elapse, each of which can be unavailable, than its Total Minutes "
                                    f"({policy.ref('service_month', 'total_minutes')}); there this version "
                                    f"{'pays' if published else 'would pay'} no credit. {remedy}",
                                    severity="warning" if published else "error"))
    for a, b in zip(tiers, tiers[1:]):
        if a.upper is None or b.lower is None or _overlap(a, b):
            continue
        if a.upper < b.lower or (a.upper == b.lower and not a.upper_inclusive and not b.lower_inclusive):
            gap_low = ("(" if a.upper_inclusive else "[") + f"{a.upper} %"
            gap_high = f"{b.lower} %" + (")" if b.lower_inclusive else "]")
            found.append(doc.diagnostic(("compensation", "tiers", b.index), "tier-gap",
                                        f"no tier covers availability in {gap_low}, {gap_high} between tier {a.index + 1} "
                                        f"and tier {b.index + 1} ({b.ref})"))
    return found


# The Service Months a term gives (§1.2, §1.6: days × 1,440 minutes): from a partial month of one day to a whole one
# of 31. Availability is 1 − unavailable minutes / total minutes: in any month, one of finitely many values.
MONTH_MINUTES = tuple(days * 1440 for days in range(1, 32))


def _holds_a_month(tier) -> bool:
    """Does some Service Month (of :data:`MONTH_MINUTES`) have an availability, 100 × (1 − k / N) for k of its N
    minutes unavailable, inside ``tier``?"""
    low, high = tier._exact_bounds
    for total in MONTH_MINUTES:
        # availability ≥ low ⇔ k ≤ N (1 − low / 100); ≤ high ⇔ k ≥ N (1 − high / 100); strict bounds exclude equality
        most = total if low is None else total * (1 - low / 100)
        least = 0 if high is None else total * (1 - high / 100)
        k_most = math.floor(most) - (1 if low is not None and not tier.lower_inclusive and most == math.floor(most) else 0)
        k_least = math.ceil(least) + (1 if high is not None and not tier.upper_inclusive and least == math.ceil(least) else 0)
        if max(k_least, 0) <= min(k_most, total):
            return True
    return False


def lint_tier_grid(policy) -> list[Diagnostic]:
    """A tier no Service Month can fall in: availability moves in steps of one minute of the month, at least
    1/44,640 (0.00224 %) of a 31-day month, so a tier narrower than that between two steps never applies."""
    return [policy.doc.diagnostic(("compensation", "tiers", tier.index), "tier-unreachable",
                                  f"tier {tier.index + 1} {_interval(tier)} ({tier.ref}) holds no availability a Service "
                                  "Month can have: with 1,440 to 44,640 minutes in a month (§1.6), availability moves "
                                  "in steps of one minute, at least 0.00224 %, and none falls inside this tier, so it "
                                  "never applies", severity="warning")
            for tier in policy.tiers if not _empty(tier) and not _holds_a_month(tier)]


def _empty(tier) -> bool:
    """Said as ``tier-empty`` by :func:`lint_tiers`."""
    return tier.lower is not None and tier.upper is not None and (tier.lower > tier.upper or (
        tier.lower == tier.upper and not (tier.lower_inclusive and tier.upper_inclusive)))


def lint_gate(policy) -> list[Diagnostic]:
    """Report the part of each tier that the compensation gate can never pay."""
    if policy.gate != "below_standard":
        return []
    standard, inclusive_met = policy.standard, policy.standard_met_when == "at_least"
    gate_ref, standard_ref = policy.ref("compensation", "gate"), policy.ref("availability", "standard")
    found = []
    for tier in policy.tiers:
        # The gate pays availability < standard (met at_least) or <= standard (met above).
        if tier.upper is not None and (tier.upper < standard or (tier.upper == standard and (inclusive_met or not tier.upper_inclusive))):
            continue
        if tier.lower is not None and (tier.lower > standard or (tier.lower == standard and inclusive_met)):
            part, whole = _interval(tier), True
        else:
            low = ("[" if inclusive_met else "(") + f"{standard} %"
            high = "+∞)" if tier.upper is None else f"{tier.upper} %" + ("]" if tier.upper_inclusive else ")")
            part, whole = f"{low}, {high}", False
        what = "is entirely unreachable" if whole else f"is unreachable in {part}"
        found.append(policy.doc.diagnostic(
            ("compensation", "tiers", tier.index), "tier-unreachable",
            f"tier {tier.index + 1} {_interval(tier)} ({tier.ref}) {what}: the gate ({gate_ref}) pays only when availability "
            f"is below the standard of {standard} % ({standard_ref}), so there the tier matches but nothing is owed",
            severity="warning"))
    return found


def _clause_number(clause_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in clause_id.split("."))


def lint_clauses(policy) -> list[Diagnostic]:
    doc, found, seen = policy.doc, [], {}
    for clause in policy.clauses:
        where = ("disclaimers", clause.index)
        if clause.id in seen:
            found.append(doc.diagnostic(where + ("id",), "duplicate-clause",
                                        f"clause id {clause.id} is used twice (first as disclaimer {seen[clause.id] + 1})"))
        seen.setdefault(clause.id, clause.index)
        if not clause.examples:
            found.append(doc.diagnostic(where + ("examples",), "no-examples",
                                        f"clause {clause.id} ({clause.ref}) has no examples: `slapolicy test` cannot check it"))
        if clause.ref != f"§{clause.id}" and not clause.ref.startswith(f"§{clause.id},"):
            found.append(doc.diagnostic(where + ("ref",), "clause-ref",
                                        f"clause {clause.id} cites {clause.ref}; expected §{clause.id}", severity="warning"))
    numbers = sorted(_clause_number(c.id) for c in policy.clauses)
    for a, b in zip(numbers, numbers[1:]):
        if len(a) == len(b) and a[:-1] == b[:-1] and b[-1] > a[-1] + 1:
            missing = ".".join(map(str, a[:-1] + (a[-1] + 1,)))
            index = next(c.index for c in policy.clauses if _clause_number(c.id) == b)
            found.append(doc.diagnostic(("disclaimers", index, "id"), "clause-missing",
                                        f"no clause {missing} between {'.'.join(map(str, a))} and {'.'.join(map(str, b))}",
                                        severity="warning"))
    return found


@functools.cache
def iana_zones() -> frozenset:
    """The zones of the IANA database, the same list on every machine (the tzdata package's). zoneinfo also opens
    files of this machine's own: ``localtime`` (its local zone), ``posixrules``, ``right/…`` (counting leap
    seconds, 27 s off) and ``Factory`` (no zone at all), with which one file would evaluate differently on another
    machine."""
    try:
        import importlib.resources  # only a check not yet recorded reads the list

        names = importlib.resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    except (ModuleNotFoundError, OSError):
        names = zoneinfo.available_timezones()
    return frozenset(names) - {"Factory", "localtime", "posixrules"}


def lint_timezone(policy) -> list[Diagnostic]:
    if policy.timezone in iana_zones():
        return []
    return [policy.doc.diagnostic(("timezone", "value"), "bad-timezone", not_a_zone(policy.timezone))]


def _clock_changes(policy) -> list[tuple[str, int]]:
    """(month, minutes that elapse in it beyond its Total Minutes, negative when fewer) of each month of the year the
    version takes effect in which its zone changes its clocks; none for a name that is not a zone (bad-timezone)."""
    if policy.timezone not in iana_zones():
        return []
    year = policy.effective_from.year
    changed = []
    for number in range(1, 13):
        month = calendar_month(f"{year:04d}-{number:02d}")
        first, last = month.epoch_minutes(policy.timezone)
        if last - first != month.total_minutes:
            changed.append((month.label, last - first - month.total_minutes))
    return changed


def lint_clock_changes(policy) -> list[Diagnostic]:
    """``clock-change``, a warning at the timezone when it changes its clocks in the year the version takes effect:
    a Service Month's Total Minutes stay days × 1,440 (§1.6) while every minute that elapses is a statistics point
    (§1.5), so the month the clocks go forward has 60 fewer minutes that can fail and the month they go back 60 more,
    where availability can fall below 0 % (docs/readings.md, "§1.6 Months in which the clocks change"). Said with
    the months, for legal to agree to or to choose a zone that keeps one offset."""
    year = policy.effective_from.year
    changed = _clock_changes(policy)
    if not changed:
        return []
    told = " and ".join(f"{abs(more)} {'more' if more > 0 else 'fewer'}{' minutes elapse' if not i else ''} in {label}"
                        for i, (label, more) in enumerate(changed))
    total_ref = policy.ref("service_month", "total_minutes")
    return [policy.doc.diagnostic(
        ("timezone", "value"), "clock-change",
        f"{policy.timezone} changes its clocks: in {year}, {told} than their Total Minutes, days × 1,440 "
        f"({total_ref}); each minute that elapses is a statistics point, so in a month with more, availability can "
        "fall below 0 %. Keep the zone if that is agreed, or name one that keeps one UTC offset all year",
        severity="warning")]


def lint_dates(policy) -> list[Diagnostic]:
    found, doc = [], policy.doc
    if policy.effective_from.day != 1:
        following = calendar_month(f"{policy.effective_from:%Y-%m}").end + dt.timedelta(days=1)
        # A Service Month is governed by the version in force on its first day, which a term cut after the 1st moves.
        found.append(doc.diagnostic(("effective_from",), "mid-month",
                                    f"effective_from {policy.effective_from} is not the first of a month: the version governs "
                                    f"from the next Service Month, {following:%Y-%m} (§6.2), and the partial Service Month "
                                    f"of a term that begins between {policy.effective_from} and the month's end",
                                    severity="warning"))
    in_drafts = under_drafts(policy.path)
    if policy.status == "published" and not in_drafts:
        if Path(policy.path).stem != policy.effective_from.isoformat() and not superseded_name(policy) \
                and not kept_name(policy):
            # Outside a family (no lock beside it) the file is as likely a draft saying published (a copy of a
            # published version, edited on a desktop): renaming it would not make it one.
            draft = ("" if among_versions(policy.path) else "; if it is a draft, write status: draft (only `slapolicy "
                     "publish` makes a version published)")
            found.append(doc.diagnostic(("effective_from",), "file-name",
                                        f"file is named {Path(policy.path).name} but effective_from is {policy.effective_from}: "
                                        f"a published version is named {policy.effective_from}.yaml{draft}"))
        # An error: two published versions could otherwise carry one label (a copy with only
        # effective_from changed), and every report names versions by label.
        found += filter(None, [version_label_problem(policy)])
    else:
        # A draft may carry any label while it is replayed or reviewed, but `publish` refuses one that is not its
        # date: said when the draft is checked, not first when it is published.
        found += filter(None, [version_label_problem(policy, severity="warning")])
    if policy.status == "published" and in_drafts:
        # drafts/ holds drafts: the file says published what is not (render, show and a redline print "(published)"
        # for it), and only `publish` makes a version published, setting the status itself.
        found.append(doc.diagnostic(("status",), "draft-status",
                                    "status is published, but a file under drafts/ is a draft: a version is "
                                    "published only by `slapolicy publish`, which writes it among the published "
                                    "versions with status: published; write status: draft (a published version moved here "
                                    "goes back among the published versions: validate names it)"))
    if policy.status == "draft" and not in_drafts and among_versions(policy.path):
        # Only among a family's versions (beside its lock): a draft kept in a folder of its own (a desktop, a
        # review's folder) is no version of any family, and `validate DRAFT` checks what it says.
        found.append(doc.diagnostic(("status",), "draft-published",
                                    "a draft belongs under drafts/, not among the published versions"))
    return found


def superseded_name(policy) -> bool:
    """Whether ``policy`` is named as a correction keeps a superseded encoding, ``superseded/<effective_from>.<the first
    12 hex digits of its sha256>.yaml`` (docs/policy-format.md, "Correcting an encoding"): its name is not its date,
    and it is no misnamed version. Whether the family's lock records it is the family's check (lint_directory)."""
    path = Path(os.path.abspath(policy.path))
    return path.parent.name == "superseded" and path.name == f"{policy.effective_from}.{policy.sha256[:12]}.yaml"


def kept_name(policy) -> bool:
    """Whether ``policy`` is named as a correction names the encoding it keeps, ``<date>.<12 hex digits>.yaml``, in
    the ``superseded/`` of a family (lock.kept_by_family): whether its bytes are still those kept is then the lock's to
    say (superseded_problem, an error), not its name's. Edited since it was kept, its name no longer begins with its
    sha256 (nor with its effective_from, where that was edited), and it was told it was a misnamed published version,
    to be renamed 2019-01-01.yaml."""
    # Any date: an edit of its effective_from is the lock's to say too, not a name to change
    return kept_by_family(policy.path) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\.[0-9a-f]{12}\.yaml",
                                                        Path(policy.path).name) is not None


# Diagnostics about where a file sits in a family's directory, not about what it says: a draft
# rendered, diffed or published from anywhere is judged by its content alone.
PLACEMENT_CODES = frozenset({"draft-published", "draft-status", "file-name"})


def lint_calendar(policy) -> list[Diagnostic]:
    """§3.2's business calendar must be one a plugin provides: found at `validate`, not at the first claim."""
    # The claims' modules (numpy with them, ~0.05 s) only where a policy's checks run: show, diff and test read a
    # version whose checks are recorded (policy/check_record.py) without them.
    from ..claims.window import business_calendar  # the checks' only (see above)

    try:
        business_calendar(policy)
    except PluginError:
        raise  # the plugins cannot be loaded at all: that is no fault of this policy's calendar
    except SlapolicyError as exc:
        return [policy.doc.diagnostic(("claims", "business_calendar", "value"), "unknown-calendar", str(exc))]
    return []


def lint_claim_window(policy) -> list[Diagnostic]:
    """§3.2: a claim window that closes no later than it opens (claims.window_closes within the days the opening
    waits for) denies every claim of its month as too early or too late. Checked on the twelve Service Months of
    the year the version takes effect, in its business calendar (loaded: :func:`lint_calendar` found it)."""
    from ..claims.window import business_calendar, claim_window, ordinal  # see lint_calendar

    year, calendar = policy.effective_from.year, business_calendar(policy)
    closes = policy.raw["claims"]["window_closes"]
    windows = [(month, claim_window(policy, month, calendar))
               for month in (calendar_month(f"{year:04d}-{m:02d}") for m in range(1, 13))]
    empty = [(month, window) for month, window in windows if window.closes <= window.opens]
    if not empty:
        return []
    month, window = empty[0]
    days = closes["calendar_days_after_end"]
    return [policy.doc.diagnostic(
        ("claims", "window_closes", "calendar_days_after_end"), "claim-window-empty",
        f"the claim window of Service Month {month.label} closes at the end of the {ordinal(days)} calendar day after "
        f"the month ({closes['ref']}), {window.last_day}, no later than it opens at {window.opens.isoformat()} "
        f"({policy.ref('claims', 'window_opens')}): no claim for that month can be filed in time ({len(empty)} of "
        f"the 12 Service Months of {year})", severity="warning")]


def _cited(node, path=()):
    """(path of a ``ref``, its text) for every ``ref`` in ``node``, outside ``provisions:`` (where refs are defined)."""
    if isinstance(node, dict):
        if isinstance(node.get("ref"), str):
            yield path + ("ref",), node["ref"]
        for key, value in node.items():
            if not (path == () and key == "provisions"):
                yield from _cited(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _cited(value, path + (index,))


def lint_citations(policy) -> list[Diagnostic]:
    """With the agreement's own provisions in the file, each ``ref`` cites one of them (or a §5 clause) and each
    ``applied_by`` names a setting of the file. Otherwise a citation of §9.9, or of §3.7 where §3.2 was meant,
    is shown to the reader as is by `show` and `render`, and a misspelt path leaves the setting out of the
    provision that `render` prints. A version without ``provisions:`` has nothing to check them against."""
    provisions = policy.raw.get("provisions")
    if not isinstance(provisions, list) or not provisions:
        return []
    doc = policy.doc
    # A §5 clause keeps the agreement's words beside its condition: its id and its ref are provisions too (a ref
    # that differs from its id is warned about by lint_clauses).
    known = ({entry["ref"] for entry in provisions} | {f"§{clause.id}" for clause in policy.clauses}
             | {part for clause in policy.clauses for part in clause.ref.split(", ")})
    found = []
    for path, ref in _cited(policy.raw):
        unknown = [part for part in ref.split(", ") if part not in known]
        if unknown:
            found.append(doc.diagnostic(path, "unknown-ref",
                                        f"{_place(path[:-1])} cites {', '.join(unknown)}, which is not a provision of "
                                        "this agreement (provisions:) nor a clause of §5 (disclaimers:)"))
    for i, entry in enumerate(provisions):
        for j, dotted in enumerate(entry.get("applied_by", [])):
            if node_at(policy.raw, dotted) is None:
                near = difflib.get_close_matches(dotted, list(_settings(policy.raw)), n=1, cutoff=0.8)
                found.append(doc.diagnostic(("provisions", i, "applied_by", j), "unknown-setting",
                                            f"provision {entry['ref']} is applied_by {dotted}, which is not a setting "
                                            "of this document: " + (f"did you mean {near[0]}?" if near else
                                                                    "give its dotted path, like claims.window_closes")))
    return found


def _settings(node, path=""):
    """The dotted path of every key of the document's mappings, as ``applied_by`` names a setting (outside
    ``provisions:``)."""
    for key, value in node.items() if isinstance(node, dict) else ():
        if not (not path and key == "provisions"):
            yield path + key
            yield from _settings(value, path + key + ".")


# How words write a percentage after its number: "99.5%", "99.5 %", and spelled out, "99.5 per cent", "percent",
# "per-cent", "per centum" (any case). Read as "%" alone, words that spelled it out stated no percentage, and a standard
# raised to 99.9 % under "not be less than 99.5 per cent" passed validate without a word.
PERCENT_SIGN = r"\s*(?:%|per[\s-]?cent(?:um)?\b)"
_PERCENTS = re.compile(rf"(?<![0-9.])([0-9]+(?:\.[0-9]+)?){PERCENT_SIGN}", re.IGNORECASE)
_NUMBERS = re.compile(r"(?<![0-9.,])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?![0-9.,]*[0-9])")


def lint_words_agree(policy) -> list[Diagnostic]:
    """A provision's words and the settings that apply it (``applied_by``) say the same numbers: a percentage
    setting (the standard, the threshold of an unavailable minute) is among the percentages its provision's text
    states, and a whole-number parameter among its whole numbers, when the text states any. An amendment that changed
    the setting and not the words (the standard raised to 99.95 % under words still saying "not be less than 99.5%")
    is evaluated by the one and read by legal, `show` and `render` in the other."""
    provisions = policy.raw.get("provisions")
    if not isinstance(provisions, list):
        return []
    found = []
    for i, entry in enumerate(provisions):
        text = _ITEM.sub("", entry.get("text") or "")
        for dotted in entry.get("applied_by", []):
            for setting, value, whole in _applied(dotted, node_at(policy.raw, dotted)):
                said = _said(str(value), whole, text)
                if said:
                    found.append(policy.doc.diagnostic(("provisions", i, "text"), "words-disagree",
                                                       f"provision {entry['ref']} says {said}, but {setting}, which "
                                                       f"applies it (applied_by), is {value}: amend the words with the "
                                                       "setting, or the setting with the words", severity="warning"))
    return found + _tier_words_disagree(policy)


# A time of day a description states ("At 00:00 on the day after the 5th business day"): no count it states.
_CLOCK_TIME = re.compile(r"(?<![0-9])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?![0-9])")


def lint_descriptions_agree(policy) -> list[Diagnostic]:
    """A setting's own ``description`` and its values say the same numbers, as a provision's words and the settings
    applying it do (:func:`lint_words_agree`, the same numbers compared): the standard raised to 99.9 % under its
    description still saying "met when availability is 99.5 % or more", or the claim window made 90 days under "the
    60th calendar day", passed validate and publish without a word, and `render` prints the description beside the
    value as what the setting means."""
    found = []
    for dotted in _settings(policy.raw):
        node = node_at(policy.raw, dotted)
        described = node.get("description") if isinstance(node, dict) else None
        if not isinstance(described, str):
            continue
        for setting, value, whole in _applied(dotted, node):
            said = _said(str(value), whole, _CLOCK_TIME.sub("", described))
            if said:
                found.append(policy.doc.diagnostic((*dotted.split("."), "description"), "words-disagree",
                                                   f"the description of {dotted} says {said}, but {setting} is {value}: "
                                                   "amend the description with the setting (`render` prints it beside "
                                                   "the setting, as what it means)", severity="warning"))
    return found


# A provision's own item number, "(2) The latest deadline ...": no number it states.
_ITEM = re.compile(r"^\s*\([0-9]+\)")


def _applied(dotted: str, node):
    """(setting, value, whether a whole number is compared) of each value a setting applying a provision holds: its
    ``value`` (a percentage; a whole number of ``parameters``), or, a setting of several keys and no ``value`` (the
    claim window's ``calendar_days_after_end: 60`` and ``after_business_days: 5``), each whole number among them:
    §3.2(2)'s deadline raised to 90 days under words still saying "sixty (60) calendar days" passed validate
    without a word."""
    if isinstance(node, dict) and "value" not in node:
        for key, value in node.items():
            if isinstance(value, int) and not isinstance(value, bool):
                yield f"{dotted}.{key}", value, True
        return
    value = node.get("value") if isinstance(node, dict) else node
    if not isinstance(value, bool) and isinstance(value, (int, str)):
        yield dotted, value, dotted.startswith("parameters.")
    for key in STATED_COUNTS:  # beside a value: §6.1's months, beside aggregate_cap's fees_paid
        count = node.get(key) if isinstance(node, dict) else None
        if isinstance(count, int) and not isinstance(count, bool):
            yield f"{dotted}.{key}", count, True


# The counts the agreement states in words held beside a setting's ``value``: §6.1's months ("more than 12 months
# ... in the past 12 months") beside ``aggregate_cap: fees_paid``. A lookback shortened to 6 alone passed validate.
STATED_COUNTS = ("lookback_months", "after_months_of_use")
_TIER_BOUNDS = (("at_least", "lower bound"), ("above", "lower bound"), ("below", "upper bound"),
                ("at_most", "upper bound"), ("credit", "credit"))


def _tier_words_disagree(policy) -> list[Diagnostic]:
    """A tier's own words (its ``text``, "Less than 99% but equal to or higher than 95%: 25% of Monthly Service Fee")
    state its bounds and its credit: each is among the percentages the words state, when they state any. A credit
    raised to 30 % under words still saying 25 % was rendered beside a table paying 30 %, without a word.

    Where the words tell which percentage is which (:func:`_tier_said`: "25% of Monthly Service Fee" is the credit,
    "equal to or higher than 95%" an inclusive lower bound), each setting is compared with the words of its own role:
    a credit raised to 95 %, a bound moved to 25 % (percentages the words state, in another role), a lower bound made
    ``above`` under "equal to or higher than" (a month at exactly that availability falls in this tier by the words
    and in the next by the setting), or a bound removed that the words still state, passed the comparison of
    percentages alone."""
    tiers = policy.raw.get("compensation", {}).get("tiers")
    found = []
    for i, (raw, tier) in enumerate(zip(tiers if isinstance(tiers, list) else [], policy.tiers)):
        text = raw.get("text") if isinstance(raw, dict) else None
        if not isinstance(text, str):
            continue

        def disagree(says: str, but: str) -> None:
            found.append(policy.doc.diagnostic(
                ("compensation", "tiers", i, "text"), "words-disagree",
                f"compensation tier {i + 1} ({tier.describe()}) says {says}, but {but}: amend the words with the "
                "setting, or the setting with the words", severity="warning"))

        stated = _tier_said(text)
        for key, what in _TIER_BOUNDS:
            value = raw.get(key)
            said = _said(value, False, text) if isinstance(value, str) else None
            if said:
                *others, last = said.split(" and ")
                disagree(f"{', '.join(others)}{' and ' if others else ''}{last}", f"its {what} is {value}")
            elif isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?%", value):
                said_otherwise = _role_disagrees(key, Decimal(value[:-1]), stated)
                if said_otherwise:
                    disagree(" and ".join(f'"{phrase}"' for phrase, _ in said_otherwise),
                             f"its credit is {value}" if key == "credit" else
                             f"its {what} is {key}: \"{value}\"" + _included(key, value, said_otherwise))
        for side, keys, what in (("lower", ("at_least", "above"), "lower bound"),
                                 ("upper", ("below", "at_most"), "upper bound")):
            if not any(key in raw for key in keys):
                told = [phrase for _, phrase, role in stated if role in keys]
                if told:
                    disagree(" and ".join(f'"{phrase}"' for phrase in told), f"it has no {what}")
    return found


# How a tier's words state a bound, said just before its percentage: (the setting that says it, the words), the
# inclusive ones first ("equal to or higher than" ends in "higher than").
_BOUND_WORDS = (
    ("at_least", r"equal to or (?:higher|greater|more) than|(?:higher|greater|more) than or equal to|at least|"
                 r"not (?:less|lower) than|no (?:less|lower) than|≥|>="),
    ("at_most", r"equal to or (?:lower|less) than|(?:lower|less) than or equal to|at most|not (?:more|higher|greater) "
                r"than|no (?:more|higher|greater) than|up to|≤|<="),
    ("below", r"(?:less|lower) than|below|under|<"),
    ("above", r"(?:higher|greater|more) than|above|over|exceeding|>"),
)
_BOUND_SAID = tuple((key, re.compile(rf"(?:{words})\s*$", re.IGNORECASE)) for key, words in _BOUND_WORDS)
_CREDIT_SAID = re.compile(r"\s*of\b[^,;:.()]*", re.IGNORECASE)  # "25% of Monthly Service Fee"
_LOWER, _UPPER = ("at_least", "above"), ("below", "at_most")


def _tier_said(text: str) -> list[tuple[Decimal, str, str | None]]:
    """(percentage, the words stating it, its role) of each percentage a tier's words state: ``credit`` ("25% of
    Monthly Service Fee"), the setting of a bound its words say ("equal to or higher than 95%": ``at_least``), or
    None where the words do not tell ("between 95% and 99%")."""
    stated = []
    text = as_digits(text)
    for match in _PERCENTS.finditer(text):
        credit = _CREDIT_SAID.match(text, match.end())
        if credit:
            stated.append((Decimal(match[1]), (match[0] + credit[0]).strip(), "credit"))
            continue
        before = text[:match.start()]
        role = next(((key, said) for key, pattern in _BOUND_SAID if (said := pattern.search(before))), None)
        if role is None:
            stated.append((Decimal(match[1]), match[0], None))
        else:
            stated.append((Decimal(match[1]), text[role[1].start():match.end()], role[0]))
    return stated


def _role_disagrees(key: str, value: Decimal, stated: list) -> list[tuple[str, str]]:
    """The words stating the role of ``key`` (a tier's setting) that disagree with its percentage ``value``, as
    (words, role): none where the words state ``value`` in ``key``'s role, or never tell which role
    (:func:`_tier_said`). A credit is compared with the words' credit; a bound with the words' bounds: those stating
    ``value`` on its side (lower, upper) but inclusive where it is not, or the other way round, else all of them."""
    roles = [role for amount, _, role in stated if amount == value]
    if key == "credit":
        return [] if "credit" in roles else [(phrase, role) for _, phrase, role in stated if role == "credit"]
    if key in roles or None in roles:
        return []
    side = _LOWER if key in _LOWER else _UPPER
    same = [(phrase, role) for amount, phrase, role in stated if amount == value and role in side]
    return same or [(phrase, role) for _, phrase, role in stated if role not in ("credit", None)]


def _included(key: str, value: str, said: list[tuple[str, str]]) -> str:
    """What a bound inclusive in the words and not in the setting (or the other way round) moves: a Service Month at
    exactly the bound falls in this tier by the one and not by the other."""
    if not said or any(role == key or role not in (_LOWER if key in _LOWER else _UPPER) for _, role in said):
        return ""
    setting_includes = key in ("at_least", "at_most")
    return (f", which {'includes' if setting_includes else 'excludes'} {value} itself: a Service Month at exactly "
            f"{value} falls in this tier by the {'setting' if setting_includes else 'words'} and not by the "
            f"{'words' if setting_includes else 'setting'}")


_STATED = re.compile(rf"(?<![0-9.,§])([0-9]+(?:\.[0-9]+)?)(?![0-9.,]*[0-9])(?!{PERCENT_SIGN})", re.IGNORECASE)


def lint_clause_words_agree(policy) -> list[Diagnostic]:
    """A §5 clause's words (``text``) and its condition say the same numbers: each number the condition compares a
    fact with (written in it, or a parameter's, ``{param: NAME}``) is among the numbers its words state, when they
    state any. A new user's first amendment of §5.7 ("concurrent volume of 5.0QPS and above", compared with
    ``parameters.concurrency_threshold_qps``) raised the one and not the other, and validate, test and publish said
    nothing: words raised alone left the old number deciding every minute, its examples still passing."""
    parameters = policy.raw.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    found = []
    for clause in policy.clauses:
        stated = {Decimal(n): n for n in _STATED.findall(as_digits(clause.text or ""))}
        if not stated:
            continue
        for fact, value, source in _compared_numbers(policy.raw["disclaimers"][clause.index].get("when"), parameters):
            if value not in stated:
                found.append(policy.doc.diagnostic(
                    ("disclaimers", clause.index, "text"), "words-disagree",
                    f"clause {clause.id} says {' and '.join(stated.values())}, but its condition compares {fact} with "
                    f"{source}: amend the words with the setting, or the setting with the words", severity="warning"))
    return found


def _compared_numbers(node, parameters: dict):
    """(fact, value, how it is written) for each number a condition compares a fact with: a number written in it, or
    a parameter's value (``10.0 (parameters.concurrency_threshold_qps)``)."""
    if isinstance(node, list):
        for item in node:
            yield from _compared_numbers(item, parameters)
    elif isinstance(node, dict):
        if isinstance(node.get("fact"), str):
            for op in ("equals", "not_equals", "at_least", "above", "below", "at_most"):
                value, source = node.get(op), None
                if isinstance(value, dict) and isinstance(value.get("param"), str):
                    name = value["param"]
                    setting = parameters.get(name)
                    value = setting.get("value") if isinstance(setting, dict) else setting
                    source = f"parameters.{name}"
                if isinstance(value, bool) or not isinstance(value, (int, str)):
                    continue
                if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", str(value)):
                    continue
                yield node["fact"], Decimal(str(value)), f"{value} ({source})" if source else f"{value}"
        for key in ("all", "any", "not", "when"):
            yield from _compared_numbers(node.get(key), parameters)


def as_digits(text: str) -> str:
    """``text`` with its numbers in the digits and signs the checks of words read: a text typed with a Chinese or
    Japanese input method writes "95％" or "９５%" (full width), which the words checks did not see as 95 %, and said
    the words state other numbers than the setting's when they state the same."""
    return unicodedata.normalize("NFKC", text)


def _said(value: str, whole: bool, text: str) -> str | None:
    """The numbers of ``text`` of the kind ``value`` is, when ``value`` is not among them (None: it is, or the text
    states none of that kind, or ``value`` is of no kind compared: only percentages, and whole numbers where
    ``whole``: a parameter's, a count of days)."""
    read = as_digits(text)
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?%", value):
        found = list(_PERCENTS.finditer(read))
        wanted = Decimal(value[:-1])
    elif whole and re.fullmatch(r"[0-9]+", value):
        found = list(_NUMBERS.finditer(read))
        wanted = Decimal(value)
    else:
        return None
    stated = [Decimal(match[1].replace(",", "")) for match in found]
    if not stated or wanted in stated:
        return None
    # quoted as the words write them ("99.5 %", "99.5 per cent", "９５%"): a search of the file for the quote finds them
    return " and ".join(dict.fromkeys(as_written(text, match) for match in found))


def as_written(text: str, match: re.Match) -> str:
    """The characters of ``text`` that ``match`` (a match in :func:`as_digits` of ``text``) matched, as ``text`` writes
    them: a warning that quoted "99.5%" for words written "99.5 %" or "99.5 per cent" sent a search of the file for the
    quote to nothing. Each character normalized alone gives the offsets; where that is not how the whole text
    normalizes (a character composed with the next), or the match begins or ends inside one character's expansion,
    the match as read."""
    ends, read = [0], ""
    for char in text:
        read += as_digits(char)
        ends.append(len(read))
    if read != match.string:
        return match[0]
    try:
        return text[ends.index(match.start()):ends.index(match.end())]
    except ValueError:
        return match[0]


def lint_policy(policy, run_examples: bool = True) -> list[Diagnostic]:
    """Every lint check; ``run_examples=False`` leaves out the warnings for rules no example exercises, which
    need every example run (0.1 s, and the holiday calendar loaded): loading a version to evaluate under it
    needs its errors, not those warnings."""
    calendar = lint_calendar(policy)
    # the claim window's examples need the calendar
    untested = []
    if run_examples and not calendar:
        # running the examples: a version read to evaluate under never does
        from .examples import untested_rules, worked_example_disagrees  # (above)

        # the calendar loaded, as the examples load it; the agreement's own worked example computed by the engine as theirs
        untested = untested_rules(policy) + lint_claim_window(policy) + worked_example_disagrees(policy)
    return (lint_tiers(policy) + lint_tier_grid(policy) + lint_gate(policy) + lint_clauses(policy) + lint_dates(policy) + lint_timezone(policy)
            + lint_clock_changes(policy) + lint_citations(policy) + lint_words_agree(policy) + lint_clause_words_agree(policy)
            + lint_descriptions_agree(policy) + calendar + untested)


def misnamed_versions(path: Path, severity: str = "error") -> list[Diagnostic]:
    """Files that look like versions but are not read as one (``2024-01-01.yml``, ``2024-01-01.YAML``):
    silently skipping them would evaluate without the version legal meant to publish."""
    return [Diagnostic(str(file), 1, 1, severity, "not-read",
                       f"ends in {file.suffix!r}: only files ending in '.yaml' are read as policy versions; rename it "
                       "or move it out of the directory")
            for file in sorted(path.iterdir()) if _looks_like_yaml(file.name) and file.suffix != ".yaml"]


def _looks_like_yaml(name: str) -> bool:
    """``x.yml``, ``x.YAML``, and ``x.yaml`` followed by a space or an invisible character (copied from a mail or
    a chat), which no listing shows."""
    return re.sub(r"[\s\u200b-\u200f\u2060\ufeff]+$", "", name).lower().endswith((".yml", ".yaml"))


# What to do about a version of another agreement, by what was being done with it: kept in the family (validate,
# lock, publish), or named to evaluate or replay the family's months under (evaluate --policy-file, replay --under,
# and their fields in the API and the service).
FAMILY_ID_ADVICE = {
    "kept": "a family holds the versions of one agreement; another agreement goes in a directory of its own",
    "evaluate": "this family's Service Months are evaluated under versions of its own agreement; give a version of "
                "{family!r}, or evaluate under {given!r} with that agreement's own policy directory",
    "replay": "this family's Service Months are replayed under versions of its own agreement, to show what an "
              "amendment of it changes; give a draft of {family!r}, or replay {given!r} with that agreement's own "
              "policy directory",
}


def family_id_message(given: str, first, doing: str = "kept") -> str:
    """A version of another agreement (``id``) among a family's, or named to be evaluated or replayed under
    (``doing``: a key of :data:`FAMILY_ID_ADVICE`): the versions of one family amend one agreement."""
    advice = FAMILY_ID_ADVICE[doing].format(family=first.id, given=given)
    return f"id {given!r} is not the family's {first.id!r} (that of {Path(first.path).name}, its first version): {advice}"


def family_id_problem(policy, first, doing: str = "kept") -> Diagnostic | None:
    """``family-id`` at ``policy``'s id when it is not that of the family whose first version is ``first`` (None: a
    family without versions): the one check for a version published, locked, evaluated or replayed under."""
    if first is None or policy.id == first.id:
        return None
    return policy.doc.diagnostic(("id",), "family-id", family_id_message(policy.id, first, doing))


def version_label_problem(policy, severity: str = "error") -> Diagnostic | None:
    """``version-label`` when a version (published, or a draft to publish) is not labelled by its effective_from;
    ``severity="warning"``: a draft checked (validate), which `publish` would refuse."""
    if policy.version == policy.effective_from.isoformat():
        return None
    if severity == "warning":
        return policy.doc.diagnostic(("version",), "version-label",
                                     f"version is {policy.version!r}, not its effective_from {policy.effective_from}: "
                                     "`slapolicy publish` refuses it, since a published version is labelled by its "
                                     f"effective_from; write version: \"{policy.effective_from}\" before publishing"
                                     f"{lookalike_note(policy.version)}", severity="warning")
    return policy.doc.diagnostic(("version",), "version-label",
                                 f"version is {policy.version!r}; a published version is labelled by its "
                                 f"effective_from: write version: \"{policy.effective_from}\"{lookalike_note(policy.version)}")


def amends_problem(policy, latest, family) -> Diagnostic | None:
    """Whether ``policy``'s ``amends:`` names ``latest``, the family's latest published version (None: the family
    holds none), as a version published after it must: an error otherwise, said alike by publish and lock.

    A draft copied from an older text and published after a newer one would silently undo the newer one's changes.
    A family's first version amends none of its versions: an ``amends:`` there names a text the family does not hold,
    which nobody can check it was copied from."""
    doc, amends = policy.doc, policy.raw.get("amends")
    if latest is None and amends is not None:
        return doc.diagnostic(("amends",), "amends-unknown",
                              f"amends {amends!r}, but {family} holds no published version: a family's first version "
                              "amends none of its versions, so nothing can show which text it was copied from. "
                              "Remove amends (the description may say what this version replaces)")
    if latest is not None and amends is None:
        return doc.diagnostic(("version",), "amends-missing",
                              f"no amends: say which version this one amends, the text it was copied from "
                              f"(the latest is {latest.version}: write amends: \"{latest.version}\")")
    if latest is not None and amends != latest.version:
        # A published version is named by its label (version-label), so the text the draft started from is there.
        started = Path(family) / f"{amends}.yaml"
        shown = (f"`slapolicy diff {started} {latest.path}` shows what it changed since {amends}"
                 if isinstance(amends, str) and started.is_file() and not started.is_symlink()
                 else "`slapolicy diff` shows what it changed")
        return doc.diagnostic(("amends",), "amends-not-latest",
                              f"amends {amends!r}, but the latest published version is {latest.version!r}: "
                              f"start from that text ({shown}) and write amends: \"{latest.version}\""
                              f"{lookalike_note(amends)}")
    return None


def amends_another(before, policy) -> Diagnostic | None:
    """``amends-not-previous``, a warning at a published version's ``amends:`` when it names a version other than
    ``before``, the one it follows (None when it names none: a family locked as it stood may predate amends).
    `publish` and `lock` refuse such a version (:func:`amends_problem`); one published all the same (by two
    publishers at once, each checking against the family before the other's version, see docs/policy-format.md)
    was written from an older text, and what ``before`` changed is in it only if carried over by hand."""
    amends = policy.raw.get("amends")
    if before is None or amends is None or amends == before.version:
        return None
    return policy.doc.diagnostic(("amends",), "amends-not-previous",
                                 f"amends {amends!r}, but the version before it is {before.version!r}: it was written "
                                 f"from another text than {before.version}'s, so what {before.version} changed holds "
                                 f"from {policy.effective_from} on only where it was carried over (`slapolicy diff "
                                 f"{before.path} {policy.path}` shows it); if it was not, "
                                 "publish an amendment that restores it", severity="warning")


def timezone_handover(before, policy) -> Diagnostic | None:
    """``timezone-change``, a warning at ``policy``'s timezone when it differs from that of ``before``, the version
    it follows: the last Service Month under ``before`` ends at midnight in one zone, the first under ``policy``
    begins at midnight in the other, so the minutes between belong to no Service Month (their unavailability counted
    in neither) or to two (counted twice). Said with the instants and the count, for legal to agree to or avoid.

    A version taking effect after the 1st governs a term's partial Service Month beginning between its date and the
    month's end (§6.2, ``mid-month``), so the handover may fall on each of those days' midnights too, where the zones'
    offsets (summer time) may differ from the 1st's: said with the count for each run of days."""
    if before is None or before.timezone == policy.timezone:
        return None
    # §6.2: the first Service Month the new version governs begins on the first 1st of a month from its date on.
    first = policy.effective_from
    first = first if first.day == 1 else (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    old, new = ZoneInfo(before.timezone), ZoneInfo(policy.timezone)

    def handover(day: dt.date) -> tuple[dt.datetime, dt.datetime, int]:
        ends, begins = (dt.datetime.combine(day, dt.time(0), tzinfo=zone) for zone in (old, new))
        return ends, begins, int((begins - ends).total_seconds()) // 60

    ends, begins, minutes = handover(first)
    term_days = [policy.effective_from + dt.timedelta(days=n) for n in range((first - policy.effective_from).days)]
    runs: list = []  # [first day, last day, minutes] of the term days in a row with the same count
    for day in term_days:
        count = handover(day)[2]
        if runs and runs[-1][2] == count:
            runs[-1][1] = day
        else:
            runs.append([day, day, count])
    if minutes == 0 and not any(count for _, _, count in runs):
        return None
    text = (f"timezone {policy.timezone} is not that of version {before.version} ({before.timezone}): the Service "
            f"Month before {first:%Y-%m} ends at {ends.isoformat()}, the first under this version begins at "
            f"{begins.isoformat()}, and {_between(minutes)}")
    if runs:
        told = "; ".join(f"{_days(low, high)}, {_between(count)}" for low, high, count in runs)
        text += (f". A service term whose first Service Month this version governs from {policy.effective_from} to "
                 f"{term_days[-1]} (§6.2) hands over at midnight of the day it begins: {told}")
    return policy.doc.diagnostic(("timezone", "value"), "timezone-change", text, severity="warning")


def _between(minutes: int) -> str:
    """What the minutes between two zones' midnights are: counted in no Service Month, in two, or none at all."""
    if minutes > 0:
        return f"the {minutes:,} minutes between belong to no Service Month: their unavailability is counted in none"
    if minutes < 0:
        return (f"the {-minutes:,} minutes between belong to two Service Months: their unavailability is counted in "
                "both")
    return "the two midnights are one instant: no minute is lost or counted twice"


def _days(low: dt.date, high: dt.date) -> str:
    return f"beginning on {low}" if low == high else f"beginning from {low} to {high}"


def lock_problem(family: Path, file: Path, content: bytes | None, lock: dict, moved: dict,
                 digest: str | None = None) -> Diagnostic | None:
    """The error of a file among the published versions of ``family`` (``content``, its bytes) that ``lock`` does not
    record as it is: ``unlocked`` (not recorded: renamed, copied in by hand, the lock gone) or ``published-changed``
    (recorded with other bytes), or None. ``moved``: :func:`moved_versions`'s. Every command reading the family refuses it
    (lint_directory); `validate` and `render` of the file alone say it too (directory.unrecorded_published)."""
    lock_path = str(family / LOCK_FILE)
    # ``digest`` without ``content``: a file too large to read as a policy, hashed a block at a time (cache.file_digest)
    digest = digest or hashlib.sha256(content).hexdigest()
    recorded = lock.get(file.name)
    if recorded is None and file in moved.values():
        name = next(name for name, there in moved.items() if there == file)
        return Diagnostic(str(file), 1, 1, "error", "unlocked",
                          f"published version not recorded: it is published version {name} renamed (its "
                          f"sha256 {digest[:12]}… is the one {LOCK_FILE} records for {name}); rename it back "
                          f"(mv {shell_word(file)} {shell_word(family / name)}), never record it again under this name")
    if recorded is None and not os.path.lexists(lock_path):
        return Diagnostic(str(file), 1, 1, "error", "unlocked",
                          f"published version not recorded: there is no {LOCK_FILE} in {family}; "
                          "restore it if it was deleted, or start the lock of a family never locked with "
                          f"`slapolicy lock --new {shell_word(family)}`")
    if recorded is None and content is not None:
        from .publish import unfinished_draft, unfinished_said  # late: publish imports this module

        if (draft := unfinished_draft(family, content)) is not None:
            return Diagnostic(str(file), 1, 1, "error", "unlocked",
                              f"published version not recorded in {LOCK_FILE}: the draft {draft} was being published "
                              f"as this file {unfinished_said(file, 'that draft')}")
    if recorded is None:
        return Diagnostic(str(file), 1, 1, "error", "unlocked",
                          f"published version not recorded in {LOCK_FILE}: publish drafts with `slapolicy publish "
                          f"{shell_word(family)} DRAFT.yaml`, or record this file with `slapolicy lock {shell_word(family)}`")
    if recorded != digest and content is not None and (rewritten := only_rewritten(content, recorded)):
        return Diagnostic(str(file), 1, 1, "error", "published-changed",
                          f"published version rewritten: its bytes differ from those recorded in {LOCK_FILE} "
                          f"only in {' and '.join(what for what, _ in rewritten)}, so nothing it says "
                          f"changed, yet its sha256 {digest[:12]}… is not the {recorded[:12]}… every decision "
                          "made under it records. Restore the published bytes ("
                          f"{''.join(how + ', or ' for _, how in rewritten if how)}git checkout -- {shell_word(file)}; "
                          "with git, `*.yaml -text` in .gitattributes keeps a checkout from rewriting them)")
    if recorded != digest:
        return Diagnostic(str(file), 1, 1, "error", "published-changed",
                          f"published version changed: sha256 {digest[:12]}… differs from {recorded[:12]}… in {LOCK_FILE}. "
                          "A published version never changes: to keep the edit, copy the file into "
                          f"{family / 'drafts'} and publish it as an amendment, with its own "
                          f"effective_from; then restore the published bytes (git checkout -- {shell_word(file)})")
    return None


def lint_directory(directory) -> list[Diagnostic]:
    """Checks across the published versions of one family."""
    found = []
    for before, policy in zip(directory.versions, directory.versions[1:]):
        found += filter(None, [timezone_handover(before, policy), amends_another(before, policy)])
    by_date: dict = {}
    for policy in directory.versions:
        other = by_date.get(policy.effective_from)
        if other is not None:
            found.append(policy.doc.diagnostic(("effective_from",), "duplicate-effective",
                                               f"effective_from {policy.effective_from} is also that of {other.path}"))
        by_date.setdefault(policy.effective_from, policy)
    first = directory.versions[0] if directory.versions else None
    for policy in directory.versions[1:]:  # another agreement's version would govern this one's months
        found += filter(None, [family_id_problem(policy, first)])
    lock = directory.read_lock()
    moved = moved_versions(directory.path, lock)
    for file in sorted(directory.path.glob("*.yaml")):
        if file.is_symlink():
            found.append(_linked(file))
        content = directory.bytes_read.get(file)  # the bytes loaded and checked, never read again (PolicyDirectory)
        if content is None and file.name in lock and not file.is_symlink():
            # not read (too large, say), reported when the version was read; a version the lock records was edited all
            # the same
            found += filter(None, [lock_problem(directory.path, file, None, lock, moved, digest=file_digest(file))])
            continue
        if content is None:
            continue  # not read: reported when the version was read
        if file in directory.not_versions and file.name not in lock:
            continue  # said to be no version at all (a file of incidents, say): recording it would be wrong advice
        found += filter(None, [lock_problem(directory.path, file, content, lock, moved)])
    found.extend(misnamed_versions(directory.path))
    for name in sorted(n for n in lock if n.startswith("superseded/")):
        kept = directory.path / name
        if kept.is_symlink():
            found.append(linked_kept(kept))
        if kept.is_file():  # a link's too: the bytes it leads to are still the lock's to judge
            found += filter(None, [superseded_problem(directory.path, kept, kept.read_bytes(), lock)])
    if lock:
        found.extend(superseded_problem(directory.path, kept, b"", lock)
                     for kept in sorted((directory.path / "superseded").glob("*.yaml"))
                     if f"superseded/{kept.name}" not in lock)
    for name in sorted(lock):
        if not os.path.lexists(directory.path / name):
            found.append(_missing(directory.path, name, moved.get(name)))
    return found


def superseded_problem(family: Path, kept: Path, content: bytes | None, lock: dict) -> Diagnostic | None:
    """What ``lock``, the lock of ``family``, says against ``kept``, a file of its ``superseded/`` (``content``, its
    bytes), or None when it records it as it is. A superseded encoding is kept so that the decisions made under it stay
    auditable (`audit` finds it through the lock): it never changes either, ``published-changed``, an error. One the
    lock does not record, ``unlocked``, a warning: a correction records each encoding it keeps (docs/policy-format.md,
    "Correcting an encoding"), and one whose entry was removed by hand is no longer checked against its sha256, so it
    could be edited unseen; it governs no Service Month. Said alike by `validate FAMILY` (lint_directory) and by
    `validate` and `render` of the file alone (directory.unrecorded_published)."""
    name = f"superseded/{kept.name}"
    recorded = lock.get(name)
    if recorded is None:
        return Diagnostic(str(kept), 1, 1, "warning", "unlocked",
                          f"superseded encoding not recorded in {LOCK_FILE}: a correction records each encoding it "
                          "keeps, so that it is checked against its sha256 and the decisions made under it can be "
                          f"audited; restore the lock's entry for {name} (git checkout -- {shell_word(family / LOCK_FILE)})")
    digest = hashlib.sha256(content).hexdigest() if content is not None else file_digest(kept)
    if digest == recorded:
        return None
    return Diagnostic(str(kept), 1, 1, "error", "published-changed",
                      f"superseded encoding changed: its sha256 differs from {recorded[:12]}… in {LOCK_FILE}; it is "
                      "kept unchanged so that decisions made under it can be audited. Restore its bytes (git "
                      f"checkout -- {shell_word(kept)}): a correction changes the published version, never an encoding it "
                      "superseded")


def moved_versions(family: Path, lock: dict) -> dict:
    """Published files the lock records that are gone from their place, but whose bytes are those of a file not
    recorded under its own name, in the family or its drafts/ (renamed, or moved into drafts/): by name recorded,
    where they are now. Restoring those is `mv`, not version control, and recording one under its new name would
    publish it twice."""
    gone = {digest: name for name, digest in lock.items() if not os.path.lexists(family / name)}
    if not gone:
        return {}
    moved = {}
    for file in sorted(family.glob("*.yaml")) + sorted(family.glob("drafts/*.yaml")):
        if file.name in lock and file.parent == family or file.is_symlink() or not file.is_file():
            continue
        try:
            digest = hashlib.sha256(read_limited(file, "policy file", MAX_POLICY_BYTES)).hexdigest()
        except FileProblem:
            continue
        if digest in gone:
            moved.setdefault(gone[digest], file)
    return moved


_LINE_ENDS = "the line breaks at its end"
# How an editor or a checkout rewrites a file without changing a word of it: (what it did, a way to restore the
# published bytes other than version control's, or None; how to undo it on the bytes). Before publish wrote LF, a
# draft saved with CRLF was published as saved (publish.published_text), so an editor writing LF rewrites that one.
_REWRITES = (
    ("a byte order mark added at its start", None, lambda b: b[3:] if b.startswith(b"\xef\xbb\xbf") else None),
    ("its line endings (CRLF, as Windows editors and git's core.autocrlf write them, where it was published with LF)",
     None, lambda b: b.replace(b"\r\n", b"\n") if b"\r\n" in b else None),
    ("its line endings (LF, where it was published with CRLF, as a Windows editor saved it before publish came to "
     "write every version with LF)", "save it with CRLF line endings again, as a Windows editor does",
     lambda b: b.replace(b"\n", b"\r\n") if b"\n" in b and b"\r" not in b else None),
    (_LINE_ENDS, None, lambda b: b.rstrip(b"\r\n") + b"\n" if not b.endswith(b"\n") or b.endswith(b"\n\n") else None),
    (_LINE_ENDS, None, lambda b: b.rstrip(b"\r\n") if b.endswith(b"\n") else None),  # published without one
)


def only_rewritten(content: bytes, recorded: str) -> list[tuple[str, str | None]] | None:
    """What a published file's bytes differ in from those whose sha256 the lock records, when undoing one or more
    rewrites of :data:`_REWRITES` gives those bytes back (the words are then the published ones): each rewrite as
    (what it did, a way to restore the bytes or None); else None."""
    for mask in range(1, 2 ** len(_REWRITES)):
        undone, done = content, []
        for i, (what, how, undo) in enumerate(_REWRITES):
            if mask & (1 << i):
                undone = undo(undone)
                if undone is None:
                    break
                done.append((what, how))
        if undone is not None and hashlib.sha256(undone).hexdigest() == recorded:
            return list(dict.fromkeys(done))  # the line breaks at its end: said once
    return None


def _linked(file: Path) -> Diagnostic:
    """A published version that is a symbolic link: its words live elsewhere (outside the family, maybe outside the
    repository, where version control keeps only the link), and whoever can write there, or point the link
    elsewhere, changes what the family says; a clone holds a link to nothing."""
    return Diagnostic(str(file), 1, 1, "error", "symlink",
                      f"a published version is a file of the family, not a symbolic link (to {os.readlink(file)}): "
                      "copy the file in its place")


def linked_kept(kept: Path) -> Diagnostic:
    """``symlink``, a warning at a superseded encoding that is a symbolic link, as a published version is an error
    (:func:`_linked`): its bytes live elsewhere, where they can change or be gone (a clone holds a link to nothing),
    and `audit` of the decisions made under it finds it through the lock. A link to nothing passed `validate` with
    exit 0 and nothing said (the lock's check of a file that is gone saw a name that exists). It governs no Service
    Month: a warning, as a superseded encoding gone is."""
    target = os.readlink(kept)
    gone = "" if kept.exists() else ", which does not exist: the decisions made under it cannot be audited"
    return Diagnostic(str(kept), 1, 1, "warning", "symlink",
                      f"a superseded encoding is a file of the family, not a symbolic link (to {target}{gone}): copy "
                      "the encoding it kept in its place (git checkout -- "
                      f"{kept} restores it where version control holds it)")


def _missing(family: Path, name: str, now: Path | None = None) -> Diagnostic:
    """A file the lock records that is gone (``now``: where its bytes are, renamed or moved, :func:`moved_versions`). A
    published version is never removed: without it, the months it governs would silently be decided under the
    version before it, and a draft could be published again under its name. A superseded encoding governs no month
    (a warning): it is kept so that the decisions made under it can be audited."""
    where = (str(family / LOCK_FILE), lock_line(family, name), 3)
    restore = (f"it is {now}, renamed or moved (the same bytes): put it back (mv {shell_word(now)} {shell_word(family / name)})"
               if now is not None else f"restore it from version control (git checkout -- {shell_word(family / name)})")
    if name.startswith("superseded/"):
        return Diagnostic(*where, "warning", "published-missing",
                          f"superseded encoding {name} is recorded in {LOCK_FILE} but is not in {family}: the decisions "
                          f"made under it cannot be audited; {restore}")
    return Diagnostic(*where, "error", "published-missing",
                      f"published version {name} is recorded in {LOCK_FILE} but is not in {family}: a published file "
                      f"is never removed or renamed; {restore}")


def lock_line(family: Path, name: str) -> int:
    """The line of ``name``'s entry in the family's lock (one entry a line, as `publish` and `lock` write it)."""

    try:
        text = read_limited(family / LOCK_FILE, LOCK_FILE, 1024 * 1024).decode("utf-8")
    except (FileProblem, UnicodeDecodeError):
        return 1
    entry = json.dumps(name) + ":"
    return next((number for number, line in enumerate(text.splitlines(), 1) if line.strip().startswith(entry)), 1)
