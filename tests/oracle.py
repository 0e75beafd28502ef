"""An independent reference computation of one account-month's outcome: a test helper, not a second engine.

Written clean-room from the documents a user reads (docs/readings.md, docs/cli.md "Reading an evaluation",
docs/policy-format.md and the policy YAML itself), without looking at the engine's code, so that the money the engine
computes is checked against a second reading of the same words rather than against itself. It is deliberately plain
and slow: every minute is a Python integer, every percentage a Fraction, every amount a Decimal, every condition of a
clause walked as written. `tests/test_oracle.py` draws random months and compares each money and minute field of
`evaluate`'s JSON with what `outcome` gives.

What it covers (each with the document it follows):
- the Service Month (§1.2, §1.6): the calendar month in the policy's timezone, cut by a term; Total Minutes are its
  days × 1440, while every minute that elapses in it is a statistics point (docs/readings.md, "§1.6 Months in which
  the clocks change");
- each minute's Call Success Rate over normal requests (§1.4, §1.5, §5.10: `illegal_number_failures`), a minute
  without normal requests read as `no_traffic` says, a minute missing from the data being such a minute;
- the exclusions of §5 (docs/readings.md, "§5 Windows and attribution", "How a clause sees a minute", "§5.7"):
  incident and notice windows rounded `outward` or `inward`, each unavailable minute asked once per pair (covering
  incident, covering notice), attributed to the first clause listed (a `fallback` clause only when nothing else
  applies);
- availability as an exact fraction, its display rounded with more decimals where two would contradict a decision
  (§2.1, docs/readings.md "§2.1 The displayed availability"), the standard (§2.2), the gate and the tiers (§3),
  the credit on the Monthly Service Fee, rounded, capped at the fee paid (§3.1(2));
- §1.4's warnings of provider incidents over minutes without requests: 20 named, in the order listed, the rest
  counted in one (docs/readings.md, "§1.4 Minutes without requests");
- the §6.1 room a claim may be granted (docs/readings.md, "§6.1 The aggregate cap"): `aggregate_room`;
- a claim's window (§3.2; docs/readings.md "§3.2(1) Business days", "§3.2(2) The last day to claim", "§3.2 When a
  claim is in time"; docs/cli.md "Claims", the decision's `window`): `claim_window`, with the business calendar from
  the holidays package the policy names, and the reasons of its timing, `window_reasons`;
- a claim's reconciliation with the records (docs/cli.md "Claims", the decision's `reconciliation`; §1.5's
  `partial_minutes`): `reconciliation`, and its decision, reasons and amounts (`decision`);
- a replay's rows and totals (docs/cli.md "Replay"): `replay_row` from the outcomes under the two versions,
  `replay_totals`.
"""
from __future__ import annotations

import calendar
import functools
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

UTC = dt.timezone.utc
MINUTE = dt.timedelta(minutes=1)


def percent(text) -> Fraction:
    """'99.5%' (or a bare number) as an exact Fraction of percent."""
    return Fraction(Decimal(str(text).strip().rstrip("%").strip()))


def setting(node):
    return node["value"] if isinstance(node, dict) else node


