"""The claim (§3.3): the document a customer files, its fields read and checked, and the materials it
must carry; each reason found has its code, its clause and a sentence a customer understands."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import NamedTuple

from ..calendar import OUTSIDE_YEARS, in_supported_years, month_problem, written_date
from ..errors import InputError
from ..files import json_data_problem, json_type, load_json, type_problem
from ..inputs.events import read_document
from ..inputs.tables import account_name, typed_account_problem
from ..inputs.timestamps import parse_timestamp


CLAIM_FIELDS = ("account", "service_month", "filed_at", "channel", "event_report", "unavailability")


OPTIONAL_CLAIM_FIELDS = ("failure_records", "term_start", "term_end", "claim_id", "contact")


# The JSON types each field of a claim takes. Only the first four must be given; the others may be left out or be
# null, which means the same (JSON clients send null for a field they do not set). A claim without a material the
# policy's claims.required_materials requires (event_report, unavailability, failure_records) is decided `incomplete`
# (§3.3), not refused. The OpenAPI document of `slapolicy serve` describes the
# claim from this table, so the service and `slapolicy claim` take the same claims.
REQUIRED_CLAIM_FIELDS = ("account", "service_month", "filed_at", "channel")
# What each required field holds, said when it is missing: a first claim is written from a list of field names.
_REQUIRED_CLAIM_FIELD_SAYS = {
    "account": "the account claiming, as the minutes and billing name it",
    "service_month": 'the Service Month claimed, written YYYY-MM, e.g. "2019-03"',
    # A time without an offset is read on the policy's clock, as every timestamp is (docs/cli.md): the message said an
    # offset was required. The example still gives one: a claim's filing time is usually taken by a system elsewhere.
    "filed_at": 'when the claim was filed: an ISO 8601 timestamp, e.g. "2019-04-10T10:00+08:00"; one without a UTC '
                "offset is read in the policy's timezone",
    "channel": 'how the claim was filed, e.g. "work_order": the policy\'s claims.channel names the one accepted'}
# A term's date sent blank: a Go struct's string left unset is sent "" (encoding/json without omitempty), where leaving
# the field out, or null, is what means no term (a request to `slapolicy serve` says so of its own term likewise).
TERM_BLANK = "is blank: leave it out, or null, for no term"
CLAIM_FIELD_TYPES = {"account": ("string", "integer"), "service_month": ("string",), "filed_at": ("string",),
                     "channel": ("string",), "event_report": ("string", "null"), "unavailability": ("array", "null"),
                     "failure_records": ("array", "null"), "term_start": ("string", "null"),
                     "term_end": ("string", "null"), "claim_id": ("string", "null"), "contact": ("string", "null")}


class Claim(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    account: str
    service_month: str
    filed_at: dt.datetime
    channel: str
    event_report: str | None
    unavailability: tuple  # ((start, end), ...) aware datetimes
    failure_records: object
    term_start: dt.date | None
    term_end: dt.date | None
    raw: dict  # the claim as filed, its null fields left out
    digest: str  # see claim_digest
    # The digests earlier slapolicy versions recorded the same claim under, when they differ from ``digest``: of the
    # claim with its account as sent (1000, " acme "), before the account was read as its name; of the claim as
    # sent, its nulls included, before nulls were left out. A claim sent again is recognised by them too.
    earlier_digests: tuple = ()


def load_claim_document(path: str | Path) -> dict:
    path = Path(path)
    text = read_document(path, "claim")
    return claim_object(load_json(text, path), str(path))


def claim_object(data, where: str) -> dict:
    """A claim is a JSON object (in a file, or a request body to `slapolicy serve`)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: a claim is a JSON object, not {json_type(data)}")
    return data


