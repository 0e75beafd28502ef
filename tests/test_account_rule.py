"""One rule for an account given as a typed value (a JSON or YAML number, a Python row or argument), everywhere:
text, or a whole number read as its digits (1000 is account "1000"); 1000.0, 1e3 and true are refused, naming
where (docs/cli.md#account-names). The CLI's files, the service's bodies and the Python API share it."""
import datetime as dt
import json

import pytest

from conftest import POLICIES, REPO, run_cli
from serving import asgi, examples_app

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
ROW = {"minute": "2019-03-12T10:00", "requests": 100, "failures": 2}
NOW = dt.datetime(2019, 4, 10, 12, tzinfo=dt.timezone.utc)
RULE = "is not an account name: write the name as text (a whole number is read as its digits)"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from slapolicy import Engine

    return Engine(POLICIES, ledger=tmp_path_factory.mktemp("rule") / "ledger.sqlite")


@pytest.mark.parametrize("given,said", [(1000.0, "1000.0"), (1e3, "1000.0"), (True, "true"), (False, "false")])
@pytest.mark.parametrize("data", ["minutes", "billing"])
def test_rows_handed_to_the_api_refuse_an_account_of_a_float_or_a_bool(engine, data, given, said):
    # A float account was read as Python writes it ("1000.0"), True as "true": an account no file names.
    from slapolicy import InputError

    rows = {"minutes": [ROW | {"account": "a"}, ROW | {"account": given}],
            "billing": [{"account": given, "month": "2019-03", "monthly_fee": "100.00", "offset": "0.00"}]}
    kept = {"minutes": [ROW | {"account": "a"}]}
    row = 2 if data == "minutes" else 1
    with pytest.raises(InputError) as raised:
        engine.evaluate(**(kept | {data: rows[data]}), month="2019-03")
    assert str(raised.value) == f"argument {data!r}: row {row}, column 'account': {said} {RULE}"


def test_rows_and_the_accounts_filter_of_the_api_read_a_whole_number_as_its_digits(engine):
    # Two minutes of 100 requests, 2 failures each (98 % < 99 %: unavailable, §1.5): 2 of 44,640 unavailable.
    rows = [ROW | {"account": 1000}, ROW | {"account": "1000", "minute": "2019-03-12T10:01"},
            ROW | {"account": "other"}]
    (evaluation,) = engine.evaluate(minutes=rows, month="2019-03", accounts=[1000])["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("1000", 2, 2)


@pytest.mark.parametrize("given,said", [(1000.0, "1000.0"), (True, "true")])
def test_the_accounts_filter_of_the_api_refuses_a_float_or_a_bool(engine, given, said):
    from slapolicy import ArgumentError

    with pytest.raises(ArgumentError) as raised:
        engine.evaluate(minutes=[ROW | {"account": 1000}], month="2019-03", accounts=["a", given])
    assert str(raised.value) == f"accounts: {said} {RULE}"
    with pytest.raises(ArgumentError) as raised:
        engine.evaluate(minutes=[ROW | {"account": 1000}], month="2019-03", accounts=[b"a"])
    assert str(raised.value) == "accounts must be names (strings, or whole numbers read as their digits); b'a' is a bytes"


def test_a_claim_of_the_api_names_its_account_by_a_whole_number(tmp_path):
    # Account "1000" has one minute of 2 failures in 100 and no bill: the claim is decided, for account "1000".
    from slapolicy import Engine

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    claim = CLAIM | {"account": 1000, "service_month": "2019-03"}
    decided = engine.decide_claim(claim, minutes=[ROW | {"account": "1000"}], now=NOW)
    assert decided["account"] == "1000"


@pytest.mark.parametrize("written,said", [("1e3", "1000.0"), ("1000.0", "1000.0"), ("true", "true")])
def test_a_claim_file_refuses_an_account_of_a_float_or_a_bool_and_records_nothing(tmp_path, written, said):
    # It was 'field 'account' must be a string, not a number' for 1000 too; now 1000 is account "1000".
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM | {"account": 0}).replace('"account": 0', f'"account": {written}'))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", EXAMPLES / "minutes.csv", "--ledger", ledger)
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {claim}: field 'account': {said} {RULE}\n")
    assert not ledger.exists()


def test_a_claim_file_still_refuses_an_account_of_another_json_type(tmp_path):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM | {"account": ["globex"]}))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", EXAMPLES / "minutes.csv", "--ledger", ledger)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {claim}: field 'account' must be a string or a whole number, not a list: "
               f'write "account": "globex"\n')
    assert not ledger.exists()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    pytest.importorskip("starlette")
    return examples_app(tmp_path_factory.mktemp("rule-service") / "ledger.sqlite")


def _post(app, route: str, text: str):
    return asgi(app, "POST", route, text.encode(), {"Content-Type": "application/json"})


def test_the_evaluate_body_accounts_takes_a_whole_number_as_its_digits(app):
    rows = [ROW | {"account": 1000}, ROW | {"account": "other"}]
    status, _, answer = _post(app[0], "/v1/evaluate", json.dumps({"month": "2019-03", "minutes": rows,
                                                                  "accounts": [1000]}))
    assert status == 200
    assert [e["account"] for e in answer["evaluations"]] == ["1000"]


@pytest.mark.parametrize("written,given", [("1e3", "1000.0, a number written with a decimal point or an exponent"),
                                           ("true", "true or false")])
def test_the_evaluate_body_accounts_refuses_a_float_or_a_bool_as_rows_do(app, written, given):
    status, _, answer = _post(app[0], "/v1/evaluate", '{"month": "2019-03", "accounts": ["a", %s]}' % written)
    assert (status, answer["detail"]) == (400, f"field 'accounts[1]' must be a string or a whole number, not {given}")


@pytest.mark.parametrize("written,said", [("1e3", "1000.0"), ("true", "true")])
def test_a_claim_sent_to_the_service_refuses_an_account_of_a_float_or_a_bool_as_the_cli_does(app, written, said):
    body = json.dumps(CLAIM | {"account": 0}).replace('"account": 0', f'"account": {written}')
    status, _, answer = _post(app[0], "/v1/claims", body)
    assert (status, answer["detail"]) == (422, f"claim: field 'account': {said} {RULE}")
    assert not app[1].exists()


def test_the_module_level_api_reads_accounts_by_the_same_rule():
    # slapolicy.evaluate, as a script calls it once: 1000 is "1000"; a float is refused in a row and in accounts=
    import slapolicy

    rows = [ROW | {"account": 1000}]
    (evaluation,) = slapolicy.evaluate(POLICIES, minutes=rows, month="2019-03", accounts=[1000])["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"]) == ("1000", 1)
    with pytest.raises(slapolicy.InputError) as raised:
        slapolicy.evaluate(POLICIES, minutes=[ROW | {"account": 1e3}], month="2019-03")
    assert str(raised.value) == f"argument 'minutes': row 1, column 'account': 1000.0 {RULE}"
    with pytest.raises(slapolicy.ArgumentError) as raised:
        slapolicy.evaluate(POLICIES, minutes=rows, month="2019-03", accounts=[1e3])
    assert str(raised.value) == f"accounts: 1000.0 {RULE}"