@dataclass
class Terms:
    """The settings of one policy version that an account-month's outcome depends on, read from its YAML."""

    raw: dict
    timezone: str
    unavailable_below: Fraction
    no_traffic: str
    illegal: str
    standard: Fraction
    met_when: str
    window_rounding: str
    notice_lead_minutes: int
    concurrency_fallback: str
    gate: str
    tiers: list
    monthly_cap: str
    rounding: str
    places: int
    display_decimals: int
    display_rounding: str
    parameters: dict
    clauses: list
    aggregate: dict = field(default_factory=dict)

    @classmethod
    def read(cls, path) -> "Terms":
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
        availability, exclusions, compensation = raw["availability"], raw["exclusions"], raw["compensation"]
        return cls(
            raw=raw,
            timezone=setting(raw["timezone"]),
            unavailable_below=percent(setting(availability["minute_unavailable_below"])),
            no_traffic=setting(availability["no_traffic"]),
            illegal=setting(availability["illegal_number_failures"]),
            standard=percent(availability["standard"]["value"]),
            met_when=availability["standard"].get("met_when", "at_least"),
            window_rounding=setting(exclusions["window_rounding"]),
            notice_lead_minutes=int(setting(exclusions["notice_lead_minutes"])),
            concurrency_fallback=setting(exclusions["concurrency_fallback"]),
            gate=setting(compensation["gate"]),
            tiers=compensation["tiers"],
            monthly_cap=setting(compensation["monthly_cap"]),
            rounding=compensation["rounding"]["value"],
            places=int(compensation["rounding"].get("places", 2)),
            display_decimals=int(setting(availability["display_decimals"])),
            display_rounding=setting(availability["display_rounding"]),
            parameters={name: setting(value) for name, value in (raw.get("parameters") or {}).items()},
            clauses=raw["disclaimers"],
            aggregate=compensation.get("aggregate_cap") or {},
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# --- time -------------------------------------------------------------------------------------------------------

def instant(text: str, zone: ZoneInfo) -> dt.datetime:
    """An input timestamp: with its offset as written, without one on the policy's wall clock (§1.11.1)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        early, late = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
        if early.utcoffset() != late.utcoffset():
            raise ValueError(f"{text} happens twice or never in {zone.key}")
        if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
            raise ValueError(f"{text} does not happen in {zone.key}")
        value = early
    return value.astimezone(UTC)


def epoch_minute(moment: dt.datetime) -> Fraction:
    """Minutes since the epoch, exactly (a window may start or end inside a minute)."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return Fraction(delta.days * 86400 + delta.seconds, 60) + Fraction(delta.microseconds, 60_000_000)


@dataclass
class ServiceMonth:
    start: dt.date
    end: dt.date  # the last day, included
    first: int  # epoch minute of its first statistics point
    stop: int  # epoch minute just after its last

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def total_minutes(self) -> int:
        return self.days * 1440  # §1.6, whatever the clocks do

    @property
    def elapsed(self) -> int:
        return self.stop - self.first


def service_month(month: str, zone: ZoneInfo, term_start: dt.date | None = None,
                  term_end: dt.date | None = None) -> ServiceMonth:
    """§1.2: the natural month, cut by the term where the term starts or ends inside it."""
    year, number = map(int, month.split("-"))
    start, end = dt.date(year, number, 1), dt.date(year, number, calendar.monthrange(year, number)[1])
    if term_start is not None:
        start, end = max(start, term_start), min(end, term_end)
    first = epoch_minute(dt.datetime.combine(start, dt.time(), zone).astimezone(UTC))
    stop = epoch_minute(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(UTC))
    assert first.denominator == 1 and stop.denominator == 1
    return ServiceMonth(start, end, int(first), int(stop))


def window_minutes(start: Fraction, end: Fraction, rounding: str, lo: int, hi: int) -> range:
    """The minutes [m, m+1) in [lo, hi) that a window [start, end) excludes: every one it touches (`outward`), or
    only those it covers whole (`inward`) (§5, `exclusions.window_rounding`)."""
    if rounding == "outward":
        first, stop = _floor(start), _ceil(end)
    elif rounding == "inward":
        first, stop = _ceil(start), _floor(end)
    else:
        raise ValueError(f"window_rounding {rounding!r}")
    return range(max(first, lo), max(min(stop, hi), max(first, lo)))


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


# --- the condition language (docs/policy-format.md, "Disclaimer clauses") ----------------------------------------

def _value(value, terms: Terms):
    if isinstance(value, dict) and "param" in value:
        return terms.parameters[value["param"]]
    return value


def _number(value) -> Fraction:
    if isinstance(value, (Fraction, int)) and not isinstance(value, bool):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def _same(fact, value) -> bool:
    if isinstance(fact, bool) or isinstance(value, bool):
        return fact is value if isinstance(value, bool) else str(value).lower() == str(fact).lower()
    if isinstance(fact, Fraction):
        return fact == _number(value)
    return str(fact) == str(value)


def holds(node, facts: dict, terms: Terms) -> bool:
    if "all" in node:
        return all(holds(part, facts, terms) for part in node["all"])
    if "any" in node:
        return any(holds(part, facts, terms) for part in node["any"])
    if "not" in node:
        return not holds(node["not"], facts, terms)
    if "when" in node:  # a reading wrapped with its ref and description
        return holds(node["when"], facts, terms)
    fact = facts[node["fact"]]
    for op in ("equals", "not_equals", "in", "not_in", "at_least", "above", "below", "at_most"):
        if op in node:
            value = _value(node[op], terms)
            break
    else:
        raise ValueError(f"no comparison in {node}")
    if op == "equals":
        return _same(fact, value)
    if op == "not_equals":
        return not _same(fact, value)
    if op == "in":
        return any(_same(fact, _value(v, terms)) for v in value)
    if op == "not_in":
        return not any(_same(fact, _value(v, terms)) for v in value)
    number, bound = _number(fact), _number(value)
    return {"at_least": number >= bound, "above": number > bound, "below": number < bound,
            "at_most": number <= bound}[op]


# --- the inputs ---------------------------------------------------------------------------------------------------

@dataclass
class Window:
    start: Fraction
    end: Fraction
    facts: dict
    published: Fraction | None = None
    minutes: range = range(0)

    __hash__ = object.__hash__


def _concerns(entry: dict, account: str) -> bool:
    return entry.get("account") in (None, account)


def count(value) -> int:
    """A count as a file or a row gives it: a whole number, as text or written with a zero fraction (100.0)."""
    number = Decimal(str(value).strip())
    assert number == number.to_integral_value(), value
    return int(number)


def _money(text) -> Decimal:
    return Decimal(str(text).strip())


def _round(amount: Decimal, rounding: str, places: int) -> Decimal:
    mode = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN}[rounding]
    return amount.quantize(Decimal(1).scaleb(-places), rounding=mode)


