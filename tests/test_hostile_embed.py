"""A service embedding the engine, hostile or careless: odd Python values in a claim, and `slapolicy serve`'s
application driven in-process over ASGI (no server process: fast) with what a browser page or a careless client sends."""
import datetime as dt
import decimal
import json
from pathlib import Path

import pytest

from conftest import POLICIES, REPO
from serving import asgi, examples_app

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


def test_a_relative_ledger_is_the_file_of_the_directory_the_engine_was_made_in_after_a_chdir(tmp_path, monkeypatch):
    # Engine(ledger="ledger.sqlite") was read from each call's working directory: after an os.chdir, the next claim
    # was refused, its ledger "gone (deleted or moved)", though the file was where it had been; and an engine that had
    # decided nothing yet began a new ledger wherever the process then was, which knows none of the grants.
    from slapolicy import Engine

    made_in, elsewhere = tmp_path / "service", tmp_path / "elsewhere"
    made_in.mkdir(), elsewhere.mkdir()
    monkeypatch.chdir(made_in)
    engine, idle = Engine(POLICIES, ledger="ledger.sqlite"), Engine(POLICIES, ledger="idle.sqlite")
    decide = dict(minutes=EXAMPLES / "minutes.csv", billing=EXAMPLES / "billing.csv", now=NOW)
    first = engine.decide_claim(CLAIM, **decide)
    monkeypatch.chdir(elsewhere)
    again = engine.decide_claim(CLAIM, **decide)
    assert (first["decision"], first["compensation"], again["decision_id"], again["repeated"]) == (
        "approved", "180.00", first["decision_id"], True)
    assert (engine.ledger_path, idle.ledger_path) == (made_in / "ledger.sqlite", made_in / "idle.sqlite")
    assert idle.decide_claim(CLAIM, **decide)["decision"] == "approved"
    assert sorted(p.name for p in made_in.iterdir()) == ["idle.sqlite", "ledger.sqlite"]
    assert list(elsewhere.iterdir()) == []


def test_a_relative_policy_directory_is_the_one_of_the_directory_the_engine_was_made_in_after_a_chdir(tmp_path,
                                                                                                    monkeypatch):
    # Engine("ccc") was read again from the working directory of each refresh, reload and replay (docs/api.md said so):
    # after an os.chdir the versions loaded were served on, refresh_error said "no such policy directory", and a
    # version published meanwhile was never loaded; replay could not run at all. It is the directory the engine was
    # made in, named as given while that name still leads there, and by its absolute path once it does not.
    import shutil

    from slapolicy import Engine, NoVersionInForce

    made_in, elsewhere = tmp_path / "service", tmp_path / "elsewhere"
    made_in.mkdir(), elsewhere.mkdir()
    family = made_in / "ccc"
    family.mkdir()
    for name in ("2019-01-01.yaml", "versions.lock"):
        shutil.copy(POLICIES / name, family / name)
    monkeypatch.chdir(made_in)
    engine = Engine("ccc")
    with pytest.raises(NoVersionInForce) as raised:
        engine.in_force("2018-12")
    assert str(raised.value).startswith("no version of ccc is in force for the Service Month starting 2018-12-01")
    assert engine.policy_dir == Path("ccc")
    monkeypatch.chdir(elsewhere)
    assert (engine.refresh(), engine.refresh_error, engine.policy_dir) == (True, None, family)
    assert [v["version"] for v in engine.versions()] == ["2019-01-01"]
    assert [v["file"] for v in engine.versions()] == [str(family / "2019-01-01.yaml")]
    with pytest.raises(NoVersionInForce) as raised:
        engine.in_force("2018-12")
    assert str(raised.value).startswith(f"no version of {family} is in force for the Service Month starting 2018-12-01")
    # A change to the directory is seen there, not in the working directory of the moment
    (family / "2019-06-01.yaml").write_text("id: [unclosed\n")
    assert engine.refresh() is False
    assert engine.refresh_error.startswith(f"{family / '2019-06-01.yaml'}:")
    (family / "2019-06-01.yaml").unlink()
    assert (engine.refresh(), engine.refresh_error) == (False, None)
    replayed = engine.replay(minutes=EXAMPLES / "minutes.csv", start="2019-03", end="2019-03",
                             under=POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml",
                             billing=EXAMPLES / "billing.csv")
    assert replayed["totals"]["overall"]["delta"] == "250.00"
    assert list(elsewhere.iterdir()) == []
    monkeypatch.chdir(made_in)  # back where it was made: named as given again
    assert (engine.refresh(), engine.policy_dir, engine.refresh_error) == (True, Path("ccc"), None)


def test_a_claim_whose_term_ends_before_it_starts_names_the_field(tmp_path, cli):
    # It was a bare SlapolicyError without the claim or the field: "the term ends (2019-03-17) before it starts
    # (2019-03-20)". One day earlier than its start is refused; a term of one day (start = end) is decided.
    from slapolicy import Engine, InputError

    ledger = tmp_path / "ledger.sqlite"
    engine = Engine(POLICIES, ledger=ledger)
    inputs = {"minutes": EXAMPLES / "minutes.csv", "billing": EXAMPLES / "billing.csv", "now": NOW}
    with pytest.raises(InputError) as raised:
        engine.decide_claim(CLAIM | {"term_start": "2019-03-18", "term_end": "2019-03-17"}, **inputs)
    assert str(raised.value) == ("claim: field 'term_end': 2019-03-17 is before term_start 2019-03-18 (the term ends "
                                 "before it starts)")
    assert list(tmp_path.iterdir()) == []
    # 2019-03-17 alone: 1440 minutes, none of them unavailable in the example minutes (March 22 is outside). The
    # claim states an hour of that day: its March 22 window, outside the Service Month, is refused (test_claims.py).
    hour = [{"start": "2019-03-17T09:00+08:00", "end": "2019-03-17T10:00+08:00"}]
    decision = engine.decide_claim(CLAIM | {"term_start": "2019-03-17", "term_end": "2019-03-17",
                                            "unavailability": hour}, **inputs)
    assert (decision["decision"], decision["evaluation"]["service_month"]["total_minutes"]) == ("denied", 1440)
    assert [r["code"] for r in decision["reasons"]] == ["standard_met"]


