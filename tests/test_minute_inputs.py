"""Minutes no reader can take end in exit 1 with the file and what is wrong, in evaluate, claim and replay alike:
no traceback, nothing printed on stdout, no ledger written."""
import datetime as dt
import json

import pytest

from conftest import DRAFT, POLICIES

CLAIM = {"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order",
         "event_report": "calls failed", "unavailability": [{"start": "2019-03-01T10:00+08:00", "end": "2019-03-01T10:02+08:00"}],
         "failure_records": ["call-1"]}


def every_command(cli, tmp_path, minutes):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM))
    ledger = tmp_path / "ledger.sqlite"
    results = {
        "evaluate": cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"),
        "claim": cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00"),
        "replay": cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT),
    }
    assert not ledger.exists()
    return results


def refused_alike(cli, tmp_path, minutes, message):
    for command, result in every_command(cli, tmp_path, minutes).items():
        assert result.code == 1, (command, result.err)
        assert message in result.err, (command, result.err)
        assert result.out == "" and "Traceback" not in result.err, command


def csv_file(tmp_path, header, *lines):
    path = tmp_path / "minutes.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


@pytest.mark.parametrize("offset", ["+25:00", "+99:00", "+14:01", "-14:01", "+08:60"])
def test_an_offset_beyond_14_hours_is_refused(cli, tmp_path, offset):
    minutes = csv_file(tmp_path, "account,minute,requests,failures", f"a,2019-03-01T10:00{offset},100,1")
    refused_alike(cli, tmp_path, minutes,
                  f"{minutes}: row 1 (line 2), column 'minute': '2019-03-01T10:00{offset}' has a UTC offset beyond ±14:00")


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "-14:00"])
def test_offsets_up_to_14_hours_are_read(cli, tmp_path, offset):
    minutes = csv_file(tmp_path, "account,minute,requests,failures", f"a,2019-03-10T10:00{offset},100,1")
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 0, result.err
    (evaluation,) = result.json()["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (1, 0)  # 99 % is not below 99 %


def parquet_file(tmp_path, unit, seconds, tz="UTC"):
    import pyarrow as pa
    import pyarrow.parquet as pq

    moment = dt.datetime(2019, 3, 1, 2, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)
    if tz is None:
        moment = moment.replace(tzinfo=None) + dt.timedelta(hours=8)  # naive: local time of the policy
    path = tmp_path / "minutes.parquet"
    pq.write_table(pa.table({"account": ["a"], "minute": pa.array([moment], pa.timestamp(unit, tz=tz)),
                             "requests": [100], "failures": [1]}), path)
    return path


@pytest.mark.parametrize("unit,seconds,shown", [
    ("ms", 0.5, "2019-03-01T02:00:00.5Z"),
    ("us", 0.000001, "2019-03-01T02:00:00.000001Z"),
    ("ns", 30, "2019-03-01T02:00:30Z"),
    ("s", 59, "2019-03-01T02:00:59Z"),
])
def test_seconds_or_fractions_of_a_second_are_refused_in_every_unit(cli, tmp_path, unit, seconds, shown):
    minutes = parquet_file(tmp_path, unit, seconds)
    refused_alike(cli, tmp_path, minutes, f"{minutes}: row 1, column 'minute': {shown} has seconds; "
                                          "a statistics point starts at :00 (§1.5)")


def test_naive_sub_second_timestamps_are_refused_as_local_times(cli, tmp_path):
    minutes = parquet_file(tmp_path, "ms", 0.25, tz=None)
    refused_alike(cli, tmp_path, minutes, f"{minutes}: row 1, column 'minute': 2019-03-01T10:00:00.25 has seconds")


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_whole_minutes_in_any_unit_are_read(cli, tmp_path, unit):
    result = cli("evaluate", POLICIES, "--minutes", parquet_file(tmp_path, unit, 0), "--month", "2019-03")
    assert result.code == 0, result.err
    assert result.json()["evaluations"][0]["minutes_with_data"] == 1


def test_a_csv_header_naming_a_column_twice(cli, tmp_path):
    minutes = csv_file(tmp_path, "account,minute,requests,failures,failures", "a,2019-03-01T10:00,100,1,2")
    refused_alike(cli, tmp_path, minutes, f"{minutes}: column(s) 'failures' appear more than once in the header")


@pytest.mark.parametrize("column,values,kind,expected", [
    ("requests", [[100]], "list<element: int64>", "whole numbers or numbers or text"),
    ("account", [{"id": "a"}], "struct<id: string>", "text or whole numbers"),
    ("peak_qps", [b"1"], "binary", "whole numbers or numbers or text"),
    ("minute", [dt.date(2019, 3, 1)], "date32[day]", "text or timestamps"),
])
def test_a_parquet_column_of_a_type_no_reader_takes(cli, tmp_path, column, values, kind, expected):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {"account": ["a"], "minute": pa.array([dt.datetime(2019, 3, 1, 2, tzinfo=dt.timezone.utc)],
                                                 pa.timestamp("s", tz="UTC")), "requests": [100], "failures": [1]}
    data[column] = values
    minutes = tmp_path / "minutes.parquet"
    pq.write_table(pa.table(data), minutes)
    refused_alike(cli, tmp_path, minutes, f"{minutes}: column '{column}' holds values of type {kind}; expected {expected}")


def test_a_uint64_count_beyond_int64(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "minutes.parquet"
    pq.write_table(pa.table({"account": ["a", "a"], "minute": pa.array(
        [dt.datetime(2019, 3, 1, 2, m, tzinfo=dt.timezone.utc) for m in (0, 1)], pa.timestamp("s", tz="UTC")),
        "requests": pa.array([100, 2 ** 63], pa.uint64()), "failures": pa.array([1, 1], pa.uint64())}), minutes)
    refused_alike(cli, tmp_path, minutes,
                  f"{minutes}: row 2, column 'requests': 9223372036854775808 is beyond the largest count (2^63 − 1)")


def test_uint64_counts_that_fit_are_read(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "minutes.parquet"
    pq.write_table(pa.table({"account": ["a"], "minute": pa.array([dt.datetime(2019, 3, 1, 2, tzinfo=dt.timezone.utc)],
                                                                  pa.timestamp("s", tz="UTC")),
                             "requests": pa.array([2 ** 63 - 1], pa.uint64()), "failures": pa.array([0], pa.uint64())}),
                   minutes)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 0, result.err


def test_an_object_in_a_json_lines_minute(cli, tmp_path):
    minutes = tmp_path / "minutes.jsonl"
    minutes.write_text('{"account": "a", "minute": {"at": "2019-03-01T10:00"}, "requests": 100, "failures": 1}\n')
    refused_alike(cli, tmp_path, minutes,
                  f"{minutes}: column 'minute' holds values of type struct<at: timestamp[s]>; expected text or timestamps")


def test_an_object_among_text_minutes_in_json_lines(cli, tmp_path):
    minutes = tmp_path / "minutes.jsonl"
    minutes.write_text('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 1}\n'
                       '{"account": "a", "minute": {"at": "2019-03-01T10:01"}, "requests": 100, "failures": 1}\n')
    refused_alike(cli, tmp_path, minutes, f"{minutes}: cannot be read as JSONL")


def test_numbers_that_are_not_counts_are_named_as_written(cli, tmp_path):
    # Rows 1-3 of a Parquet file of numbers: numpy 2 printed them as np.float64(2.5), np.float64(nan), np.float64(inf).
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "minutes.parquet"
    pq.write_table(pa.table({"account": ["a", "a", "a"], "minute": pa.array(
        [dt.datetime(2019, 3, 1, 2, m, tzinfo=dt.timezone.utc) for m in (0, 1, 2)], pa.timestamp("s", tz="UTC")),
        "requests": [2.5, 100.0, 100.0], "failures": [0.0, float("nan"), 1.0], "peak_qps": [1.0, 2.0, float("inf")]}),
        minutes)
    refused_alike(cli, tmp_path, minutes, f"slapolicy: 3 problem(s) in minutes file {minutes}:\n"
                                          f"{minutes}: row 1, column 'requests': 2.5 is not a whole number\n"
                                          f"{minutes}: row 2, column 'failures': missing value (NaN)\n"
                                          f"{minutes}: row 3, column 'peak_qps': inf is not a non-negative finite number\n")


def test_nan_counts_and_accounts_handed_in_as_rows_are_missing_values():
    # pandas writes a missing number as NaN (DataFrame.to_dict): rows 2 and 3 were "'nan' is not a whole number" and
    # "nan is not an account name". In the optional column a NaN is what a missing value is there: no §5.10 failure.
    from slapolicy import InputError, evaluate

    nan = float("nan")
    rows = [{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 2, "illegal_number_failures": nan},
            {"account": "a", "minute": "2019-03-01T10:01", "requests": 100, "failures": nan},
            {"account": nan, "minute": "2019-03-01T10:02", "requests": 100, "failures": 0}]
    with pytest.raises(InputError) as refused:
        evaluate(POLICIES, minutes=rows, month="2019-03")
    assert str(refused.value) == ("2 problem(s) in argument 'minutes':\n"
                                  "argument 'minutes': row 3, column 'account': missing value\n"
                                  "argument 'minutes': row 2, column 'failures': missing value\n"
                                  "(minutes listed twice are looked for once every row's account and minute can be "
                                  "read: fix these, then run again)")
    (e,) = evaluate(POLICIES, minutes=rows[:1], month="2019-03")["evaluations"]
    assert (e["minutes_with_data"], e["unavailable_minutes"]) == (1, 1)  # 2 of 100 failed, none illegal: 98 % < 99 %


def test_a_count_beyond_64_bits_in_text_is_named_by_its_row_and_the_other_rows_are_read(cli, tmp_path):
    # It was "column 'requests': a value does not fit in 64 bits" with no row, and every row of the column read as 0:
    # row 1's 3 failures of 100 requests were refused as "3 failures exceed 0 requests".
    minutes = csv_file(tmp_path, "account,minute,requests,failures", "a,2019-03-01T10:00,100,3",
                       "a,2019-03-01T10:01,99999999999999999999,0", "a,2019-03-01T10:02,100,-99999999999999999999")
    refused_alike(cli, tmp_path, minutes, f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
                  f"{minutes}: row 2 (line 3), column 'requests': 99999999999999999999 is beyond the largest count (2^63 − 1)\n"
                  f"{minutes}: row 3 (line 4), column 'failures': -99999999999999999999 is negative\n")


def refused_exactly(cli, tmp_path, minutes, message):
    """Every command refuses the minutes with exactly ``message`` on stderr, exit 1, nothing on stdout."""
    for command, result in every_command(cli, tmp_path, minutes).items():
        assert (result.code, result.err, result.out) == (1, message, ""), command


def test_a_count_refused_is_not_also_compared_with_the_others_in_csv(cli, tmp_path):
    # Each refused count was read as 0 (or as the negative written) and then also compared: rows 1, 2 and 8 were
    # each also "N failures exceed 0 requests", row 5 "1 failures exceed -5 requests", row 4 "0 illegal-number
    # failures exceed -1 failures": 14 problems, 5 of them noise after the real one. Rows 6 and 7 are real.
    minutes = csv_file(tmp_path, "account,minute,requests,failures,illegal_number_failures",
                       "a,2019-03-01T10:00,,3,0",  # row 1 (line 2): requests missing
                       "a,2019-03-01T10:01,x,2,0",  # row 2 (line 3): requests not a whole number
                       "a,2019-03-01T10:02,100,,0",  # row 3 (line 4): failures missing
                       "a,2019-03-01T10:03,100,-1,0",  # row 4 (line 5): failures negative
                       "a,2019-03-01T10:04,-5,1,0",  # row 5 (line 6): requests negative
                       "a,2019-03-01T10:05,100,101,x",  # row 6 (line 7): 101 > 100 requests, and illegal 'x'
                       "a,2019-03-01T10:06,100,5,6",  # row 7 (line 8): 6 illegal-number > 5 failures
                       "a,2019-03-01T10:07,99999999999999999999,1,0")  # row 8 (line 9): beyond 64 bits
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: 9 problem(s) in minutes file {minutes}:\n"
                    f"{minutes}: row 2 (line 3), column 'requests': 'x' is not a whole number\n"
                    f"{minutes}: row 8 (line 9), column 'requests': 99999999999999999999 is beyond the largest count (2^63 − 1)\n"
                    f"{minutes}: row 1 (line 2), column 'requests': missing value\n"
                    f"{minutes}: row 5 (line 6), column 'requests': -5 is negative\n"
                    f"{minutes}: row 3 (line 4), column 'failures': missing value\n"
                    f"{minutes}: row 4 (line 5), column 'failures': -1 is negative\n"
                    f"{minutes}: row 6 (line 7), column 'illegal_number_failures': 'x' is not a whole number\n"
                    f"{minutes}: row 6 (line 7), column 'failures': 101 failures exceed 100 requests\n"
                    f"{minutes}: row 7 (line 8), column 'illegal_number_failures': 6 illegal-number failures exceed 5 failures\n")


def test_a_count_refused_is_not_also_compared_with_the_others_in_parquet(cli, tmp_path):
    # Row 1's missing requests (a null), row 2's 2^63 (uint64) and row 3's NaN were read as 0: each was also
    # "N failures exceed 0 requests". Row 4's 101 failures of 100 requests is the one real comparison.
    import pyarrow as pa
    import pyarrow.parquet as pq

    minutes = tmp_path / "minutes.parquet"
    pq.write_table(pa.table({"account": ["a"] * 4, "minute": pa.array(
        [dt.datetime(2019, 3, 1, 2, m, tzinfo=dt.timezone.utc) for m in range(4)], pa.timestamp("s", tz="UTC")),
        "requests": pa.array([None, 2 ** 63, 100, 100], pa.uint64()),
        "failures": [1.0, 2.0, float("nan"), 101.0]}), minutes)
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: 4 problem(s) in minutes file {minutes}:\n"
                    f"{minutes}: row 2, column 'requests': 9223372036854775808 is beyond the largest count (2^63 − 1)\n"
                    f"{minutes}: row 1, column 'requests': missing value\n"
                    f"{minutes}: row 3, column 'failures': missing value (NaN)\n"
                    f"{minutes}: row 4, column 'failures': 101 failures exceed 100 requests\n")


HEADER = "account,minute,requests,failures"
NAMED = "the header names 4 columns (account, minute, requests, failures)"


@pytest.mark.parametrize("lines,where", [
    # pyarrow said "CSV parse error: Expected 4 columns, got 5: a,2019-03-01T10:01,100,1,7", no line
    (["a,2019-03-01T10:00,100,1", "a,2019-03-01T10:01,100,1,7"],
     f"line 3, column 5: 5 values where {NAMED} (a value holding a comma needs quotes)"),
    # Windows line ends and a blank line (line 3: skipped, but counted): the short row is on line 4
    (["a,2019-03-01T10:00,100,1\r", "\r", "a,2019-03-01T10:02,100\r"],
     f"line 4, column 'failures': no value; 3 values where {NAMED}"),
    # a quote never closed takes the rest of the file into one value
    (["a,2019-03-01T10:00,100,1", 'a,"2019-03-01T10:01,100,1'],
     f"line 3, column 'requests': no value; 2 values where {NAMED} "
     "(column 'minute' holds '2019-03-01T10:01,100,1\\n': is its quote closed?)"),
    # a row of 5,000 characters: pyarrow's message shows its first 100 and " ..."
    (["a,2019-03-01T10:00,100,1", "a,2019-03-01T10:01,100,1," + "x" * 5000],
     f"line 3, column 5: 5 values where {NAMED} (a value holding a comma needs quotes)"),
])
def test_a_csv_row_pyarrow_cannot_parse_is_named_by_its_line_and_column(cli, tmp_path, lines, where):
    minutes = csv_file(tmp_path, HEADER, *lines)
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: {minutes}: cannot be read as CSV: {where}\n")


def test_a_csv_value_that_is_not_utf8_is_named_by_its_line_and_column(cli, tmp_path):
    # pyarrow said "In CSV column #0: CSV conversion error to string: invalid UTF8 data"
    minutes = tmp_path / "minutes.csv"
    minutes.write_bytes(f"{HEADER}\na,2019-03-01T10:00,100,1\n".encode() + b"\xe9t\xe9,2019-03-01T10:01,100,1\n")
    refused_exactly(cli, tmp_path, minutes,
                    f"slapolicy: {minutes}: cannot be read as CSV: line 3, column 'account': not UTF-8 text (byte 0xe9)\n")


@pytest.fixture
def small_csv_blocks(monkeypatch):
    """pyarrow's blocks of 4 KiB (about 140 rows) and the search for the line in blocks of 1 KiB."""
    from slapolicy.inputs import csv_lines
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(csv_lines, "_BLOCK", 1024)


def _day_of_rows(count: int) -> list:
    """Rows of account 'a', one a minute from 2019-03-01T00:00 on (29 bytes each, line end included)."""
    return [f"a,2019-03-01T{m // 60:02d}:{m % 60:02d},100,1" for m in range(count)]


@pytest.mark.parametrize("quoted", [False, True])
def test_a_csv_row_many_blocks_in_is_named_by_its_line(cli, tmp_path, small_csv_blocks, quoted):
    # 1,000 rows of ~29 bytes: pyarrow's 8th block; row 900 (line 901) holds a fifth value. With a quoted value
    # on line 11, the lines after it are read by records (quotes may hold line ends), not counted as plain lines.
    lines = _day_of_rows(1000)
    lines[899] += ",7"
    if quoted:
        lines[9] = 'a,"2019-03-01T00:09",100,1'
    minutes = csv_file(tmp_path, HEADER, *lines)
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: {minutes}: cannot be read as CSV: line 901, column 5: "
                                            f"5 values where {NAMED} (a value holding a comma needs quotes)\n")