# --- the display of availability (§2.1) ---------------------------------------------------------------------------

_COMPARE = {"at_least": lambda a, t: a >= t, "above": lambda a, t: a > t,
            "below": lambda a, t: a < t, "at_most": lambda a, t: a <= t}


def thresholds(terms: Terms) -> list:
    """Every threshold a displayed availability is compared with: the standard and each tier's bounds."""
    found = [(terms.standard, terms.met_when)]
    for tier in terms.tiers:
        for op in _COMPARE:
            if op in tier:
                found.append((percent(tier[op]), op))
    return found


def _rounded(value: Fraction, places: int, rounding: str) -> Fraction:
    """`value` rounded to `places` decimals, a negative value as the mirror of its positive (docs/readings.md)."""
    if value < 0:
        return -_rounded(-value, places, rounding)
    scaled = value * 10 ** places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    rest = Fraction(rest, scaled.denominator)
    if rounding == "half_up":
        whole += rest >= Fraction(1, 2)
    elif rounding == "half_even":
        whole += rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1)
    elif rounding != "down":
        raise ValueError(f"display_rounding {rounding!r}")
    return Fraction(whole, 10 ** places)


def display(availability: Fraction, terms: Terms) -> str:
    places = terms.display_decimals
    bounds = thresholds(terms)
    while True:
        shown = _rounded(availability, places, terms.display_rounding)
        if all(_COMPARE[op](shown, t) == _COMPARE[op](availability, t) for t, op in bounds):
            break
        places += 1
    text = f"{abs(Decimal(shown.numerator) / Decimal(shown.denominator)):.{places}f}"
    return ("-" if availability < 0 else "") + text


# --- one account-month ---------------------------------------------------------------------------------------------