# ---------------------------------------------------------------------------- rows handed in as Python values

ROW = {"account": "a", "minute": "2019-03-12T10:00", "requests": 100, "failures": 2}
FEE = {"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}


@pytest.mark.parametrize("given,message", [
    ({"minutes": [ROW, ROW | {"minute": "2019-03-12T10:01", "account": "b\ud800"}]},
     "argument 'minutes': row 2, column 'account' holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)"),
    ({"billing": [FEE | {"monthly_fee": "1000.00\udfff"}]},
     "argument 'billing': row 1, column 'monthly_fee' holds text that is not valid Unicode (a lone surrogate escape such as "
     "\\ud800)"),
])
def test_rows_in_memory_with_half_a_surrogate_pair_name_the_row_and_column(tmp_path, given, message):
    rows_in_memory_are_refused(tmp_path, given, message)


@pytest.mark.parametrize("given,message", [
    ({"minutes": [ROW, ROW | {"minute": "2019-03-12T10:01", "account": {"a": 1}}]},
     "argument 'minutes': row 2, column 'account' holds an object, not text or a number"),
    ({"minutes": [ROW | {"failures": [2]}]},
     "argument 'minutes': row 1, column 'failures' holds a list, not text or a number"),
    ({"billing": [FEE | {"offset": {"amount": "0.00"}}]},
     "argument 'billing': row 1, column 'offset' holds an object, not text or a number"),
    ({"minutes": [ROW | {"requests": True}]},
     "1 problem(s) in argument 'minutes':\nargument 'minutes': row 1, column 'requests': 'true' is not a whole number"),
], ids=["account-object", "failures-list", "offset-object", "requests-true"])
def test_rows_in_memory_holding_objects_lists_or_booleans_are_refused_as_json_writes_them(tmp_path, given, message):
    # An object or a list was read as Python's repr of it: {"account": {"a": 1}} sent to POST /v1/evaluate was
    # evaluated as the account "{'a': 1}"; true was quoted back as Python's 'True'.
    rows_in_memory_are_refused(tmp_path, given, message)


@pytest.mark.parametrize("given,message", [
    ({"minutes": [{"Account": "a", " minute ": "2019-03-12T10:00", "requests": 100, "failures": 2}]},
     "argument 'minutes': missing column(s) account, minute (found: Account,  minute , requests, failures); columns are "
     "named in lower case without spaces: rename 'Account' to 'account', ' minute ' to 'minute'"),
    ({"billing": [{"account": "a", "Month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]},
     "argument 'billing': missing column(s) month (found: account, Month, monthly_fee, offset); columns are named in "
     "lower case without spaces: rename 'Month' to 'month'"),
    ({"minutes": [{1: "a"}]}, "argument 'minutes': missing column(s) account, minute, requests, failures (found: 1)"),
    # Rows of another input: the API's and the service's name for it, not an option of the CLI.
    ({"minutes": [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]},
     "argument 'minutes': missing column(s) minute, requests, failures (found: account, month, monthly_fee, offset); "
     "these are billing columns: give them as billing"),
    ({"billing": [ROW]}, "argument 'billing': missing column(s) month, monthly_fee, offset (found: account, minute, "
                         "requests, failures); these are minutes columns: give them as minutes"),
    ({"incidents": [{"id": "N-1", "kind": "maintenance", "published_at": "2019-03-01T10:00", "start": "2019-03-12T10:00",
                     "end": "2019-03-12T10:30"}]}, "argument 'incidents': these are notices entries: give them as notices"),
], ids=["minutes-capitals-spaces", "billing-capital", "key-not-text", "billing-as-minutes", "minutes-as-billing",
        "notices-as-incidents"])
def test_rows_in_memory_with_a_column_named_otherwise_name_the_name_meant(tmp_path, given, message):
    # Rows handed in as dicts said only "missing column(s) account (found: Account, ...)", where the same columns
    # in a pyarrow table, a CSV, JSON Lines or Parquet file were told how to rename them (inputs.problems).
    rows_in_memory_are_refused(tmp_path, given, message)


FLOATING = "is a binary floating-point number (a JSON number, a float) of more than 15 significant digits, which " \
           "is read only approximately: write the amount as text"


@pytest.mark.parametrize("fee,written,instead", [
    (12345678901234.56, "12345678901234.56", ' ("12345678901234.56")'),  # 16 digits: 12345678901234.560546875
    # 17 digits: the sum a program made, not the 0.30 it meant. Its own digits were suggested, "0.30000000000000004",
    # an amount refused in turn (more decimals than cents); so were 2500.1234567890124 and 1234567890123456.8 (16
    # digits before the point) and -0.30000000000000004 (below 0)
    (0.1 + 0.2, "0.30000000000000004", ', to the cent ("0.30", if that is the amount meant)'),
    (2500.1234567890123, "2500.1234567890124", ', to the cent ("2500.12", if that is the amount meant)'),
    (1234567890123456.7, "1234567890123456.8", ", of at most 15 digits before the point (this has 16)"),
    (-(0.1 + 0.2), "-0.30000000000000004", ", a decimal like 1000.00 (an amount of money is never below 0)"),
])
def test_money_of_rows_in_memory_given_as_a_float_of_more_than_15_digits_is_refused_as_in_json_lines(
        tmp_path, fee, written, instead):
    # Read as its repr, 12345678901234.56 was taken as the fee where a JSON Lines file of the same number is refused
    # (a double gives back 15 significant digits as written, not more), and 0.1 + 0.2 was "not an amount of money"
    rows_in_memory_are_refused(tmp_path, {"billing": [FEE | {"monthly_fee": fee}]},
                               f"1 problem(s) in argument 'billing':\nargument 'billing': row 1, column 'monthly_fee': "
                               f"{written} {FLOATING}{instead}")


@pytest.mark.parametrize("fee,offset,read", [
    (1000.5, 0.0, "1000.50"), (999999999999999.0, 0.25, "999999999999999.00"),
    (1e3, 1e1, "1000.00"),  # a JSON 1e3 is the float 1000.0: read as 1000.0, as JSON Lines reads it
])
def test_money_of_rows_in_memory_given_as_a_float_of_up_to_15_digits_is_read_as_written(fee, offset, read):
    # One minute of 100 requests with 2 failures (98 % < 99 %: unavailable, §1.5): 44639 of 44640 available,
    # 99.9978 % (shown 100.00) ≥ 99.5 %: the standard is met, nothing owed; the fee is the one written, and the
    # offset (a float too) is read, as no more than the fee
    from slapolicy import Engine

    (evaluation,) = Engine(POLICIES).evaluate(month="2019-03", minutes=[ROW], billing=[
        FEE | {"monthly_fee": fee, "offset": offset}])["evaluations"]
    assert (evaluation["monthly_fee"], evaluation["compensation"], evaluation["availability_percent"]) == (
        read, "0.00", "100.00")


def test_a_fee_of_sixteen_digits_sent_inline_to_the_service_is_a_422_as_in_a_json_lines_file(tmp_path):
    from serving import asgi, examples_app

    pytest.importorskip("starlette")
    app, _ = examples_app(tmp_path / "ledger.sqlite")
    body = {"month": "2019-03", "minutes": [ROW], "billing": [FEE | {"monthly_fee": 12345678901234.56}]}
    status, _, answer = asgi(app, "POST", "/v1/evaluate", json.dumps(body).encode(), JSON)
    assert (status, answer["detail"]) == (422, (
        "1 problem(s) in field 'billing':\nfield 'billing[0].monthly_fee': 12345678901234.56 "
        f"{FLOATING} (\"12345678901234.56\")"))
    body["billing"] = [FEE | {"monthly_fee": 1000.5}]
    status, _, answer = asgi(app, "POST", "/v1/evaluate", json.dumps(body).encode(), JSON)
    assert (status, answer["evaluations"][0]["monthly_fee"]) == (200, "1000.50")
    assert list(tmp_path.iterdir()) == []


def rows_in_memory_are_refused(tmp_path, given, message):
    # A UnicodeEncodeError from pyarrow, raised bare: a file's text is UTF-8 and cannot hold one, a str can.
    from slapolicy import Engine, InputError

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    inputs = {"minutes": [ROW]} | given
    with pytest.raises(InputError) as raised:
        engine.evaluate(month="2019-03", **inputs)
    assert str(raised.value) == message
    claim = CLAIM | {"account": "a", "unavailability": [{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T10:01+08:00"}]}
    with pytest.raises(InputError) as raised:
        engine.decide_claim(claim, now=NOW, **inputs)
    assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- the service's application, in-process

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    pytest.importorskip("starlette")
    return examples_app(tmp_path_factory.mktemp("served") / "ledger.sqlite")


JSON = {"Content-Type": "application/json"}


@pytest.mark.slow
def test_a_body_nested_just_short_of_what_json_loads_refuses_is_a_400_not_a_500(app):
    # json.loads took ~964 levels (Python 3.11; ~10,000 on 3.13, whose C code has a limit of its own); writing the
    # body out again (to look for lone surrogates) needed more stack and raised RecursionError: a 500. Every depth up
    # to just past where the server's json.loads refuses is now the field's type error or "nested too deeply". Where
    # that is depends on the stack of the server's worker thread, so the depth is found by asking the server, starting
    # from where json.loads refuses in a fresh thread.
    def answer(depth: int) -> tuple:
        raw = b'{"month": "2019-03", "accounts": ' + b"[" * depth + b"]" * depth + b"}"
        status, content_type, body = asgi(app[0], "POST", "/v1/evaluate", raw, JSON)
        return status, content_type, body["detail"]

    too_deep = (400, "application/problem+json", "the request body is nested too deeply")
    low, high = 1, _first_depth_json_loads_refuses()
    while answer(high) != too_deep:
        assert high < 1_000_000, "the server read a body nested a million deep"
        low, high = high, high * 2
    while high - low > 1:  # the server refuses high, not low
        middle = (low + high) // 2
        low, high = (low, middle) if answer(middle) == too_deep else (middle, high)
    answers = {answer(depth) for depth in range(high - 200, high + 20)}
    assert answers == {(400, "application/problem+json",
                        "field 'accounts[0]' must be a string or a whole number, not a list"), too_deep}


def _first_depth_json_loads_refuses() -> int:
    """Where json.loads refuses, in a worker thread as the service reads a body (its turn's thread: a fresh stack,
    where this test's thread is already some frames deep, so json.loads there refuses earlier)."""
    import concurrent.futures

    def refused_in_a_thread(depth: int) -> bool:
        try:
            json.loads("[" * depth + "]" * depth)
        except RecursionError:
            return True
        return False

    def refuses(depth: int) -> bool:
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            return thread.submit(refused_in_a_thread, depth).result()

    low, high = 1, 1000
    while not refuses(high):
        low, high = high, high * 2
    while high - low > 1:  # refuses(high), not refuses(low)
        middle = (low + high) // 2
        low, high = (low, middle) if refuses(middle) else (middle, high)
    return high


@pytest.mark.parametrize("headers,said", [
    ({"Content-Type": "text/plain;charset=UTF-8"}, "not 'text/plain;charset=UTF-8'"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, "not 'application/x-www-form-urlencoded'"),
    ({"Content-Type": "multipart/form-data; boundary=x"}, "not 'multipart/form-data; boundary=x'"),
    ({}, "and the request gives no Content-Type"),
])
def test_a_body_not_declared_json_is_refused_before_it_is_read_and_no_claim_is_recorded(app, headers, said):
    # What a web page can send to 127.0.0.1 without the service's leave (a "simple" cross-origin request): it was
    # decided and recorded in the ledger like any claim.
    application, ledger = app
    for path, body in (("/v1/claims", CLAIM), ("/v1/evaluate", {"month": "2019-03"}),
                       ("/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "2019-01-01.yaml"})):
        status, content_type, answer = asgi(application, "POST", path, json.dumps(body).encode(), headers)
        assert (status, content_type) == (415, "application/problem+json")
        assert answer == {"type": "urn:slapolicy:problem:unsupported-media-type",
                          "title": "The request body is not declared JSON", "status": 415,
                          "detail": f"the request body must be sent as Content-Type: application/json, {said}",
                          "instance": path}
    assert not ledger.exists()


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8",
                                          "application/problem+json"])
def test_json_declared_in_any_of_its_spellings_is_read(app, content_type):
    status, _, body = asgi(app[0], "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": ["globex"]}',
                           {"Content-Type": content_type})
    assert status == 200 and [e["compensation"] for e in body["evaluations"]] == ["180.00"]


@pytest.mark.parametrize("host", ["evil.example:8000", "evil.example", "10.0.0.5:8000", "[2001:db8::1]:8000",
                                  "127.0.0.1.evil.example:8000"])
def test_a_request_addressed_to_another_host_is_refused_on_loopback(app, host):
    # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 talks to the service as its own
    # origin (a JSON body needs no one's leave there) and reads the answers; its browser still sends its Host.
    application, ledger = app
    for method, path, body in (("GET", "/v1/versions", b""), ("GET", "/v1/claims/D-00000000000000000000", b""),
                               ("POST", "/v1/claims", json.dumps(CLAIM).encode())):
        status, content_type, answer = asgi(application, method, path, body, JSON | {"Host": host})
        assert (status, content_type) == (421, "application/problem+json")
        assert answer == {"type": "urn:slapolicy:problem:misdirected",
                          "title": "The request is not addressed to this machine", "status": 421,
                          "detail": f"Host {host!r} is not this machine: a service listening on a loopback address "
                                    "answers requests addressed to localhost, 127.0.0.1 or [::1] only "
                                    "(docs/service.md)",
                          "instance": path}
    assert not ledger.exists()


def test_an_object_for_an_account_sent_to_the_service_is_a_400_naming_the_field(app):
    # the OpenAPI document says what an inline row's account may be (text or a whole number), as it says every
    # field's type: a body of another shape is the 400 of any field of the wrong JSON type, before the engine reads it
    body = json.dumps({"month": "2019-03", "minutes": [ROW | {"account": {"a": 1}}]}).encode()
    status, content_type, answer = asgi(app[0], "POST", "/v1/evaluate", body, JSON)
    assert (status, content_type, answer["detail"]) == (
        400, "application/problem+json", "field 'minutes[0].account' must be a string or a whole number or null, not "
                                         "an object")
    from slapolicy import Engine  # the API, handed the rows, names the row and column as a file's are named
    from slapolicy.errors import InputError

    with pytest.raises(InputError) as raised:
        Engine(POLICIES).evaluate(minutes=[ROW | {"account": {"a": 1}}], month="2019-03")
    assert str(raised.value).endswith("argument 'minutes': row 1, column 'account' holds an object, not text or a "
                                      "number")


@pytest.mark.parametrize("method,path,headers", [
    ("GET", "/v1/nothing", {}), ("GET", "/v1/health/", {}), ("DELETE", "/v1/health", {}), ("GET", "/v1/evaluate", {}),
    ("POST", "/v1/evaluate", {"Content-Type": "text/plain"}), ("GET", "/v1/policy?month=2019-03&x=1", {})],
    ids=["no-route", "trailing-slash", "method", "get-a-post-route", "wrong-media-type", "unknown-query"])
def test_the_host_is_checked_before_anything_else_of_the_request(app, method, path, headers):
    # An unknown path was answered 404, and a wrong method 405, before the Host check: a page renamed to 127.0.0.1
    # learnt from them which paths and methods the service has. Every request is checked first.
    status, content_type, answer = asgi(app[0], method, path, b'{"month": "2019-03"}' if method == "POST" else b"",
                                        headers | {"Host": "evil.example"})
    assert (status, content_type, answer["type"]) == (421, "application/problem+json", "urn:slapolicy:problem:misdirected")
    assert answer["detail"].startswith("Host 'evil.example' is not this machine")
    assert answer["instance"] == path.partition("?")[0]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.2", None,
                                  "[::ffff:127.0.0.1]:8000", "[0:0:0:0:0:ffff:7f00:1]"])
def test_a_request_addressed_to_this_machine_is_answered(app, host):
    # 127.0.0.1 written as an IPv4-mapped IPv6 address was a 421 on Python 3.11 and 3.12, and answered on 3.13, whose
    # ipaddress calls it loopback: the same request, answered or refused by the Python that runs the service
    status, _, body = asgi(app[0], "GET", "/v1/versions", headers={"Host": host})
    assert status == 200 and [v["version"] for v in body["versions"]] == ["2019-01-01"]


def test_a_host_written_in_utf_8_is_quoted_as_written_in_the_421(app):
    # HTTP carries a header's bytes, which Starlette reads as Latin-1: the 421 quoted 'bÃ¼cher.example'
    for host, shown in (("bücher.example", "bücher.example"), ("例え.テスト:8000", "例え.テスト:8000")):
        status, _, answer = asgi(app[0], "GET", "/v1/health", headers={"Host": host})
        assert (status, answer["detail"].split(" is not this machine")[0]) == (421, f"Host {shown!r}")
    status, _, answer = asgi_raw_host(app[0], "bücher.example".encode("latin-1"))  # not UTF-8: never a 500
    assert (status, answer["detail"].split(" is not this machine")[0]) == (421, "Host 'b\ufffdcher.example'")


def asgi_raw_host(application, host: bytes):
    """``asgi`` with a Host header of these bytes (``asgi`` sends its headers in UTF-8)."""
    import asyncio

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/v1/health", "raw_path": b"/v1/health", "query_string": b"", "root_path": "",
             "headers": [(b"host", host)], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    return sent[0]["status"], None, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


# ---------------------------------------------------------------------------- a request line in absolute form

@pytest.mark.parametrize("target,host", [("http://evil.example/v1/versions", "127.0.0.1:8000"),
                                         ("HTTP://evil.example:8000/v1/versions", None),
                                         ("http://127.0.0.1.evil.example/v1/versions", "localhost")])
def test_the_host_named_in_an_absolute_form_target_is_the_one_checked(app, target, host):
    # RFC 9112 §3.2.2: the authority of `GET http://evil.example/v1/versions HTTP/1.1` replaces Host. Its Host
    # header (127.0.0.1) was checked instead, and the target taken whole for the path (a 404, "no route http://…").
    status, _, answer = asgi(app[0], "GET", target, headers={"Host": host})
    authority = target.split("/")[2]
    assert (status, answer["detail"].split(" is not this machine")[0], answer["instance"]) == (
        421, f"Host {authority!r}", "/v1/versions")


@pytest.mark.parametrize("target", ["http://127.0.0.1:8000/v1/versions", "http://localhost/v1/versions",
                                    "https://[::1]:8000/v1/versions"])
def test_a_request_line_in_absolute_form_naming_this_machine_is_answered_as_its_path(app, target):
    # whatever its Host header says: the target's authority replaces it
    status, _, body = asgi(app[0], "GET", target, headers={"Host": "evil.example"})
    assert (status, [v["version"] for v in body["versions"]]) == (200, ["2019-01-01"])
    status, _, body = asgi(app[0], "GET", target.replace("/v1/versions", "/v1/policy?month=2019-03"))
    assert (status, body["month"], body["policy"]["version"]) == (200, "2019-03", "2019-01-01")
    status, _, body = asgi(app[0], "POST", target.replace("/v1/versions", "/v1/evaluate"),
                           b'{"month": "2019-03", "accounts": ["globex"]}', JSON)
    assert (status, [e["compensation"] for e in body["evaluations"]]) == (200, ["180.00"])
    status, _, body = asgi(app[0], "GET", target.replace("/v1/versions", "/v1/nothing"))
    assert (status, body["detail"]) == (404, "no route /v1/nothing (see /openapi.json)")


@pytest.mark.parametrize("target", ["http:///v1/versions", "http://user@127.0.0.1/v1/versions",
                                    "http://127.0.0.1@evil.example/v1/versions"])
def test_a_target_in_absolute_form_without_a_host_or_with_a_user_is_a_400(app, target):
    status, content_type, answer = asgi(app[0], "GET", target)
    assert (status, content_type, answer["detail"], answer["instance"]) == (
        400, "application/problem+json", f"the request target {target!r} names no host, or a user (user@host): write "
                                         "the path alone (/v1/…), or http://HOST:PORT/v1/…", "/v1/versions")


def test_a_recorded_decision_read_back_from_an_edited_ledger_is_a_422_the_openapi_document_lists(tmp_path):
    import sqlite3

    from slapolicy import Engine
    from slapolicy.ledger import GUARD
    from slapolicy.service import Sources, create_app

    ledger = tmp_path / "ledger.sqlite"
    sources = Sources(minutes=str(EXAMPLES / "minutes.csv"), billing=str(EXAMPLES / "billing.csv"),
                      incidents=str(EXAMPLES / "incidents.yaml"), notices=str(EXAMPLES / "notices.yaml"))
    application = create_app(Engine(POLICIES, ledger=ledger), sources, loopback_only=True)
    # globex, approved 180.00 (10 % of 1800.00), as docs/service.md shows
    status, _, decided = asgi(application, "POST", "/v1/claims", json.dumps(CLAIM).encode(), JSON)
    assert (status, decided["decision"], decided["compensation"]) == (201, "approved", "180.00")
    path = f"/v1/claims/{decided['decision_id']}"
    assert asgi(application, "GET", path)[:2] == (200, "application/json")
    db = sqlite3.connect(ledger)
    for name in GUARD:
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE decisions SET policy_version = '2027-01-01' WHERE seq = 1")
    for statement in GUARD.values():
        db.execute(statement)
    db.commit()
    db.close()
    status, content_type, body = asgi(application, "GET", path)
    assert (status, content_type, body["type"]) == (422, "application/problem+json", "urn:slapolicy:problem:invalid-input")
    assert body["detail"] == (
        f"{ledger}: the ledger is damaged (entry #1 (decision {decided['decision_id']}, globex 2019-03) does not match its "
        f"hash: it was edited); no decision is recorded until it is restored from a backup (`slapolicy audit {ledger}` "
        "names the first broken entry)")
    openapi = asgi(application, "GET", "/openapi.json")[2]
    assert sorted(openapi["paths"]["/v1/claims/{decision_id}"]["get"]["responses"]) == ["200", "400", "404", "408", "421", "422", "500", "503"]


# ---------------------------------------------------------------------------- closing while calls run

@pytest.mark.slow  # starts two worker processes twice
def test_closing_the_engine_s_workers_under_a_call_is_said_not_a_bare_cancelled_error():
    # Engine.close from one thread while another's call had tasks waiting on the pool: those were cancelled and the
    # call raised concurrent.futures.CancelledError, with no message. The tasks running finish; the call says why it
    # stopped; the next call opens the workers again.
    import threading
    import time

    from slapolicy import SlapolicyError
    from slapolicy.distributed import Runner

    runner = Runner(workers=2)
    runner.open()
    outcome = []

    def call():
        try:
            outcome.append(runner.map(time.sleep, [0.4] * 8))  # 2 running at a time: 1.6 s in all
        except Exception as exc:  # noqa: BLE001 — what the caller sees is the point
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    # Closed once the call's tasks are on the pool, not after a fixed 0.2 s: on a loaded host the caller may not have
    # submitted them by then, and the close came before the call, which opened the workers again and ran whole.
    deadline = time.monotonic() + 60
    while not (runner._pool is not None and runner._pool._pending_work_items) and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.close()
    caller.join(30)
    (raised,) = outcome
    assert type(raised) is SlapolicyError
    assert str(raised) == ("the engine's worker processes were closed (Engine.close) while this call ran on them; call "
                           "again: a later call opens them again")
    assert runner.map(abs, [-1, -2, -3]) == [1, 2, 3]
    runner.close()


# ---------------------------------------------------------------------------- a JSON number beyond a float

def test_a_json_number_beyond_a_float_is_named_as_written_by_the_cli_and_the_service(tmp_path, app):
    # 1e400 is a JSON number; Python reads it as infinity, so a claim was refused for holding "inf, which is not a
    # JSON number (JSON has no NaN or Infinity)", and an inline row for "'inf' is not a whole number".
    from conftest import run_cli

    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM)[:-1] + ', "contact": {"calls": 1e400}}')
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", EXAMPLES / "minutes.csv", "--ledger", ledger,
                     "--now", "2019-04-10T12:00+00:00")
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {claim}:1:{claim.read_text().index('1e400') + 1}: holds 1e400, a number beyond the range "
               "of a 64-bit float (about ±1.8e308)\n")
    # (1e400 is valid JSON: the CLI said "not valid JSON: 1e400 is a number beyond ...", the service as here)
    assert not ledger.exists()
    application, served = app
    for path, body in (("/v1/claims", claim.read_bytes()),
                       ("/v1/evaluate", b'{"month": "2019-03", "minutes": [{"account": "a", "minute": "2019-03-12T10:00", '
                                        b'"requests": -1.5E+999, "failures": 0}]}')):
        status, content_type, answer = asgi(application, "POST", path, body, JSON)
        written = "1e400" if path == "/v1/claims" else "-1.5E+999"
        assert (status, content_type, answer["detail"]) == (
            400, "application/problem+json",
            f"the request body holds {written}, a number beyond the range of a 64-bit float (about ±1.8e308)")
    assert not served.exists()