def test_a_quoted_line_end_across_csv_blocks_is_named_by_its_lines(cli, tmp_path, small_csv_blocks):
    # pyarrow said "CSV parser got out of sync with chunker. This can mean the data file contains cell values
    # spanning multiple lines; please consider enabling the option 'newlines_in_values'." Row 163's minute,
    # quoted, holds a line end (lines 164-165), astride two of pyarrow's 4 KiB blocks.
    lines = _day_of_rows(600)
    lines[162] = 'a,"2019-03-01\nT02:42",100,1'
    minutes = csv_file(tmp_path, HEADER, *lines)
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: {minutes}: cannot be read as CSV: line 164, column 'minute': "
                                            "a quoted value runs from line 164 to line 165; a minute's row is one line\n")


def test_a_column_not_read_may_change_type_from_block_to_block(cli, tmp_path, small_csv_blocks):
    # A 'note' column of numbers in pyarrow's first block and of text later was refused: "In CSV column #4: CSV
    # conversion error to int64: invalid value 'late'". It is not read: 600 minutes of 100 requests, 1 failure.
    lines = [f"{line},{number}" for number, line in enumerate(_day_of_rows(600))]
    lines[500] = lines[500].rsplit(",", 1)[0] + ",late"
    minutes = csv_file(tmp_path, HEADER + ",note", *lines)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 0, result.err
    (evaluation,) = result.json()["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("a", 600, 0)


def test_a_billing_row_pyarrow_cannot_parse_is_named_by_its_line(cli, tmp_path):
    minutes = csv_file(tmp_path, HEADER, "a,2019-03-01T10:00,100,1")
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\na,2019-03,1,000.00,0.00\n")  # a thousands separator
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {billing}: cannot be read as CSV: line 2, column 5: 5 values where the header "
                          "names 4 columns (account, month, monthly_fee, offset) (a value holding a comma needs quotes)\n")


