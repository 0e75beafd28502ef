"""A new user's first hour: the mistakes of someone who writes their first files from docs/ alone, each told what
to do next."""
from __future__ import annotations

import pytest

from conftest import REPO, evaluate_march

MINUTES_CSV = REPO / "examples" / "ccc" / "minutes.csv"

MINUTE_ROW = "acme,2019-03-12T09:00,100,2\n"


@pytest.mark.parametrize("rows,found", [
    # the first row taken for a header: its values were listed as the columns "found", and nothing said the header was
    # missing
    (MINUTE_ROW + "acme,2019-03-12T09:01,100,0\n", "acme, 2019-03-12T09:00, 100, 2"),
])
def test_a_minutes_csv_without_its_header_line_is_told_to_add_one(tmp_path, rows, found):
    minutes = tmp_path / "m.csv"
    minutes.write_text(rows)
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) account, minute, requests, failures (found: {found}); its first "
        "line holds values, not column names: a CSV file begins with a header line naming its columns; add one, "
        "account,minute,requests,failures, with the names in the order of the values\n"))


def test_a_headerless_minutes_csv_whose_first_row_repeats_a_value_is_told_to_add_a_header(tmp_path):
    # 'contoso,2024-03-01T09:00,0,0': the two counts, read as names, were "column(s) '0' appear more than once in
    # the header"
    minutes = tmp_path / "m.csv"
    minutes.write_text("acme,2019-03-12T09:00,0,0\n" + MINUTE_ROW)
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: column(s) '0' appear more than once in the header; its first line holds values, not "
        "column names: a CSV file begins with a header line naming its columns; add one, "
        "account,minute,requests,failures, with the names in the order of the values\n"))


def test_a_billing_csv_without_its_header_line_is_told_to_add_one(tmp_path):
    billing = tmp_path / "b.csv"
    billing.write_text("acme,2019-03,2500.00,0.00\n")
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) account, month, monthly_fee, offset (found: acme, 2019-03, 2500.00, "
        "0.00); its first line holds values, not column names: a CSV file begins with a header line naming its "
        "columns; add one, account,month,monthly_fee,offset, with the names in the order of the values\n"))


@pytest.mark.parametrize("header", ["customer,timestamp,calls,failed", "account,minute,requests,failed_2xx"])
def test_a_header_of_other_names_is_not_taken_for_values(tmp_path, header):
    minutes = tmp_path / "m.csv"
    minutes.write_text(header + "\n" + MINUTE_ROW)
    result = evaluate_march(minutes)
    assert result.code == 1 and "first line holds values" not in result.err


ROWS = [{"account": "acme", "minute": f"2019-03-12T09:{m:02d}", "requests": 100, "failures": 2} for m in range(3)]


def test_minutes_written_as_one_json_array_are_told_to_be_one_object_a_line(tmp_path):
    # json.dump(rows, f) named .jsonl: pyarrow's "line 1: JSON parse error: Column() changed from object to array"
    import json

    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json.dumps(ROWS) + "\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: line 1: not a JSON object; JSON Lines holds one object per line; a JSON array of "
        "objects (as json.dump of a list writes it) is one value, not one object a line: write each object on a line "
        "of its own\n"))
    minutes.write_text(json.dumps(ROWS[0]) + "\n  " + json.dumps(ROWS[1:]) + "\n")
    result = evaluate_march(minutes)
    assert result.code == 1 and result.err.startswith(f"slapolicy: {minutes}: line 2: not a JSON object; ")
    minutes.write_text("  " + json.dumps(ROWS[0]) + "\n")  # an object after spaces is one
    assert evaluate_march(minutes).code == 0


def test_minutes_named_json_are_told_the_name_json_lines_is_read_from(tmp_path):
    minutes = tmp_path / "m.json"
    minutes.write_text("")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: unknown format .json; use .csv, .jsonl or .parquet: JSON Lines, one object a line, is "
        "read from a file named .jsonl or .ndjson\n"))


def test_a_count_written_with_thousands_separators_is_told_to_drop_them(tmp_path):
    # a spreadsheet's '1,000' (quoted in CSV): "'1,000' is not a whole number", which of its characters was wrong
    # left to guess
    minutes = tmp_path / "m.csv"
    minutes.write_text('account,minute,requests,failures\nacme,2019-03-12T09:00,"1,000",0\nacme,2019-03-12T09:01,"1,000.5",0\n')
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 1 (line 2), column 'requests': '1,000' is not a whole number: write it without separators "
        "(1000)\n"
        f"{minutes}: row 2 (line 3), column 'requests': '1,000.5' is not a whole number\n"))


EPOCH = ("; a count of seconds or milliseconds since 1970 is not read: write the minute as text with its offset "
         "(2019-03-12T09:00+08:00), or as timestamps in UTC (pa.timestamp('s', tz='UTC'))")


def test_a_minute_written_as_seconds_since_1970_is_told_how_to_write_it(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\nacme,1552352400,100,2\nacme,20190312,100,2\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 1 (line 2), column 'minute': '1552352400' is not an ISO 8601 minute "
        "(YYYY-MM-DDTHH:MM[:00][offset]); a count of seconds or milliseconds since 1970 is not read: write the minute "
        "as text with its offset (2019-03-12T09:00+08:00), or as a Parquet timestamp in UTC\n"
        f"{minutes}: row 2 (line 3), column 'minute': '20190312' is not an ISO 8601 minute "
        "(YYYY-MM-DDTHH:MM[:00][offset])\n"))
    parquet = tmp_path / "m.parquet"
    pq.write_table(pa.table({"account": ["acme"], "minute": [1552352400000], "requests": [100], "failures": [2]}), parquet)
    result = evaluate_march(parquet)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {parquet}: column 'minute' holds values of type int64; expected text or timestamps{EPOCH}\n"))


def test_a_minutes_file_whose_every_column_is_named_otherwise_is_told_what_each_holds(tmp_path):
    # an export's own names: "missing column(s) account, minute, requests, failures (found: customer, timestamp,
    # calls, failed)", and nothing of which column holds what
    minutes = tmp_path / "m.csv"
    minutes.write_text("customer,timestamp,calls,failed\nacme,2019-03-12T09:00,100,2\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) account, minute, requests, failures (found: customer, timestamp, "
        "calls, failed); no column here is one slapolicy reads: a minutes file's are account (the account's name), "
        "minute (the minute's start, 2019-03-12T09:00), requests and failures (the minute's counts): rename the "
        "columns that hold them\n"))
    billing = tmp_path / "b.csv"
    billing.write_text("customer,period,fee,discount\nacme,2019-03,2500.00,0.00\n")
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    assert result.code == 1 and result.err.endswith(
        "; no column here is one slapolicy reads: a billing file's are account (the account's name), month (the Service "
        "Month, 2019-03), monthly_fee and offset (amounts, 1000.00): rename the columns that hold them\n")
    minutes.write_text("customer,minute,calls,failed\nacme,2019-03-12T09:00,100,2\n")  # one read: no guess
    assert "no column here" not in evaluate_march(minutes).err
