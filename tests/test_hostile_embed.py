"""A service embedding the engine, hostile or careless: odd Python values in a claim, and `slapolicy serve`'s
application driven in-process over ASGI (no server process: fast) with what a browser page or a careless client sends."""
import asyncio
import datetime as dt
import decimal
import json

import pytest

from conftest import POLICIES, REPO

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
NOW = dt.datetime(2019, 4, 10, 12, tzinfo=dt.timezone.utc)
WINDOW = {"start": "2019-03-22T09:00+08:00", "end": "2019-03-22T13:30+08:00"}


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def looping() -> dict:
    record: dict = {"calls": []}
    record["calls"].append(record)
    return record


# ---------------------------------------------------------------------------- a claim handed in as Python values

@pytest.mark.parametrize("change,message", [
    ({"failure_records": [{"at": dt.datetime(2019, 3, 22)}]},
     "field 'failure_records[0].at' holds a Python datetime, which is not JSON data"),
    ({"failure_records": ["call-1", {"ids": {1, 2}}]},
     "field 'failure_records[1].ids' holds a Python set, which is not JSON data"),
    ({"failure_records": [{"cost": decimal.Decimal("1.50")}]},
     "field 'failure_records[0].cost' holds a Python Decimal, which is not JSON data"),
    ({"failure_records": [{1: "call-1"}]}, "field 'failure_records[0]' has the key 1, a Python int: JSON keys are strings"),
    ({"unavailability": [WINDOW | {"note": float("nan")}]},
     "field 'unavailability[0].note' holds nan, which is not a JSON number (JSON has no NaN or Infinity)"),
    ({"failure_records": [{"duration": float("inf")}]},
     "field 'failure_records[0].duration' holds inf, which is not a JSON number (JSON has no NaN or Infinity)"),
    ({"failure_records": [{"n": 10 ** 5000}]}, "field 'failure_records[0].n' holds a whole number of more than 4300 digits"),
    ({"event_report": "calls failed \ud800"},
     "field 'event_report' holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)"),
    ({"failure_records": [{"trace": nested(64)}]}, "field 'failure_records' is nested more than 64 levels deep"),
    ({"failure_records": [looping()]}, "field 'failure_records' is nested more than 64 levels deep"),
    ({"unavailability": [WINDOW | {"note": nested(5000)}]}, "field 'unavailability' is nested more than 64 levels deep"),
])
def test_a_claim_holding_what_json_cannot_is_refused_naming_the_field_and_nothing_is_written(tmp_path, change, message):
    # Each was a TypeError, ValueError, UnicodeEncodeError or RecursionError from the ledger's json.dumps (a NaN or an
    # infinity was recorded, and a later GET /v1/claims/{id} could not answer it as JSON).
    from slapolicy import Engine, InputError

    ledger = tmp_path / "ledger.sqlite"
    with pytest.raises(InputError) as raised:
        Engine(POLICIES, ledger=ledger).decide_claim(CLAIM | change, minutes=EXAMPLES / "minutes.csv",
                                                     billing=EXAMPLES / "billing.csv", now=NOW)
    assert str(raised.value) == f"claim: {message}"
    assert not ledger.exists() and list(tmp_path.iterdir()) == []


def test_a_claim_nested_64_levels_is_decided_and_audited(tmp_path, cli):
    # The other side of the limit: a record nested 64 levels below its field (the field is level 0) is JSON enough.
    from slapolicy import Engine

    ledger = tmp_path / "ledger.sqlite"
    decision = Engine(POLICIES, ledger=ledger).decide_claim(
        CLAIM | {"failure_records": [{"trace": nested(62)}]}, minutes=EXAMPLES / "minutes.csv",
        billing=EXAMPLES / "billing.csv", now=NOW)
    assert (decision["decision"], decision["compensation"]) == ("approved", "180.00")
    result = cli("audit", ledger, "--policies", POLICIES)
    assert result.code == 0, result.out + result.err
    assert "1 decision(s) checked: 1 same, 0 differ, 0 unverifiable" in result.out