def test_a_csv_row_after_blank_lines_or_a_quoted_line_end_is_named_by_its_own_line(cli, tmp_path):
    # pyarrow skips blank lines and reads a quoted line end as part of its value: row 2 is on line 4 (its note holds
    # a line end), row 3 on line 7 (lines 5 and 6 are blank). They were named "line 3" and "line 4": a row's line
    # was taken to be its number plus one. Rows 2 and 3 have more failures than requests.
    minutes = csv_file(tmp_path, HEADER + ",note", 'a,2019-03-01T10:00,5,1,"two', 'lines"',
                       "a,2019-03-01T10:01,5,9,x", "", "", "a,2019-03-01T10:02,5,6,y")
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
                    f"{minutes}: row 2 (line 4), column 'failures': 9 failures exceed 5 requests\n"
                    f"{minutes}: row 3 (line 7), column 'failures': 6 failures exceed 5 requests\n")


def test_a_csv_row_many_blocks_after_a_blank_line_is_named_by_its_own_line(cli, tmp_path, small_csv_blocks):
    # 1,000 rows in pyarrow's 4 KiB blocks, a blank line after row 10 (line 12); row 900 is on line 902, and the
    # row listing row 3's minute again, row 950, on line 952.
    lines = _day_of_rows(1000)
    lines[899] = "a,2019-03-01T14:59,5,9"
    lines[949] = lines[2]
    lines.insert(10, "")
    minutes = csv_file(tmp_path, HEADER, *lines)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
                          f"{minutes}: row 900 (line 902), column 'failures': 9 failures exceed 5 requests\n")
    lines[900] = "a,2019-03-01T14:59,5,1"  # row 900 (900 in the list, after the blank line) well: the repeat alone
    minutes = csv_file(tmp_path, HEADER, *lines)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
                          f"{minutes}: row 950 (line 952), column 'minute': minute listed twice for account 'a' "
                          "(also row 3)\n")


