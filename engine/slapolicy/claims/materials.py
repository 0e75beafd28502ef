"""The claim (§3.3): the document a customer files, its fields read and checked, and the materials it
must carry; each reason found has its code, its clause and a sentence a customer understands."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..calendar import FIRST_YEAR, LAST_YEAR
from ..errors import InputError
from ..files import load_json
from ..inputs.events import read_document
from ..inputs.tables import account_name
from ..inputs.timestamps import parse_timestamp


CLAIM_FIELDS = ("account", "service_month", "filed_at", "channel", "event_report", "unavailability")


OPTIONAL_CLAIM_FIELDS = ("failure_records", "term_start", "term_end", "claim_id", "contact")


@dataclass(frozen=True)
class Claim:
    account: str
    service_month: str
    filed_at: dt.datetime
    channel: str
    event_report: str | None
    unavailability: tuple  # ((start, end), ...) aware datetimes
    failure_records: object
    term_start: dt.date | None
    term_end: dt.date | None
    raw: dict
    digest: str  # sha256 of the canonical JSON of the claim


def load_claim_document(path: str | Path) -> dict:
    path = Path(path)
    text = read_document(path, "claim")
    data = load_json(text, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: a claim is a JSON object, not {type(data).__name__}")
    return data


def parse_claim(data: dict, timezone: str, where: str = "claim") -> Claim:
    """Check the fields of a claim; every problem names its field."""
    problems = []
    for key in ("account", "service_month", "filed_at", "channel"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            problems.append(f"field '{key}' is missing or not a string")
    for key in data:
        if key not in CLAIM_FIELDS + OPTIONAL_CLAIM_FIELDS:
            problems.append(f"field '{key}' is unknown (expected: {', '.join(CLAIM_FIELDS + OPTIONAL_CLAIM_FIELDS)})")
    month = data.get("service_month")
    if isinstance(month, str) and not _is_month(month):
        problems.append(f"field 'service_month': {month!r} is not a month written YYYY-MM" if not _looks_like_month(month)
                        else f"field 'service_month': {month} is outside the years {FIRST_YEAR:04d} to {LAST_YEAR} "
                             "that slapolicy can evaluate")
    filed_at = None
    if isinstance(data.get("filed_at"), str):
        try:
            filed_at, _ = parse_timestamp(data["filed_at"], timezone, "field 'filed_at'")
        except InputError as error:
            problems.append(str(error))
    report = data.get("event_report")
    if report is not None and not isinstance(report, str):
        problems.append("field 'event_report' must be a text (the event description report)")
    problems += _optional_field_problems(data)
    windows = []
    spans = data.get("unavailability", [])
    if spans is None:
        spans = []
    if not isinstance(spans, list):
        problems.append("field 'unavailability' must be a list of {start, end}")
        spans = []
    for i, span in enumerate(spans):
        if not isinstance(span, dict) or set(span) - {"start", "end", "note"} or "start" not in span or "end" not in span:
            problems.append(f"field 'unavailability[{i}]' must be {{start, end}}")
            continue
        try:
            start, _ = parse_timestamp(span["start"], timezone, f"field 'unavailability[{i}]'")
            end, _ = parse_timestamp(span["end"], timezone, f"field 'unavailability[{i}]'")
        except InputError as error:
            problems.append(str(error))
            continue
        if end <= start:
            problems.append(f"field 'unavailability[{i}]': end {span['end']} is not after start {span['start']}")
            continue
        windows.append((start, end))
    terms = {}
    for key in ("term_start", "term_end"):
        if data.get(key) is not None:
            try:
                terms[key] = dt.date.fromisoformat(str(data[key]))
            except ValueError:
                problems.append(f"field '{key}': {data[key]!r} is not a date written YYYY-MM-DD")
                continue
            if not FIRST_YEAR <= terms[key].year <= LAST_YEAR:
                problems.append(f"field '{key}': {terms[key]} is outside the years {FIRST_YEAR:04d} to {LAST_YEAR} "
                                "that slapolicy can evaluate")
    if ("term_start" in data) != ("term_end" in data):
        problems.append("fields 'term_start' and 'term_end' go together")
    if problems:
        raise InputError(f"{where}: " + "; ".join(problems))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Claim(account_name(data["account"]), month, filed_at, data["channel"].strip(), report, tuple(windows),
                 data.get("failure_records"), terms.get("term_start"), terms.get("term_end"), data, digest)


def _looks_like_month(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text))


def _optional_field_problems(data: dict) -> list[str]:
    """The optional fields have shapes too: a record list of 'x' or [1, null] would otherwise count as records (§3.3)."""
    problems = [f"field {name!r} must be a text" for name in ("claim_id", "contact")
                if data.get(name) is not None and not isinstance(data[name], str)]
    records = data.get("failure_records")
    if records is not None and (not isinstance(records, list)
                                or not all(isinstance(r, str) and r.strip() or isinstance(r, dict) and r
                                           for r in records)):
        problems.append("field 'failure_records' must be a list of service records of failed calls, "
                        "each a record id (text) or a record (an object), e.g. [\"call-7781\"]")
    return problems


def _is_month(text: str) -> bool:
    """A month written YYYY-MM in the years a Service Month can be evaluated in."""
    return _looks_like_month(text) and FIRST_YEAR <= int(text[:4]) <= LAST_YEAR


def _reason(code: str, clause: str, message: str) -> dict:
    return {"code": code, "clause": clause, "message": message}


# What a claim lacks when a field a material requires is missing or empty (the claim's fields are the input's).
MISSING_FIELD = {
    "event_report": "The claim lacks a detailed event description report.",
    "unavailability": "The claim does not give the date, time and duration of the unavailability.",
    "failure_records": "The claim lacks the service records of the failed incoming or outgoing calls.",
}


# Encodings written before materials said what they require (superseded ones, kept so that their decisions can
# be audited) named these two by id, with this meaning.
REQUIRES_BY_ID = {"event_report": ["event_report"], "failure_records": ["unavailability", "failure_records"]}


def material_reasons(policy, claim: Claim) -> list[dict]:
    """§3.3: each material the policy requires, by the claim fields it names (``requires``)."""
    values = {"event_report": (claim.event_report or "").strip(), "unavailability": claim.unavailability,
              "failure_records": claim.failure_records}
    return [_reason("missing_materials", item["ref"], MISSING_FIELD[field])
            for item in policy.raw["claims"]["required_materials"]
            for field in item.get("requires") or REQUIRES_BY_ID[item["id"]] if not values[field]]