def test_a_month_names_twenty_provider_incidents_without_data_and_counts_the_rest(app):
    # Each warning was written twice (warnings, trace) for every account an incident concerns: 9,000 incidents for all
    # accounts sent inline (850 kB) with minutes of 100 accounts made 900,000 of them, half a gigabyte held by the
    # service for one request. 25 incidents here, 11:00-11:30 each, over an account with data at 10:00 only: each
    # covers 30 minutes without requests.
    incidents = [{"id": f"I-{k:02d}", "start": "2019-03-12T11:00", "end": "2019-03-12T11:30", "cause": "provider"}
                 for k in range(25)]
    body = json.dumps({"month": "2019-03", "accounts": ["a"], "incidents": incidents, "minutes": [ROW]}).encode()
    status, _, answer = asgi(app[0], "POST", "/v1/evaluate", body, JSON)
    assert status == 200
    (evaluation,) = answer["evaluations"]
    named, rest = evaluation["warnings"][:-1], evaluation["warnings"][-1]
    assert [(w["code"], w["incident"], w["minutes"]) for w in named] == [
        ("provider_incident_without_data", f"I-{k:02d}", 30) for k in range(20)]
    message = ("5 more provider incident(s) cover minutes without normal requests in the data (the first 20 are named "
               "above): check that monitoring did not lose them")
    assert rest == {"code": "provider_incidents_without_data", "clause": "§1.4", "incidents": 5, "message": message}
    assert [s["detail"] for s in evaluation["trace"] if s["step"] == "warning"] == [w["message"] for w in named] + [message]


