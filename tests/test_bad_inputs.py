"""Bad rows are refused before anything is computed: file, row, column and reason; exit 1."""
import pytest

from conftest import POLICIES, REPO
from helpers import draft_variant, write_csv, write_yaml

GOOD = {"account": "a", "minute": "2019-03-01T10:00", "requests": "100", "failures": "1", "illegal_number_failures": "0"}


def evaluate_cli(cli, tmp_path, minutes_rows=None, **files):
    minutes = write_csv(tmp_path / "minutes.csv", minutes_rows or [GOOD])
    args = ["evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"]
    for name, path in files.items():
        args += [f"--{name}", path]
    return cli(*args)


@pytest.mark.parametrize("change,message", [
    ({"failures": "101"}, "row 1 (line 2), column 'failures': 101 failures exceed 100 requests"),
    ({"requests": "-5", "failures": "0"}, "row 1 (line 2), column 'requests': -5 is negative"),
    ({"illegal_number_failures": "2"}, "row 1 (line 2), column 'illegal_number_failures': 2 illegal-number failures exceed 1 failures"),
    ({"minute": "2019-03-01T10:00:30"}, "row 1 (line 2), column 'minute': '2019-03-01T10:00:30' has seconds; a statistics point starts at :00 (§1.5)"),
    ({"minute": "2019-02-30T10:00"}, "row 1 (line 2), column 'minute': '2019-02-30T10:00' is not an ISO 8601 minute"),
    ({"minute": "yesterday"}, "row 1 (line 2), column 'minute': 'yesterday' is not an ISO 8601 minute"),
    ({"requests": "ten"}, "row 1 (line 2), column 'requests': 'ten' is not a whole number"),
    ({"requests": ""}, "row 1 (line 2), column 'requests': missing value"),
    ({"account": ""}, "row 1 (line 2), column 'account': missing value"),
])
def test_bad_minute_rows(cli, tmp_path, change, message):
    result = evaluate_cli(cli, tmp_path, [GOOD, dict(GOOD, minute="2019-03-01T10:01"), dict(GOOD, **change)][-1:])
    assert result.code == 1
    assert f"{tmp_path}/minutes.csv: {message}" in result.err
    assert result.out == ""


def test_a_minute_listed_twice_for_an_account(cli, tmp_path):
    rows = [GOOD, dict(GOOD, account="b"), dict(GOOD, requests="5", failures="0")]
    result = evaluate_cli(cli, tmp_path, rows)
    assert result.code == 1
    assert f"{tmp_path}/minutes.csv: row 3 (line 4), column 'minute': minute listed twice for account 'a' (also row 1)" in result.err


def test_every_problem_is_listed_not_only_the_first(cli, tmp_path):
    rows = [dict(GOOD, minute=f"2019-03-01T10:{i:02d}", failures="999") for i in range(25)]
    result = evaluate_cli(cli, tmp_path, rows)
    assert result.code == 1
    assert "25 problem(s) in minutes file" in result.err
    assert "row 20 (line 21)" in result.err and "... and 5 more" in result.err


def test_a_missing_column(cli, tmp_path):
    minutes = write_csv(tmp_path / "minutes.csv", [{"account": "a", "minute": "2019-03-01T10:00", "requests": "1"}])
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 1
    assert f"{minutes}: missing column(s) failures (found: account, minute, requests)" in result.err


def test_an_unknown_format(cli, tmp_path):
    path = tmp_path / "minutes.xlsx"
    path.write_text("x")
    result = cli("evaluate", POLICIES, "--minutes", path, "--month", "2019-03")
    assert result.code == 1
    assert "unknown format .xlsx; use .csv, .jsonl or .parquet" in result.err


