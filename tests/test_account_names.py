"""One account-name rule for every input (minutes, billing, incidents, notices, claims): leading and trailing
whitespace removed, a name that is blank after that refused (slapolicy.inputs.account_name)."""
import datetime as dt
import json

import pytest

from conftest import POLICIES
from helpers import minute_rows, write_csv, write_json, write_yaml
from slapolicy.api import evaluate
from slapolicy.claims import decide_claim
from slapolicy.inputs import account_name


def test_the_rule():
    assert account_name(" initech\t") == "initech"
    assert account_name("\u3000a b\u00a0") == "a b"  # ideographic and no-break spaces; inner spaces kept
    assert account_name("  ") is None and account_name(None) is None


@pytest.mark.slow
def test_the_columnar_readers_trim_exactly_the_same_characters():
    import pyarrow as pa
    import pyarrow.compute as pc

    # Every code point (but surrogates) on both sides of a name: pyarrow's utf8_trim_whitespace, used by the
    # minutes readers, removes exactly what str.strip removes.
    names = [f"{chr(c)}a{chr(c)}" for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    trimmed = pc.utf8_trim_whitespace(pa.array(names)).to_pylist()
    assert [n for n, t in zip(names, trimmed) if t != account_name(n)] == []


@pytest.mark.slow
def test_billing_names_are_trimmed_like_minutes(tmp_path):
    # ' initech ' in the billing is the account 'initech' of the minutes: one account, paid, no phantom.
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("initech", "2019-03-12T10:00", 300, 100, 2))
    billing = write_csv(tmp_path / "billing.csv", [{"account": " initech ", "month": "2019-03", "monthly_fee": "1000.00",
                                                    "offset": "0.00"}])
    evaluations = evaluate(POLICIES, minutes=minutes, month="2019-03", billing=billing)["evaluations"]
    # 1 − 300/44,640 = 99.33 %: tier [99 %, 99.95 %), 10 % of 1000.00.
    assert [(e["account"], e["availability_percent"], e["compensation"]) for e in evaluations] == \
        [("initech", "99.33", "100.00")]


@pytest.mark.slow
def test_incident_and_notice_accounts_are_trimmed(tmp_path):
    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows("a", "2019-03-08T14:00", 10, 100, 30)) +
                        list(minute_rows("a", "2019-03-20T12:00", 20, 100, 50)))
    incidents = write_yaml(tmp_path / "incidents.yaml", [{"id": "I-1", "start": "2019-03-08T14:00",
                                                          "end": "2019-03-08T14:10", "cause": "customer_network",
                                                          "account": " a"}])
    notices = write_yaml(tmp_path / "notices.yaml", [{"id": "N-1", "kind": "maintenance", "published_at": "2019-03-01T09:00",
                                                      "start": "2019-03-20T12:00", "end": "2019-03-20T12:20",
                                                      "account": "a\t"}])
    (e,) = evaluate(POLICIES, minutes=minutes, month="2019-03", incidents=incidents, notices=notices)["evaluations"]
    assert e["excluded_minutes"] == {"5.1": 10, "5.12": 20}


@pytest.mark.parametrize("kind,entry", [
    ("incidents", {"id": "I-1", "start": "2019-03-01T10:00", "end": "2019-03-01T11:00", "cause": "provider"}),
    ("notices", {"id": "N-1", "kind": "maintenance", "published_at": "2019-02-01T10:00", "start": "2019-03-01T10:00",
                 "end": "2019-03-01T11:00"}),
])
def test_a_blank_account_is_refused_not_read_as_every_account(cli, tmp_path, kind, entry):
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-03-01T10:00", 1, 100, 2))
    path = write_yaml(tmp_path / f"{kind}.yaml", [dict(entry, account="  ")])
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", f"--{kind}", path)
    assert result.code == 1 and result.out == ""
    line = {"incidents": 5, "notices": 6}[kind]  # the line of `account:`, after the entry's other fields
    assert f"{path}: row 1 (line {line}), column 'account': '  ' is blank; leave the key out to mean every account" in result.err


