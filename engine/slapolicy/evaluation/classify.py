"""Classifying a Service Month's minutes: availability (§1.5, §2.1) and exclusions (§5). Minutes become facts,
facts become the clauses that exclude them, and the month's counted and unavailable minutes follow.

Per-minute work is numpy over whole columns. The rules (durable-rules, through the
policy's ruleset) see only the distinct combinations of facts among the *unavailable*
minutes: a month of 44,640 minutes with a 30-minute outage asks at most a few questions.
"""
from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple
from decimal import Decimal

import numpy as np

from ..arrays import distinct_sorted
from ..calendar import ServiceMonth, minute_bounds
from ..inputs.events import for_account
from ..minutes.planning import below_threshold
from ..minutes.shapes import MonthMinutes, MonthTotals
from ..rules.conditions import describe, matches
from ..rules.durable import canonical_number
from ..errors import InputError, PluginError
from ..hookspecs import EvaluationContext, UnavailableMinutes
from ..plugins import check_facts_supplied, fact_hook_results, get_manager


def trace_step(trace: list, step: str, clause: str, detail: str) -> None:
    """One step of a month's trace (its JSON's ``trace``): what was done, the clause it applies, in words."""
    trace.append({"step": step, "clause": clause, "detail": detail})


def consecutive_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """Sorted distinct integers (minutes) as [start, end) runs of consecutive values."""
    if len(values) == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate([[values[0]], values[breaks + 1]])
    ends = np.concatenate([values[breaks], [values[-1]]]) + 1
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def unavailable_mask(policy, requests: np.ndarray, failures: np.ndarray) -> np.ndarray:
    """Success rate below the threshold (§1.5), compared in integers (``Policy.unavailable_coefficients``)."""
    return below_threshold(*policy.unavailable_coefficients, requests, failures)


def _window_bounds(window, rounding: str) -> tuple[int, int]:
    """[first, last) epoch minutes a window excludes: every minute it touches (outward) or covers whole (inward)."""
    return _bounds(window.start, window.end, rounding)


def _bounds(start: dt.datetime, end: dt.datetime, rounding: str) -> tuple[int, int]:
    """:func:`minute_bounds`, remembered: a month's incidents and notices for every account come back for each.

    Remembered for the very objects (a window's times are its incident's or notice's), not by value: hashing an
    aware datetime asks its zone for the UTC offset, and Python finds two times of one zone equal by their wall
    clock, fold ignored (01:00 EDT and 01:00 EST of New York's repeated hour)."""
    key = (id(start), id(end), rounding)
    entry = _BOUNDS.get(key)
    if entry is not None and entry[0] is start and entry[1] is end:
        return entry[2]
    if len(_BOUNDS) >= 65536:  # a long-running process sees many windows: start again rather than grow
        _BOUNDS.clear()
    bounds = minute_bounds(start, end, rounding)
    _BOUNDS[key] = (start, end, bounds)
    return bounds


_BOUNDS: dict = {}  # (id(start), id(end), rounding) -> (start, end, their minute bounds)


@functools.lru_cache(maxsize=256)
def _cut_points(cuts: tuple) -> np.ndarray:
    points = np.array([float(cut) for cut in cuts])
    points.flags.writeable = False
    return points


def _cell_of(value: float, cuts: tuple) -> int:
    """:func:`_number_cells` of one value."""
    points = _cut_list(cuts)
    return bisect.bisect_left(points, value) + bisect.bisect_right(points, value)


@functools.lru_cache(maxsize=256)
def _cut_list(cuts: tuple) -> tuple:
    return tuple(float(cut) for cut in cuts)


def _number_cells(values: np.ndarray, cuts: tuple) -> np.ndarray:
    """For each value, its cell among the sorted cuts: 0 below the first, 1 on it, 2 between the first two, …

    The cuts below a value plus the cuts at or below it: on a cut the second count is one more than the first.
    """
    points = _cut_points(cuts)
    values = np.asarray(values, np.float64)
    return np.searchsorted(points, values, side="left") + np.searchsorted(points, values, side="right")


@functools.lru_cache(maxsize=4096)
def _canonical_value(value: float, cuts: tuple) -> Decimal:
    """The typed value rules see for a minute's number: the representative of its cell (many minutes share one)."""
    return canonical_number(Decimal(repr(value)), cuts)