def test_a_billing_row_after_a_blank_line_is_named_by_its_own_line(cli, tmp_path):
    # Line 2 is blank: row 1 is on line 3 (it was named "line 2"). Its offset of 200.00 exceeds its fee of 100.00.
    minutes = csv_file(tmp_path, HEADER, "a,2019-03-01T10:00,100,1")
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\n\na,2019-03,100.00,200.00\n")
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in billing file {billing}:\n"
                          f"{billing}: row 1 (line 3), column 'offset': offset 200.00 exceeds the monthly fee 100.00\n")


def test_a_csv_header_without_its_line_end_is_a_file_of_no_row(cli, tmp_path):
    # pyarrow reads a header without a line end as no column at all: "cannot be read as CSV: CSV parse error: Empty
    # CSV file or block: cannot infer number of columns", where the same header with its line end is no row.
    minutes = tmp_path / "minutes.csv"
    minutes.write_text(HEADER)
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.json()) == (0, {"evaluations": []})
    assert result.err == ("slapolicy: no account has minutes or billing in the Service Month 2019-03: nothing to "
                          "evaluate (check --month, and that --minutes and --billing name the files meant; the minutes "
                          "hold no row)\n")
    result = cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT)
    assert (result.code, result.err, result.json()["rows"], result.json()["rows_read"]) == (
        0, "slapolicy: no account has minutes or billing in 2019-03: nothing to replay (check the months replayed, and "
           "that the minutes and billing given are the files meant; the minutes hold no row)\n", [], 0)
    minutes.write_text("account,minute")  # and its columns are checked as they are with a line end
    refused_exactly(cli, tmp_path, minutes,
                    f"slapolicy: {minutes}: missing column(s) requests, failures (found: account, minute)\n")