@pytest.mark.slow
def test_a_claim_account_is_trimmed(tmp_path):
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("acme", "2024-03-10T00:00", 3000, 100, 50))
    billing = write_csv(tmp_path / "billing.csv", [{"account": "acme ", "month": "2024-03", "monthly_fee": "10.00",
                                                    "offset": "0.00"}])
    claim = {"account": "  acme", "service_month": "2024-03", "filed_at": "2024-04-08T10:00+08:00",
             "channel": "work_order", "event_report": "Calls failed.", "failure_records": ["c-1"],
             "unavailability": [{"start": "2024-03-10T00:00+08:00", "end": "2024-03-12T02:00+08:00"}]}
    result = decide_claim(POLICIES, claim, minutes=minutes, billing=billing, ledger=tmp_path / "l.sqlite",
                          now=dt.datetime(2024, 9, 1, tzinfo=dt.timezone.utc))
    assert (result["account"], result["decision"], result["compensation"]) == ("acme", "approved", "5.00")


@pytest.mark.parametrize("rows,message", [
    ([{"service_start": "2019-3-1"}], "row 1 (line 2), column 'service_start': '2019-3-1' is not a date written YYYY-MM-DD"),
    # Ten characters that date.fromisoformat reads as an ISO week date (Monday of week 9, 2019-02-25): not YYYY-MM-DD.
    ([{"service_start": "2019-W09-1"}], "row 1 (line 2), column 'service_start': '2019-W09-1' is not a date written "
                                        "YYYY-MM-DD"),
    ([{"service_start": "2019-04-01"}], "row 1 (line 2), column 'month': 2019-03 is billed before the account's "
                                        "service_start 2019-04-01"),
    ([{"service_start": "2018-01-01"}, {"month": "2019-04", "service_start": "2018-02-01"}],
     "row 2 (line 3), column 'service_start': account 'a' starts on 2018-02-01 here but on 2018-01-01 in row 1"),
])
def test_bad_service_start(cli, tmp_path, rows, message):
    base = {"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00", "service_start": ""}
    billing = write_csv(tmp_path / "billing.csv", [dict(base, **row) for row in rows])
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows("a", "2019-03-01T10:00", 1, 100, 2))
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    assert result.code == 1 and result.out == ""
    assert f"{billing}: {message}" in result.err


# ---------------------------------------------------------------------------- one name in two Unicode forms

COMPOSED, DECOMPOSED = "caf\u00e9", "cafe\u0301"  # 'café' with é (U+00E9), and with e and a combining acute (U+0301)
TWO_FORMS = ("are the same name written in two Unicode forms (composed and decomposed accents): they would count as "
             "two accounts, each with its own minutes and money; write the name one way (composed, NFC) in every input")


def test_one_account_in_two_unicode_forms_in_the_minutes_is_refused_not_counted_twice(cli, tmp_path):
    # Two systems exported one account's minutes: they were two accounts, 'café' with 300 unavailable minutes and
    # 'café' with 200, each under the 99.5 % standard's 223 (44,640 × 0.5 % = 223.2) or above it: money split by
    # bytes nobody sees. 'cafe\u0301' sorts before 'caf\xe9' (e, U+0065, before é, U+00E9): it is named first.
    minutes = write_csv(tmp_path / "minutes.csv", list(minute_rows(COMPOSED, "2019-03-01T10:00", 300, 100, 2)) +
                        list(minute_rows(DECOMPOSED, "2019-03-02T10:00", 200, 100, 2)))
    for result in (cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"),
                   cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under",
                       POLICIES / "2019-01-01.yaml")):
        assert (result.code, result.out, result.err) == (
            1, "", f"slapolicy: accounts 'cafe\\u0301' and 'caf\\xe9' in the minutes {minutes} {TWO_FORMS}\n")