@pytest.mark.parametrize("count, counted", [(20, []), (21, [("provider_incidents_without_data", 1)])])
def test_the_twentieth_provider_incident_is_named_and_the_twenty_first_counted(app, count, counted):
    # Both sides of NAMED_INCIDENTS (20): 20 incidents are each named, with no warning counting more; the 21st is
    # the first counted ("1 more provider incident(s) ..."). Each covers 11:00-11:30, 30 minutes without requests.
    incidents = [{"id": f"I-{k:02d}", "start": "2019-03-12T11:00", "end": "2019-03-12T11:30", "cause": "provider"}
                 for k in range(count)]
    body = json.dumps({"month": "2019-03", "accounts": ["a"], "incidents": incidents, "minutes": [ROW]}).encode()
    status, _, answer = asgi(app[0], "POST", "/v1/evaluate", body, JSON)
    assert status == 200
    (evaluation,) = answer["evaluations"]
    assert [(w["code"], w.get("incident"), w.get("incidents")) for w in evaluation["warnings"]] == [
        ("provider_incident_without_data", f"I-{k:02d}", None) for k in range(20)] + [
        (code, None, more) for code, more in counted]


@pytest.mark.parametrize("asked, said", [
    (20, ", ".join(f"b{k:05d}" for k in range(20)) + " have"),
    (21, ", ".join(f"b{k:05d}" for k in range(20)) + " and 1 more have"),
    (5000, ", ".join(f"b{k:05d}" for k in range(20)) + " and 4980 more have"),
])
def test_accounts_asked_about_without_data_are_named_up_to_twenty_and_the_rest_counted(app, asked, said):
    # Each was named: 5,000 accounts asked about (55 kB of names) made a detail cut at 16,384 characters in the middle
    # of the names, so that the answer never said what was wrong with them ("... have no minutes or billing").
    accounts = [f"b{k:05d}" for k in range(asked)]
    body = json.dumps({"month": "2019-03", "accounts": accounts, "minutes": [ROW]}).encode()
    status, _, answer = asgi(app[0], "POST", "/v1/evaluate", body, JSON)
    assert (status, answer["detail"]) == (422, f"account(s) {said} no minutes or billing for 2019-03")


