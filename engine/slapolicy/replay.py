"""Replay past Service Months under amended terms: what would we have owed had this version been in force?

Every account and Service Month in range is evaluated twice, under the version that was in
force (the baseline) and under the given version or draft (the amended), from one pass
over the minutes (:mod:`slapolicy.minutes`). Reading the minutes' partitions and
evaluating account-months are pure functions of small inputs, so both run the same in
this process, in local worker processes (``workers``), or on a Dask cluster (``dask``)
(:mod:`slapolicy.distributed`); the rows are sorted, so the three give byte-identical JSON.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal


from .calendar import calendar_month, written_month
from .inputs.events import ByAccount
from .policy.diff import diff_policies
from .distributed import PolicyContent, policy_of
from .evaluation.classify import classify_minutes, consecutive_runs, unavailable_rows
from .minutes.planning import held_minutes_note
from .minutes.shapes import MonthMinutes, MonthTotals
from .evaluation.compensation import display_terms, shown_under, tier_of
from .evaluation.month import MonthEvaluation, availability_of, evaluate_account_month, version_reason
from .errors import ArgumentError, SlapolicyError
from .policy.directory import PolicyDirectory, directory_signature, load_policy
from .policy.model import reads_minutes_alike

CHUNK = 32  # account-months per task


@dataclass(frozen=True)
class ReplaySpec:
    """Everything a worker needs besides the account-months themselves (all picklable; policies as content)."""

    baselines: tuple  # (month label, PolicyContent of the version in force)
    amended: object  # PolicyContent
    incidents: tuple
    notices: tuple
    strips: bool


def replay_policies(policy_dir: str, under: str):
    """The published family (checked) and the amended version."""
    # Keyed on the files' state too: a long-running process (slapolicy serve) sees a version published,
    # or a draft edited, since its last replay.
    return _policies_read(policy_dir, under, directory_signature(policy_dir, under))


@functools.lru_cache(maxsize=8)
def _policies_read(policy_dir: str, under: str, signature: tuple):
    family = PolicyDirectory(policy_dir, run_examples=False).check()
    return family, family.check_member(load_policy(under), "replay")  # another agreement's terms replay nothing of this one


# Service Months a replay covers at most: 100 years. Its report has a line (JSON: an entry) for every month of the
# range, rows or none: --to 9998-12 for 2019-12 wrote 22 MB of empty months. Every other cost follows the data.
MAX_MONTHS = 1200


def month_range(start: str, end: str, names: tuple = ("start", "end"), error=ArgumentError) -> list:
    """The Service Months from ``start`` to ``end`` (YYYY-MM, both included), at most MAX_MONTHS. ``names``: what the
    caller's user calls the two (the CLI's ``--from`` and ``--to``); ``error``: what a range refused raises (the
    CLI's UsageError, exit 2)."""
    first, last = written_month(start, names[0]), written_month(end, names[1])
    count = (last.start.year - first.start.year) * 12 + last.start.month - first.start.month + 1
    if count < 1:
        raise error(f"{names[1]} {end} is before {names[0]} {start}")
    if count > MAX_MONTHS:
        raise error(f"{names[0]} {start} {names[1]} {end} is {count:,} Service Months; a replay covers at most "
                    f"{MAX_MONTHS:,} (100 years), as its report has a line for every month of the range: check the "
                    "years, or replay the range in parts")
    months, current = [first], first
    while current.start < last.start:  # never asks for the month after the last (9998-12 has none we evaluate)
        following = current.end + dt.timedelta(days=1)
        current = calendar_month(f"{following.year:04d}-{following.month:02d}")
        months.append(current)
    return months


def replay_chunk(spec: ReplaySpec, items: list) -> list:
    """The pure per-partition function: [(account, month label, totals, rows, billing)] → replay rows."""
    baselines = {label: content for label, content in spec.baselines}
    amended = policy_of(spec.amended)
    incidents, notices = ByAccount(spec.incidents), ByAccount(spec.notices)  # indexed once per chunk
    months: dict = {}  # month label -> its Service Month and the two versions' reasons, made once per chunk
    found: dict = {}  # (account, month label) -> its unavailable rows under the baseline, found a month at a time
    out = []
    for account, label, totals, rows, billing in items:
        if label not in months:
            service_month = calendar_month(label)
            baseline = policy_of(baselines[label])
            months[label] = (service_month, baseline, (
                ("baseline", baseline, version_reason(baseline, service_month)),
                ("amended", amended, version_reason(amended, service_month, forced=True, in_force=baseline))))
            month_cells = [(a, rows_of, totals_of) for a, m, totals_of, rows_of, _ in items if m == label]
            found.update(zip([(a, label) for a, _, _ in month_cells],
                             unavailable_rows(baseline, service_month, [(r, t) for _, r, t in month_cells])))
        service_month, baseline, versions = months[label]
        # Versions that read minutes alike (most amendments change the standard, tiers or money) share one
        # classification of the minutes: the expensive half of an evaluation is done once, not twice.
        # Replay shows neither traces nor warnings: the evaluations leave them out (explain=False).
        outcome = classify_minutes(baseline, service_month, account, rows, incidents=incidents,
                                   notices=notices, totals=totals, explain=False, found=found.pop((account, label)))
        sides = {}
        for name, policy, reason in versions:
            shared = outcome if reads_minutes_alike(policy, baseline) else None
            sides[name] = evaluate_account_month(policy, service_month, account, rows, incidents=incidents,
                                                 notices=notices, billing=billing, version_reason=reason,
                                                 totals=totals, outcome=shared, explain=False)
        out.append(_row(account, label, baseline, amended, sides["baseline"], sides["amended"], spec.strips))
    return out


# What a row shows of each side's evaluation, besides the version.
SIDE = ("availability_percent", "meets_standard", "credit_percent", "compensation", "monthly_fee", "unavailable_minutes",
        "excluded_minutes")


def _side(evaluation: dict) -> dict:
    side = {key: evaluation[key] for key in SIDE}
    side["version"], side["sha256"] = evaluation["policy"]["version"], evaluation["policy"]["sha256"]
    return side


@functools.lru_cache(maxsize=4096)  # the rows of a replay share few pairs of amounts and credits
def _delta(before_compensation, after_compensation, before_credit, after_credit) -> tuple:
    """The row's delta of compensation (None unless both sides have an amount) and of credit percent."""
    money = None
    if before_compensation is not None and after_compensation is not None:
        money = str(Decimal(after_compensation) - Decimal(before_compensation))
    credit = Decimal(str(after_credit)) - Decimal(str(before_credit))
    return int(credit) if credit == int(credit) else float(credit), money


def _row(account, label, baseline, amended, before_month: MonthEvaluation, after_month: MonthEvaluation,
         strips: bool) -> dict:
    before, after = before_month.result, after_month.result
    credit_delta, delta_money = _delta(before["compensation"], after["compensation"], before["credit_percent"],
                                       after["credit_percent"])
    row = {
        "account": account,
        "month": label,
        "baseline": _side(before),
        "amended": _side(after),
        "delta": {"credit_percent": credit_delta, "compensation": delta_money},
        "clauses_changed": clauses_changed(baseline, amended, before, after),
    }
    if strips:
        row["strip"] = {"total_minutes": before["service_month"]["total_minutes"], "timezone": baseline.timezone,
                        "baseline": _strip(before_month), "amended": _strip(after_month)}
    return row


def _strip(evaluation: MonthEvaluation) -> dict:
    """Runs of unavailable and excluded minutes (offsets from the month's start), for the HTML strip."""
    offsets, attributed = evaluation.unavailable_minute - evaluation.first_minute, evaluation.attributed
    return {"unavailable": [list(run) for run in consecutive_runs(offsets[attributed < 0])],
            "excluded": [list(run) for run in consecutive_runs(offsets[attributed >= 0])]}


@functools.lru_cache(maxsize=64)
def _changes(baseline, amended) -> tuple:
    return tuple(diff_policies(baseline, amended)["changes"])


def _tier_of(policy, evaluation: dict) -> str | None:
    """The range of the tier this row's exact availability falls in under ``policy`` (None: no tier)."""
    return _tier_range(policy, evaluation["service_month"]["total_minutes"], evaluation["unavailable_minutes"])


@functools.lru_cache(maxsize=4096)
def _tier_range(policy, total: int, unavailable: int) -> str | None:
    tier = tier_of(policy, availability_of(total, unavailable))
    return None if tier is None else tier.describe()


def clauses_changed(baseline, amended, before: dict, after: dict) -> list:
    """The changes between the versions that explain this row's difference, each with its ref."""
    if all(before[key] == after[key] for key in SIDE):  # the same figures: nothing to explain
        return []
    excluded_before, excluded_after = before["excluded_minutes"], after["excluded_minutes"]
    # What the answer depends on: which figures differ, and the tier each side's availability falls in. Rows
    # of a replay share few such answers: each is worked out once, and each row owns a copy of its entries.
    raw = ("" if before["raw_unavailable_minutes"] == after["raw_unavailable_minutes"]
           else "counted" if before["unavailable_minutes"] != after["unavailable_minutes"] else "before")
    entries = _explained(baseline, amended, raw,
                         tuple(clause_id for clause_id in sorted(set(excluded_before) | set(excluded_after))
                               if excluded_before.get(clause_id) != excluded_after.get(clause_id)),
                         _tier_of(baseline, before), _tier_of(amended, after),
                         before["meets_standard"] != after["meets_standard"],
                         before["credit_percent"] != after["credit_percent"],
                         before["compensation"] != after["compensation"],
                         _shown_by(baseline, amended, after)
                         if before["availability_percent"] != after["availability_percent"] else ())
    return [dict(entry) for entry in entries]


def _shown_by(baseline, amended, after: dict) -> tuple:
    """Which of the terms that decide how availability is shown (§2.1: the decimals, the rounding, and the standard
    and tier bounds the figure must stay on the right side of) moved this row's amended figure: each the amendment
    changed and that, given back its baseline value alone, shows the amended availability otherwise. A row whose
    figure moved only because its minutes did names none: an amendment of an exclusion and of the rounding cited
    the rounding on every row whose availability moved, though half_up and half_even showed each the same. Where no
    term moves it alone but together they do, each that was changed is named."""
    before_terms, after_terms = display_terms(baseline), display_terms(amended)
    changed = [name for name in after_terms._fields if getattr(before_terms, name) != getattr(after_terms, name)]
    availability = availability_of(after["service_month"]["total_minutes"], after["unavailable_minutes"])
    shown = shown_under(after_terms, availability)
    moved = tuple(name for name in changed
                  if shown_under(after_terms._replace(**{name: getattr(before_terms, name)}), availability) != shown)
    if moved or shown_under(before_terms, availability) == shown:
        return moved
    return tuple(changed)


@functools.lru_cache(maxsize=4096)
def _explained(baseline, amended, raw: str, excluded: tuple, tier_before, tier_after, standard: bool, credit: bool,
               money: bool, shown: tuple) -> tuple:
    """:func:`clauses_changed` for a row whose unavailable minutes (``raw``: "" the same, "counted" differing in those
    counted against the provider, "before" only before the exclusions, which then differ instead), minutes excluded
    by the clauses ``excluded``, standard met, credit and compensation differ or not, its tier under each version given; ``shown``:
    the terms of the display that moved its availability shown (:func:`_shown_by`)."""
    changes = _changes(baseline, amended)
    wanted = []

    def cite(predicate, why):
        for change in changes:
            # Words never move money, nor do a clause's examples (they test its condition) or its title; nor does a
            # term a replay does not decide (the §6.1 cap: every amount here is before it).
            if (change["kind"] not in ("reworded", "examples") and not change["what"].endswith(" title")
                    and not change["what"].startswith(NOT_REPLAYED) and predicate(change)):
                entry = {"what": change["what"], "ref": change["ref"], "kind": change["kind"], "old": change["old"],
                         "new": change["new"], "why": why}
                if entry not in wanted:
                    wanted.append(entry)

    if raw:
        cite(lambda c: c["what"].startswith("availability.") and not c["what"].startswith(("availability.standard",
                                                                                             "availability.display")),
             "unavailable minutes differ" if raw == "counted"
             else "unavailable minutes before the exclusions differ; those counted against the provider do not")
    for clause_id in excluded:
        cite(lambda c, cid=clause_id: c["what"] == f"clause {cid}" or c["what"].startswith(f"clause {cid} "),
             f"minutes excluded by §{clause_id} differ")
        cite(lambda c: c["what"].startswith(("exclusions.", "fact ", "cause ", "parameters.")),
             "exclusions are decided differently")
    # The money: only the change that moved this row's credit. A row that now misses (or meets) the
    # standard cites the standard; a row whose tier pays another credit cites that tier alone.
    if standard:
        cite(lambda c: c["what"].startswith("availability.standard"), "the standard is met in one and not the other")
    if credit:
        cite(lambda c: c["what"] == "compensation.gate", "the gate decides differently")
        cite(lambda c: c["what"].startswith("compensation tier") and (
            (tier_before is not None and c.get("old_tier") == tier_before)
            or (tier_after is not None and c.get("new_tier") == tier_after)), "the credit of this row's tier differs")
    if money:
        cite(lambda c: c["what"].startswith("compensation.") and not c["what"].startswith("compensation.tiers"),
             "the amount differs")
    # The figure shown (§2.1): only the terms that moved this row's (_shown_by), each named once (a standard that
    # moved the decision is already cited for it).
    for term, moved, why in (
            ("display_decimals", lambda c: c["what"].startswith("availability.display_decimals"),
             "the availability is shown otherwise"),
            ("display_rounding", lambda c: c["what"].startswith("availability.display_rounding"),
             "the availability is shown otherwise"),
            ("standard", lambda c: c["what"].startswith("availability.standard"),
             "the availability is shown with other decimals: a figure shown stays on its side of the standard (§2.1)"),
            ("tiers", lambda c: c["what"].startswith("compensation tier") and c.get("old_tier") != c.get("new_tier"),
             "the availability is shown with other decimals: a figure shown stays on its side of every tier's bound "
             "(§2.1)")):
        if term in shown:
            cite(lambda c, moved=moved: moved(c) and not any(w["what"] == c["what"] for w in wanted), why)
    if not wanted:
        wanted.append({"what": "version", "ref": None, "kind": "changed", "old": baseline.version, "new": amended.version,
                       "why": "the results differ; no single term of the policy explains it"})
    return tuple(wanted)


def work_items(scan, months, billing: dict, accounts=None):
    """(account, month label, totals, candidate rows, billing) of every account-month with data or a bill
    (``accounts``: of these accounts only)."""
    labels = [m.label for m in months]
    accounts = sorted(accounts if accounts is not None else
                      {a for a, _ in scan.cells} | {a for a, m in billing if m in labels})
    empty_totals = MonthTotals(0, 0, 0, 0, 0)
    items = []
    for account in accounts:
        for label in labels:
            cell = scan.cells.get((account, label))
            if cell is None and (account, label) not in billing:
                continue  # neither data nor a bill: the account was not a customer that month
            totals, rows = (cell.totals, cell.rows) if cell else (empty_totals, MonthMinutes.empty())
            items.append((account, label, totals, rows, billing.get((account, label))))
    return items


def common_timezone(baselines: dict, amended) -> str:
    """The one timezone the minutes are read in: every version compared must share it."""
    zones = {p.timezone for p in baselines.values()} | {amended.timezone}
    if len(zones) > 1:
        raise SlapolicyError(f"the versions compared use different timezones ({', '.join(sorted(zones))}); "
                             "replay reads the minutes once, in one timezone")
    return amended.timezone


def replay_spec(baselines: dict, amended, incidents: tuple, notices: tuple, strips: bool) -> ReplaySpec:
    """What every task receives: the versions as content (by sha256), the windows, whether to draw strips."""
    contents: dict = {}
    for policy in [*baselines.values(), amended]:  # a file read once per version, not once per month in force
        if policy.sha256 not in contents:
            contents[policy.sha256] = PolicyContent.of(policy)
    return ReplaySpec(tuple((label, contents[p.sha256]) for label, p in baselines.items()), contents[amended.sha256],
                      incidents, notices, strips)


def replay_settled(spec, settled, months: list, billing: dict, on_row=None) -> dict | None:
    """(account, month label) -> its row, for the account-months of ``settled`` (pieces of the minutes whose
    accounts' rows are all read: :class:`slapolicy.minutes.aggregates.Settled`), replayed as they come while the
    rest of the minutes are read, as :func:`work_items` and :func:`replay_chunk` would. ``spec``: a call giving the
    :class:`ReplaySpec`. None if it, or a row, failed: the caller replays them after the reading, where the
    problem is raised in its place (after the minutes' own). ``on_row``: called with each row as it is made."""
    done: dict = {}
    for piece in settled:
        try:
            rows = replay_chunk(spec(), work_items(piece, months, billing, accounts=piece.accounts))
        except Exception:  # noqa: BLE001 -- raised again by the replay after the reading, after its problems
            return None
        done.update(((row["account"], row["month"]), row) for row in rows)
        if on_row is not None:
            for row in rows:
                on_row(row)
    return done


def chunks_of(items: list) -> list:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def replay_report(amended, under: str, months: list, scan, rows: list, minutes=None, baselines=()) -> dict:
    """The replay's JSON: the rows in (account, month) order, whatever order the tasks finished in. Without a row,
    ``nothing_to_replay`` says so and what the ``minutes`` (as given) hold instead. ``baselines``: the versions in
    force in the months; where the amendment changes terms a replay does not decide (claims, §6.1),
    ``not_replayed`` lists them and ``not_replayed_note`` says so."""
    rows = sorted(rows, key=lambda r: (r["account"], r["month"]))
    labels = [m.label for m in months]
    report = {"under": amended.summary() | {"file": under},
              "months": labels, "rows_read": scan.rows_read, "parts_read": scan.parts,
              "rows": rows, "totals": totals(rows, labels),
              "before_aggregate_cap": ("every compensation here is before the §6.1 aggregate cap, which only a claim "
                                       "applies against the compensation already granted (slapolicy claim)")}
    unreplayed = not_replayed(baselines, amended)
    if unreplayed:
        report["not_replayed"] = unreplayed
        report["not_replayed_note"] = not_replayed_note(unreplayed, _months_in_force(labels, baselines))
    if not rows:
        report["nothing_to_replay"] = nothing_to_replay(
            labels, held_minutes_note(minutes, labels, scan.seen, scan.rows_read, amended.timezone))
    return report


# The terms a replay does not decide: it evaluates months (availability, exclusions, the standard, the tiers and the
# money before §6.1), while these decide claims alone (slapolicy claim): the claim window, channel and materials
# (§3.2, §3.3) and the aggregate cap (§6.1), which needs the compensation already granted.
NOT_REPLAYED = ("claims.", "compensation.aggregate_cap")


def not_replayed(baselines, amended) -> list:
    """The amendment's changes of terms a replay does not decide (:data:`NOT_REPLAYED`), against every baseline
    version of the range, each once, with the versions it is a change against (``against``): a draft of the claim
    window alone replayed as "0 changed", which read as though it changed nothing a customer would get."""
    found = []
    for baseline in {p.sha256: p for p in baselines}.values():
        for change in _changes(baseline, amended):
            if (change["kind"] not in ("reworded", "examples") and not change["what"].endswith(" title")
                    and change["what"].startswith(NOT_REPLAYED)):
                entry = {key: change[key] for key in ("what", "ref", "kind", "old", "new")}
                same = next((f for f in found if {key: f[key] for key in entry} == entry), None)
                if same is None:
                    found.append(entry | {"against": [baseline.version]})
                elif baseline.version not in same["against"]:
                    same["against"].append(baseline.version)
    return found


def _months_in_force(labels: list, baselines) -> dict:
    """Each baseline version's label → the months of the range it governs, written as the reports write them
    ('2024-04', '2024-04 to 2024-06'): a version governs consecutive months, from its effective_from to the next's."""
    months: dict = {}
    for label, policy in zip(labels, baselines):
        months.setdefault(policy.version, []).append(label)
    return {version: held[0] if len(held) == 1 else f"{held[0]} to {held[-1]}" for version, held in months.items()}


def not_replayed_note(changes: list, in_force: dict | None = None) -> str:
    """What the reports say of :func:`not_replayed`'s changes. Across amendments (``in_force``: more than one baseline
    version, each with its months), each change names the versions it is a change against: a draft that left the
    claim window as the version it amends said it changed it, where only the version in force for later months (one
    published since, with another window) differed."""
    several = in_force is not None and len(in_force) > 1

    def one(change) -> str:
        said = [change["ref"]] if change["ref"] else []
        if several:
            said.append("against " + ", ".join(f"{version} (in force {in_force[version]})"
                                               for version in change["against"]))
        return f"{change['what']} ({'; '.join(said)})" if said else change["what"]

    named = ", ".join(one(change) for change in changes)
    return (f"the amendment also changes terms a replay does not decide: {named}; a replay evaluates Service Months "
            "(availability, exclusions, the standard, the tiers and compensation before §6.1), not claims: its rows and "
            "totals do not show these changes")


def nothing_to_replay(labels: list, held: str = "") -> str:
    """What a replay of no account-month says: most often a range the minutes do not hold, or the wrong file (an
    empty report of zeros left the analyst to guess). ``held``: what the minutes hold (``held_minutes_note``)."""
    months = f"in {labels[0]}" if len(labels) == 1 else f"from {labels[0]} to {labels[-1]}"
    return (f"no account has minutes or billing {months}: nothing to replay (check the months replayed, and that the "
            f"minutes and billing given are the files meant{held})")


def __getattr__(name: str):
    # replay(policy_dir, ...) is named slapolicy.replay.replay in earlier docs. It is a thin wrapper over Engine
    # (slapolicy.api), which builds on this module: importing it at the top would be a cycle.
    if name == "replay":
        from .api import replay

        return replay
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def totals(rows: list, labels: list) -> dict:
    def summed(selected):
        owed = [(r["baseline"]["compensation"], r["amended"]["compensation"]) for r in selected
                if r["baseline"]["compensation"] is not None and r["amended"]["compensation"] is not None]
        baseline = sum((Decimal(b) for b, _ in owed), Decimal("0.00"))
        amended = sum((Decimal(a) for _, a in owed), Decimal("0.00"))
        return {"account_months": len(selected), "changed": sum(bool(r["clauses_changed"]) for r in selected),
                "baseline_compensation": str(baseline), "amended_compensation": str(amended),
                "delta": str(amended - baseline), "without_billing": len(selected) - len(owed)}

    by_month: dict = {label: [] for label in labels}  # rows gathered in one pass, not one pass per month
    for row in rows:
        by_month[row["month"]].append(row)
    nothing = summed([])  # the totals of a month without rows, made once: a range may hold thousands of them
    return {"per_month": {label: summed(selected) if selected else dict(nothing) for label, selected in by_month.items()},
            "overall": summed(rows)}