def test_one_form_in_every_input_is_read_as_written(tmp_path):
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows(DECOMPOSED, "2019-03-01T10:00", 300, 100, 2))
    billing = write_csv(tmp_path / "billing.csv", [{"account": DECOMPOSED, "month": "2019-03", "monthly_fee": "1000.00",
                                                    "offset": "0.00"}])
    (e,) = evaluate(POLICIES, minutes=minutes, month="2019-03", billing=billing)["evaluations"]
    # 1 − 300/44,640 = 99.33 %: tier [99 %, 99.95 %), 10 % of 1000.00.
    assert (e["account"], e["availability_percent"], e["compensation"]) == (DECOMPOSED, "99.33", "100.00")


@pytest.mark.parametrize("kind", ["billing", "incidents", "notices"])
def test_another_input_naming_the_account_in_its_other_form_is_refused(cli, tmp_path, kind):
    # The billing's 'café' (composed) was an account without minutes (100 %, nothing owed), the minutes' an account
    # without billing (no amount); an incident or a notice of one form never applied to the other's minutes.
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows(DECOMPOSED, "2019-03-01T10:00", 300, 100, 2))
    if kind == "billing":
        path = write_csv(tmp_path / "billing.csv", [{"account": COMPOSED, "month": "2019-03", "monthly_fee": "1000.00",
                                                     "offset": "0.00"}])
    elif kind == "incidents":
        path = write_yaml(tmp_path / "incidents.yaml", [{"id": "I-1", "start": "2019-03-01T10:00", "end": "2019-03-01T15:00",
                                                         "cause": "customer_network", "account": COMPOSED}])
    else:
        path = write_yaml(tmp_path / "notices.yaml", [{"id": "N-1", "kind": "maintenance", "published_at": "2019-02-01T10:00",
                                                       "start": "2019-03-01T10:00", "end": "2019-03-01T15:00",
                                                       "account": COMPOSED}])
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", f"--{kind}", path)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: accounts 'cafe\\u0301' and 'caf\\xe9' in the minutes {minutes} and the {kind} {path} "
               f"{TWO_FORMS}\n")


def test_an_account_asked_for_in_its_other_form_is_refused(cli, tmp_path):
    # --account 'café' (decomposed) of minutes written composed said "account(s) café have no minutes or billing";
    # a claim said "unknown account 'café'": either way the words showed the same name twice.
    minutes = write_csv(tmp_path / "minutes.csv", minute_rows(COMPOSED, "2019-03-01T10:00", 300, 100, 2))
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--account", DECOMPOSED)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: accounts 'cafe\\u0301' and 'caf\\xe9' in the accounts asked for and the minutes {minutes} "
               f"{TWO_FORMS}\n")
    claim = write_json(tmp_path / "claim.json", {
        "account": DECOMPOSED, "service_month": "2019-03", "filed_at": "2019-04-08T10:00+08:00", "channel": "work_order",
        "event_report": "Calls failed.", "failure_records": ["c-1"],
        "unavailability": [{"start": "2019-03-01T10:00+08:00", "end": "2019-03-01T15:00+08:00"}]})
    ledger = tmp_path / "ledger.sqlite"
    result = cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00")
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: accounts 'cafe\\u0301' and 'caf\\xe9' in {claim} and the minutes {minutes} {TWO_FORMS}\n")
    assert not ledger.exists()


def test_an_account_asked_for_that_hides_or_turns_text_is_listed_escaped_not_as_written():
    # Listed as written, 'acme' with a zero-width space read "account(s) acme have no minutes or billing" of an account
    # the minutes hold, and one with a right-to-left override turned the rest of the message around on a terminal
    # ("account(s) ‮globa have no ..." shows as "... on evah abolg"). A name that holds such a character is quoted,
    # escaped, as the claim's "unknown account 'acme\u200b'" is; a name of printable characters is listed as it is.
    rows = list(minute_rows("acme", "2019-03-01T10:00", 3, 100, 2))
    with pytest.raises(Exception) as refused:
        evaluate(POLICIES, minutes=rows, month="2019-03", accounts=["\u202eglobex", "acme\u200b", "café"])
    assert str(refused.value) == ("account(s) '\\u202eglobex', 'acme\\u200b', café have no minutes or billing for 2019-03; "
                                  "did you mean 'acme' for 'acme\\u200b'?")  # the name of the minutes nearest in spelling