# ---------------------------------------------------------------------------- an engine sent to another process

def evaluated_by(engine) -> dict:
    """A task of a process pool: an evaluation by the engine it was sent."""
    return engine.evaluate(minutes=EXAMPLES / "minutes.csv", month="2019-03", billing=EXAMPLES / "billing.csv")


def test_an_engine_sent_to_a_process_pool_is_made_there_again_from_its_settings(tmp_path):
    # pickle.dumps(engine) raised Python's own "TypeError: cannot pickle '_thread.lock' object", which names none of
    # the embedder's code: an Engine handed to a process pool's task (or pickled by Dask or joblib) could not go.
    # Its settings go, and the engine is made from them on the other side: the policy directory (loaded and checked
    # there again), the ledger (absolute: the same file), where its calls run their tasks.
    import pickle

    from slapolicy import Engine

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite", workers=2)
    sent = pickle.loads(pickle.dumps(engine))
    assert sent is not engine
    assert (sent.policy_dir, sent.ledger_path, sent.versions()) == (POLICIES, tmp_path / "ledger.sqlite", engine.versions())
    assert (sent._runner.workers, sent._runner.address) == (2, None)
    decided = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite").decide_claim(
        CLAIM, minutes=EXAMPLES / "minutes.csv", billing=EXAMPLES / "billing.csv", now=NOW)
    again = sent.decide_claim(CLAIM, minutes=EXAMPLES / "minutes.csv", billing=EXAMPLES / "billing.csv", now=NOW)
    assert (again["decision_id"], again["repeated"]) == (decided["decision_id"], True)  # the same ledger
    one_call = pickle.loads(pickle.dumps(Engine.for_one_call(POLICIES)))
    assert one_call.versions() == engine.versions()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.sqlite"]