def parse_claim(data: dict, timezone: str, where: str = "claim") -> Claim:
    """Check the fields of a claim; every problem names its field."""
    problems = _shape_problems(data)
    # Through the API a claim is a Python dict: what JSON cannot hold (a datetime, NaN, a list inside itself) is named
    # here, not found by the ledger's json.dumps as a bare TypeError or RecursionError.
    problems += [problem for key, value in data.items()
                 if key in CLAIM_FIELD_TYPES and _of_its_type(key, value) and (problem := json_data_problem(value, key))]
    typed = {key: value for key, value in data.items() if key in CLAIM_FIELD_TYPES and _of_its_type(key, value)}
    month = typed.get("service_month")
    if isinstance(month, str) and (problem := month_problem(month, "field 'service_month':")):
        problems.append(problem)
    filed_at = None
    if isinstance(typed.get("filed_at"), str):
        try:
            filed_at = _supported(parse_timestamp(typed["filed_at"], timezone, "field 'filed_at'")[0],
                                  typed["filed_at"], "field 'filed_at'")
        except InputError as error:
            problems.append(str(error))
    problems += _failure_record_problems(typed)
    windows = _windows(typed.get("unavailability") or [], timezone, problems)
    terms = {}
    for key in ("term_start", "term_end"):
        if isinstance(typed.get(key), str) and not typed[key].strip():
            problems.append(f"field {key!r} {TERM_BLANK}")
        elif typed.get(key) is not None:
            try:
                terms[key] = written_date(typed[key])
            except ValueError:
                problems.append(f"field '{key}': {typed[key]!r} is not a date written YYYY-MM-DD")
                continue
            if not in_supported_years(terms[key]):
                problems.append(f"field '{key}': {terms[key]} {OUTSIDE_YEARS}")
    if (data.get("term_start") is None) != (data.get("term_end") is None):  # null is the same as left out
        problems.append("fields 'term_start' and 'term_end' go together")
    elif len(terms) == 2 and terms["term_end"] < terms["term_start"]:
        problems.append(f"field 'term_end': {terms['term_end']} is before term_start {terms['term_start']} (the term "
                        "ends before it starts)")
    if problems:
        raise InputError(f"{where}: " + "; ".join(problems))
    filed = {key: value for key, value in data.items() if value is not None}  # null is left out, for the ledger too
    account = account_name(data["account"])
    digest = claim_digest(filed | {"account": account})
    earlier = tuple(d for d in dict.fromkeys((claim_digest(filed), claim_digest(data))) if d != digest)
    return Claim(account, month, filed_at, data["channel"].strip(), typed.get("event_report"), tuple(windows),
                 typed.get("failure_records"), terms.get("term_start"), terms.get("term_end"), filed, digest, earlier)


def _supported(stamp: dt.datetime, written, where: str) -> dt.datetime:
    """A claim's time, if its year (as written) is one slapolicy evaluates: filed in year 1, a claim was decided
    (denied as filed before its month ended) where a service_month of year 1 is refused; `--now` says the same."""
    if not in_supported_years(stamp):
        raise InputError(f"{where}: {written!r} {OUTSIDE_YEARS}")
    return stamp


