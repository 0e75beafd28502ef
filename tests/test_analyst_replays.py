"""An analyst replaying past months under amended terms, as a hostile user: inputs written the way tools and
people write them (spaces around a minute, a name holding a control character, money as a float, a directory
key in capitals, a file cut short), options typed short, and each answered with its exact message and exit
status, nothing written when refused."""
import argparse
import datetime as dt
import html
import io
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DRAFT, POLICIES, REPO, evaluate_march, run_cli
from slapolicy.cli.command import build_parser

HEADER = "account,minute,requests,failures,illegal_number_failures\n"


def only_evaluation(result) -> dict:
    assert result.code == 0, result.err
    (evaluation,) = result.json()["evaluations"]
    return evaluation


# ---------------------------------------------------------------------------- spaces around a value (item 1)

# 12 March 2019 09:00 and 09:01 (policy time): 5 requests, 5 failures each (0 % < 99 %: unavailable, §1.5), so
# 2 minutes with data and 2 unavailable when both rows are read as minutes.
@pytest.mark.parametrize("minute", [" 2019-03-12T09:{m:02d}", "2019-03-12T09:{m:02d} ", "\t2019-03-12T09:{m:02d}\t",
                                    " 2019-03-12T09:{m:02d}+08:00 "])
def test_a_csv_minute_with_spaces_around_it_is_read_as_its_counts_and_account_are(tmp_path, minute):
    # ' 2019-03-12T09:00' was refused ("is not an ISO 8601 minute") while ' acme ' and ' 5 ' beside it were read.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "".join(f" acme ,{minute.format(m=m)}, 5 ,5,0\n" for m in (0, 1)))
    evaluation = only_evaluation(evaluate_march(minutes))
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("acme", 2, 2)


def test_a_json_lines_minute_with_spaces_around_it_is_read_alike(tmp_path):
    minutes = tmp_path / "m.jsonl"
    minutes.write_text("".join(json.dumps({"account": "acme", "minute": f" 2019-03-12T09:{m:02d} ", "requests": 5,
                                           "failures": 5, "illegal_number_failures": 0}) + "\n" for m in (0, 1)))
    evaluation = only_evaluation(evaluate_march(minutes))
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (2, 2)


@pytest.mark.parametrize("written,message", [
    ("2019-03-12 T09:00", "'2019-03-12 T09:00' is not an ISO 8601 minute (YYYY-MM-DDTHH:MM[:00][offset])"),
    (" 2019-03-12T09:00 +08:00", "' 2019-03-12T09:00 +08:00' is not an ISO 8601 minute (YYYY-MM-DDTHH:MM[:00][offset])"),
    ("   ", "missing value"),
    (" 2019-03-12T09:00:30 ", "' 2019-03-12T09:00:30 ' has seconds; a statistics point starts at :00 (§1.5)"),
])
def test_spaces_inside_a_minute_are_still_refused_as_written(tmp_path, written, message):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + f"acme,{written},5,5,0\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: 1 problem(s) in minutes file {minutes}:\n{minutes}: row 1 (line 2), column 'minute': {message}\n")


# ---------------------------------------------------------------------------- control characters in names (item 2)

def test_a_control_character_in_an_account_reaches_the_html_report_as_its_escape(tmp_path):
    # 'ac\u202eme' (a right-to-left override) and an ANSI escape were written into the page as they were: the override
    # reversed what followed it on screen. The page shows them as the text report does, as their escapes.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "ac\u202eme,2019-03-12T09:00,5,5,0\nx\x1b[31my,2019-03-12T09:00,5,5,0\n")
    result = run_cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03",
                     "--under", DRAFT, "--format", "html")
    assert result.code == 0, result.err
    assert ("\u202e" in result.out, "\x1b" in result.out) == (False, False)
    assert "<td>ac\\u202eme</td>" in result.out and "<td>x\\x1b[31my</td>" in result.out
    text = run_cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03",
                   "--under", DRAFT, "--format", "text")
    assert [line.split()[0] for line in text.out.splitlines()[3:5]] == ["ac\\u202eme", "x\\x1b[31my"]


# ---------------------------------------------------------------------------- money as a float (item 3)

MINUTES_CSV = POLICIES.parent.parent / "examples" / "ccc" / "minutes.csv"


@pytest.mark.parametrize("column,kind", [("monthly_fee", pa.float64()), ("offset", pa.float32())])
def test_a_floating_point_money_column_in_parquet_billing_is_refused(tmp_path, column, kind):
    # 2500.1 as a double is 2500.09999999999990905...: it was read as 2500.10 by its shortest repr, an amount
    # the file does not hold exactly. CSV and JSON Lines billing read the digits as written.
    billing = tmp_path / "billing.parquet"
    values = {"monthly_fee": pa.array(["2500.10"]), "offset": pa.array(["0.00"])}
    values[column] = pa.array([2500.1 if column == "monthly_fee" else 0.5], kind)
    pq.write_table(pa.table({"account": ["acme"], "month": ["2019-03"], **values}), billing)
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    written = "double" if kind == pa.float64() else "float"
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: column '{column}' holds floating-point numbers ({written}), which hold an amount of "
        "money only approximately: write it as a decimal (decimal128(17, 2)) or as text ('2500.10')\n"))


def test_decimal_money_in_parquet_billing_is_read_exactly(tmp_path):
    billing = tmp_path / "billing.parquet"
    pq.write_table(pa.table({"account": ["acme"], "month": ["2019-03"],
                             "monthly_fee": pa.array([2500.1], pa.float64()).cast(pa.decimal128(17, 2)),
                             "offset": pa.array(["0.00"]).cast(pa.decimal128(17, 2))}), billing)
    evaluation = only_evaluation(evaluate_march(MINUTES_CSV, "--billing", billing, "--account", "acme"))
    assert evaluation["monthly_fee"] == "2500.10"


# ---------------------------------------------------------------------------- hive keys in capitals (item 4)