def _fact_codes(policy, values: np.ndarray, decl, cells) -> tuple[np.ndarray | None, list]:
    """Codes per minute and the typed (canonical) value of each code, for one minute fact; codes None when
    every minute has the one value (code 0), as most months' unavailable minutes do.

    Values that answer every comparison of the policy alike share a code (numbers by their cell
    between the constants the conditions use), so the situations asked of the rules stay few.
    """
    if decl.type == "number":
        cuts = cells.get(decl.name, ())
        if len(values):
            # The cell is monotonic in the value: when the smallest and the largest share one (most months: every
            # unavailable minute below the one threshold), every value does, and no minute needs its own.
            low, high = float(np.minimum.reduce(values)), float(np.maximum.reduce(values))
            if low == low and high == high and _cell_of(low, cuts) == _cell_of(high, cuts):
                return None, [_canonical_value(float(values[0]), cuts)]
        where, inverse = _distinct(_number_cells(values, cuts))
        typed = [_canonical_value(float(values[i]), cuts) for i in where]
        return inverse, typed
    if decl.type == "boolean" and values.dtype == np.bool_ and len(values):
        true = np.count_nonzero(values)
        if true == 0 or true == len(values):
            return None, [bool(values[0])]
    where, inverse = _distinct(values)
    distinct = values[where]
    typed = [bool(value) if decl.type == "boolean" else decl.coerce(str(value)) for value in distinct]
    if len(typed) == 1:  # one value (most months): its code is 0 already
        return (None if len(values) else inverse), typed
    canonical = {v: i for i, v in enumerate(dict.fromkeys(typed))}
    remap = np.array([canonical[v] for v in typed], np.int64)
    return remap[inverse], list(canonical)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first row of each distinct value, code of each row), codes in sorted order of the values.

    Most months' unavailable minutes share one value of a fact (one outage, one cause): that case
    is answered without sorting. (``np.count_nonzero`` here and below: on a few hundred values it costs a
    fraction of ``.all()`` or ``.any()``, and these run for every account.)
    """
    if len(values) and not np.count_nonzero(values != values[0]):
        return np.zeros(1, np.int64), np.zeros(len(values), np.int64)
    _, where, inverse = np.unique(values, return_index=True, return_inverse=True)
    return where, inverse.reshape(-1)


def _combinations(columns: list, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the code columns (combos, one row each) and each minute's combo.

    Codes are small non-negative integers, so a row folds into one integer (mixed radix) and
    the distinct rows are found among plain integers instead of rows of a 2-D array.
    """
    if not columns:
        return np.zeros((1 if count else 0, 0), np.int64), np.zeros(count, np.int64)
    if len(columns) == 1:
        where, inverse = _distinct(columns[0])
        return np.asarray(columns[0], np.int64)[where].reshape(-1, 1), inverse
    radices = [int(column.max()) + 1 if len(column) else 1 for column in columns]
    if math.prod(radices) >= 2 ** 62:
        combos, inverse = np.unique(np.column_stack(columns).astype(np.int64), axis=0, return_inverse=True)
        return combos, inverse.reshape(-1)
    folded = np.asarray(columns[0], np.int64)
    for column, radix in zip(columns[1:], radices[1:]):
        folded = folded * radix + column
    where, inverse = _distinct(folded)
    return np.column_stack([np.asarray(column, np.int64)[where] for column in columns]), inverse


# How a clause sees a minute (docs/readings.md, "the evaluation model"): each unavailable minute is asked once
# per combination of one covering window of every kind (incident, notice, a plugin's kind), with the minute's
# own facts alongside; a kind takes "none" (its facts at their declared defaults) only when no window of that
# kind covers the minute. Windows are matched to minutes by sorted interval search: memory grows with
# minutes + windows + covering pairs, never minutes × windows.


@dataclass
class _Kind:
    """The windows of one kind, the distinct fact sets among them (code 0: no window of the kind, the
    defaults), and the (minute, code) pairs saying which fact sets cover each unavailable minute."""

    name: str
    windows: list
    facts: list  # code -> typed facts; facts[0] == {}
    window_code: np.ndarray
    first: np.ndarray  # per window, epoch minutes [first, last)
    last: np.ndarray
    pair_minute: np.ndarray  # sorted by minute; every unavailable minute appears at least once
    pair_code: np.ndarray


def _window_kinds(policy, windows: list, minute: np.ndarray, rounding: str) -> list[_Kind]:
    """The kinds of window of which at least one window covers an unavailable minute (``minute``, sorted).

    A kind none of whose windows covers one would answer "none" (its facts' defaults) for every minute, as a kind
    with no window does: it is left out, and most accounts of a month ask their minutes' own facts alone.
    """
    if not windows:
        return []
    by_kind: dict = {}
    for window in windows:
        by_kind.setdefault(window.source, []).append(window)
    kinds = []
    for name in sorted(by_kind):
        bounds = np.array([_window_bounds(window, rounding) for window in by_kind[name]], np.int64).reshape(-1, 2)
        found = np.searchsorted(minute, bounds)  # per window, the unavailable minutes before its first and its last
        if np.count_nonzero(found[:, 1] > found[:, 0]):
            kinds.append(_window_kind(policy, name, by_kind[name], bounds[:, 0], bounds[:, 1], minute))
    return kinds


def _window_kind(policy, name: str, windows: list, first: np.ndarray, last: np.ndarray, minute: np.ndarray) -> _Kind:
    codes: dict = {}  # the declared facts, sorted -> code
    seen: dict = {}  # a window's facts as given -> code: most windows of a kind repeat a few fact sets
    facts: list = [{}]
    window_code = []
    for window in windows:
        given = tuple(window.facts.items())
        code = seen.get(given)
        if code is None:
            raw = tuple(sorted((k, v) for k, v in given if k in policy.facts))
            if raw not in codes:
                codes[raw] = len(facts)
                facts.append({k: _window_fact(policy.facts[k], v) for k, v in raw})
            code = seen[given] = codes[raw]
        window_code.append(code)
    window_code = np.array(window_code, np.int64)
    pair_minute, pair_code = _covering_pairs(minute, first, last, window_code)
    return _Kind(name, windows, facts, window_code, first, last, pair_minute, pair_code)