# The file as write_yaml writes it: "- id:" on line 1, then start, end, cause (and any field added) a line each; a
# problem names the line of its field.
@pytest.mark.parametrize("incident,message", [
    ({"cause": "gremlins"}, "row 1 (line 4), column 'cause': unknown cause 'gremlins'; policy 2019-01-01 declares: provider, customer_network"),
    # The word meant, before the fifteen the policy declares (it was left to be found among them by eye).
    ({"cause": "provder"}, "row 1 (line 4), column 'cause': unknown cause 'provder'; did you mean 'provider'? policy "
                           "2019-01-01 declares: provider, customer_network"),
    ({"cause": "Force_Majeure"}, "row 1 (line 4), column 'cause': unknown cause 'Force_Majeure'; did you mean "
                                 "'force_majeure'? policy"),
    ({"cause": "customer network"}, "row 1 (line 4), column 'cause': unknown cause 'customer network'; did you mean "
                                    "'customer_network'? policy"),
    ({"end": "2019-03-01T09:00"}, "row 1 (line 3), column 'end': end 2019-03-01T09:00 is not after start 2019-03-01T10:00"),
    ({"start": "soon"}, "row 1 (line 2), column 'start': 'soon' is not an ISO 8601 timestamp"),
    # Python reads offsets up to ±23:59; UTC offsets in use stop at +14:00 and −12:00 (±14:00 is the rule).
    ({"start": "2019-03-01T10:00+14:01"}, "row 1 (line 2), column 'start': '2019-03-01T10:00+14:01' has a UTC offset beyond ±14:00"),
    ({"end": "2019-03-01T11:00-23:00"}, "row 1 (line 3), column 'end': '2019-03-01T11:00-23:00' has a UTC offset beyond ±14:00"),
    ({"cause": None}, "row 1 (line 4), column 'cause': missing"),
    ({"severity": "high"}, "row 1 (line 5), column 'severity': unknown field"),
])
def test_bad_incidents(cli, tmp_path, incident, message):
    entry = {"id": "I-1", "start": "2019-03-01T10:00", "end": "2019-03-01T11:00", "cause": "provider"}
    entry.update(incident)
    incidents = write_yaml(tmp_path / "incidents.yaml", [entry])
    result = evaluate_cli(cli, tmp_path, incidents=incidents)
    assert result.code == 1
    assert f"{incidents}: {message}" in result.err


def test_incident_offsets_of_plus_and_minus_14_hours_are_accepted(cli, tmp_path):
    # Both ends at the limit: 2019-03-02T10:00+14:00 is 2019-03-01T20:00Z, 2019-03-01T21:00-14:00 is 2019-03-02T11:00Z.
    entry = {"id": "I-1", "start": "2019-03-02T10:00+14:00", "end": "2019-03-01T21:00-14:00", "cause": "provider"}
    result = evaluate_cli(cli, tmp_path, incidents=write_yaml(tmp_path / "incidents.yaml", [entry]))
    assert result.code == 0, result.err


def test_a_notice_published_at_an_offset_beyond_14_hours(cli, tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", [{"id": "N", "kind": "maintenance",
                                                      "published_at": "2019-03-01T00:00+25:00",
                                                      "start": "2019-03-02T00:00", "end": "2019-03-02T01:00"}])
    result = evaluate_cli(cli, tmp_path, notices=notices)
    assert result.code == 1
    assert (f"{notices}: row 1 (line 3), column 'published_at': '2019-03-01T00:00+25:00' is not an ISO 8601 timestamp"
            in result.err)


def test_bad_notice_kind(cli, tmp_path):
    notices = write_yaml(tmp_path / "notices.yaml", [{"id": "N", "kind": "party", "published_at": "2019-03-01T00:00",
                                                      "start": "2019-03-02T00:00", "end": "2019-03-02T01:00"}])
    result = evaluate_cli(cli, tmp_path, notices=notices)
    assert result.code == 1
    assert f"{notices}: row 1 (line 2), column 'kind': unknown kind 'party' (one of: maintenance, major_event, high_concurrency)" in result.err


@pytest.mark.parametrize("kind,meant", [("maintainance", "maintenance"), ("Major_Event", "major_event"),
                                        ("high-concurrency", "high_concurrency")])
def test_a_notice_kind_misspelt_is_told_the_kind_it_most_likely_meant(cli, tmp_path, kind, meant):
    notices = write_yaml(tmp_path / "notices.yaml", [{"id": "N", "kind": kind, "published_at": "2019-03-01T00:00",
                                                      "start": "2019-03-02T00:00", "end": "2019-03-02T01:00"}])
    result = evaluate_cli(cli, tmp_path, notices=notices)
    assert (result.code, result.out) == (1, "")
    assert (f"{notices}: row 1 (line 2), column 'kind': unknown kind '{kind}' (did you mean '{meant}'? one of: "
            "maintenance, major_event, high_concurrency)\n") in result.err