def hive_file(path, account="acme"):
    """One row, 12 March 2019 09:00: 5 failures of 5 requests (unavailable, §1.5); no account column for None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {"account": [account]} if account is not None else {}
    pq.write_table(pa.table({**columns, "minute": ["2019-03-12T09:00"], "requests": [5], "failures": [5],
                             "illegal_number_failures": [0]}), path)
    return path


@pytest.mark.parametrize("directory,key", [("ACCOUNT=acme", "account"), ("Month=2019-03", "month")])
def test_a_directory_key_in_other_capitals_is_refused_by_name(tmp_path, directory, key):
    # ACCOUNT=acme was no key at all: the directory pruned nothing, and its files were read for whatever account
    # their own column named.
    root = tmp_path / "minutes"
    data = hive_file(root / directory / "part-0.parquet")
    result = evaluate_march(root, "--account", "acme")
    written = directory.split("=")[0]
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {data}: directory key {written}= is not the key {key}= (directory keys are read as written, "
        f"in lower case): rename the directory {directory} to {key}={directory.split('=')[1]}\n"))


def test_other_directory_keys_are_left_alone(tmp_path):
    root = tmp_path / "minutes"
    hive_file(root / "Region=EU" / "account=acme" / "part-0.parquet")
    evaluation = only_evaluation(evaluate_march(root))
    assert (evaluation["account"], evaluation["minutes_with_data"]) == ("acme", 1)


# ---------------------------------------------------------------------------- a CSV cut short (item 5)

@pytest.mark.parametrize("cut,message", [
    ("acme,2019-03-12T09:01,5", "line 3, column 'failures': no value; 3 values where the header names 5 columns "
                                "(account, minute, requests, failures, illegal_number_failures)"),
    ("acme,2019-", "line 3, column 'requests': no value; 2 values where the header names 5 columns "
                   "(account, minute, requests, failures, illegal_number_failures)"),
])
def test_a_csv_cut_short_names_the_line_it_ends_on(tmp_path, cut, message):
    # A file truncated (copied while it was written) ends in part of a row without its line end: pyarrow's words
    # ("Expected 5 columns, got 3: acme,2019-03-12T09:01,5") named no line, as the last line was never searched.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "acme,2019-03-12T09:00,5,5,0\n" + cut)
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {minutes}: cannot be read as CSV: {message}\n")


def test_a_bad_value_on_a_last_line_without_its_line_end_names_the_line(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "\nacme,2019-03-12T09:00,5,5,0\nacme,2019-03-12T09:01,x,5,0")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 2 (line 4), column 'requests': 'x' is not a whole number\n"))


# ---------------------------------------------------------------------------- abbreviated options (item 6)

def test_no_command_takes_an_abbreviated_option():
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    assert parser.allow_abbrev is False
    assert sorted(name for name, sub in commands.choices.items() if sub.allow_abbrev) == []
    assert sorted(commands.choices) == sorted(parser.commands)


@pytest.mark.parametrize("argv,message", [
    # --mon was taken for --month: a script's typo ran as intended today, and ran otherwise once an option
    # beginning --mon is added.
    (["evaluate", POLICIES, "--minutes", MINUTES_CSV, "--mon", "2019-03"],
     "slapolicy evaluate: error: unrecognized arguments: --mon (did you mean --month?)"),
    (["months", "--start", "2019-01-01", "--end", "2019-02-28", "--js"], "slapolicy months: error: unrecognized arguments: --js (did you mean --json?)"),
    (["replay", POLICIES, "--minutes", MINUTES_CSV, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--form",
      "html"], "slapolicy replay: error: unrecognized arguments: --form (did you mean --format?)"),
])
def test_an_abbreviated_option_is_a_usage_error(argv, message):
    result = run_cli(*argv)
    assert (result.code, result.out, result.err.splitlines()[-1]) == (2, "", message)


@pytest.mark.parametrize("written,fee", [("1000.5", "1000.50"), ("999999999999999", "999999999999999.00"),
                                         ("12345678901234.5", "12345678901234.50")])
def test_a_json_lines_fee_written_as_a_number_of_up_to_15_digits_is_read_as_written(tmp_path, written, fee):
    # A double gives back any decimal of up to 15 significant digits as written.
    billing = tmp_path / "billing.jsonl"
    billing.write_text(f'{{"account": "acme", "month": "2019-03", "monthly_fee": {written}, "offset": "0.00"}}\n')
    evaluation = only_evaluation(evaluate_march(MINUTES_CSV, "--billing", billing, "--account", "acme"))
    assert evaluation["monthly_fee"] == fee


@pytest.mark.parametrize("written,told", [
    # 123456789012345.67 (17 digits) is the double 123456789012345.671875: read back as 123456789012345.67 only by
    # chance of its neighbours; 16 digits and more are refused, naming the text to write.
    ('"monthly_fee": 123456789012345.67, "offset": "0.00"',
     '123456789012345.67 is a JSON number of more than 15 significant digits, which is read only approximately: '
     'write the amount as text ("123456789012345.67")'),
    # 2500.123456789012345 is read as the double whose shortest decimal is 2500.1234567890124, which was suggested as
    # the text to write ('write the amount as text ("2500.1234567890124")'), an amount refused in turn: told the
    # amount to the cent.
    ('"monthly_fee": 2500.123456789012345, "offset": 0',
     "2500.1234567890124 is a JSON number of more than 15 significant digits, which is read only approximately: "
     'write the amount as text, to the cent ("2500.12", if that is the amount meant)'),
], ids=["more-digits", "past-the-cent"])
def test_a_json_lines_fee_of_more_than_15_digits_is_refused_naming_the_text_to_write(tmp_path, written, told):
    billing = tmp_path / "billing.jsonl"
    billing.write_text(f'{{"account": "acme", "month": "2019-03", {written}}}\n')
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in billing file {billing}:\n{billing}: row 1 (line 1), column 'monthly_fee': "
        f"{told}\n"))


def test_floating_point_money_handed_in_by_the_api_is_refused():
    from slapolicy.errors import InputError
    from slapolicy.inputs.billing import read_billing

    with pytest.raises(InputError) as refused:
        read_billing(pa.table({"account": ["acme"], "month": ["2019-03"], "monthly_fee": [2500.1], "offset": ["0.00"]}))
    assert str(refused.value) == ("argument 'billing': column 'monthly_fee' holds floating-point numbers (double), which hold "
                                  "an amount of money only approximately: write it as a decimal (decimal128(17, 2)) "
                                  "or as text ('2500.10')")


# ---------------------------------------------------------------------------- repeats after refused keys (item 7)

def test_a_refused_account_says_repeats_are_looked_for_once_it_reads(tmp_path):
    # Row 1's account is blank: the batch's keys are not all known, so rows 2 and 3 (acme 09:01 twice) are not
    # compared. "2 problem(s)" was taken for all there were; fixed, a third came up. The message now says so.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + " ,2019-03-12T09:00,5,5,0\nacme,2019-03-12T09:01,5,5,0\nacme,2019-03-12T09:01,5,5,0\n"
                                "acme,2019-03-12T09:02,x,5,0\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 1 (line 2), column 'account': missing value\n"
        f"{minutes}: row 4 (line 5), column 'requests': 'x' is not a whole number\n"
        "(minutes listed twice are looked for once every row's account and minute can be read: fix these, then run "
        "again)\n"))
    minutes.write_text(HEADER + "acme,2019-03-12T09:00,5,5,0\nacme,2019-03-12T09:01,5,5,0\nacme,2019-03-12T09:01,5,5,0\n"
                                "acme,2019-03-12T09:02,5,5,0\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 3 (line 4), column 'minute': minute listed twice for account 'acme' (also row 2)\n"))


def test_no_note_where_no_two_rows_could_repeat_a_minute(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + " ,2019-03-12T09:00,5,5,0\nacme,2019-03-12T09:01,5,5,0\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {minutes}:\n{minutes}: row 1 (line 2), column 'account': missing value\n"))


# ---------------------------------------------------------------------------- found as a hostile analyst

@pytest.mark.parametrize("requests,failures", [("+5", "+5"), (" +5 ", "5"), ("+0005", "+0")])
def test_a_count_written_with_a_plus_sign_is_read_as_its_number(tmp_path, requests, failures):
    # '+5' matched the whole-number rule but not pyarrow's cast: exit 3 ("internal error ... ArrowInvalid: Failed
    # to parse string: '+5' as a scalar of type int64"). 12 March 09:00, 5 requests: 1 minute with data; 5 failures
    # of 5 (0 % < 99 %) make it unavailable, none leaves it available.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + f"acme,2019-03-12T09:00,{requests},{failures},0\n")
    evaluation = only_evaluation(evaluate_march(minutes))
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (1, 0 if failures == "+0" else 1)


def test_a_count_with_a_plus_sign_beyond_64_bits_is_named_beside_one_read(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "acme,2019-03-12T09:00,+9223372036854775808,0,0\nacme,2019-03-12T09:01,+7,0,0\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 1 (line 2), column 'requests': 9223372036854775808 is beyond the largest count (2^63 − 1)\n"))


@pytest.mark.parametrize("peak,counted,excluded", [(" 5 ", 0, {"5.7": 1}), ("+5", 0, {"5.7": 1}), (" +4.5 ", 1, {}),
                                                   ("5", 0, {"5.7": 1}), ("4.99", 1, {})])
def test_a_peak_qps_with_spaces_or_a_plus_sign_is_read_as_its_number(tmp_path, peak, counted, excluded):
    # ' 5 ' was exit 3 (ArrowInvalid: Failed to parse string: ' 5 ' as a scalar of type double) and '+5' refused,
    # where a count beside it reads both. 12 March 09:00: 5 failures of 5 requests, unavailable (§1.5); a peak of
    # 5 QPS or more without prior notice excludes it (§5.7), below 5 it is counted.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER.replace("\n", ",peak_qps\n") + f"acme,2019-03-12T09:00,5,5,0,{peak}\n")
    evaluation = only_evaluation(evaluate_march(minutes))
    assert (evaluation["raw_unavailable_minutes"], evaluation["unavailable_minutes"], evaluation["excluded_minutes"]) == \
        (1, counted, excluded)


def test_a_peak_qps_beyond_a_float_is_named_as_written(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER.replace("\n", ",peak_qps\n") + "acme,2019-03-12T09:00,5,5,0,1e400\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
        f"{minutes}: row 1 (line 2), column 'peak_qps': '1e400' is not a non-negative finite number\n"))


NOT_TEXT = [
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "a gzip-compressed file", "decompress it first (gunzip)"),
    (b"PK\x03\x04\x14\x00\x00\x00", "a zip archive (or an Excel workbook)", "extract the file from it, or save the sheet as CSV"),
    (b"PAR1\x15\x04", "a Parquet file", "name it .parquet"),
    (b"BZh91AY&SY", "a bzip2-compressed file", "decompress it first (bunzip2)"),
]


@pytest.mark.parametrize("start,what,advice", NOT_TEXT)
@pytest.mark.parametrize("suffix,text", [(".csv", "CSV"), (".jsonl", "JSON Lines")])
def test_a_compressed_or_binary_file_named_as_text_is_refused_by_what_it_is(tmp_path, start, what, advice, suffix, text):
    # An export left gzipped under its .csv name was refused as "the header is not UTF-8 (byte 0x8b)", a zip as a
    # line of 1 value where the header names 4 columns, quoting its bytes; as billing too.
    binary = tmp_path / f"m{suffix}"
    binary.write_bytes(start + bytes(range(256)))
    for result in (evaluate_march(binary), evaluate_march(MINUTES_CSV, "--billing", binary)):
        assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {binary}: {what}, not {text} text: {advice}\n")


@pytest.mark.parametrize("encoding, what", [("utf-16", "a UTF-16 file"), ("utf-16-be", "a UTF-16 file"),
                                            ("utf-32", "a UTF-32 file"),
                                            # without a byte order mark: "Expected 4 columns, got 1: \x00" (CSV)
                                            ("utf-16-le", "a UTF-16 file"), ("utf-32-le", "a UTF-32 file")])
@pytest.mark.parametrize("suffix,text", [(".csv", "CSV"), (".jsonl", "JSON Lines")])
def test_a_text_file_in_utf_16_or_32_is_refused_by_its_encoding(tmp_path, encoding, what, suffix, text):
    # Windows PowerShell's Export-Csv writes UTF-16 with its byte-order mark: minutes or billing so written were an
    # internal error, exit 3 ("new-line character seen in unquoted field"), from the reading that names a CSV line.
    minutes = tmp_path / f"m{suffix}"
    body = ('"account","minute","requests","failures"\r\n"acme","2019-03-12T09:00","5","0"\r\n' if suffix == ".csv" else
            '{"account": "acme", "minute": "2019-03-12T09:00", "requests": 5, "failures": 0}\r\n')
    minutes.write_bytes((b"\xfe\xff" if encoding == "utf-16-be" else b"") + body.encode(encoding))
    advice = ("slapolicy reads UTF-8: convert it (iconv -f UTF-32 -t UTF-8)" if "32" in encoding else
              "slapolicy reads UTF-8: save it as UTF-8 (Excel: CSV UTF-8; PowerShell: -Encoding utf8) or convert it "
              "(iconv -f UTF-16 -t UTF-8)")
    for result in (evaluate_march(minutes), evaluate_march(MINUTES_CSV, "--billing", minutes)):
        assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {minutes}: {what}, not {text} text: "
                                                                f"{advice}\n")


def test_a_csv_file_of_lines_ended_by_a_carriage_return_alone_with_a_bad_line_names_its_line_and_column(tmp_path):
    # A classic Mac export: pyarrow reads its lines, and its error ("Expected 4 columns, got 5: …") names no line;
    # the csv module that finds the line refused such lines ("new-line character seen in unquoted field"), so the
    # message was pyarrow's alone. The lone carriage returns are now read as the line ends they are.
    bad = tmp_path / "m.csv"
    bad.write_bytes(b"account,minute,requests,failures\r\racme,2019-03-12T09:00,5,0\racme,2019-03-12T09:01,5,0,7\r")
    for result in (evaluate_march(bad), evaluate_march(MINUTES_CSV, "--billing", bad)):
        assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {bad}: cannot be read as CSV: line 4, "
                                                                "column 5: 5 values where the header names 4 columns "
                                                                "(account, minute, requests, failures) (a value "
                                                                "holding a comma needs quotes)\n")


@pytest.mark.parametrize("line_end", [b"\r", b"\r\n", b"\n"])
def test_a_bad_value_after_blank_lines_names_its_line_whatever_ends_the_lines(tmp_path, line_end):
    # Blank lines are no rows, so a row's line is found by reading the file again: with lines ended by a carriage
    # return alone that search found no line end, and row 2 was said to be on line 3 (its row number plus one).
    minutes, billing = tmp_path / "m.csv", tmp_path / "b.csv"
    minutes.write_bytes(line_end.join([b"account,minute,requests,failures", b"", b"acme,2019-03-12T09:00,5,0", b"",
                                       b"acme,2019-03-12T09:01,x,0", b""]))
    billing.write_bytes(line_end.join([b"account,month,monthly_fee,offset", b"", b"", b"acme,2019-03,x,0", b""]))
    assert evaluate_march(minutes).err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
                                           f"{minutes}: row 2 (line 5), column 'requests': 'x' is not a whole number\n")
    assert evaluate_march(MINUTES_CSV, "--billing", billing).err == (
        f"slapolicy: 1 problem(s) in billing file {billing}:\n"
        f"{billing}: row 1 (line 4), column 'monthly_fee': 'x' is not an amount of money (a decimal like 1000.00)\n")


@pytest.mark.parametrize("size", [1, 2, 3, 7, -1])
def test_lone_carriage_returns_are_read_as_line_feeds_whatever_the_size_of_a_read(size):
    from slapolicy.inputs.csv_lines import LineFeeds

    text = b'a\rb\r\nc\r\rd\n"e\r\nf"\r'
    stream, read = LineFeeds(io.BytesIO(text)), []
    while True:
        data = stream.read(size)
        if not data:
            break
        assert size == -1 or len(data) <= size
        read.append(data)
    assert b"".join(read) == b'a\nb\r\nc\n\nd\n"e\r\nf"\n'


@pytest.mark.parametrize("separator,called", [(";", "';'"), ("\t", "tabs")])
def test_a_csv_header_of_another_separator_says_so(tmp_path, separator, called):
    minutes = tmp_path / "m.csv"
    minutes.write_text(separator.join(["account", "minute", "requests", "failures"]) + "\n" +
                       separator.join(["acme", "2019-03-12T09:00", "5", "5"]) + "\n")
    billing = tmp_path / "billing.csv"
    billing.write_text(separator.join(["account", "month", "monthly_fee", "offset"]) + "\n" +
                       separator.join(["acme", "2019-03", "100.00", "0.00"]) + "\n")
    found = separator.join(["account", "minute", "requests", "failures"])
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) account, minute, requests, failures (found: {found}); its values "
        f"are separated by {called}: a CSV file's are separated by commas\n".replace("\t", "\\t")))
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    found = separator.join(["account", "month", "monthly_fee", "offset"])
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) account, month, monthly_fee, offset (found: {found}); its values "
        f"are separated by {called}: a CSV file's are separated by commas\n".replace("\t", "\\t")))


@pytest.mark.parametrize("asked", ["acme,globex", "acme, globex,initech", "acme,zed"])
def test_several_accounts_written_as_one_are_told_to_be_named_each(asked):
    # `--account acme,globex` was "account(s) acme,globex have no minutes or billing", as if neither existed. Its
    # rows are read for that one name, so the words cannot say whether acme is an account: they say how to ask.
    result = evaluate_march(MINUTES_CSV, "--account", asked)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: account(s) {asked} have no minutes or billing for 2019-03; {asked!r} is one account's name: to "
        "name several accounts, give each on its own (--account once for each, or one item each of a list)\n"))


def test_an_account_with_a_comma_in_its_name_is_evaluated(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + '"acme,inc",2019-03-12T09:00,5,5,0\n')
    evaluation = only_evaluation(evaluate_march(minutes, "--account", "acme,inc"))
    assert (evaluation["account"], evaluation["minutes_with_data"]) == ("acme,inc", 1)


def test_a_column_named_with_spaces_or_capitals_is_named_with_the_name_meant(tmp_path):
    # ' minute ' and 'Account' (a spreadsheet's headings) were "missing column(s) account, minute (found: Account,
    #  minute , ...)": the difference was there to spot, in a space.
    minutes = tmp_path / "m.csv"
    minutes.write_text("Account, minute ,requests,failures\nacme,2019-03-12T09:00,5,5\n")
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) account, minute (found: Account,  minute , requests, failures); "
        "columns are named in lower case without spaces: rename 'Account' to 'account', ' minute ' to 'minute'\n"))
    parquet = tmp_path / "m.parquet"
    pq.write_table(pa.table({"account": ["acme"], "minute": ["2019-03-12T09:00"], "Requests": [5], "failures": [5]}), parquet)
    result = evaluate_march(parquet)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {parquet}: missing column(s) requests (found: account, minute, Requests, failures); "
        "columns are named in lower case without spaces: rename 'Requests' to 'requests'\n"))
    billing = tmp_path / "billing.jsonl"
    billing.write_text('{"account": "acme", "Month": "2019-03", "monthly_fee": "1.00", "offset": "0.00"}\n')
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) month (found: account, Month, monthly_fee, offset); "
        "columns are named in lower case without spaces: rename 'Month' to 'month'\n"))


def test_a_json_lines_key_in_capitals_is_named_not_taken_for_missing_values(tmp_path):
    # "Minute" was read as rows without a minute: "row 1 (line 1), column 'minute': missing value", row by row, and
    # a missing requests listed "found: minute, month, service_start, ...", columns no line holds.
    minutes = tmp_path / "m.jsonl"
    minutes.write_text('{"account": "acme", "Minute": "2019-03-12T09:00", "requests": 5, "failures": 5}\n')
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) minute (found: account, Minute, requests, failures); columns are "
        "named in lower case without spaces: rename 'Minute' to 'minute'\n"))
    minutes.write_text('{"account": "acme", "minute": "2019-03-12T09:00", "failures": 5}\n')
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) requests (found: minute, account, failures)\n"))


@pytest.mark.parametrize("suffix,text,line", [(".csv", "account,month,monthly_fee,offset\nacme,,1.00,0.00\n", 2),
                                              (".jsonl", '{"account": "acme", "month": null, "monthly_fee": "1.00", '
                                                         '"offset": "0.00"}\n', 1)])
def test_a_billing_month_left_empty_is_a_missing_value(tmp_path, suffix, text, line):
    # It was "None is not a month written YYYY-MM": Python's word for nothing.
    billing = tmp_path / f"billing{suffix}"
    billing.write_text(text)
    result = evaluate_march(MINUTES_CSV, "--billing", billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in billing file {billing}:\n"
        f"{billing}: row 1 (line {line}), column 'month': missing value: a month written YYYY-MM is needed\n"))


def test_a_year_and_month_layout_is_refused_by_what_it_is(tmp_path):
    # year=2019/month=03 (a common layout) was "directory key month=03 is not a month written YYYY-MM".
    root = tmp_path / "minutes"
    data = hive_file(root / "year=2019" / "month=03" / "part-0.parquet")
    result = evaluate_march(root)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {data}: directory keys year=2019 and month=03: a month= key is written YYYY-MM, its year with it "
        "(month=2019-03); rename the directories\n"))


@pytest.mark.parametrize("key,meant", [("2019-3", "month=2019-03"), ("2019.03", "month=2019-03"),
                                       ("2019-13", None), ("2019-03-05", None), ("March", None)])
def test_a_month_key_written_another_way_is_told_how_to_write_it(tmp_path, key, meant):
    # month=2019-3 (a spreadsheet's month, as a billing row's '2019-3' is told 'write 2019-03') was only "directory key
    # month=2019-3 is not a month written YYYY-MM". A directory of a day (month=2019-03-05) is not told to take its
    # month's name: its days' directories would all be one.
    root = tmp_path / "minutes"
    data = hive_file(root / f"month={key}" / "part-0.parquet")
    result = evaluate_march(root)
    told = f"; rename the directory month={key} to {meant}" if meant else ""
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {data}: directory key month={key} is not a month written YYYY-MM{told}\n"))


def test_a_month_key_with_spaces_around_it_is_read_as_an_account_key_is(tmp_path):
    # 'account= acme ' was read as acme, 'month=2019-03 ' refused as "month=2019-03  is not a month written YYYY-MM".
    root = tmp_path / "minutes"
    hive_file(root / "month=2019-03 " / "account= acme " / "part-0.parquet", account=None)
    evaluation = only_evaluation(evaluate_march(root))
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("acme", 1, 1)


def test_the_html_strip_shows_the_clock_time_after_the_clocks_change_in_the_month(tmp_path):
    # Under America/New_York, 12 March 2019 10:00-10:59 (after the clocks moved forward on the 10th) was shown on
    # hover as 09:00-10:00: the strip's minutes are elapsed ones (from 1 March 00:00 EST, 05:00Z), added to
    # midnight of the 1st as if no hour had been skipped. 10:00 EDT is 14:00Z: 11 days and 9 hours elapsed.
    from slapolicy.reports.html import _strip

    elapsed = 11 * 1440 + 9 * 60
    strip = {"total_minutes": 44640, "timezone": "America/New_York",
             "baseline": {"unavailable": [[elapsed, elapsed + 60]], "excluded": []}}
    assert re.findall(r"<title>unavailable [^<]*</title>", _strip(strip, "baseline", "2019-03", "minutes", {})) == [
        "<title>unavailable 2019-03-12 10:00 – 11:00 (60 min)</title>"]
    # In Singapore (no change of the clocks), the same minutes are 11 days 9 hours after midnight of the 1st.
    strip["timezone"] = "Asia/Singapore"
    assert re.findall(r"<title>unavailable [^<]*</title>", _strip(strip, "baseline", "2019-03", "minutes", {})) == [
        "<title>unavailable 2019-03-12 09:00 – 10:00 (60 min)</title>"]
    # a run past midnight gives its end's date: 2019-03-12 23:30 to 2019-03-13 00:30
    strip["baseline"]["unavailable"] = [[11 * 1440 + 23 * 60 + 30, 12 * 1440 + 30]]
    assert re.findall(r"<title>unavailable [^<]*</title>", _strip(strip, "baseline", "2019-03", "minutes", {})) == [
        "<title>unavailable 2019-03-12 23:30 – 2019-03-13 00:30 (60 min)</title>"]


def test_the_html_strip_keeps_its_days_when_the_clocks_change_in_the_month():
    # The strip's minutes are elapsed ones, but its scale was the counted days × 1,440 and its ticks every 1,440
    # minutes: under America/New_York, March 2019 elapses 44,580 minutes (the 10th is 23 hours), so every tick
    # after the 10th stood an hour late and the bar ended an hour after the month; November elapses 43,260 (the
    # 3rd is 25 hours), so its last hour was drawn past the bar's end.
    from slapolicy.reports.html import _day_scales, _strip

    def drawn(month, total, runs):
        # The strip's runs, and the day scale it uses (drawn once in the page for its month and timezone).
        strip = {"total_minutes": total, "timezone": "America/New_York", "baseline": {"unavailable": runs, "excluded": []}}
        scales = {}
        page = _strip(strip, "baseline", month, "minutes", scales)
        assert page.endswith('<use href="#days-0"/></g></svg>')
        return (re.findall(r'<line x1="([0-9.]+)"', _day_scales(scales)),
                re.findall(r'<rect x="([0-9.]+)" width="([0-9.]+)" height="12">', page.split('<g fill="#d9534f">')[1]))

    # 12 March 10:00 EDT is 11 days and 9 hours elapsed: 16,380 × 720 / 44,580 = 264.55 (it was 264.19, 09:00's place).
    ticks, runs = drawn("2019-03", 44640, [[16380, 16440]])
    assert len(ticks) == 32 and ticks[:2] == ["0.0", "23.3"]  # 1,440 × 720 / 44,580 = 23.26
    # Midnight of the 11th is 10 × 1,440 − 60 = 14,340 minutes in: 231.6 (it was 232.3); the month's end is 720.0.
    assert (ticks[10], ticks[31]) == ("231.6", "720.0")
    assert runs == [("264.55", "1.00")]  # 60 × 720 / 44,580 = 0.97, drawn 1 px wide
    # November's last hour, 43,200-43,260 elapsed: 43,200 × 720 / 43,260 = 719.00, its width 0.9986, 1 px: it ends at
    # the bar's end (it was drawn from 720.00, beyond it).
    ticks, runs = drawn("2019-11", 43200, [[43200, 43260]])
    # Midnight of the 4th is 3 × 1,440 + 60 minutes in: 4,380 × 720 / 43,260 = 72.90 (it was 72.0).
    assert (len(ticks), ticks[3], ticks[30]) == (31, "72.9", "720.0")
    assert runs == [("719.00", "1.00")]
    # Singapore's clocks never change: a tick every 1,440 minutes, as before.
    strip = {"total_minutes": 44640, "timezone": "Asia/Singapore", "baseline": {"unavailable": [], "excluded": []}}
    _strip(strip, "baseline", "2019-03", "minutes", scales := {})
    ticks = re.findall(r'<line x1="([0-9.]+)"', _day_scales(scales))
    assert (ticks[10], ticks[31]) == ("232.3", "720.0")  # 14,400 × 720 / 44,640 = 232.26


def test_a_replays_strips_carry_the_policys_timezone(tmp_path):
    from slapolicy.replay import replay
    from helpers import minute_rows, write_csv

    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 60, 100, 2))
    result = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=DRAFT, strips=True)
    assert [(row["account"], row["strip"]["timezone"], row["strip"]["baseline"]["unavailable"])
            for row in result["rows"]] == [("a", "Asia/Singapore", [[11 * 1440 + 10 * 60, 11 * 1440 + 11 * 60]])]


# ---------------------------------------------------------------------------- --output that is no file to write

def test_output_naming_a_fifo_or_device_is_refused_and_left_as_it_is(tmp_path):
    # `--output /dev/full` (as root) replaced the device with a regular file holding the report, exit 0: the report is
    # written beside the target and renamed over it, whatever it was. A FIFO stands for a device here (a test must
    # not risk /dev/null): it was replaced too.
    import os
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_cli("replay", POLICIES, "--minutes", MINUTES_CSV, "--from", "2019-03", "--to", "2019-03", "--under",
                     DRAFT, "--format", "html", "--output", fifo)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: --output {fifo}: is a FIFO (named pipe), not a regular file, which the output would replace: "
        "name a file (to discard the output, leave --output out and redirect it to /dev/null)\n"))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_output_ending_in_a_slash_names_a_directory_not_a_file(tmp_path):
    # `--output reports/` (no such directory) wrote the report into a file named 'reports'.
    result = evaluate_march(MINUTES_CSV, "--output", f"{tmp_path}/reports/")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: --output {tmp_path}/reports/: ends in '/', as a directory's name does, and no directory is there: "
        "name a file\n"))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- the account meant

@pytest.mark.slow
@pytest.mark.parametrize("asked, said", [
    (["ACME"], "account(s) ACME have no minutes or billing for 2019-03; did you mean 'acme'?"),
    (["Initech"], "account(s) Initech have no minutes or billing for 2019-03; did you mean 'initech'?"),
    (["ACME", "Globex"], "account(s) ACME, Globex have no minutes or billing for 2019-03; did you mean 'acme' for "
                         "'ACME', 'globex' for 'Globex'?"),
    (["ACME", "nobody"], "account(s) ACME, nobody have no minutes or billing for 2019-03; did you mean 'acme' for "
                         "'ACME'?"),
    (["ACMEE"], "account(s) ACMEE have no minutes or billing for 2019-03"),
])
def test_an_account_asked_in_other_capitals_names_the_one_in_the_minutes(tmp_path, asked, said):
    # `--account ACME` where the minutes say acme was "account(s) ACME have no minutes or billing", as for an
    # account nobody has; the minutes are read again for its other capitals, in each layout they may have.
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(MINUTES_CSV, convert_options=pacsv.ConvertOptions(column_types={"minute": pa.string()}))
    parquet, hive = tmp_path / "m.parquet", tmp_path / "hive"
    pq.write_table(table, parquet, row_group_size=5000)
    for account in ("acme", "globex", "initech"):
        (hive / "month=2019-03" / f"account={account}").mkdir(parents=True)
        rows = table.filter(pc.equal(table["account"], account)).drop_columns(["account"])
        pq.write_table(rows, hive / "month=2019-03" / f"account={account}" / "part.parquet")
    for minutes in (MINUTES_CSV, parquet, hive):
        result = evaluate_march(minutes, *[option for name in asked for option in ("--account", name)])
        assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {said}\n"), minutes


@pytest.mark.slow
def test_an_account_misspelt_names_the_nearest_of_a_parquet_file_s_row_groups(tmp_path):
    # Spelling was matched against the billing's names only: `--account acmee` over Parquet minutes holding acme said
    # no more than for an account nobody has. A row group's names are its statistics' one account (a file written
    # account by account, an account= directory) or its account column's dictionary page (a file written as time
    # goes): a few KiB a row group, never its rows. A CSV file is not read for them.
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(MINUTES_CSV, convert_options=pacsv.ConvertOptions(column_types={"minute": pa.string()}))
    by_time, by_account, hive = tmp_path / "by-time.parquet", tmp_path / "by-account.parquet", tmp_path / "hive"
    pq.write_table(table.sort_by("minute"), by_time, row_group_size=5000)
    with pq.ParquetWriter(by_account, table.schema) as writer:
        for account in ("acme", "globex", "initech"):
            writer.write_table(table.filter(pc.equal(table["account"], account)))
    for account in ("acme", "globex", "initech"):
        (hive / f"account={account}").mkdir(parents=True)
        rows = table.filter(pc.equal(table["account"], account)).drop_columns(["account"])
        pq.write_table(rows, hive / f"account={account}" / "part.parquet")
    for minutes in (by_time, by_account, hive):
        result = evaluate_march(minutes, "--account", "acmee")
        assert (result.code, result.out, result.err) == (1, "", "slapolicy: account(s) acmee have no minutes or "
                                                                "billing for 2019-03; did you mean 'acme'?\n"), minutes
        result = evaluate_march(minutes, "--account", "glbx")  # difflib's ratio exactly 0.8: near enough
        assert result.err == "slapolicy: account(s) glbx have no minutes or billing for 2019-03; did you mean 'globex'?\n"
        result = evaluate_march(minutes, "--account", "gbx")  # not near enough: difflib's ratio 0.67, below 0.8
        assert result.err == "slapolicy: account(s) gbx have no minutes or billing for 2019-03\n", minutes
    result = evaluate_march(MINUTES_CSV, "--account", "acmee")
    assert result.err == "slapolicy: account(s) acmee have no minutes or billing for 2019-03\n"
    claim = json.loads((MINUTES_CSV.parent / "claim-globex-2019-03.json").read_text()) | {"account": "globexx"}
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    result = run_cli("claim", POLICIES, tmp_path / "claim.json", "--minutes", by_time, "--ledger",
                     tmp_path / "ledger.sqlite")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {tmp_path / 'claim.json'}: field 'account': unknown account 'globexx' (not in the minutes or "
        "billing of 2019-03); did you mean 'globex'?\n"))
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_row_group_s_dictionary_page_gives_its_names_alone(tmp_path):
    from slapolicy.minutes import pages
    from slapolicy.minutes.planning import local_metadata

    minutes = tmp_path / "m.parquet"
    pq.write_table(pa.table({"account": ["b", "a", "b", "c"] * 1000, "n": list(range(4000))}), minutes,
                   row_group_size=2000)
    metadata = local_metadata(str(minutes))
    with open(minutes, "rb") as handle:
        assert [pages.dictionary_names(handle, metadata, group, 0) for group in (0, 1)] == [("b", "a", "c")] * 2
        assert pages.dictionary_names(handle, metadata, 0, 1) is None  # integers: no names
    pq.write_table(pa.table({"account": ["b", "a"]}), minutes, use_dictionary=False)  # PLAIN: no dictionary page
    with open(minutes, "rb") as handle:
        assert pages.dictionary_names(handle, local_metadata(str(minutes)), 0, 0) is None


def test_an_account_misspelt_names_the_billing_s_nearest(tmp_path):
    result = evaluate_march(MINUTES_CSV, "--billing", MINUTES_CSV.parent / "billing.csv", "--account", "acmee")
    assert (result.code, result.out, result.err) == (1, "", "slapolicy: account(s) acmee have no minutes or billing "
                                                            "for 2019-03; did you mean 'acme'?\n")


def test_a_claim_for_an_account_in_other_capitals_names_the_one_in_the_minutes(tmp_path):
    claim = json.loads((MINUTES_CSV.parent / "claim-globex-2019-03.json").read_text()) | {"account": "GLOBEX"}
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    result = run_cli("claim", POLICIES, tmp_path / "claim.json", "--minutes", MINUTES_CSV, "--ledger",
                     tmp_path / "ledger.sqlite")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {tmp_path / 'claim.json'}: field 'account': unknown account 'GLOBEX' (not in the minutes or "
        "billing of 2019-03); did you mean 'globex'?\n"))
    assert not (tmp_path / "ledger.sqlite").exists()


@pytest.mark.slow
def test_a_long_account_name_keeps_its_month_apart_in_the_replay_table(tmp_path):
    # A name of 14 characters or more ran into its month: '</td></tr></table>x2019-03', 'acme-holdings-asia2019-03'.
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "acme-holdings-asia,2019-03-12T09:00,5,5,0\nacme,2019-03-12T09:00,5,5,0\n"
                       + "x" * 60 + ",2019-03-12T09:00,5,5,0\n")
    result = run_cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT,
                     "--format", "text")
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()[2:6]
    assert header.startswith("account".ljust(40) + "  month     availability")  # as wide as it grows (40)
    assert [row[:row.index("2019-03") + 9] for row in rows] == [
        "acme".ljust(40) + "  2019-03  ", "acme-holdings-asia".ljust(40) + "  2019-03  ", "x" * 60 + "  2019-03  "]


# ---------------------------------------------------------------------------- a replay of months without data

# Rows on 12 March and 2 April 2019 (policy time, Asia/Singapore); the replay asks for June and July.
HELD = ("; the minutes' rows run from 2019-03-12 09:00 to 2019-04-02 10:00 (Asia/Singapore): Service Months 2019-03 "
        "to 2019-04")


def nothing_to_replay(held: str) -> str:
    return ("no account has minutes or billing from 2019-06 to 2019-07: nothing to replay (check the months replayed, "
            f"and that the minutes and billing given are the files meant{held})")


def replay_june_july(minutes, *options):
    return run_cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-06", "--to", "2019-07", "--under", DRAFT,
                   *options)


@pytest.fixture
def march_april(tmp_path):
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "acme,2019-04-02T10:00,5,5,0\nacme,2019-03-12T09:00,5,0,0\nb,2019-03-20T00:00,1,0,0\n")
    return minutes


@pytest.mark.slow
def test_a_replay_of_months_without_data_says_which_months_the_minutes_hold(march_april):
    # The report was zeros alone (text, JSON and HTML): 0 account-month(s), and nothing said why.
    result = replay_june_july(march_april, "--format", "text")
    assert result.code == 0, result.err
    assert result.out.splitlines()[2] == nothing_to_replay(HELD)
    assert result.err == ""
    result = replay_june_july(march_april)
    assert (result.code, result.err) == (0, f"slapolicy: {nothing_to_replay(HELD)}\n")
    assert result.json()["nothing_to_replay"] == nothing_to_replay(HELD)
    assert result.json()["rows_read"] == 3
    result = replay_june_july(march_april, "--format", "html")
    assert result.code == 0, result.err
    assert f"<p><b>{html.escape(nothing_to_replay(HELD))}</b></p>" in result.out


def test_a_replay_of_months_with_rows_says_nothing_of_the_kind(march_april):
    result = run_cli("replay", POLICIES, "--minutes", march_april, "--from", "2019-03", "--to", "2019-07", "--under", DRAFT)
    assert (result.code, result.err) == (0, "")
    assert "nothing_to_replay" not in result.json()
    assert len(result.json()["rows"]) == 3


def test_a_replay_of_months_without_data_names_the_months_of_row_groups_left_unread(tmp_path):
    # Row groups whose minute statistics lie outside the months are never read (rows_read 0): their statistics say
    # where the rows lie, in the policy's timezone (01:00 UTC is 09:00 in Singapore), and in a file of wall times.
    minutes = tmp_path / "m.parquet"
    utc = [dt.datetime(2019, 3, 12, 1, 0), dt.datetime(2019, 4, 2, 2, 0)]
    table = pa.table({"account": ["acme", "acme"], "minute": pa.array(utc, pa.timestamp("s", "UTC")),
                      "requests": [5, 5], "failures": [0, 5]})
    pq.write_table(table, minutes, row_group_size=1)
    result = replay_june_july(minutes)
    assert (result.code, result.err) == (0, f"slapolicy: {nothing_to_replay(HELD)}\n")
    assert (result.json()["rows_read"], result.json()["parts_read"]) == (0, 0)
    wall = table.set_column(1, "minute", pa.array([dt.datetime(2019, 3, 12, 9), dt.datetime(2019, 4, 2, 10)],
                                                  pa.timestamp("ms")))
    pq.write_table(wall, minutes, row_group_size=1)
    result = replay_june_july(minutes)
    assert (result.code, result.err) == (0, f"slapolicy: {nothing_to_replay(HELD)}\n")


def test_a_replay_of_months_without_data_names_the_month_directories_and_an_empty_file(tmp_path):
    march = tmp_path / "minutes" / "month=2019-03"
    march.mkdir(parents=True)
    pq.write_table(pa.table({"account": ["acme"], "minute": ["2019-03-12T09:00"], "requests": [5], "failures": [0]}),
                   march / "part-0.parquet")
    result = replay_june_july(tmp_path / "minutes")
    held = "; the minutes' month= directories hold 2019-03"
    assert (result.code, result.err) == (0, f"slapolicy: {nothing_to_replay(held)}\n")
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    result = replay_june_july(empty)
    held = "; the minutes hold no row"
    assert (result.code, result.err) == (0, f"slapolicy: {nothing_to_replay(held)}\n")


@pytest.mark.slow
def test_a_replay_of_months_without_data_says_so_alike_on_workers(march_april):
    alone, workers = replay_june_july(march_april), replay_june_july(march_april, "--workers", "2")
    assert (workers.code, workers.out, workers.err) == (alone.code, alone.out, alone.err)
    assert alone.json()["nothing_to_replay"] == nothing_to_replay(HELD)


# ---------------------------------------------------------------------------- a range starting before every version


def test_a_replay_from_before_every_version_names_the_month_to_start_from(tmp_path):
    # It said only that the earliest version takes effect on 2019-01-01, leaving the --from to work out.
    result = run_cli("replay", POLICIES, "--minutes", MINUTES_CSV, "--from", "2018-11", "--to", "2019-03", "--under",
                     DRAFT, "--output", tmp_path / "out.json")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: no version of {POLICIES} is in force for the Service Month starting 2018-11-01: the earliest "
        "version takes effect on 2019-01-01: each month replayed needs the version then in force as its baseline; "
        "replay from 2019-01 on\n"))
    assert list(tmp_path.iterdir()) == []
    result = run_cli("replay", POLICIES, "--minutes", MINUTES_CSV, "--from", "2019-01", "--to", "2019-03", "--under", DRAFT)
    assert (result.code, result.err) == (0, "")


@pytest.mark.slow  # locking a family of its own runs the version's examples: seconds
def test_a_replay_from_before_a_version_taking_effect_mid_month_starts_the_month_after(tmp_path):
    from slapolicy import Engine
    from slapolicy.errors import NoVersionInForce

    family = tmp_path / "ccc"
    family.mkdir()
    published = (POLICIES / "2019-01-01.yaml").read_text(encoding="utf-8")
    (family / "2019-01-15.yaml").write_text(published.replace("2019-01-01", "2019-01-15"), encoding="utf-8")
    assert run_cli("lock", family, "--new").code == 0
    with pytest.raises(NoVersionInForce) as caught:  # January is governed by no version (§6.2): February on
        Engine(family).replay(minutes=MINUTES_CSV, start="2019-01", end="2019-03", under=DRAFT)
    assert str(caught.value) == (
        f"no version of {family} is in force for the Service Month starting 2019-01-01: the earliest version takes "
        "effect on 2019-01-15: each month replayed needs the version then in force as its baseline; replay from "
        "2019-02 on")
    assert Engine(family).replay(minutes=MINUTES_CSV, start="2019-02", end="2019-03", under=DRAFT)["rows"]


def test_the_names_of_row_groups_are_looked_at_within_a_budget(tmp_path):
    # An error path reads dictionary pages (~1 MiB for 100,000 names), never more than most_bytes of them.
    from slapolicy.minutes.planning import Part
    from slapolicy.minutes.readers import account_names

    minutes = tmp_path / "m.parquet"
    pq.write_table(pa.table({"account": [f"account-{i:05d}" for i in range(3000)] * 2}), minutes, row_group_size=3000)
    part = Part(str(minutes), "parquet", row_groups=(0, 1), proven=(None, None))
    assert len(account_names([part])) == 3000
    assert account_names([part], most_bytes=1000) == set()  # the first page alone is more
    assert account_names([part], most=1) == {f"account-{i:05d}" for i in range(3000)}  # one row group of two
    plain = tmp_path / "plain.parquet"  # no dictionary page: nothing counted against the budget, no name
    pq.write_table(pa.table({"account": ["a", "b"]}), plain, use_dictionary=False)
    assert account_names([Part(str(plain), "parquet", row_groups=(0,), proven=(None,)), part], most_bytes=1 << 20) \
        == {f"account-{i:05d}" for i in range(3000)}


def test_an_evaluation_of_a_month_without_data_names_where_a_parquet_file_s_rows_lie(tmp_path):
    # It said only "check --month": the file's row groups outside the month are never read, and their minute
    # statistics say where the rows lie (01:00 UTC is 09:00 in Singapore).
    minutes = tmp_path / "m.parquet"
    utc = [dt.datetime(2019, 3, 12, 1, 0), dt.datetime(2019, 4, 2, 2, 0)]
    pq.write_table(pa.table({"account": ["acme", "acme"], "minute": pa.array(utc, pa.timestamp("s", "UTC")),
                             "requests": [5, 5], "failures": [0, 5]}), minutes, row_group_size=1)
    said = ("no account has minutes or billing in the Service Month 2019-06: nothing to evaluate (check --month, and "
            f"that --minutes and --billing name the files meant{HELD})")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-06")
    assert (result.code, result.json(), result.err) == (0, {"evaluations": []}, f"slapolicy: {said}\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-06", "--format", "text")
    assert (result.code, result.out, result.err) == (0, f"{said}\n", "")


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_an_evaluation_of_a_month_without_data_names_where_a_csv_or_json_lines_file_s_rows_lie(tmp_path, kind):
    # It said only "check --month" of a CSV or JSON Lines file, which the evaluation reads whole (every row is
    # checked) and so knows the first and last minute of: replay said them of the same file. A row without an offset
    # is a wall time of the policy's timezone; one with an offset is said in it (01:59 UTC is 09:59 in Singapore).
    rows = [("acme", "2019-03-12T09:00"), ("globex", "2019-04-02T01:59Z"), ("acme", "2019-03-31T23:59")]
    minutes = tmp_path / f"m.{kind}"
    if kind == "csv":
        minutes.write_text(HEADER + "".join(f"{account},{minute},5,0,0\n" for account, minute in rows))
    else:
        minutes.write_text("".join(json.dumps({"account": account, "minute": minute, "requests": 5, "failures": 0})
                                   + "\n" for account, minute in rows))
    said = ("no account has minutes or billing in the Service Month 2019-06: nothing to evaluate (check --month, and "
            "that --minutes and --billing name the files meant; the minutes' rows run from 2019-03-12 09:00 to "
            "2019-04-02 09:59 (Asia/Singapore): Service Months 2019-03 to 2019-04)")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-06")
    assert (result.code, result.json(), result.err) == (0, {"evaluations": []}, f"slapolicy: {said}\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-06", "--format", "text")
    assert (result.code, result.out, result.err) == (0, f"{said}\n", "")
    # One month: said as one; the shipped examples hold March 2019 (from 09:00 on the 1st to 17:59 on the 29th).
    result = run_cli("evaluate", POLICIES, "--minutes", MINUTES_CSV, "--month", "2019-02")
    assert result.err == ("slapolicy: no account has minutes or billing in the Service Month 2019-02: nothing to "
                          "evaluate (check --month, and that --minutes and --billing name the files meant; the minutes' "
                          "rows run from 2019-03-01 09:00 to 2019-03-29 17:59 (Asia/Singapore): Service Month 2019-03)\n")


def test_the_spelling_of_accounts_asked_about_is_compared_within_a_bound(monkeypatch):
    # Each unknown account was compared in spelling with every name the billing and the minutes' row groups hold: 20
    # misspelt accounts against a 100,000-account file took 3 CPU-s on this error path (of a service's request too).
    # The comparisons are bounded (engine.SPELLING_COMPARISONS): the first accounts asked about get theirs while the
    # bound allows, the others none; the same name in other capitals is still found for every one.
    from types import SimpleNamespace

    from slapolicy import engine

    march = SimpleNamespace(label="2019-03")
    billing = {(f"acct-{n:03}", "2019-03"): None for n in range(100)} | {("acme", "2019-03"): None}
    asked = ["acct-001x", "acct-002x", "ACME"]
    said = "; did you mean 'acct-001' for 'acct-001x', 'acct-002' for 'acct-002x', 'acme' for 'ACME'?"
    assert engine.accounts_meant(asked, None, march, None, billing) == said
    monkeypatch.setattr(engine, "SPELLING_COMPARISONS", 2 * 101)
    assert engine.accounts_meant(asked, None, march, None, billing) == said
    monkeypatch.setattr(engine, "SPELLING_COMPARISONS", 2 * 101 - 1)
    assert engine.accounts_meant(asked, None, march, None, billing) == (
        "; did you mean 'acct-001' for 'acct-001x', 'acme' for 'ACME'?")
    monkeypatch.setattr(engine, "SPELLING_COMPARISONS", 100)
    assert engine.accounts_meant(asked, None, march, None, billing) == "; did you mean 'acme' for 'ACME'?"


# ---------------------------------------------------------------------------- long names asked about

@pytest.mark.parametrize("asked", [1, 20, 21])
def test_long_account_names_asked_about_are_cut_so_that_the_names_meant_survive_the_bound(tmp_path, asked):
    # Names are listed unquoted, so the bound of every message did not cut them: twenty of 1,000 characters made a
    # message of 30,000 cut at 16,384 in the middle of the names, and the names meant ("did you mean ...?") were lost.
    # Each is now cut to its first 200 characters, as a quoted value is, and the suggestion follows whole.
    names = [f"{k:02d}" + "a" * 998 for k in range(asked)]
    minutes = tmp_path / "m.csv"
    minutes.write_text(HEADER + "".join(f"{name},2019-03-12T09:00,5,0,0\n" for name in names))
    shown = " (1000 characters; the first 200 shown)"
    listed = ", ".join(f"{name[:200].upper()}…{shown}" for name in names[:20])
    more = " and 1 more" if asked > 20 else ""
    meant = (f"'{names[0][:200]}…'{shown}" if asked == 1 else
             ", ".join(f"'{name[:200]}…'{shown} for '{name[:200].upper()}…'{shown}" for name in names[:20]))
    argv = [a for name in names for a in ("--account", name.upper())]
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", *argv)
    said = f"slapolicy: account(s) {listed}{more} have no minutes or billing for 2019-03; did you mean {meant}?\n"
    assert (result.code, result.out, result.err) == (1, "", said)
    assert len(said) < 16_384


# ---------------------------------------------------------------------------- a byte order mark

@pytest.mark.parametrize("table", ["minutes", "billing"])
def test_a_json_lines_file_beginning_with_a_utf8_byte_order_mark_is_read_as_a_csv_file_is(tmp_path, table):
    # Windows PowerShell's `Out-File -Encoding utf8` and Notepad's "UTF-8 with BOM" begin the file with U+FEFF: a CSV
    # file so written was read, a JSON Lines file was refused as "line 1: not a JSON object; JSON Lines holds one
    # object per line" (minutes). The mark is read past, at the start of the file only, as a claim's is.
    minutes = tmp_path / "m.jsonl"
    rows = [{"account": "acme", "minute": "2019-03-05T10:00", "requests": 100, "failures": 5}]
    billing = tmp_path / "b.jsonl"
    bill = {"account": "acme", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}
    (minutes if table == "minutes" else billing).write_bytes(b"\xef\xbb\xbf")
    with open(minutes, "a", encoding="utf-8") as stream:
        stream.writelines(json.dumps(row) + "\n" for row in rows)
    with open(billing, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(bill) + "\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--billing", billing, "--month", "2019-03")
    evaluation = only_evaluation(result)
    assert (evaluation["account"], evaluation["unavailable_minutes"], evaluation["compensation"]) == ("acme", 1, "0.00")
    # Not past the first line: a mark starting a later line is no JSON, refused by its line.
    with open(minutes if table == "minutes" else billing, "ab") as stream:
        stream.write(b"\xef\xbb\xbf" + json.dumps(rows[0] if table == "minutes" else bill).encode() + b"\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--billing", billing, "--month", "2019-03")
    assert result.code == 1 and "line 2" in result.err and result.out == ""


# ---------------------------------------------------------------------------- an amendment of the claims' terms alone

EXAMPLE_INPUTS = ("--minutes", REPO / "examples/ccc/minutes.csv", "--billing", REPO / "examples/ccc/billing.csv",
                  "--incidents", REPO / "examples/ccc/incidents.yaml", "--notices", REPO / "examples/ccc/notices.yaml")
NOT_REPLAYED_NOTE = (
    "the amendment also changes terms a replay does not decide: claims.window_closes.calendar_days_after_end (§3.2(2)), "
    "compensation.aggregate_cap.lookback_months (§6.1); a replay evaluates Service Months (availability, exclusions, "
    "the standard, the tiers and compensation before §6.1), not claims: its rows and totals do not show these changes")


def _claims_draft(tmp_path):
    """The shipped version as a draft whose claim window closes 90 days after the month, not 60 (§3.2(2)), and whose
    §6.1 cap looks back 6 months once used 12: nothing a replay evaluates."""
    from helpers import draft_variant

    draft = draft_variant(tmp_path, "calendar_days_after_end: 60", "calendar_days_after_end: 90")
    draft.write_text(draft.read_text().replace("lookback_months: 12", "lookback_months: 6"))
    return draft


def test_a_replay_of_an_amendment_of_claims_alone_says_it_does_not_decide_them(tmp_path):
    # It said "3 account-month(s), 0 changed" and nothing else: read as an amendment that changes nothing a customer
    # gets, while the window to claim is 30 days longer and the §6.1 cap is another.
    draft = _claims_draft(tmp_path)
    result = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", draft, *EXAMPLE_INPUTS)
    assert (result.code, result.err) == (0, f"slapolicy: {NOT_REPLAYED_NOTE}\n")
    report = result.json()
    assert report["totals"]["overall"] == {"account_months": 3, "changed": 0, "baseline_compensation": "580.00",
                                           "amended_compensation": "580.00", "delta": "0.00", "without_billing": 0}
    assert report["not_replayed"] == [
        {"what": "claims.window_closes.calendar_days_after_end", "ref": "§3.2(2)", "kind": "changed", "old": 60,
         "new": 90, "against": ["2019-01-01"]},
        {"what": "compensation.aggregate_cap.lookback_months", "ref": "§6.1", "kind": "changed", "old": 12, "new": 6,
         "against": ["2019-01-01"]}]
    assert report["not_replayed_note"] == NOT_REPLAYED_NOTE
    text = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", draft, *EXAMPLE_INPUTS,
                   "--format", "text")
    assert (text.code, text.err) == (0, "")
    assert text.out.splitlines()[2] == NOT_REPLAYED_NOTE
    page = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", draft, *EXAMPLE_INPUTS,
                   "--format", "html")
    assert (page.code, page.err) == (0, "")
    assert f"<p><b>{html.escape(NOT_REPLAYED_NOTE)}</b></p>" in page.out


@pytest.mark.slow
def test_across_amendments_a_term_not_replayed_names_the_baseline_it_is_changed_against(tmp_path):
    # A family whose version of 2019-04-01 closes the claim window 90 days after the month (60 before), replayed over
    # March and April under the shipped draft, which leaves the window at 60 as the 2019-01-01 text it amends.
    # The note said "the amendment also changes ... claims.window_closes.calendar_days_after_end (§3.2(2))": an
    # analyst read that the draft changes the window, which it leaves as it found it; it is a change against April's
    # version only.
    import hashlib
    import shutil

    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family, ignore=shutil.ignore_patterns("drafts"))
    text = (POLICIES / "2019-01-01.yaml").read_text()
    for old, new in (('version: "2019-01-01"', 'version: "2019-04-01"'),
                     ('effective_from: "2019-01-01"', 'effective_from: "2019-04-01"\namends: "2019-01-01"'),
                     ("calendar_days_after_end: 60", "calendar_days_after_end: 90"),
                     ('closes: "2019-05-31T00:00:00+08:00"', 'closes: "2019-06-30T00:00:00+08:00"')):
        assert old in text
        text = text.replace(old, new, 1)
    (family / "2019-04-01.yaml").write_text(text)
    (family / "versions.lock").write_text(json.dumps(
        {name: hashlib.sha256((family / name).read_bytes()).hexdigest() for name in ("2019-01-01.yaml", "2019-04-01.yaml")}))
    result = run_cli("replay", family, "--from", "2019-03", "--to", "2019-04", "--under", DRAFT, *EXAMPLE_INPUTS)
    note = ("the amendment also changes terms a replay does not decide: claims.window_closes.calendar_days_after_end "
            "(§3.2(2); against 2019-04-01 (in force 2019-04)); a replay evaluates Service Months (availability, "
            "exclusions, the standard, the tiers and compensation before §6.1), not claims: its rows and totals do not "
            "show these changes")
    assert (result.code, result.err) == (0, f"slapolicy: {note}\n")
    assert result.json()["not_replayed"] == [
        {"what": "claims.window_closes.calendar_days_after_end", "ref": "§3.2(2)", "kind": "changed", "old": 90,
         "new": 60, "against": ["2019-04-01"]}]
    text = run_cli("replay", family, "--from", "2019-03", "--to", "2019-04", "--under", DRAFT, *EXAMPLE_INPUTS,
                   "--format", "text")
    assert text.out.splitlines()[2] == note


def test_a_row_whose_money_moved_never_cites_the_aggregate_cap_a_replay_does_not_apply(tmp_path):
    # The shipped draft (standard 99.95 %) with §6.1 looking back 6 months: acme's 99.90 % March 2019 now owes 10 % of
    # 2500.00, and its row cited compensation.aggregate_cap.lookback_months beside the standard ("the amount
    # differs"), though every amount of a replay is before §6.1.
    draft = tmp_path / "draft.yaml"
    draft.write_text(DRAFT.read_text().replace("lookback_months: 12", "lookback_months: 6"))
    result = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", draft, *EXAMPLE_INPUTS)
    assert result.code == 0
    acme = next(row for row in result.json()["rows"] if row["account"] == "acme")
    assert (acme["baseline"]["compensation"], acme["amended"]["compensation"], acme["delta"]["compensation"]) == (
        "0.00", "250.00", "250.00")
    assert [(c["what"], c["why"]) for c in acme["clauses_changed"]] == [
        ("availability.standard", "the standard is met in one and not the other")]
    assert [c["what"] for c in result.json()["not_replayed"]] == ["compensation.aggregate_cap.lookback_months"]


def test_a_replay_of_an_amendment_that_changes_no_claim_term_says_nothing_of_claims():
    result = run_cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, *EXAMPLE_INPUTS)
    assert (result.code, result.err) == (0, "")
    assert "not_replayed" not in result.json() and "not_replayed_note" not in result.json()
    assert result.json()["totals"]["overall"]["changed"] == 1