def outcome(terms: Terms, account: str, month: str, minutes=(), incidents=(), notices=(), billing=(),
            term_start: dt.date | None = None, term_end: dt.date | None = None, detail: dict | None = None) -> dict:
    """The fields of `evaluate`'s JSON for `account` in `month` that carry minutes or money; `detail`, when given, is
    filled with the minutes themselves (epoch minutes): `service_month`, `raw` (the unavailable) and `excluded`
    (minute → the clause it is attributed to), which a claim's reconciliation lists."""
    zone = terms.zone
    sm = service_month(month, zone, term_start, term_end)

    # §1.4, §1.5: the account's rows of the month, a minute belonging to the month holding its start.
    rows = {}
    for row in minutes:
        if row["account"] != account:
            continue
        minute = epoch_minute(instant(row["minute"], zone))
        assert minute.denominator == 1, row
        minute = int(minute)
        if sm.first <= minute < sm.stop:
            assert minute not in rows, f"minute listed twice: {row}"
            rows[minute] = row

    def normal(row):
        requests, failures = count(row["requests"]), count(row["failures"])
        illegal = count(row.get("illegal_number_failures") or 0)
        if terms.illegal == "remove_from_both":  # §5.10 acts on requests: they leave both counts
            return requests - illegal, failures - illegal
        return requests, failures

    def unavailable(minute) -> bool:
        row = rows.get(minute)
        requests, failures = normal(row) if row else (0, 0)
        if requests == 0:
            if terms.no_traffic == "error":
                raise ValueError("no_traffic: error")
            return terms.no_traffic == "unavailable"
        # success rate (requests − failures)/requests below the threshold; exactly at it is available
        return Fraction(requests - failures, requests) * 100 < terms.unavailable_below

    candidates = range(sm.first, sm.stop) if terms.no_traffic == "unavailable" else sorted(rows)
    raw = [m for m in candidates if unavailable(m)]

    # §5: the windows that concern the account.
    windows_incidents = [Window(epoch_minute(instant(i["start"], zone)), epoch_minute(instant(i["end"], zone)),
                                {"incident.cause": i["cause"]}) for i in incidents if _concerns(i, account)]
    notice_windows, customer_notices = [], []
    lead = Fraction(terms.notice_lead_minutes)
    for n in notices:
        if not _concerns(n, account):
            continue
        start, end = epoch_minute(instant(n["start"], zone)), epoch_minute(instant(n["end"], zone))
        published = epoch_minute(instant(n["published_at"], zone))
        prior = published < start and start - published >= lead
        window = Window(start, end, {"notice.kind": n["kind"], "notice.published_before_start": prior}, published)
        # Every notice is a window of `notice.*` facts, a customer's high_concurrency notice too (docs/plugins.md: the
        # notices plugin yields them "per notice"; the policy's facts give notice.kind the value high_concurrency);
        # the customer's also make the minute's fact `minute.customer_prior_notice` (§5.7).
        notice_windows.append(window)
        if n["kind"] == "high_concurrency":
            customer_notices.append(window)

    for w in windows_incidents + notice_windows + customer_notices:
        w.minutes = window_minutes(w.start, w.end, terms.window_rounding, sm.first, sm.stop)

    def covering(windows, minute):
        return tuple(w for w in windows if minute in w.minutes) if windows else ()

    def attributed(minute_facts, incidents, notices):
        """The clause a minute is excluded under, or None (§5: the first listed; a fallback only alone)."""
        incident_facts = [w.facts for w in incidents] or [{"incident.cause": "none"}]
        notice_facts = [w.facts for w in notices] or [{"notice.kind": "none", "notice.published_before_start": False}]
        applied = []
        for clause in terms.clauses:
            if clause.get("acts_on") == "requests":
                continue
            if any(holds(clause["when"], {**minute_facts, **i, **n}, terms)
                   for i in incident_facts for n in notice_facts):
                applied.append(clause)
        first = [c for c in applied if c.get("attribution") != "fallback"] or applied
        return str(first[0]["id"]) if first else None

    # The same question asked again (every minute without data looks alike) gets the same answer. The concurrency is
    # keyed by its numerator and denominator (a Fraction's are its lowest terms: equal exactly when it is): hashing and
    # comparing the Fraction itself was most of a month of minutes without traffic counted unavailable (no_traffic).
    asked = {}
    excluded: dict[str, int] = {}
    for minute in raw:
        row = rows.get(minute)
        if row is not None and row.get("peak_qps") not in (None, ""):
            concurrency = _number(row["peak_qps"])
        elif terms.concurrency_fallback == "requests_per_60":
            concurrency = Fraction(count(row["requests"]) if row else 0, 60)
        else:
            concurrency = Fraction(0)  # the fact's declared default
        prior_notice = any(w.facts["notice.published_before_start"] for w in covering(customer_notices, minute))
        key = (concurrency.numerator, concurrency.denominator, prior_notice, covering(windows_incidents, minute),
               covering(notice_windows, minute))
        if key not in asked:
            minute_facts = {"minute.concurrency_qps": concurrency, "minute.customer_prior_notice": prior_notice,
                            "request.failure_reason": "none"}
            asked[key] = attributed(minute_facts, key[3], key[4])
        clause = asked[key]
        if clause is not None:
            excluded[clause] = excluded.get(clause, 0) + 1
            if detail is not None:
                detail.setdefault("excluded", {})[minute] = clause
    if detail is not None:
        detail.update(service_month=sm, raw=set(raw))
        detail.setdefault("excluded", {})

    # §1.4: a provider incident over minutes without normal requests is a warning, with the count of those minutes
    # among every minute its window touches (rounded outward, whatever window_rounding says: docs/readings.md).
    def without_requests(minute):
        row = rows.get(minute)
        return row is None or normal(row)[0] == 0

    lost = {}
    for incident in incidents:
        if incident["cause"] != "provider" or not _concerns(incident, account):
            continue
        touched = window_minutes(epoch_minute(instant(incident["start"], zone)),
                                 epoch_minute(instant(incident["end"], zone)), "outward", sm.first, sm.stop)
        missing = sum(1 for minute in touched if without_requests(minute))
        if missing:
            lost[incident["id"]] = missing

    counted = len(raw) - sum(excluded.values())
    total = sm.total_minutes
    exact = Fraction(total - counted, total) * 100
    meets = _COMPARE[terms.met_when](exact, terms.standard)

    credit = Fraction(0)
    if not (terms.gate == "below_standard" and meets):
        for tier in terms.tiers:
            if all(_COMPARE[op](exact, percent(tier[op])) for op in _COMPARE if op in tier):
                credit = percent(tier["credit"])
                break

    fee = compensation = None
    bill = [b for b in billing if b["account"] == account and b["month"] == month]
    assert len(bill) <= 1
    if bill:
        fee, offset = _money(bill[0]["monthly_fee"]), _money(bill[0].get("offset") or "0")
        amount = _round(fee * Decimal(credit.numerator) / Decimal(credit.denominator) / 100, terms.rounding,
                        terms.places)
        if terms.monthly_cap == "fee_paid":
            amount = min(amount, fee - offset)
        compensation = f"{amount:.{terms.places}f}"
        fee = f"{fee:.{terms.places}f}"

    return {
        "service_month": {"start": sm.start.isoformat(), "end": sm.end.isoformat(), "days": sm.days,
                          "total_minutes": total},
        "minutes_with_data": len(rows),
        "raw_unavailable_minutes": len(raw),
        "excluded_minutes": dict(sorted(excluded.items(), key=lambda kv: _clause_order(terms, kv[0]))),
        "unavailable_minutes": counted,
        "availability_exact": f"{total - counted}/{total}",
        "availability_percent": display(exact, terms),
        "meets_standard": meets,
        "credit_percent": credit,
        "monthly_fee": fee,
        "compensation": compensation,
        "elapsed_minutes": sm.elapsed,
        # the first 20 named one by one, in the order the incidents are listed; any more counted in one warning
        "provider_incidents_without_data": dict(list(lost.items())[:NAMED_INCIDENTS]),
        "provider_incidents_more": max(0, len(lost) - NAMED_INCIDENTS),
    }