def _window_fact(decl, value):
    """A window's fact as this version reads it. A cause the version does not declare comes from a replay, which
    reads the incidents of the causes all its versions declare (an amendment adding one): it is kept as written, so
    that this version's own conditions judge it, `equals` none of its causes and `not_equals` every one; §5.15 takes
    it as not the provider's (docs/readings.md, "A cause only an amendment declares")."""
    if decl.type == "cause" and isinstance(value, str):
        return value
    return decl.coerce(value)


def _covering_pairs(minute: np.ndarray, first: np.ndarray, last: np.ndarray, code: np.ndarray):
    """(minute index, code) for every fact set covering an unavailable minute, and (minute index, 0) for
    every minute no window covers; sorted by minute index.

    The windows of one code are first merged into disjoint runs, so a minute meets each code at most
    once however many windows of that code overlap it; each run finds its minutes by binary search
    in the sorted minutes.
    """
    count = len(minute)
    order = np.argsort(minute, kind="stable")
    ordered = minute[order]
    runs_first, runs_last, runs_code = _merged_runs(first, last, code)
    lo = np.searchsorted(ordered, runs_first, side="left")
    hi = np.searchsorted(ordered, runs_last, side="left")
    lengths = np.maximum(hi - lo, 0)
    total = int(lengths.sum())
    position = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths) + np.arange(total, dtype=np.int64)
    covered_minute = order[position]
    covered_code = np.repeat(runs_code, lengths)
    uncovered = np.flatnonzero(np.bincount(covered_minute, minlength=count) == 0)
    pair_minute = np.concatenate([covered_minute, uncovered])
    pair_code = np.concatenate([covered_code, np.zeros(len(uncovered), np.int64)])
    sort = np.lexsort((pair_code, pair_minute))
    return pair_minute[sort], pair_code[sort]


def _merged_runs(first: np.ndarray, last: np.ndarray, code: np.ndarray):
    """The union of the windows of each code, as disjoint [first, last) runs with their code."""
    keep = last > first
    first, last, code = first[keep], last[keep], code[keep]
    if not len(first):
        return first, last, code
    order = np.lexsort((first, code))
    first, last, code = first[order], last[order], code[order]
    # Running maximum of the ends within each code: codes are sorted, so an offset per code keeps the groups apart.
    span = int(last.max() - min(int(first.min()), 0)) + 1
    reach = np.maximum.accumulate(last + code * span) - code * span
    starts = np.ones(len(first), bool)
    starts[1:] = (code[1:] != code[:-1]) | (first[1:] > reach[:-1])
    begins = np.flatnonzero(starts)
    return first[begins], np.maximum.reduceat(last, begins), code[begins]


def _questions(count: int, minute_code: np.ndarray, kinds: list[_Kind]):
    """One row per question asked of a minute: its index, its minute-facts code and one code per kind."""
    row_minute = np.arange(count, dtype=np.int64)
    columns = [minute_code]
    for kind in kinds:
        if len(kind.pair_minute) == count:  # one pair per minute, so pair i is minute i's: nothing to repeat
            columns.append(kind.pair_code[row_minute])
            continue
        per_minute = np.bincount(kind.pair_minute, minlength=count)
        begins = np.cumsum(per_minute) - per_minute
        repeats = per_minute[row_minute]
        total = int(repeats.sum())
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(repeats) - repeats, repeats)
        row_minute, columns = np.repeat(row_minute, repeats), [np.repeat(c, repeats) for c in columns]
        columns.append(kind.pair_code[begins[row_minute] + within])
    return row_minute, columns


def _minute_fact_codes(policy, manager, context, unavailable: UnavailableMinutes, trace: list):
    """Each unavailable minute's code among the distinct combinations of its own facts, and those facts by code."""
    count = len(unavailable.minute)
    supplied, supplier = {}, {}
    for plugin, result in fact_hook_results(manager, "slapolicy_minute_facts", policy=policy, context=context,
                                            minutes=unavailable):
        if not isinstance(result, dict):
            raise PluginError(f"plugin {plugin!r}: slapolicy_minute_facts returned {type(result).__name__}, "
                              "not a dict of fact name → MinuteFact")
        for name, fact in result.items():
            if name in policy.facts:
                supplied[name], supplier[name] = fact, plugin
                if fact.note:
                    trace_step(trace, "facts", policy.facts[name].ref, f"{name}: {fact.note}")
    columns, values_of, names = [], {}, sorted(supplied)
    cells = policy.ruleset.cells
    for name in names:
        fact = supplied[name]
        if len(fact.values) != count:
            raise PluginError(f"plugin {supplier[name]!r} supplied {len(fact.values)} values of {name} for {count} minutes")
        codes, typed = _fact_codes(policy, np.asarray(fact.values), policy.facts[name], cells)
        columns.append(codes)
        values_of[name] = typed
    if count and all(codes is None for codes in columns):
        # One value of each fact among the month's unavailable minutes (most months): one combination.
        return np.zeros(count, np.int64), [{name: values_of[name][0] for name in names}]
    columns = [np.zeros(count, np.int64) if codes is None else codes for codes in columns]
    combos, inverse = _combinations(columns, count)
    facts_of = [{name: values_of[name][int(row[i])] for i, name in enumerate(names)} for row in combos]
    return inverse, facts_of


