"""A file that holds no row is a file of no row, whatever its format: a minutes or billing file that is empty (0
bytes, or blank lines), a CSV header alone (with or without its line end), a JSON Lines file without an object,
an empty incidents or notices file (YAML or JSON). Each was read alike before only for some: an empty JSON Lines
or CSV minutes file, and a billing header without its line end, were refused."""
import pytest

from conftest import POLICIES, REPO, run_cli
from helpers import write_csv

# An account billed 1000.00 for March 2019 with no minute of data: 0 of 44,640 minutes unavailable, 100.00 %, the
# standard met, nothing owed (0.00), warned that it has no minute with data (§1.4).
BILLING = [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]
# Account a, 30 minutes at 2 failures in 100 requests (98 % < 99 %: unavailable, §1.5): 1 − 30/44,640 = 99.93 %.
MINUTES = [{"account": "a", "minute": f"2019-03-12T10:{m:02d}", "requests": 100, "failures": 2} for m in range(30)]

EXAMPLES = REPO / "examples" / "ccc"

NO_ROW = {
    "empty.csv": b"", "blank.csv": b"\n\n", "header.csv": b"account,minute,requests,failures\n",
    "header-without-line-end.csv": b"account,minute,requests,failures",
    "empty.jsonl": b"", "blank.jsonl": b"\n  \n",
}


def evaluate(tmp_path, minutes, billing, *more):
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--billing", billing, "--month", "2019-03", *more)
    assert result.code == 0, result.err
    return result.json()["evaluations"]


@pytest.mark.parametrize("name", sorted(NO_ROW))
def test_a_minutes_file_of_no_row(tmp_path, name):
    minutes = tmp_path / name
    minutes.write_bytes(NO_ROW[name])
    (evaluation,) = evaluate(tmp_path, minutes, write_csv(tmp_path / "billing.csv", BILLING))
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"],
            evaluation["availability_percent"], evaluation["meets_standard"], evaluation["compensation"]) == \
        ("a", 0, 0, "100.00", True, "0.00")
    assert [w["code"] for w in evaluation["warnings"]] == ["no_minutes_with_data"]


BILLING_NO_ROW = {
    "empty.csv": b"", "blank.csv": b"\n\n", "header.csv": b"account,month,monthly_fee,offset\n",
    "header-without-line-end.csv": b"account,month,monthly_fee,offset", "empty.jsonl": b"", "blank.jsonl": b"\n \n",
}


@pytest.mark.parametrize("name", sorted(BILLING_NO_ROW))
def test_a_billing_file_of_no_row(tmp_path, name):
    # Without a billing row the month has no fee: 30 unavailable minutes, 99.93 %, no amount (null).
    billing = tmp_path / name
    billing.write_bytes(BILLING_NO_ROW[name])
    (evaluation,) = evaluate(tmp_path, write_csv(tmp_path / "minutes.csv", MINUTES), billing)
    assert (evaluation["unavailable_minutes"], evaluation["availability_percent"], evaluation["monthly_fee"],
            evaluation["compensation"]) == (30, "99.93", None, None)


@pytest.mark.parametrize("kind,text,message", [
    ("minutes", b"account,minute,requests", "missing column(s) failures (found: account, minute, requests)"),
    ("billing", b"account,month,monthly_fee", "missing column(s) offset (found: account, month, monthly_fee)"),
])
def test_a_header_without_line_end_still_names_its_missing_columns(tmp_path, kind, text, message):
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(text)
    files = {"minutes": write_csv(tmp_path / "m.csv", MINUTES), "billing": write_csv(tmp_path / "b.csv", BILLING)}
    files[kind] = path
    result = run_cli("evaluate", POLICIES, "--minutes", files["minutes"], "--billing", files["billing"],
                     "--month", "2019-03")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {path}: {message}\n")


@pytest.mark.parametrize("name", ["incidents.json", "incidents.yaml", "notices.json", "notices.yaml"])
def test_an_empty_list_file_lists_none(tmp_path, name):
    # An empty .json was refused ("the file is empty (expected JSON)") where an empty .yaml listed none.
    path = tmp_path / name
    path.write_bytes(b" \n")
    minutes, billing = write_csv(tmp_path / "m.csv", MINUTES), write_csv(tmp_path / "b.csv", BILLING)
    (evaluation,) = evaluate(tmp_path, minutes, billing, f"--{name.split('.')[0]}", path)
    assert (evaluation["unavailable_minutes"], evaluation["excluded_minutes"], evaluation["availability_percent"]) == \
        (30, {}, "99.93")


def test_a_parquet_file_of_no_bytes_is_refused(tmp_path):
    # Parquet writes its columns even for no row: a file of no bytes is not one, and is named so.
    minutes = tmp_path / "m.parquet"
    minutes.write_bytes(b"")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"slapolicy: {minutes}: ")


def test_a_claim_decided_without_a_minute_of_data_says_so_in_its_text(tmp_path):
    # globex's claim for March 2019 over a minutes file of a header alone: 0 of 44,640 minutes with data, so 100.00 %
    # and denied (§2.2). The JSON carried the warning no_minutes_with_data, the text a support agent pastes did not:
    # it read as a month measured whole. The warning follows the availability it qualifies, as evaluate's text has it.
    minutes = tmp_path / "minutes.csv"
    minutes.write_bytes(NO_ROW["header.csv"])
    result = run_cli("claim", POLICIES, EXAMPLES / "claim-globex-2019-03.json", "--minutes", minutes, "--billing",
                     EXAMPLES / "billing.csv", "--ledger", tmp_path / "ledger.sqlite", "--format", "text")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    at = lines.index("Service Availability: 100.00% (meets the standard), 0 unavailable minute(s) counted, credit 0%.")
    assert lines[at + 1] == ("  WARNING [§1.4] none of the Service Month's 44640 minutes has data for this account: "
                             "they all count as available (§1.4); check that its minutes were not lost (by monitoring, "
                             "or left out of the file or request)")
    assert lines[at + 2].startswith("Records (§3.2(1)")