def claim_digest(claim: dict) -> str:
    """The sha256 of a claim's canonical JSON. The ledger recognises a claim filed again (docs/ledger.md) by it over
    the claim without its nulls and with its account as the name it is read as, so the same claim sent with
    `"contact": null` over HTTP and without it from a file is one claim, as is one naming account 1000 and one naming
    "1000"; a claim without nulls whose account is written as its name keeps the digest it always had, and ledgers
    written before recognise the others by :attr:`Claim.earlier_digests`."""
    return hashlib.sha256(json.dumps(claim, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _windows(spans: list, timezone: str, problems: list) -> list:
    """The unavailability the claim reports: each {start, end} read in the policy's timezone (§3.3)."""
    windows = []
    for i, span in enumerate(spans):
        if not isinstance(span, dict) or set(span) - {"start", "end", "note"} or "start" not in span or "end" not in span:
            problems.append(f"field 'unavailability[{i}]' must be {{start, end}}")
            continue
        wrong = [type_problem(f"unavailability[{i}].{key}", span[key], ("string",)) for key in ("start", "end")]
        if any(wrong):
            problems += [problem for problem in wrong if problem]
            continue
        try:
            where = f"field 'unavailability[{i}]'"
            start = _supported(parse_timestamp(span["start"], timezone, where)[0], span["start"], where)
            end = _supported(parse_timestamp(span["end"], timezone, where)[0], span["end"], where)
        except InputError as error:
            problems.append(str(error))
            continue
        if end <= start:
            problems.append(f"field 'unavailability[{i}]': end {span['end']} is not after start {span['start']}")
            continue
        windows.append((start, end))
    return windows


def _shape_problems(data: dict) -> list[str]:
    """Each field of the claim is known, given when it must be, of its JSON type, and not blank where a text is
    needed; the messages speak JSON (the claim is a JSON document, over HTTP as in a file)."""
    problems = []
    for key in REQUIRED_CLAIM_FIELDS:
        if key not in data:
            problems.append(f"field {key!r} is missing ({_REQUIRED_CLAIM_FIELD_SAYS[key]})")
        elif isinstance(data[key], str) and not data[key].strip():
            problems.append(f"field {key!r} is blank")
    for key, value in data.items():
        if key not in CLAIM_FIELD_TYPES:
            problems.append(f"field {key!r} is unknown (expected: {', '.join(CLAIM_FIELD_TYPES)})")
        elif problem := _type_problem(key, value):
            problems.append(problem)
    return problems


def _of_its_type(key: str, value) -> bool:
    return _type_problem(key, value) is None


def _type_problem(key: str, value) -> str | None:
    """The account is named by text or a whole number (its digits), by the rule of every input
    (:func:`..inputs.tables.typed_account_problem`); the other fields by their JSON types."""
    if key == "account" and not isinstance(value, str):
        if problem := typed_account_problem(value):
            return f"field 'account': {problem}"
        if isinstance(value, int):
            return None
    return type_problem(key, value, CLAIM_FIELD_TYPES[key])


def _failure_record_problems(data: dict) -> list[str]:
    """A record list has a shape too: a list of 'x' or [1, null] would otherwise count as records (§3.3)."""
    records = data.get("failure_records")
    if records is not None and not all(isinstance(r, str) and shows_something(r) or isinstance(r, dict) and r
                                       for r in records):
        return ["field 'failure_records' must be a list of service records of failed calls, "
                "each a record id (text) or a record (an object), e.g. [\"call-7781\"]"]
    return []


def shows_something(text: str) -> bool:
    """Whether ``text`` shows anything but space: a material of a claim (§3.3) written with nothing but a zero-width
    space, a byte order mark, a direction mark or a control character is as missing as a blank one. What shows
    nothing is the policy's one rule (:func:`slapolicy.policy.load.invisible`)."""
    # Imported here, not with this module: the policy's package (its checks, the plugins, pluggy: ~17 ms) would load
    # with the claim's document, before the claim's reading ahead starts (benchmarks/README.md); the engine loads it.
    from ..policy.load import invisible  # not at the top: the claim's document is read before the policy's package

    return any(not char.isspace() and not invisible(char) for char in text)


def claim_reason(code: str, clause: str, message: str, field: str | None = None) -> dict:
    """One reason of a claim's decision as its JSON gives it: the code, the clause it rests on, and its words;
    ``field``: the claim's field the reason is about, where one is (a material missing)."""
    reason = {"code": code, "clause": clause, "message": message}
    if field is not None:
        reason["field"] = field
    return reason


# What a claim lacks when a field a material requires is missing or empty (the claim's fields are the input's), and
# where to give it: an incomplete claim is filed again with the field, and its words named none.
MISSING_FIELD = {
    "event_report": "The claim lacks a detailed event description report: write it in the claim's field 'event_report'.",
    "unavailability": "The claim does not give the date, time and duration of the unavailability: give each period in "
                      "the claim's field 'unavailability', as {\"start\": …, \"end\": …}.",
    "failure_records": "The claim lacks the service records of the failed incoming or outgoing calls: list them in the "
                       "claim's field 'failure_records'.",
}


# Encodings written before materials said what they require (superseded ones, kept so that their decisions can
# be audited) named these two by id, with this meaning.
REQUIRES_BY_ID = {"event_report": ["event_report"], "failure_records": ["unavailability", "failure_records"]}


def material_reasons(policy, claim: Claim) -> list[dict]:
    """§3.3: each material the policy requires, by the claim fields it names (``requires``)."""
    values = {"event_report": shows_something(claim.event_report or ""), "unavailability": claim.unavailability,
              "failure_records": claim.failure_records}
    return [claim_reason("missing_materials", item["ref"], MISSING_FIELD[field], field)
            for item in policy.raw["claims"]["required_materials"]
            for field in item.get("requires") or REQUIRES_BY_ID[item["id"]] if not values[field]]