def exclusions(policy, manager, context: EvaluationContext, unavailable: UnavailableMinutes, trace: list, *,
               explain: bool = True):
    """For each unavailable minute, the index (in policy.minute_clauses) of the clause it is attributed to, or
    -1; how many minutes each clause applied to; and the inputs (incident, notice ids) that made it apply."""
    count = len(unavailable.minute)
    clauses = policy.minute_clauses
    windows = [w for _, result in fact_hook_results(manager, "slapolicy_window_facts", policy=policy, context=context)
               for w in result]
    windows = [w for w in windows if w.account is None or w.account == context.account]
    minute_code, minute_facts = _minute_fact_codes(policy, manager, context, unavailable, trace)
    kinds = _window_kinds(policy, windows, unavailable.minute, policy.setting("exclusions", "window_rounding"))
    if not kinds and len(minute_facts) == 1 and not _answer(policy, (tuple(minute_facts[0].items()), ())):
        # One question, that of the minutes' one combination of facts, and no clause holds (most accounts).
        return np.full(count, -1, np.int64), {}, {}
    if kinds:
        row_minute, columns = _questions(count, minute_code, kinds)
        combos, inverse = _combinations(columns, len(row_minute))
    else:
        # No window covers an unavailable minute: each minute is asked one question, that of its own facts,
        # and the distinct questions are the distinct combinations of the minutes' facts.
        row_minute, inverse = np.arange(count, dtype=np.int64), minute_code
        combos = np.arange(len(minute_facts), dtype=np.int64).reshape(-1, 1)
    applies, cites = _ask(policy, combos, minute_facts, kinds)
    if not np.count_nonzero(applies):  # no clause applies to any question (most accounts): every minute is counted
        return np.full(count, -1, np.int64), {}, {}
    if len(row_minute) == count:  # one question per minute
        applied = applies[inverse]
    else:  # a clause applies to a minute when it holds in any of the minute's questions
        group_starts = np.flatnonzero(np.concatenate([[True], row_minute[1:] != row_minute[:-1]]))
        applied = np.maximum.reduceat(applies[inverse].astype(np.uint8), group_starts, axis=0).astype(bool) \
            if len(clauses) else np.zeros((count, 0), bool)
    attributed = ATTRIBUTION[policy.setting("exclusions", "attribution")](clauses, applied)
    applied_counts = {clause.id: int(n) for clause, n in zip(clauses, applied.sum(axis=0)) if n}
    sources = _cited_inputs(policy, unavailable.minute, attributed, row_minute, inverse, combos, applies, cites, kinds) \
        if explain else {}
    return attributed, applied_counts, sources


def _first_listed(clauses, applied: np.ndarray) -> np.ndarray:
    """Per minute, the first clause listed that applied (a fallback clause only when no other did), or -1."""
    fallback = np.array([c.attribution == "fallback" for c in clauses], bool)
    normal = applied & ~fallback
    return np.where(normal.any(axis=1), normal.argmax(axis=1),
                    np.where(applied.any(axis=1), applied.argmax(axis=1), -1)).astype(np.int64)


# What each value of a setting with a single allowed value means: the engine reads the setting and does this.
ATTRIBUTION = {"first_listed": _first_listed}  # exclusions.attribution (§5)


TOTAL_MINUTES = {"days_times_1440": lambda month: month.days * 1440}  # service_month.total_minutes (§1.6)


UNIT_MINUTES = {1: 1}  # availability.unit_minutes (§1.5): one statistics point per minute


PARTIAL_MONTHS = {"separate": "a partial month of the term is its own Service Month"}  # service_month.partial_months (§1.2)


REMOVES_FROM = {"unavailable_minutes": lambda unavailable, excluded: unavailable - excluded}  # exclusions.removes_from (§5)


@functools.lru_cache(maxsize=64)
def _clause_index(policy) -> dict:
    """Clause id -> its index in the version's minute clauses."""
    return {clause.id: i for i, clause in enumerate(policy.minute_clauses)}


@functools.lru_cache(maxsize=64)
def _defaults(policy) -> dict:
    """The version's facts at their declared defaults (read, never changed: each situation copies it)."""
    return policy.complete_facts({})


def _ask(policy, combos: np.ndarray, minute_facts: list, kinds: list[_Kind]):
    """Ask the rules each distinct question once; for every clause that applies, what to cite: the minute
    data when its own facts suffice, else the kinds of window without which it would not apply."""
    applies = np.zeros((len(combos), len(policy.minute_clauses)), bool)
    cites: dict = {}
    for c, row in enumerate(combos.tolist()):
        # The question as plain facts: the minute's own, and each kind's (whether a window of it covers, and its facts).
        question = (tuple(minute_facts[row[0]].items()),
                    tuple((row[1 + j] != 0, tuple(kind.facts[row[1 + j]].items())) for j, kind in enumerate(kinds)))
        for k, cite in _answer(policy, question):
            applies[c, k] = True
            cites[c, k] = cite
    return applies, cites