@pytest.mark.slow  # a process started anew (spawn): ~4 s
def test_an_engine_handed_to_a_process_pool_task_evaluates_there_as_here():
    import concurrent.futures
    import multiprocessing

    from slapolicy import Engine

    engine = Engine(POLICIES)
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(evaluated_by, engine).result(timeout=120) == evaluated_by(engine)


def test_an_engine_with_a_plugin_manager_of_its_own_is_refused_by_pickle_saying_what_to_do():
    # The manager holds the plugins' modules and objects, which need not be picklable: said so, in the embedder's
    # words, rather than the TypeError of whichever object of the manager came first
    import pickle

    from slapolicy import ArgumentError, Engine
    from slapolicy.plugins import get_manager

    engine = Engine(POLICIES, manager=get_manager())
    with pytest.raises(ArgumentError) as raised:
        pickle.dumps(engine)
    assert isinstance(raised.value, TypeError)
    assert str(raised.value) == (
        "an Engine made with a plugin manager of its own (manager=) cannot be sent to another process: its plugins "
        "would have to go with it. Make the engine in that process (Engine(policy_dir, manager=...)), or leave "
        "manager out, and the process's installed plugins are used there")


# ---------------------------------------------------------------------------- a fork while another thread holds a lock

FORK_WHILE_HELD = """
import json, os, shutil, signal, sys, threading, time, warnings
import slapolicy.minutes.aggregates
import slapolicy.plugins
import slapolicy.policy.directory
import slapolicy.rules.durable
from slapolicy import Engine

if __name__ == "__main__":
    policies, examples, held = sys.argv[1:4]
    first = dict(minutes=f"{examples}/minutes.csv", month="2019-03", billing=f"{examples}/billing.csv")
    # what the child is asked next: questions of the rules not yet asked in this process (its answers are cached)
    then = first | dict(incidents=f"{examples}/incidents.yaml", notices=f"{examples}/notices.yaml")
    engine = Engine(policies)
    engine.evaluate(**first)
    lock = {"engine": lambda: engine._lock, "refresh": lambda: engine._refresh_lock,
            "ruleset": lambda: engine.family.in_force("2019-03").ruleset._lock,
            "rules host": lambda: slapolicy.rules.durable._HOST_LOCK,
            "plugins": lambda: slapolicy.plugins._LOCK,
            "policies checked": lambda: slapolicy.policy.directory._CHECKED_LOCK,
            "readings ahead": lambda: slapolicy.minutes.aggregates.ReadAhead._lock}[held]()
    taken = threading.Event()

    def call():  # another thread's call, in the middle of its work when the process forks
        with lock:
            taken.set()
            time.sleep(0.5)

    thread = threading.Thread(target=call)
    thread.start()
    taken.wait()
    # Python 3.12+ warns that this fork is of a process with threads: the fork is what the test is of.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    child = os.fork()
    if child == 0:  # a server's worker, forked after the engine served requests (gunicorn --preload, say)
        # A lock held for ever ends it (SIGALRM). Not sooner: the child's reload and two evaluations take ~1-3 s on a
        # host running two CPU hogs beside others (load 17 on 2 cores), 10 s left a margin of 3 at most.
        signal.alarm(60)
        try:
            # a version published meanwhile (the directory's files changed): the child loads the directory again
            stamp = time.time_ns() + 10**9
            for name in os.listdir(policies):
                os.utime(os.path.join(policies, name), ns=(stamp, stamp))
            reloaded = engine.refresh()
            answers = [engine.evaluate(**then), Engine(policies).evaluate(**then)]
            with open("child.json", "w") as out:
                json.dump(answers, out)
            os.write(1, f"child: reloaded {reloaded}\\n".encode())
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    thread.join()
    print("child's exit:", os.waitstatus_to_exitcode(status))
    with open("child.json") as given:
        print("same as the parent's:", json.load(given) == [engine.evaluate(**then)] * 2)
"""