@pytest.mark.parametrize("name,text", [
    ("minutes.csv", f"{HEADER}\na,,100,1\na,  ,100,1\n"),
    ("minutes.jsonl", '{"account": "a", "minute": null, "requests": 100, "failures": 1}\n'
                      '{"account": "a", "minute": "  ", "requests": 100, "failures": 1}\n'),
])
def test_a_minute_left_blank_is_a_missing_value(cli, tmp_path, name, text):
    # It was "'' is not an ISO 8601 minute (YYYY-MM-DDTHH:MM[:00][offset])", as if something were written there.
    minutes = tmp_path / name
    minutes.write_text(text)
    first_line = 2 if name.endswith(".csv") else 1
    refused_exactly(cli, tmp_path, minutes, f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
                    f"{minutes}: row 1 (line {first_line}), column 'minute': missing value\n"
                    f"{minutes}: row 2 (line {first_line + 1}), column 'minute': missing value\n")


def test_a_dataset_partitioned_by_each_account_s_own_month_is_told_where_its_rows_belong(cli, tmp_path):
    # An analyst partitioned two accounts' minutes by their own local month: tokyo's first minutes of April (+09:00)
    # are the last of March in Singapore, nyc's last of March (-04:00) the first of April. Each row was refused as
    # "the minute lies outside Service Month 2024-04 of its directory month=2024-04", the minute and the month it
    # is in left for the analyst to work out.
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = {("2024-04", "tokyo"): ["2024-04-01T00:00+09:00", "2024-04-01T00:59+09:00", "2024-04-01T01:00+09:00"],
               ("2024-03", "nyc"): ["2024-03-31T11:59-04:00", "2024-03-31T12:00-04:00"]}
    for (month, account), minutes in written.items():
        folder = tmp_path / "local" / f"month={month}" / f"account={account}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"minute": minutes, "requests": [100] * len(minutes), "failures": [0] * len(minutes)}),
                       folder / "part-0.parquet")
    advice = "the policy's timezone, in which a month= directory's Service Month is counted: write it under month="
    tokyo = tmp_path / "local" / "month=2024-04" / "account=tokyo" / "part-0.parquet"
    result = cli("evaluate", POLICIES, "--month", "2024-04", "--minutes", tmp_path / "local")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"slapolicy: 2 problem(s) in minutes file {tokyo}:\n"
        f"{tokyo}: row 1, column 'minute': the minute lies outside Service Month 2024-04 of its directory month=2024-04: "
        f"it is 2024-03-31 23:00 in Asia/Singapore, {advice}2024-03\n"
        f"{tokyo}: row 2, column 'minute': the minute lies outside Service Month 2024-04 of its directory month=2024-04: "
        f"it is 2024-03-31 23:59 in Asia/Singapore, {advice}2024-03\n")
    nyc = tmp_path / "local" / "month=2024-03" / "account=nyc" / "part-0.parquet"
    result = cli("evaluate", POLICIES, "--month", "2024-03", "--minutes", tmp_path / "local", "--account", "nyc")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"slapolicy: 1 problem(s) in minutes file {nyc}:\n"
        f"{nyc}: row 2, column 'minute': the minute lies outside Service Month 2024-03 of its directory month=2024-03: "
        f"it is 2024-04-01 00:00 in Asia/Singapore, {advice}2024-04\n")