@functools.lru_cache(maxsize=4096)  # the accounts of a month ask the same few questions
def _answer(policy, question: tuple) -> tuple:
    """(index in policy.minute_clauses, what to cite) of each clause that holds for one question: None when
    the minute's own facts suffice, else the positions of the kinds of window without which it would not."""
    minute_items, kind_items = question
    index, defaults = _clause_index(policy), _defaults(policy)

    def situation(without=None) -> dict:
        facts = dict(defaults)
        facts.update(minute_items)
        for j, (_, items) in enumerate(kind_items):
            if j != without:
                facts.update(items)
        return facts

    present = [j for j, (covered, _) in enumerate(kind_items) if covered]
    answers = []
    for clause_id in policy.ruleset.match(situation()):
        if clause_id not in index:
            continue
        condition = policy.ruleset.conditions[clause_id]
        minute_only = dict(defaults)
        minute_only.update(minute_items)
        if matches(condition, minute_only):
            answers.append((index[clause_id], None))
            continue
        needed = [j for j in present if not matches(condition, situation(without=j))]
        answers.append((index[clause_id], tuple(needed or present)))
    return tuple(answers)


def _cited_inputs(policy, minute, attributed, row_minute, inverse, combos, applies, cites, kinds) -> dict:
    """For each clause, the inputs that made it apply to the minutes attributed to it: ("minute data", None)
    or (kind, window id) for each window whose facts were needed and that covers one of those minutes."""
    sources = defaultdict(set)
    chosen = attributed[row_minute]
    useful = np.flatnonzero(chosen >= 0)
    useful = useful[applies[inverse[useful], chosen[useful]]]
    minutes_of: dict = defaultdict(list)
    width = max(len(policy.minute_clauses), 1)
    for pair in distinct_sorted(inverse[useful] * width + chosen[useful]).tolist():
        c, k = divmod(pair, width)
        clause_id = policy.minute_clauses[k].id
        if cites[c, k] is None:
            sources[clause_id].add(("minute data", None))
            continue
        rows = useful[(inverse[useful] == c) & (chosen[useful] == k)]
        for j in cites[c, k]:
            minutes_of[clause_id, j, int(combos[c, 1 + j])].append(minute[row_minute[rows]])
    for (clause_id, j, code), parts in minutes_of.items():
        kind = kinds[j]
        hit = distinct_sorted(np.concatenate(parts))
        same = np.flatnonzero(kind.window_code == code)
        touched = np.searchsorted(hit, kind.last[same]) > np.searchsorted(hit, kind.first[same])
        sources[clause_id] |= {(kind.name, kind.windows[w].id) for w in same[touched]}
    return sources


@dataclass
class MinutesOutcome:
    """What one account's minutes say in one Service Month (§1.5, §5.10, §5), before the standard and tiers.

    Two versions that read minutes alike (:func:`slapolicy.policy.model.reads_minutes_alike`) share it:
    replay computes it once for the version in force and the amended one.
    """

    steps: list  # trace entries
    with_data: int
    raw_unavailable: int
    excluded_by: dict
    counted: int
    unavailable_minute: np.ndarray  # epoch minutes, sorted
    attributed: np.ndarray  # per unavailable minute: index into policy.minute_clauses, or -1
    warnings: tuple = ()  # {code, clause, message, ...}: something someone should look at