@pytest.mark.slow  # a process started anew: ~2 s each
@pytest.mark.parametrize("held", ["engine", "refresh", "ruleset", "rules host", "plugins", "policies checked",
                                  "readings ahead"])
def test_a_process_forked_while_another_thread_holds_a_lock_of_the_engine_uses_the_engine(tmp_path, held):
    # A lock another thread held at a fork stays held in the child, by a thread the child does not have: the child's
    # first call that took it waited for ever (here, killed by its alarm after 60 s, exit -14). The engine's locks are
    # made anew in the child; durable-rules' are waited for by the fork (a fact asserted and not yet retracted would
    # stay in the child's session).
    import shutil
    import subprocess
    import sys

    policies = tmp_path / "ccc"
    shutil.copytree(POLICIES, policies, ignore=shutil.ignore_patterns("drafts"))
    script = tmp_path / "forked.py"
    script.write_text(FORK_WHILE_HELD)
    run = subprocess.run([sys.executable, str(script), str(policies), str(EXAMPLES), held], capture_output=True,
                         text=True, timeout=180, cwd=tmp_path)  # the child's alarm first (~13 s here under load)
    assert (run.returncode, run.stdout, run.stderr) == (
        0, "child: reloaded True\nchild's exit: 0\nsame as the parent's: True\n", "")