NAMED_INCIDENTS = 20  # docs/readings.md, "§1.4 Minutes without requests"


def _clause_order(terms: Terms, clause_id: str) -> int:
    return [str(c["id"]) for c in terms.clauses].index(clause_id)


# --- §6.1: the room a claim may be granted (docs/readings.md, "§6.1 The aggregate cap") ------------------------------

def _month_index(month: str) -> int:
    year, number = map(int, month[:7].split("-"))
    return year * 12 + number - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def first_month_of_use(account: str, billing) -> str | None:
    """The billing's `service_start` when it gives one, else the account's first billed month."""
    rows = [b for b in billing if b["account"] == account]
    starts = {str(b["service_start"]).strip() for b in rows if b.get("service_start") not in (None, "")}
    if starts:
        (start,) = starts
        return start[:7]
    return min((b["month"] for b in rows), default=None)


def cap_window(terms: Terms, first: str, month_n: int) -> range:
    """W(N): every month of use while they are `after_months_of_use` or fewer, then the `lookback_months` ending
    with N (never before the first month of use)."""
    lookback = int(terms.aggregate.get("lookback_months", 12))
    after = int(terms.aggregate.get("after_months_of_use", 12))
    start = _month_index(first)
    used = month_n - start + 1
    if used > after:
        start = max(start, month_n - lookback + 1)
    return range(start, month_n + 1)