def test_a_month_directory_whose_row_groups_lie_in_another_month_is_refused(cli, tmp_path):
    # month=2019-04 holds a row of 2019-03-01T10:00Z (18:00 on March 1 in Singapore). Its row group's statistics lie
    # outside April, so asking for April left it unread: evaluate listed nobody, exit 0; replay of March and April
    # refused it. Now every command asking for April reads it and refuses it as disagreeing with its directory.
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "hive" / "month=2019-04"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"account": ["a"], "minute": pa.array([dt.datetime(2019, 3, 1, 10, tzinfo=dt.timezone.utc)],
                                                                   pa.timestamp("s", tz="UTC")),
                             "requests": [100], "failures": [1]}), folder / "part-0.parquet")
    message = (f"slapolicy: 1 problem(s) in minutes file {folder / 'part-0.parquet'}:\n{folder / 'part-0.parquet'}: "
               "row 1, column 'minute': the minute lies outside Service Month 2019-04 of its directory month=2019-04: it "
               "is 2019-03-01 18:00 in Asia/Singapore, the policy's timezone, in which a month= directory's Service "
               "Month is counted: write it under month=2019-03\n")
    for args in (["evaluate", POLICIES, "--month", "2019-04"],
                 ["replay", POLICIES, "--from", "2019-04", "--to", "2019-04", "--under", DRAFT]):
        result = cli(*args, "--minutes", tmp_path / "hive")
        assert (result.code, result.err, result.out) == (1, message, ""), args[0]