# ---------------------------------------------------------------------------- an account misspelt, minutes in memory

MARCH_AND_APRIL = [{"account": "acme", "minute": "2019-03-12T10:00", "requests": 100, "failures": 2},
                   {"account": "zenith", "minute": "2019-04-12T10:00", "requests": 100, "failures": 2}]


@pytest.mark.parametrize("form", ["list", "table"])
@pytest.mark.parametrize("asked, said", [
    (["acmee"], "account(s) acmee have no minutes or billing for 2019-03; did you mean 'acme'?"),
    (["acmee", "ACME"], "account(s) acmee, ACME have no minutes or billing for 2019-03; did you mean 'acme' for "
                        "'acmee', 'acme' for 'ACME'?"),
    (["zenit"], "account(s) zenit have no minutes or billing for 2019-03"),  # zenith has minutes in April only
])
def test_an_account_misspelt_names_the_nearest_of_minutes_given_in_memory(form, asked, said):
    # Minutes handed to the Python API (a list of rows, a table) were never looked at for the name nearest in spelling:
    # `acmee` over rows of acme said no more than for an account nobody has, where a Parquet file's row groups (the
    # CLI, serve) and the billing's names were. They are at hand: their names of the month are compared with.
    import pyarrow as pa

    from slapolicy import Engine, InputError

    minutes = MARCH_AND_APRIL if form == "list" else pa.Table.from_pylist(MARCH_AND_APRIL)
    with pytest.raises(InputError) as raised:
        Engine(POLICIES).evaluate(minutes=minutes, month="2019-03", accounts=asked)
    assert str(raised.value) == said