@pytest.mark.parametrize("row,message", [
    ({"month": "2019-3"}, "row 1 (line 2), column 'month': '2019-3' is not a month written YYYY-MM: write 2019-03"),
    ({"month": "March"}, "row 1 (line 2), column 'month': 'March' is not a month written YYYY-MM"),
    ({"monthly_fee": "1,000.00"}, "row 1 (line 2), column 'monthly_fee': '1,000.00' is not an amount of money"),
    ({"offset": "12.345"}, "row 1 (line 2), column 'offset': '12.345' is not an amount of money"),
    ({"offset": "2000.00"}, "row 1 (line 2), column 'offset': offset 2000.00 exceeds the monthly fee 1000.00"),
])
def test_bad_billing_rows(cli, tmp_path, row, message):
    entry = {"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}
    entry.update(row)
    billing = write_csv(tmp_path / "billing.csv", [entry])
    result = evaluate_cli(cli, tmp_path, billing=billing)
    assert result.code == 1
    assert f"{billing}: {message}" in result.err


def test_billing_twice_for_one_month(cli, tmp_path):
    entry = {"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}
    billing = write_csv(tmp_path / "billing.csv", [entry, entry])
    result = evaluate_cli(cli, tmp_path, billing=billing)
    assert result.code == 1
    assert "row 2 (line 3), column 'month': account 'a' month 2019-03 also billed in row 1" in result.err


@pytest.mark.parametrize("args,message", [
    (["--month", "2019-08", "--term-start", "2019-03-17", "--term-end", "2019-06-16"], "2019-08 is outside the service term 2019-03-17 to 2019-06-16"),
    (["--month", "2019-03", "--account", "zed"], "account(s) zed have no minutes or billing for 2019-03"),
])
def test_bad_options(cli, tmp_path, args, message):
    minutes = write_csv(tmp_path / "minutes.csv", [GOOD])
    result = cli("evaluate", POLICIES, "--minutes", minutes, *args)
    assert result.code == 1
    assert message in result.err


def test_jsonl_and_parquet_inputs_give_the_same_result(cli, tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [dict(account="a", minute=f"2019-03-01T10:{i:02d}", requests=100, failures=2) for i in range(7)]
    csv_path = write_csv(tmp_path / "m.csv", rows)
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    parquet = tmp_path / "m.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    outputs = [cli("evaluate", POLICIES, "--minutes", p, "--month", "2019-03").json() for p in (csv_path, jsonl, parquet)]
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["evaluations"][0]["unavailable_minutes"] == 7


def test_bom_and_crlf_are_accepted(cli, tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"\xef\xbb\xbfaccount,minute,requests,failures\r\na,2019-03-01T10:00,100,2\r\n")
    result = cli("evaluate", POLICIES, "--minutes", path, "--month", "2019-03")
    assert result.code == 0, result.err
    assert result.json()["evaluations"][0]["unavailable_minutes"] == 1


@pytest.mark.slow
def test_local_times_skipped_or_repeated_by_a_clock_change_need_an_offset(cli, tmp_path):
    berlin = draft_variant(tmp_path, "value: Asia/Singapore", "value: Europe/Berlin", "berlin.yaml")
    rows = [dict(GOOD, minute="2024-03-31T01:59"), dict(GOOD, minute="2024-03-31T02:30"),
            dict(GOOD, minute="2024-03-31T03:00"), dict(GOOD, minute="2024-10-27T02:30"),
            dict(GOOD, minute="2024-10-27T02:30+01:00")]
    minutes = write_csv(tmp_path / "minutes.csv", rows)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2024-03", "--policy-file", berlin)
    assert result.code == 1
    assert (f"{minutes}: row 2 (line 3), column 'minute': 2024-03-31T02:30 does not exist (the clocks moved forward) "
            "in Europe/Berlin: give it a UTC offset") in result.err
    assert (f"{minutes}: row 4 (line 5), column 'minute': 2024-10-27T02:30 happens twice (the clocks moved back) "
            "in Europe/Berlin: give it a UTC offset") in result.err
    assert "2 problem(s)" in result.err  # the one with an offset is placed
    good = write_csv(tmp_path / "good.csv", [rows[0], rows[2], dict(GOOD, minute="2024-03-31T03:01", failures="2")])
    (e,) = cli("evaluate", POLICIES, "--minutes", good, "--month", "2024-03", "--policy-file", berlin).json()["evaluations"]
    assert (e["minutes_with_data"], e["unavailable_minutes"]) == (3, 1)


@pytest.mark.parametrize("line,message", [
    ('{"account": {"x": 1}, "month": "2019-03", "monthly_fee": "1", "offset": "0"}',
     "column 'account' holds struct<x: int64> values, not text or numbers"),
    ('{"account": "a", "month": [2019, 3], "monthly_fee": "1", "offset": "0"}',
     "column 'month' holds list<item: int64> values, not text or numbers"),
])
def test_billing_json_lines_with_objects_or_lists(cli, tmp_path, line, message):
    billing = tmp_path / "billing.jsonl"
    billing.write_text(line + "\n")
    result = evaluate_cli(cli, tmp_path, billing=billing)
    assert result.code == 1, result.err
    assert result.err == f"slapolicy: {billing}: {message}\n"
    assert result.out == ""


@pytest.mark.parametrize("month", ["2019-00", "2019-13", "0001-12", "9999-01"])
def test_billing_months_that_cannot_be(cli, tmp_path, month):
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": month, "monthly_fee": "1.00", "offset": "0.00"}])
    result = evaluate_cli(cli, tmp_path, billing=billing)
    if month in ("2019-00", "2019-13"):
        assert result.code == 1
        assert f"{billing}: row 1 (line 2), column 'month': '{month}' is not a month written YYYY-MM" in result.err
    else:  # a month no evaluation can ask for: never matched, harmless
        assert result.code == 0, result.err
        assert result.json()["evaluations"][0]["compensation"] is None


@pytest.mark.parametrize("fee,offset,message", [
    ("-5", "0", "'-5' is not an amount of money"),
    ("1e3", "0", "'1e3' is not an amount of money"),
    ("NaN", "0", "missing value (empty, or NaN, NA or null): an amount of money is needed"),
    ("", "0", "missing value (empty, or NaN, NA or null): an amount of money is needed"),
    ("1000000000000000", "0", "'1000000000000000' has more than 15 digits before the point"),
])
def test_fees_that_are_not_money(cli, tmp_path, fee, offset, message):
    billing = write_csv(tmp_path / "billing.csv", [{"account": "a", "month": "2019-03", "monthly_fee": fee, "offset": offset}])
    result = evaluate_cli(cli, tmp_path, billing=billing)
    assert result.code == 1
    assert f"{billing}: row 1 (line 2), column 'monthly_fee': {message}" in result.err


def test_billing_with_a_column_named_twice(cli, tmp_path):
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset,offset\na,2019-03,1000.00,0.00,600.00\n")
    result = evaluate_cli(cli, tmp_path, billing=billing)
    assert result.code == 1
    assert result.err == f"slapolicy: {billing}: column(s) 'offset' appear more than once in the header\n"


@pytest.mark.parametrize("name", ["", " "])
def test_a_blank_account_option_is_refused(cli, name):
    # '' used to select every account (an empty filter), ' ' to report "account(s)   have no minutes".
    result = cli("evaluate", POLICIES, "--minutes", REPO / "examples" / "ccc" / "minutes.csv", "--month", "2019-03",
                 "--account", name)
    assert result.code == 1 and result.out == ""
    assert f"account name {name!r} is blank: name an account" in result.err


@pytest.mark.parametrize("kind", ["incidents", "notices"])
@pytest.mark.parametrize("command", ["evaluate", "claim"])
def test_a_tab_in_a_yaml_list_names_the_kind_of_file_it_is_in(cli, tmp_path, kind, command):
    """The YAML reader of policy files reads incidents and notices too: its message said "policy file" for them."""
    path = tmp_path / f"{kind}.yaml"
    path.write_text("- id: X-1\n\tstart: 2019-03-01T10:00\n")  # line 2 starts with a tab (column 1)
    ledger = tmp_path / "ledger.sqlite"
    if command == "evaluate":
        result = evaluate_cli(cli, tmp_path, **{kind: path})
    else:
        minutes = write_csv(tmp_path / "minutes.csv", [dict(GOOD, account="globex")])
        result = cli("claim", POLICIES, REPO / "examples" / "ccc" / "claim-globex-2019-03.json", "--minutes", minutes,
                     f"--{kind}", path, "--ledger", ledger, "--now", "2019-04-10T12:00+00:00")
    assert (result.code, result.out) == (1, "")
    assert result.err == f"slapolicy: {path}:2:1: a tab character: tabs are not allowed in the {kind} file; indent with spaces\n"
    assert not ledger.exists()