def test_a_directory_without_parquet_files_names_both_names_read(cli, tmp_path):
    # It said "(*.parquet)" alone, although *.pq files are read too.
    folder = tmp_path / "minutes"
    folder.mkdir()
    (folder / "README.txt").write_text("exported nightly\n")
    refused_exactly(cli, tmp_path, folder, f"slapolicy: {folder}: no Parquet files (*.parquet, *.pq) in the directory\n")


@pytest.mark.parametrize("input_kind", ["minutes", "billing"])
def test_a_csv_file_that_cannot_be_read_again_for_its_line_keeps_pyarrows_words(cli, tmp_path, monkeypatch, input_kind):
    # The line of a row pyarrow cannot parse is found by reading the file again; a file that cannot be read again
    # (removed or made unreadable meanwhile: an OSError there) keeps pyarrow's message, exit 1, for minutes and
    # billing alike (the billing's reading let the OSError through).
    from slapolicy.inputs import csv_lines

    def unreadable(stream, message):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(csv_lines, "locate", unreadable)
    rows = {"minutes": "a,2019-03-01T10:00,100,1,7", "billing": "a,2019-03,1,000.00,0.00"}  # one value too many
    minutes = csv_file(tmp_path, HEADER, rows["minutes"] if input_kind == "minutes" else "a,2019-03-01T10:00,100,1")
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\n"
                       + (rows["billing"] if input_kind == "billing" else "a,2019-03,1000.00,0.00") + "\n")
    bad, row = (minutes if input_kind == "minutes" else billing), rows[input_kind]
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    assert (result.code, result.out) == (1, "")
    assert result.err == f"slapolicy: {bad}: cannot be read as CSV: CSV parse error: Expected 4 columns, got 5: {row}\n"