def aggregate_room(terms: Terms, account: str, month: str, billing, granted: dict) -> Decimal | None:
    """The largest grant for `month` that keeps, for every N ≥ month whose window holds it, the grants for the
    window's months (every grant recorded, `granted`: month → amount) within the fees paid in it (fee less
    offset; a month without a billing row paid nothing). None when the policy has no aggregate cap."""
    if setting(terms.aggregate or {"value": "none"}) == "none":
        return None
    first = first_month_of_use(account, billing)
    paid = {}
    for b in billing:
        if b["account"] == account:
            paid[_month_index(b["month"])] = _money(b["monthly_fee"]) - _money(b.get("offset") or "0")
    grants = {_month_index(m): Decimal(a) for m, a in granted.items()}
    m = _month_index(month)
    horizon = int(terms.aggregate.get("lookback_months", 12)) + int(terms.aggregate.get("after_months_of_use", 12))
    rooms = []
    for n in range(m, m + horizon + 1):
        window = cap_window(terms, first, n)
        if m not in window:
            continue
        rooms.append(sum((paid.get(k, Decimal(0)) for k in window), Decimal(0))
                     - sum((grants.get(k, Decimal(0)) for k in window), Decimal(0)))
    return min(rooms) if rooms else Decimal(0)


# --- §3.2: the claim window (docs/readings.md "§3.2(1) Business days", "§3.2(2) The last day to claim"; docs/cli.md
# "Claims": the decision's `window`; docs/plugins.md "slapolicy_business_calendar") ----------------------------------

class BusinessCalendar:
    """`claims.business_calendar`: `weekdays`, or a country code of the holidays package (`US-CA`: a subdivision),
    whose public holidays are not business days and whose make-up working days (a weekend day worked) are."""

    def __init__(self, name: str):
        self.name = name
        self.days = None
        if name != "weekdays":
            import holidays

            country, _, subdivision = name.partition("-")
            self.days = holidays.country_holidays(country, subdiv=subdivision or None)

    def holiday(self, day: dt.date) -> str | None:
        return None if self.days is None else self.days.get(day)

    def is_business_day(self, day: dt.date) -> bool:
        if self.days is None:
            return day.weekday() < 5
        worked = getattr(self.days, "weekend_workdays", set()) or set()
        if day.weekday() >= 5:
            return day in worked
        return day not in self.days


@functools.cache
def business_calendar(name: str) -> BusinessCalendar:
    return BusinessCalendar(name)


def claim_window(terms: Terms, month: str, term_start: dt.date | None = None,
                 term_end: dt.date | None = None) -> dict:
    """The decision's `window` for a claim on `month`: it opens at `at` on the day after the Nth business day of the
    month following the end of the Service Month (after 0, as the month after it begins), and closes at the end of
    the `calendar_days_after_end`th calendar day after the Service Month's last day (the term's, where a term cuts
    it), both on the policy's clock."""
    claims = terms.raw["claims"]
    opens_rule, closes_rule = claims["window_opens"], claims["window_closes"]
    calendar_ = business_calendar(str(setting(claims["business_calendar"])))
    zone = terms.zone
    last = service_month(month, zone, term_start, term_end).end
    following = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1)
    wanted = int(opens_rule["after_business_days"])
    skipped = []
    if wanted == 0:  # the day after which the month following begins (a term's last day is not: docs/cli.md)
        business_day, opens_day = following - dt.timedelta(days=1), following
    else:
        day, counted = following, 0
        while True:
            if calendar_.is_business_day(day):
                counted += 1
                if counted == wanted:
                    break
            elif day.weekday() < 5 and calendar_.holiday(day) is not None:
                skipped.append({"date": day.isoformat(), "name": calendar_.holiday(day)})
            day += dt.timedelta(days=1)
        business_day, opens_day = day, day + dt.timedelta(days=1)
    hour, minute = map(int, str(opens_rule.get("at", "00:00")).split(":"))
    opens = dt.datetime.combine(opens_day, dt.time(hour, minute), zone)
    last_day = last + dt.timedelta(days=int(closes_rule["calendar_days_after_end"]))
    closes = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), zone)
    return {"opens": opens.isoformat(), "closes": closes.isoformat(), "last_day": last_day.isoformat(),
            "after_business_day": business_day.isoformat(), "holidays_skipped": skipped}