class MonthFrame(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """What every account's evaluation of one Service Month under one version shares, worked out once: the
    Total Minutes (§1.6) and the trace's words for them (§1.2), the month's bounds in the policy's timezone
    and as epoch minutes [first, last), the month as results show it, and the settings and words every
    account's classification reads."""

    total: int
    detail: str
    start: dt.datetime
    end: dt.datetime
    first: int
    last: int
    month: dict  # ServiceMonth.as_dict(): copied into each result, never handed out
    no_traffic: str  # availability.no_traffic
    no_traffic_ref: str
    unavailable_ref: str  # availability.minute_unavailable_below
    exclusions_ref: str
    window_rounding: str  # exclusions.window_rounding
    removes_from: object  # exclusions.removes_from: (unavailable, excluded) -> counted
    counts_traffic_normal: bool  # a §5.10 clause removes illegal-number failures: traffic is normal requests


@functools.lru_cache(maxsize=64)
def month_frame(policy, service_month: ServiceMonth) -> MonthFrame:
    total = TOTAL_MINUTES[policy.setting("service_month", "total_minutes")](service_month)
    minutes_per_point = UNIT_MINUTES[policy.setting("availability", "unit_minutes")]
    detail = f"{service_month.start} to {service_month.end}: {service_month.days} days × {1440 // minutes_per_point} = {total} minutes"
    if service_month.start.day != 1 or (service_month.end + dt.timedelta(days=1)).day != 1:
        detail += f" ({PARTIAL_MONTHS[policy.setting('service_month', 'partial_months')]})"
    first, last = service_month.epoch_minutes(policy.timezone)
    detail += _clock_change(policy, total, last - first)
    return MonthFrame(total, detail, *service_month.bounds(policy.timezone), first, last,
                      service_month.as_dict(), policy.setting("availability", "no_traffic"),
                      policy.ref("availability", "no_traffic"), policy.ref("availability", "minute_unavailable_below"),
                      policy.ref("exclusions"), policy.setting("exclusions", "window_rounding"),
                      REMOVES_FROM[policy.setting("exclusions", "removes_from")],
                      policy.illegal_number_clause is not None)


def _clock_change(policy, total: int, elapsed: int) -> str:
    """What the trace adds when the policy's zone moves its clocks in the Service Month: its minutes on the grid
    (elapsed ones, each a statistics point of its own) are 60 more or fewer than the Total Minutes, which §1.6
    counts as days × 1440 all the same (docs/readings.md, "§1.6 Months in which the clocks change")."""
    if elapsed == total:
        return ""
    return (f"; {policy.timezone} changes its clocks in it: {elapsed} minutes elapse ({abs(elapsed - total)} "
            f"{'more' if elapsed > total else 'fewer'}), each a statistics point, while the Total Minutes stay "
            "days × 1440 (§1.6)")


def classify_minutes(policy, service_month: ServiceMonth, account: str, rows: MonthMinutes, *, incidents=(),
                     notices=(), manager=None, naive_timestamps: int = 0,
                     totals: MonthTotals | None = None, explain: bool = True,
                     found: "UnavailableRows | None" = None) -> MinutesOutcome:
    """Unavailable minutes (§1.5), the §5.10 removal, and the exclusions (§5) with their trace steps.

    ``explain``: False leaves the trace, the inputs each exclusion cites and the warnings out (replay shows none
    of them); the counts are the same. ``found``: these rows' unavailable minutes, found with other accounts'
    (:func:`unavailable_rows`)."""
    manager = manager or get_manager()
    check_facts_supplied(policy, manager)
    frame = month_frame(policy, service_month)
    total, first, last = frame.total, frame.first, frame.last
    trace: list = [{"step": "service_month", "clause": "§1.2, §1.6", "detail": frame.detail}] if explain else _Unwritten()
    if naive_timestamps:
        trace_step(trace, "timezone", policy.ref("timezone"),
              f"{naive_timestamps} minute row(s) of the account's Service Month without a UTC offset were read in "
              f"{policy.timezone}")

    # With totals, rows may hold only the minutes that can be unavailable; the counts come from totals.
    totals = totals or MonthTotals.of(rows)
    with_data = totals.with_data
    no_traffic_minutes = (last - first) - (totals.traffic_normal if frame.counts_traffic_normal else totals.traffic_all)
    setting = frame.no_traffic
    if setting == "error" and no_traffic_minutes:
        raise InputError(f"account {account}, Service Month {service_month.label}: {no_traffic_minutes} minute(s) without "
                         f"requests, and the policy's no_traffic setting is 'error' ({frame.no_traffic_ref})")
    if found is not None:
        (minute_values, req, fail, ill, peak), traffic_minutes = found.columns, found.traffic_minutes
    else:
        requests, failures = rows.requests, rows.failures
        if totals.illegal_failures or requests.dtype != np.int64 or failures.dtype != np.int64:
            removed = _illegal_numbers(policy, rows, totals, trace)
            normal_requests, normal_failures = requests - removed, failures - removed
        else:  # nothing to remove (most months): the columns as they are, already of the type the subtraction gives
            normal_requests, normal_failures = requests, failures
        unavailable = unavailable_mask(policy, normal_requests, normal_failures)
        columns = (rows.minute, requests, failures, rows.illegal, rows.peak_qps)
        if setting == "unavailable" and no_traffic_minutes:
            # Every minute of the grid without normal requests, with data or not, is unavailable.
            columns, unavailable = _on_grid(columns, unavailable | ~(normal_requests > 0), first, last)
        picked = np.flatnonzero(unavailable)
        minute_values, req, fail, ill, peak = (column[picked] for column in columns)
        traffic_minutes = lambda: rows.minute[normal_requests > 0]  # noqa: E731 — found only if a warning needs it
    raw_unavailable = len(minute_values)
    if explain:
        trace_step(trace, "minutes", frame.unavailable_ref,
              f"{_minutes_of(frame)}; {with_data} with data; {no_traffic_minutes} without requests ({setting}: "
              f"{frame.no_traffic_ref}); {raw_unavailable} unavailable (success rate below "
              f"{policy.unavailable_below}%)")

    incidents = for_account(incidents, account)
    excluded_by: dict[str, int] = {}
    if raw_unavailable:
        context = EvaluationContext(account, service_month, frame.start, frame.end, incidents,
                                    for_account(notices, account))
        view = UnavailableMinutes(minute_values, req, fail, ill, peak, rows.has_peak_qps)
        attributed, applied_counts, sources = exclusions(policy, manager, context, view, trace, explain=explain)
        excluded_by = _exclusion_steps(policy, attributed, applied_counts, sources, trace, explain)
    else:
        attributed = np.full(0, -1)
    excluded_total = sum(excluded_by.values())
    counted = frame.removes_from(raw_unavailable, excluded_total)
    if explain:
        trace_step(trace, "unavailable_minutes", frame.exclusions_ref,
              f"{raw_unavailable} unavailable − {excluded_total} excluded = {counted} counted against the provider")
    warnings = _month_without_data(with_data, frame, trace) if explain else ()
    if explain and rows.incident_traffic is not None:  # counted as the minutes were read
        which = 1 if frame.counts_traffic_normal else 0
        per_window = {window: pair[which] for window, pair in rows.incident_traffic.items()}
        warnings += _provider_incidents_without_data(policy, account, incidents, per_window, first, last, trace, frame)
    elif explain and (rows.within_incidents or len(rows.minute) == totals.with_data):  # replay may hand only the candidate rows
        warnings += _provider_incidents_without_data(policy, account, incidents, traffic_minutes, first, last, trace,
                                                     frame)
    return MinutesOutcome(trace if explain else [], with_data, raw_unavailable, excluded_by, counted, minute_values,
                          attributed, warnings)


class UnavailableRows(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """One account's unavailable rows (§1.5), found with other accounts' by :func:`unavailable_rows`."""

    columns: tuple  # minute, requests, failures, illegal, peak_qps of the unavailable rows
    traffic_minutes: np.ndarray  # the minutes with requests (normal ones: these rows have no illegal-number failure)


# Accounts of at most FEW rows are put together, BLOCK rows at a time: for them the calls cost more than the
# arithmetic; for more rows, the copy would cost more than the calls, and the block stays within the caches.
FEW = 2048
BLOCK = 65536


def unavailable_rows(policy, service_month: ServiceMonth, cells: list) -> list:
    """For each (rows, totals) of ``cells``, its :class:`UnavailableRows`, or None where the rows are to be read
    alone (illegal-number failures to remove, another column type, a version that counts quiet minutes).

    The accounts of a block are tested together, as one column each: per account, the dozen numpy calls on a
    hundred-odd rows cost more than the arithmetic, and every account of a month makes them."""
    found: list = [None] * len(cells)
    if month_frame(policy, service_month).no_traffic == "unavailable":
        return found
    c1, c2 = policy.unavailable_coefficients
    for block in _blocks([i for i, (rows, totals) in enumerate(cells) if totals is not None and not totals.illegal_failures
                          and len(rows.minute) <= FEW and _plain_columns(rows)], cells):
        columns = [np.concatenate([getattr(cells[i][0], name) for i in block]) for name in _COLUMNS]
        ends = np.cumsum([len(cells[i][0].minute) for i in block])
        requests = columns[1]
        picked = np.flatnonzero(below_threshold(c1, c2, requests, columns[2]))
        chosen = [column[picked] for column in columns]
        with_traffic = np.flatnonzero(requests > 0)
        traffic = columns[0][with_traffic]
        cut = np.searchsorted(picked, ends).tolist()
        traffic_cut = np.searchsorted(with_traffic, ends).tolist()
        lo = traffic_lo = 0
        for i, hi, traffic_hi in zip(block, cut, traffic_cut):
            found[i] = UnavailableRows(tuple(column[lo:hi] for column in chosen), traffic[traffic_lo:traffic_hi])
            lo, traffic_lo = hi, traffic_hi
    return found


_COLUMNS = ("minute", "requests", "failures", "illegal", "peak_qps")


def _blocks(indices: list, cells: list):
    """``indices`` in runs of at most BLOCK rows."""
    block, size = [], 0
    for i in indices:
        length = len(cells[i][0].minute)
        if block and size + length > BLOCK:
            yield block
            block, size = [], 0
        block.append(i)
        size += length
    if block:
        yield block


def _plain_columns(rows: MonthMinutes) -> bool:
    """Columns of the types the minutes path gives (int64, a float64 peak), which a block keeps as they are."""
    return (rows.minute.dtype == np.int64 and rows.requests.dtype == np.int64 and rows.failures.dtype == np.int64
            and rows.illegal.dtype == np.int64 and rows.peak_qps.dtype == np.float64)


class _Unwritten(list):
    """A trace nobody reads (``explain=False``): steps appended to it are dropped."""

    def append(self, step) -> None:
        pass


def _minutes_of(frame: MonthFrame) -> str:
    """The month's minutes as the trace counts them: its Total Minutes (§1.6), and in a month its zone changes its
    clocks, the minutes that elapse too, which the counts of minutes with data and without requests add up to."""
    elapsed = frame.last - frame.first
    return f"{frame.total} minutes" if elapsed == frame.total else f"{frame.total} Total Minutes ({elapsed} elapse)"


def _without_requests(frame: MonthFrame) -> str:
    """How the version reads a minute without normal requests, as §1.4's warnings say it: available under the shipped
    reading, unavailable under a version whose `availability.no_traffic` says so (the warnings said 'available'
    whatever the version read, while every such minute counted against the provider)."""
    if frame.no_traffic == "available":
        return f"available ({frame.no_traffic_ref})"
    return f"{frame.no_traffic} ({frame.no_traffic_ref}, availability.no_traffic: {frame.no_traffic})"


def _month_without_data(with_data: int, frame: MonthFrame, trace: list) -> tuple:
    """An account evaluated without one minute of data (billed, or named, but absent from the minutes): every minute
    counts as the version reads a minute without requests (§1.4, docs/readings.md): under the shipped reading,
    available, so it meets the standard, which a whole month lost by monitoring, or minutes left out of a file or a
    request (an empty list sent by a client), would show the same way (``availability.no_traffic: unavailable``: every
    minute against the provider, said too).

    Counted in minutes that elapse, each a statistics point (§1.5): in a month the clocks go back that is 60 more than
    its Total Minutes (§1.6), and the message says both, as the result shows the Total Minutes beside it."""
    if with_data:
        return ()
    minutes = frame.last - frame.first
    if minutes == frame.total:
        counted = f"none of the Service Month's {minutes} minutes"
    else:
        counted = (f"none of the {minutes} minutes that elapse in the Service Month (its Total Minutes are "
                   f"{frame.total}, days × 1440, §1.6; its clocks change in it)")
    message = (f"{counted} has data for this account: they all count as {_without_requests(frame)}; check that its "
               "minutes were not lost (by monitoring, or left out of the file or request)")
    trace_step(trace, "warning", "§1.4", message)
    return ({"code": "no_minutes_with_data", "clause": "§1.4", "minutes": minutes, "message": message},)


# The provider incidents a month's warnings name one by one; the rest are counted in one more warning. Each warning
# is written twice (warnings and trace) for every account an incident concerns: 9,000 incidents for all accounts
# sent inline to POST /v1/evaluate (850 kB) with minutes of 100 accounts made 900,000 of them, half a gigabyte
# held by the service for one request.
NAMED_INCIDENTS = 20


def _provider_incidents_without_data(policy, account, incidents, traffic_minutes, first: int, last: int,
                                     trace: list, frame: MonthFrame) -> tuple:
    """A provider incident over minutes without normal requests: they count as the version reads them (§1.4;
    available under the shipped reading: :func:`_without_requests`), but monitoring may
    have lost the very minutes that failed. One warning per incident, with the count (its window rounded
    outward, inside the Service Month). ``traffic_minutes``: the minutes with normal requests (those within the
    provider incidents at least), or a function giving them, called when an incident first needs them; or a
    dict: (window inside the month) -> how many minutes of it have normal requests, counted as minutes were read."""
    found, more = [], 0
    for incident in incidents:
        if incident.cause != "provider" or (incident.account is not None and incident.account != account):
            continue
        lo, hi = _bounds(incident.start, incident.end, "outward")
        lo, hi = max(lo, first), min(hi, last)
        if lo >= hi:
            continue
        if isinstance(traffic_minutes, dict):
            quiet = (hi - lo) - traffic_minutes.get((lo, hi), 0)
        else:
            if callable(traffic_minutes):
                traffic_minutes = traffic_minutes()
            below_lo, below_hi = np.searchsorted(traffic_minutes, (lo, hi)).tolist()
            quiet = (hi - lo) - (below_hi - below_lo)
        if quiet and len(found) < NAMED_INCIDENTS:
            message = (f"provider incident {incident.id} covers {quiet} of its {hi - lo} minute(s) without normal "
                       f"requests in the data: they count as {_without_requests(frame)}; check that monitoring did "
                       "not lose them")
            found.append({"code": "provider_incident_without_data", "clause": "§1.4", "incident": incident.id,
                          "minutes": quiet, "message": message})
            trace_step(trace, "warning", "§1.4", message)
        elif quiet:
            more += 1
    if more:
        message = (f"{more} more provider incident(s) cover minutes without normal requests in the data (the first "
                   f"{NAMED_INCIDENTS} are named above): check that monitoring did not lose them")
        found.append({"code": "provider_incidents_without_data", "clause": "§1.4", "incidents": more, "message": message})
        trace_step(trace, "warning", "§1.4", message)
    return tuple(found)


def _exclusion_steps(policy, attributed, applied_counts: dict, sources: dict, trace: list, explain: bool = True) -> dict:
    """Minutes excluded per clause id, with a trace step for every clause that applied (when ``explain``)."""
    excluded_by = {}
    if not applied_counts:  # no clause applied to any minute
        return excluded_by
    per_clause = np.bincount(attributed[attributed >= 0], minlength=len(policy.minute_clauses))
    for index, clause in enumerate(policy.minute_clauses):
        excluded = int(per_clause[index])
        also = applied_counts.get(clause.id, 0) - excluded
        if excluded:
            excluded_by[clause.id] = excluded
        if not explain:
            continue
        if excluded:
            cited = ", ".join(f"{s} {i}" if i else f"{s}: {describe(clause.condition)}"
                              for s, i in sorted(sources.get(clause.id, ()), key=str))
            detail = f"{excluded} minute(s) excluded ({cited})"
            if also:
                detail += f"; it also applied to {also} minute(s) attributed to another clause"
            trace_step(trace, "exclusion", clause.ref, detail)
        elif also:
            trace_step(trace, "exclusion", clause.ref,
                  f"applied to {also} minute(s), each attributed to another clause ({policy.ref('exclusions', 'attribution')})")
    return excluded_by


def _on_grid(columns, flagged: np.ndarray, first: int, last: int):
    """Spread row columns over every minute of [first, last); minutes without a row get zeros (NaN peak)
    and are flagged."""
    minute = columns[0]
    grid = np.arange(first, last, dtype=np.int64)
    at = minute - first
    spread = [grid]
    for column in columns[1:]:
        full = np.full(len(grid), np.nan) if column.dtype.kind == "f" else np.zeros(len(grid), column.dtype)
        full[at] = column
        spread.append(full)
    mask = np.ones(len(grid), bool)
    mask[at] = flagged
    return spread, mask


def _illegal_numbers(policy, rows: MonthMinutes, totals: MonthTotals, trace: list) -> np.ndarray:
    """§5.10 acts on requests: illegal-number failures leave both counts when a request clause says so."""
    if not totals.illegal_failures:
        return np.zeros(len(rows.minute), np.int64)
    clause = policy.illegal_number_clause
    if clause is None:
        how = policy.setting("availability", "illegal_number_failures")
        trace_step(trace, "illegal_numbers", policy.ref("availability", "illegal_number_failures"),
              f"{totals.illegal_failures} illegal-number failure(s) counted as failures ({how})")
        return np.zeros(len(rows.minute), np.int64)
    trace_step(trace, "illegal_numbers", clause.ref,
          f"{totals.illegal_failures} illegal-number failure(s) in {totals.illegal_minutes} minute(s) removed from "
          f"both requests and failures ({policy.ref('availability', 'illegal_number_failures')})")
    return rows.illegal
