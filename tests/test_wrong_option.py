"""A data file given to the wrong option is told which option takes it: the columns found are exactly another
input's (inputs.problems.INPUT_COLUMNS), and nothing is written."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import POLICIES, REPO, evaluate_march, run_cli

EXAMPLES = REPO / "examples" / "ccc"
MINUTES, BILLING = EXAMPLES / "minutes.csv", EXAMPLES / "billing.csv"


def test_billing_given_as_the_minutes_is_told_to_be_given_as_billing(tmp_path):
    # It said only "missing column(s) minute, requests, failures (found: account, month, monthly_fee, offset)".
    output = tmp_path / "out.json"
    result = evaluate_march(BILLING, "--output", output)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {BILLING}: missing column(s) minute, requests, failures (found: account, month, monthly_fee, "
        "offset); these are a billing file's columns: give it as --billing\n"))
    assert list(tmp_path.iterdir()) == []


def test_minutes_given_as_the_billing_are_told_to_be_given_as_minutes(tmp_path):
    output = tmp_path / "out.json"
    result = evaluate_march(MINUTES, "--billing", MINUTES, "--output", output)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {MINUTES}: missing column(s) month, monthly_fee, offset (found: account, minute, requests, "
        "failures, illegal_number_failures, peak_qps); these are a minutes file's columns: give it as --minutes\n"))
    assert list(tmp_path.iterdir()) == []


def test_a_claim_given_the_billing_as_minutes_writes_no_ledger(tmp_path):
    result = run_cli("claim", POLICIES, EXAMPLES / "claim-globex-2019-03.json", "--minutes", BILLING, "--ledger",
                     tmp_path / "ledger.sqlite")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {BILLING}: missing column(s) minute, requests, failures (found: account, month, monthly_fee, "
        "offset); these are a billing file's columns: give it as --billing\n"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix,found", [(".jsonl", "month, service_start, account, monthly_fee, offset"),
                                          (".parquet", "account, month, monthly_fee, offset, service_start")])
def test_billing_as_minutes_is_told_so_in_every_format(tmp_path, suffix, found):
    billing = tmp_path / f"billing{suffix}"
    row = {"account": "acme", "month": "2019-03", "monthly_fee": "2500.00", "offset": "0.00", "service_start": "2019-01-01"}
    if suffix == ".jsonl":
        billing.write_text(json.dumps(row) + "\n")
    else:
        pq.write_table(pa.table({name: [value] for name, value in row.items()}), billing)
    result = evaluate_march(billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) minute, requests, failures (found: {found}); these are a billing "
        "file's columns: give it as --billing\n"))


def test_a_billing_export_with_columns_of_its_own_is_told_to_be_given_as_billing(tmp_path):
    # An export holding the billing's columns and one no input reads said only "missing column(s) minute, requests,
    # failures (found: account, month, monthly_fee, offset, currency)": the pointer fired on the exact columns alone.
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset,currency\nacme,2019-03,2500.00,0.00,EUR\n")
    output = tmp_path / "out.json"
    result = evaluate_march(billing, "--output", output)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) minute, requests, failures (found: account, month, monthly_fee, "
        "offset, currency); besides currency, these are a billing file's columns: give it as --billing\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["billing.csv"]
    # The minutes with columns of their own, given as the billing; more than five besides are counted.
    minutes = tmp_path / "minutes.csv"
    minutes.write_text("region,account,minute,requests,failures,a,b,c,d,e\neu,acme,2019-03-01T00:00,5,0,1,2,3,4,5\n")
    result = evaluate_march(MINUTES, "--billing", minutes, "--output", output)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) month, monthly_fee, offset (found: region, account, minute, requests, "
        "failures, a, b, c, d, e); besides region, a, b, c, d and 1 more, these are a minutes file's columns: give it "
        "as --minutes\n"))
    assert not output.exists()


def test_a_billing_export_with_columns_of_its_own_is_told_so_through_the_api():
    from slapolicy import Engine, InputError

    rows = [{"account": "acme", "month": "2019-03", "monthly_fee": "2500.00", "offset": "0.00", "currency": "EUR"}]
    with pytest.raises(InputError) as caught:
        Engine(POLICIES).evaluate(minutes=rows, month="2019-03")
    assert str(caught.value) == (
        "argument 'minutes': missing column(s) minute, requests, failures (found: account, month, monthly_fee, offset, "
        "currency); besides currency, these are billing columns: give them as billing")


def test_columns_another_input_reads_beside_one_input_s_are_not_taken_for_it(tmp_path):
    # The billing's columns and one of the minutes' (requests): which input was meant is anyone's guess.
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset,requests\nacme,2019-03,2500.00,0.00,5\n")
    result = evaluate_march(billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) minute, failures (found: account, month, monthly_fee, "
        "offset, requests)\n"))
    billing.write_text("account,month,monthly_fee\nacme,2019-03,2500.00\n")  # one of billing's columns short
    result = evaluate_march(billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) minute, requests, failures (found: account, month, monthly_fee)\n"))
    billing.write_text("account,month,monthly_fee,note\nacme,2019-03,2500.00,x\n")  # short, with one besides
    result = evaluate_march(billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) minute, requests, failures (found: account, month, monthly_fee, "
        "note)\n"))


@pytest.mark.parametrize("option,given,message", [
    ("--incidents", "notices.yaml", "these are a notices file's entries: give it as --notices"),
    ("--notices", "incidents.yaml", "these are an incidents file's entries: give it as --incidents"),
])
def test_notices_and_incidents_given_to_each_other_s_option_say_so_in_one_line(tmp_path, option, given, message):
    # Notices given as --incidents were nine lines, three an entry: "column 'cause': missing", "column 'kind':
    # unknown field (expected: ...)", "column 'published_at': unknown field ...".
    result = evaluate_march(MINUTES, option, EXAMPLES / given, "--output", tmp_path / "out.json")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {EXAMPLES / given}: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_one_notice_among_incidents_is_still_named_field_by_field(tmp_path):
    incidents = tmp_path / "incidents.json"
    incidents.write_text(json.dumps([
        {"id": "I-1", "start": "2019-03-12T10:00", "end": "2019-03-12T10:30", "cause": "provider"},
        {"id": "N-1", "kind": "maintenance", "published_at": "2019-03-01T10:00", "start": "2019-03-12T10:00",
         "end": "2019-03-12T10:30"}]))
    result = evaluate_march(MINUTES, "--incidents", incidents)
    expected = "id, start, end, cause, account, description"
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 3 problem(s) in incidents file {incidents}:\n"
        f"{incidents}: row 2, column 'cause': missing\n"
        f"{incidents}: row 2, column 'kind': unknown field (expected: {expected})\n"
        f"{incidents}: row 2, column 'published_at': unknown field (expected: {expected})\n"))