def window_reasons(terms: Terms, window: dict, month: str, filed_at: dt.datetime,
                   term_start: dt.date | None = None, term_end: dt.date | None = None) -> list:
    """The reasons of §3.2 a claim filed at `filed_at` is given, in the order a decision lists them: filed before the
    Service Month ended (its end is the first instant after its last day: a claim is judged by when it was filed, and
    one filed after the time it is decided at is refused), before the window opens (an instant at its opening is in
    time), and at or after its close (the end of the last day is past it)."""
    reasons = []
    sm = service_month(month, terms.zone, term_start, term_end)
    if epoch_minute(filed_at) < sm.stop:
        reasons.append("month_not_ended")
    if filed_at < dt.datetime.fromisoformat(window["opens"]):
        reasons.append("filed_too_early")
    if filed_at >= dt.datetime.fromisoformat(window["closes"]):
        reasons.append("filed_too_late")
    return reasons


# --- §3.2(1), §3.3: a claim reconciled with the provider's records, and its decision (docs/cli.md "Claims",
# docs/readings.md "§3.3 The unavailability a claim states", "§3.2 When a claim is in time", "§6.1") -----------------

def claimed_minutes(terms: Terms, claim: dict, sm: ServiceMonth) -> set:
    """The minutes of the Service Month the claim's windows state, each counted once: those a window covers whole
    (`availability.partial_minutes: whole_minutes_only`, "less than 1 minute is not counted") or touches (`touched`)."""
    partial = setting(terms.raw["availability"].get("partial_minutes", "whole_minutes_only"))
    rounding = {"whole_minutes_only": "inward", "touched": "outward"}[partial]
    found = set()
    for window in claim.get("unavailability") or ():
        found.update(window_minutes(epoch_minute(instant(window["start"], terms.zone)),
                                    epoch_minute(instant(window["end"], terms.zone)), rounding, sm.first, sm.stop))
    return found


def runs(minutes, zone: ZoneInfo) -> list:
    """Consecutive minutes as `[start, end)` runs, on the policy's clock, each with its count."""
    found = []
    for minute in sorted(minutes):
        if found and found[-1][1] == minute:
            found[-1][1] = minute + 1
        else:
            found.append([minute, minute + 1])

    def stamp(minute):
        return dt.datetime.fromtimestamp(minute * 60, UTC).astimezone(zone).isoformat()

    return [{"start": stamp(a), "end": stamp(b), "minutes": b - a} for a, b in found]


def reconciliation(terms: Terms, claim: dict, detail: dict) -> dict:
    """The claim's minutes beside the records' (§3.2(1): the provider's records prevail): confirmed are the claimed
    minutes counted against the provider; the rest are listed as runs, claimed but available in the records, claimed
    but excluded by a clause of §5, and counted against the provider but not claimed."""
    claimed = claimed_minutes(terms, claim, detail["service_month"])
    raw, excluded = detail["raw"], set(detail["excluded"])
    counted = raw - excluded
    return {"clause": "§3.2(1)", "records_prevail": setting(terms.raw["claims"]["records_prevail"]),
            "claimed_minutes": len(claimed), "confirmed_minutes": len(claimed & counted),
            "claimed_not_unavailable_in_records": runs(claimed - raw, terms.zone),
            "claimed_but_excluded": runs(claimed & excluded, terms.zone),
            "unavailable_not_claimed": runs(counted - claimed, terms.zone)}


def missing_materials(terms: Terms, claim: dict) -> list:
    """The claim fields a §3.3 material requires (`requires`) that the claim lacks (absent, null, blank or an empty
    list), in the policy's order of the materials and of their fields, each once: each is a reason of its own."""
    def lacks(value):
        return value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, (list, dict)) and not value)

    found = []
    for material in terms.raw["claims"]["required_materials"]:
        found += [name for name in material["requires"] if lacks(claim.get(name)) and name not in found]
    return found


def decision(terms: Terms, claim: dict, month_outcome: dict, window: dict, filed_at: dt.datetime,
             room: Decimal | None, granted_before: bool, term_start=None, term_end=None) -> dict:
    """The decision on a claim: every reason found, in order (the window's timing, the channel, each material
    missing, the standard met or nothing owed, the month compensated already); `denied` with any reason but a
    material missing, `incomplete` with only those, else `approved`, granting the month's compensation within the
    §6.1 room."""
    reasons = window_reasons(terms, window, claim["service_month"], filed_at, term_start, term_end)
    if claim["channel"] != setting(terms.raw["claims"]["channel"]):
        reasons.append("wrong_channel")
    reasons += ["missing_materials"] * len(missing_materials(terms, claim))
    monthly = Decimal(month_outcome["compensation"])
    grant = monthly if room is None else min(monthly, max(room, Decimal(0)))
    if month_outcome["meets_standard"] and terms.gate == "below_standard":  # the gate of §2.2 and §3 is shut
        reasons.append("standard_met")
    elif granted_before:  # a Service Month is compensated once: nothing more is owed for it
        reasons.append("already_compensated")
    elif grant == 0:
        reasons.append("nothing_owed")
    verdict = ("approved" if not reasons else
               "incomplete" if set(reasons) == {"missing_materials"} else "denied")
    # the compensation is granted only by an approval; its detail is shown unless the standard was met or the month
    # was compensated already (no amount is computed then)
    owed = not {"standard_met", "already_compensated"} & set(reasons)
    return {"decision": verdict, "reasons": reasons, "monthly": f"{monthly:.{terms.places}f}" if owed else None,
            "compensation": f"{grant:.{terms.places}f}" if verdict == "approved" else None,
            "capped": grant < monthly if owed else None}


# --- replay: each account-month under the version in force and under an amended one (docs/cli.md "Replay") --------

REPLAYED = ("availability_percent", "meets_standard", "credit_percent", "compensation", "monthly_fee",
            "unavailable_minutes", "excluded_minutes")


def replay_row(baseline: dict, amended: dict) -> dict:
    """One account-month of a replay from the two outcomes: each side's figures, and the credit and money moved
    (no money without billing)."""
    def side(found):
        shown = {key: found[key] for key in REPLAYED}
        shown["excluded_minutes"] = {k: v for k, v in found["excluded_minutes"].items() if v}
        return shown

    old, new = side(baseline), side(amended)
    money = None
    if old["compensation"] is not None and new["compensation"] is not None:
        money = Decimal(new["compensation"]) - Decimal(old["compensation"])
    return {"baseline": old, "amended": new,
            "delta": {"credit_percent": new["credit_percent"] - old["credit_percent"],
                      "compensation": None if money is None else f"{money:.2f}"}}


def replay_totals(rows: list) -> dict:
    """The totals of rows: how many, how many changed (anything the row shows moved, the availability's display
    too), the money on each side and its difference over the rows with billing, and how many rows had none."""
    billed = [r for r in rows if r["delta"]["compensation"] is not None]
    old = sum((Decimal(r["baseline"]["compensation"]) for r in billed), Decimal(0))
    new = sum((Decimal(r["amended"]["compensation"]) for r in billed), Decimal(0))
    changed = sum(1 for r in rows if r["baseline"] != r["amended"])
    return {"account_months": len(rows), "changed": changed, "baseline_compensation": f"{old:.2f}",
            "amended_compensation": f"{new:.2f}", "delta": f"{new - old:.2f}", "without_billing": len(rows) - len(billed)}
