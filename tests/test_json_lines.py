"""JSON Lines minutes are read a block of lines at a time: memory is bounded by a block, every row keeps its
line, and a line pyarrow would crash on is refused before pyarrow sees it."""
import json
import random
import subprocess
import sys

import pytest

from conftest import POLICIES, REPO, assert_refused, evaluate_march
from slapolicy.errors import InputError


def rows_of(accounts=("a", "b", "c"), count=120):
    """``count`` minutes per account from 2019-03-01T10:00 (Asia/Singapore), 100 requests each; every tenth minute
    has 2 failures: 98 % is below 99 %, so it is unavailable (12 per account), the others 0 failures."""
    return [{"account": name, "minute": f"2019-03-01T{10 + i // 60:02d}:{i % 60:02d}", "requests": 100,
             "failures": 2 if i % 10 == 0 else 0} for name in accounts for i in range(count)]


def json_lines_text(rows, blank_every=0, lead=""):
    """One object per line; with ``blank_every``, a blank line (or one of spaces, or CRLF) after every that many rows."""
    lines, fillers = [lead] if lead else [], ["", "   ", "\t"]
    for index, row in enumerate(rows, 1):
        lines.append(json.dumps(row))
        if blank_every and index % blank_every == 0:
            lines.append(fillers[(index // blank_every) % 3])
    return "\n".join(lines) + "\n"


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 2 KiB (about 25 rows) and batches of 7 rows: a file of a few hundred rows is many of each."""
    from slapolicy.inputs import json_lines
    from slapolicy.minutes import readers as minutes

    monkeypatch.setattr(json_lines, "BLOCK_BYTES", 2048)
    monkeypatch.setattr(minutes, "BATCH_ROWS", 7)


@pytest.mark.slow
def test_a_json_lines_file_of_many_blocks_reads_as_csv_and_parquet(tmp_path, small_blocks):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = rows_of()
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(json_lines_text(rows, blank_every=11, lead="   ").replace('"c", "minute"', '"c",  "minute"'))
    assert jsonl.stat().st_size > 10 * 2048
    csv_path, parquet = tmp_path / "m.csv", tmp_path / "m.parquet"
    pacsv.write_csv(pa.Table.from_pylist(rows), csv_path)
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    outputs = [evaluate_march(p).out for p in (jsonl, csv_path, parquet)]
    assert outputs[0] == outputs[1] == outputs[2]
    evaluations = json.loads(outputs[0])["evaluations"]
    assert [(e["account"], e["minutes_with_data"], e["unavailable_minutes"]) for e in evaluations] == [
        ("a", 120, 12), ("b", 120, 12), ("c", 120, 12)]


def late_problem_file(tmp_path):
    """360 rows, a blank line after every 11th: row k is on line k + (k - 1) // 11 + 1 (the first line is blank).
    Row 301 has 7 failures of 5 requests: line 301 + 300 // 11 + 1 = 301 + 27 + 1 = 329."""
    rows = rows_of()
    rows[300] = dict(rows[300], requests=5, failures=7)
    path = tmp_path / "m.jsonl"
    path.write_text(json_lines_text(rows, blank_every=11, lead=" "))
    assert path.read_text().splitlines()[328] == json.dumps(rows[300])  # line 329
    return path


def test_a_problem_in_a_late_block_names_its_row_and_line(tmp_path, small_blocks):
    minutes = late_problem_file(tmp_path)
    result = evaluate_march(minutes)
    assert result.code == 1 and result.out == ""
    assert f"{minutes}: row 301 (line 329), column 'failures': 7 failures exceed 5 requests" in result.err
    assert "1 problem(s)" in result.err


def test_the_same_line_in_one_block(tmp_path):
    minutes = late_problem_file(tmp_path)
    result = evaluate_march(minutes)
    assert f"{minutes}: row 301 (line 329), column 'failures': 7 failures exceed 5 requests" in result.err


def test_a_minute_listed_twice_in_two_blocks_names_the_later_line(tmp_path, small_blocks):
    rows = rows_of(("a",), 60)
    rows.append(dict(rows[3]))  # row 61 (line 61) repeats row 4's minute, many blocks later
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json_lines_text(rows))
    result = evaluate_march(minutes)
    assert result.code == 1
    assert f"{minutes}: row 61 (line 61), column 'minute': minute listed twice for account 'a'" in result.err


def test_a_later_block_without_a_column_has_missing_values(tmp_path, small_blocks):
    rows = rows_of(("a",), 60)
    for row in rows[50:]:
        del row["requests"]
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json_lines_text(rows))
    result = evaluate_march(minutes)
    assert result.code == 1
    # rows 51-60 lack requests: each is named once. Row 51 (minute 50, a tenth) also has 2 failures, once also
    # refused as "2 failures exceed 0 requests" against the 0 read for the missing value: a missing count is
    # compared with nothing.
    assert result.err == f"slapolicy: 10 problem(s) in minutes file {minutes}:\n" + "".join(
        f"{minutes}: row {row} (line {row}), column 'requests': missing value\n" for row in range(51, 61))
    assert result.out == ""


@pytest.mark.parametrize("text,message", [
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 1}\n'
     '{"account": "a", "minute": "2019-03-01T10:01",\n "requests": 100, "failures": 1}\n',
     "line 3: not a JSON object; JSON Lines holds one object per line"),
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 1}\nnull\n',
     "line 2: not a JSON object; JSON Lines holds one object per line"),
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 1}'
     '{"account": "a", "minute": "2019-03-01T10:01", "requests": 100, "failures": 1}\n',
     "line 1: 2 JSON objects on one line; JSON Lines holds one object per line"),
])
def test_lines_that_are_not_one_object_each(tmp_path, text, message):
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(text)
    result = evaluate_march(minutes)
    assert result.code == 1 and result.out == ""
    assert f"{minutes}: {message}" in result.err


def nested_line(depth, minute="2019-03-01T10:00"):
    """A row whose extra field opens ``depth`` levels: {"x": [[...]]} is depth + 1 with the row's own braces."""
    return ('{"x": ' + "[" * (depth - 1) + "0" + "]" * (depth - 1) +
            f', "account": "a", "minute": "{minute}", "requests": 100, "failures": 2}}\n')


def test_nesting_up_to_64_levels_is_read_and_brackets_in_text_do_not_count(tmp_path):
    minutes = tmp_path / "m.jsonl"
    quoted = json.dumps({"note": "[" * 500 + '\\"{' * 100, "account": "a", "minute": "2019-03-01T10:01",
                         "requests": 100, "failures": 2})
    minutes.write_text(nested_line(64) + quoted + "\n")
    result = evaluate_march(minutes)
    assert result.code == 0, result.err
    assert result.json()["evaluations"][0]["unavailable_minutes"] == 2


def test_nesting_of_65_levels_is_refused(tmp_path):
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(nested_line(1) + nested_line(65, "2019-03-01T10:01"))
    result = evaluate_march(minutes)
    assert result.code == 1 and result.out == ""
    assert result.err.strip() == f"slapolicy: {minutes}: line 2: a value nested more than 64 levels deep; a row is one flat object"


@pytest.mark.slow
def test_a_line_nested_100000_deep_is_refused_not_a_crash(tmp_path):
    """pyarrow's JSON reader dies of a segmentation fault on this line (exit 139): run in a process of its own,
    so that a regression cannot take pytest down with it."""
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(nested_line(1) + nested_line(1, "2019-03-01T10:01") + nested_line(100_000, "2019-03-01T10:02"))
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
                                 "channel": "work_order", "event_report": "calls failed", "failure_records": ["c"],
                                 "unavailability": [{"start": "2019-03-01T10:00+08:00", "end": "2019-03-01T10:02+08:00"}]}))
    ledger = tmp_path / "ledger.sqlite"
    for args in (["evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"],
                 ["claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00"]):
        run = subprocess.run([sys.executable, "-c", "import sys; from slapolicy.cli import main; sys.exit(main(sys.argv[1:]))",
                              *map(str, args)], capture_output=True, text=True, timeout=120, cwd=REPO)
        assert run.returncode == 1, (args[0], run.returncode, run.stderr[-500:])
        assert run.stdout == ""
        assert f"{minutes}: line 3: a value nested more than 64 levels deep" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert not ledger.exists()


@pytest.mark.slow
def test_a_billing_line_nested_100000_deep_is_refused_not_a_crash(tmp_path):
    """Billing JSON Lines is read whole by pyarrow (a small file): the same lines are refused before it."""
    billing = tmp_path / "billing.jsonl"
    billing.write_text('{"account": "acme", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0"}\n'
                       '{"account": "globex", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0", "x": '
                       + "[" * 100_000 + "]" * 100_000 + "}\n")
    run = subprocess.run([sys.executable, "-c", "import sys; from slapolicy.cli import main; sys.exit(main(sys.argv[1:]))",
                          "evaluate", str(POLICIES), "--minutes", str(REPO / "examples" / "ccc" / "minutes.csv"),
                          "--month", "2019-03", "--billing", str(billing)], capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout) == (1, ""), run.stderr[-500:]
    assert run.stderr == f"slapolicy: {billing}: line 2: a value nested more than 64 levels deep; a row is one flat object\n"


# Around the end of March 2019 in Asia/Singapore (UTC+08:00, no daylight saving): March ends at 2019-03-31T16:00Z.
BOUNDARY_MINUTES = ["2019-03-31T15:59Z",  # 23:59 local: March
                    "2019-03-31T23:58+08:00",  # March
                    "2019-03-31T16:00Z",  # 00:00 on April 1 local: April
                    "2019-03-31T20:00Z"]  # 04:00 on April 1 local: April


@pytest.mark.parametrize("month, expected", [("2019-03", 2), ("2019-04", 2)])
def test_json_lines_minutes_with_an_offset_keep_it(cli, tmp_path, month, expected):
    # pyarrow's JSON reader took these for timestamps in UTC without their offset, which were then read as local
    # times: all four landed in March (20:00Z read as 20:00 local), April had none.
    rows = [{"account": "acme", "minute": m, "requests": 100, "failures": 2} for m in BOUNDARY_MINUTES]
    jsonl, csv_path = tmp_path / "m.jsonl", tmp_path / "m.csv"
    jsonl.write_text(json_lines_text(rows))
    csv_path.write_text("account,minute,requests,failures\n" + "".join(f"acme,{m},100,2\n" for m in BOUNDARY_MINUTES))
    results = [cli("evaluate", POLICIES, "--minutes", p, "--month", month) for p in (jsonl, csv_path)]
    assert [r.code for r in results] == [0, 0]
    assert results[0].out == results[1].out
    (evaluation,) = results[0].json()["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (expected, expected)


def test_json_lines_billing_reads_its_service_start_as_a_date(tmp_path):
    from datetime import date
    from decimal import Decimal

    from slapolicy.inputs.billing import read_billing

    # pyarrow took "2019-01-15" for a timestamp, whose text '2019-01-15 00:00:00' was refused as not a date. A fee
    # written as a JSON number is read as before beside it.
    path = tmp_path / "billing.jsonl"
    path.write_text('{"account": "acme", "month": "2019-03", "monthly_fee": 1000.5, "offset": "0.00", '
                    '"service_start": "2019-01-15"}\n')
    (row,) = read_billing(path).values()
    assert (row.month, row.monthly_fee, row.service_start) == ("2019-03", Decimal("1000.5"), date(2019, 1, 15))


def test_a_json_lines_minute_written_as_a_number_is_refused_by_its_column(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"account": "acme", "minute": 12345, "requests": 100, "failures": 2}\n')
    assert_refused(evaluate_march(path),
                   f"{path}: column 'minute' holds values of type int64; expected text or timestamps; a count of "
                   "seconds or milliseconds since 1970 is not read: write the minute as text with its offset "
                   "(2019-03-12T09:00+08:00), or as timestamps in UTC (pa.timestamp('s', tz='UTC'))")


@pytest.mark.parametrize("bad, why", [
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100,', "Missing a name for object member."),
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": "100", "failures": 0}',
     "Column(/requests) changed from number to string"),
])
def test_a_line_pyarrow_cannot_parse_is_named_by_its_line_in_any_block(tmp_path, small_blocks, bad, why):
    # pyarrow ends its message with "in row K", the object's index in the block it was handed, from 0: it said "in
    # row 16" of line 329. Row 301 is on line 301 + 300 // 11 + 1 = 329 (blank lines before it), in a late block.
    rows = rows_of()
    text = json_lines_text(rows, blank_every=11, lead="   ").splitlines()
    assert json.loads(text[329 - 1]) == rows[300]
    text[329 - 1] = bad
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(text) + "\n")
    assert_refused(evaluate_march(path), f"{path}: cannot be read as JSONL: line 329: JSON parse error: {why}")


def test_a_billing_line_pyarrow_cannot_parse_is_named_by_its_line(tmp_path):
    # pyarrow said "in row 1": the second object, which a blank line puts on line 3.
    billing = tmp_path / "billing.jsonl"
    billing.write_text('{"account": "acme", "month": "2019-03", "monthly_fee": "100.00", "offset": "0.00"}\n\n'
                       '{"account": "globex", "month": "2019-03", "monthly_fee": 100, "offset": "0.00"}\n')
    assert_refused(evaluate_march(REPO / "examples" / "ccc" / "minutes.csv", "--billing", billing),
                   f"{billing}: cannot be read as JSONL: line 3: JSON parse error: Column(/monthly_fee) changed from "
                   "string to number")


def test_a_json_lines_count_beyond_a_float_is_named_so_not_as_inf(tmp_path):
    # pyarrow reads a whole number of 400 digits in a JSON Lines file as a float: infinity. It was refused as "inf is
    # not a whole number", a word its writer never wrote; said as a claim's or a request body's 1e400 is. A count
    # a float holds (2.0) is still read, and one with a fraction still named as written.
    path = tmp_path / "m.jsonl"
    path.write_text('{"account": "a", "minute": "2019-03-12T10:00", "requests": ' + "9" * 400 + ', "failures": 0}\n'
                    '{"account": "a", "minute": "2019-03-12T10:01", "requests": 2.0, "failures": 0}\n'
                    '{"account": "a", "minute": "2019-03-12T10:02", "requests": 2.5, "failures": 0}\n')
    result = evaluate_march(path)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 2 problem(s) in minutes file {path}:\n"
        f"{path}: row 1 (line 1), column 'requests': a number beyond the range of a 64-bit float (about ±1.8e308)\n"
        f"{path}: row 3 (line 3), column 'requests': 2.5 is not a whole number\n"))


# ---------------------------------------------------------------------------- a large file read in pieces


def test_consecutive_line_ranges_read_every_line_once_wherever_the_cuts_fall():
    import io

    from slapolicy.minutes.readers import LineRange

    # Lines of 0 to 9 bytes, blank ones, a CRLF and a last line without its line end, cut every 1 to 40 bytes: each
    # range reads the lines whose first byte lies in it, so the ranges put together are the file byte for byte.
    text = b"".join(b"x" * (k % 10) + (b"\r\n" if k == 7 else b"\n") for k in range(30)) + b"tail"
    line_starts = [0] + [at + 1 for at, byte in enumerate(text) if byte == 10]

    def first_line_at(offset):
        return min([start for start in line_starts if start >= offset] + [len(text)])

    for size in range(1, 41):
        starts = list(range(0, len(text), size))
        pieces = [LineRange(io.BytesIO(text), start, end).read() for start, end in zip(starts, starts[1:] + [None])]
        assert pieces == [text[first_line_at(start):first_line_at(start + size)] for start in starts], size
        assert b"".join(pieces) == text, size


def test_line_ranges_read_in_blocks_stop_at_their_end():
    import io

    from slapolicy.minutes.readers import LineRange

    text = b"aaaa\nbbbb\ncccc\n"
    # [3, 8): the line 'bbbb' starts at 5, inside; 'cccc' at 10, after it. Read 2 bytes at a time.
    lines = LineRange(io.BytesIO(text), 3, 8)
    assert [lines.read(2) for _ in range(4)] == [b"bb", b"bb", b"\n", b""]
    assert LineRange(io.BytesIO(text), 0, 5).read() == b"aaaa\n"  # a cut just after a line end
    assert LineRange(io.BytesIO(text), 5, 6).read() == b"bbbb\n"
    assert LineRange(io.BytesIO(text), 6, 10).read() == b""  # no line starts in [6, 10)
    assert LineRange(io.BytesIO(text), 11, None).read() == b""


@pytest.fixture
def small_pieces(monkeypatch, small_blocks):
    """Pieces of 4 KiB (about 50 rows), each a task; blocks and batches small as ``small_blocks`` makes them."""
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)


def every_reading(path, tmp_path, *options):
    """evaluate, replay and a claim (for 'b') of ``path``, each as the CLI prints it."""
    from conftest import DRAFT, run_cli

    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "b", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
                                 "channel": "work_order", "event_report": "calls failed",
                                 "unavailability": [{"start": "2019-03-01T10:00+08:00", "end": "2019-03-01T12:00+08:00"}],
                                 "failure_records": ["call-1"]}))
    ledger = tmp_path / f"ledger-{len(list(tmp_path.glob('ledger-*')))}.sqlite"
    return [evaluate_march(path, *options),
            run_cli("replay", POLICIES, "--minutes", path, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT,
                    *options),
            run_cli("claim", POLICIES, claim, "--minutes", path, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00",
                    *options)]


def outputs(results):
    return [(r.code, r.out, r.err) for r in results]


def pieces_file(tmp_path):
    """900 rows of ~90 bytes (a, b and c, 300 minutes each from 10:00), a blank line after every 11th: ~80 KiB."""
    path = tmp_path / "m.jsonl"
    path.write_text(json_lines_text(rows_of(count=300), blank_every=11, lead=" "))
    return path


@pytest.mark.slow
def test_a_large_json_lines_file_is_read_in_pieces_each_a_task_with_the_same_result(tmp_path, monkeypatch, small_blocks):
    from slapolicy.minutes import aggregates, readers

    path = pieces_file(tmp_path)
    whole = evaluate_march(path)
    evaluations = json.loads(whole.out)["evaluations"]
    # 300 minutes each, every tenth unavailable: 30.
    assert [(e["account"], e["minutes_with_data"], e["unavailable_minutes"]) for e in evaluations] == [
        ("a", 300, 30), ("b", 300, 30), ("c", 300, 30)]
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)
    tasks = []
    read_part = aggregates.read_part
    monkeypatch.setattr(aggregates, "read_part", lambda part, *rest: tasks.append(part.byte_range) or
                        read_part(part, *rest))
    assert (evaluate_march(path).out, whole.code) == (whole.out, 0)
    size = path.stat().st_size
    assert len(tasks) > 15 and sorted(tasks, key=lambda r: r[0]) == [
        (start, start + 4096 if start + 4096 < size else None) for start in range(0, size, 4096)]


@pytest.mark.slow
def test_pieces_give_every_command_the_same_output_in_threads_and_worker_processes(tmp_path, monkeypatch, small_blocks):
    from slapolicy.minutes import readers

    path = pieces_file(tmp_path)
    whole = outputs(every_reading(path, tmp_path))
    assert [code for code, _, _ in whole] == [0, 0, 0]
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)
    assert outputs(every_reading(path, tmp_path)) == whole
    assert outputs(every_reading(path, tmp_path, "--workers", "2")) == whole


def test_a_problem_in_a_late_piece_is_named_as_one_reading_names_it(tmp_path, small_pieces):
    minutes = late_problem_file(tmp_path)
    assert minutes.stat().st_size > 6 * 4096  # row 301 is in a late piece
    assert_refused(evaluate_march(minutes), f"1 problem(s) in minutes file {minutes}:\n"
                   f"{minutes}: row 301 (line 329), column 'failures': 7 failures exceed 5 requests")


@pytest.mark.parametrize("bad, why", [
    ('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100,', "Missing a name for object member."),
    ("[1, 2]", None),
])
def test_a_line_that_cannot_be_read_in_a_late_piece_is_named_by_its_line(tmp_path, small_pieces, bad, why):
    rows = rows_of()
    text = json_lines_text(rows, blank_every=11, lead="   ").splitlines()
    text[329 - 1] = bad
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(text) + "\n")
    message = f"cannot be read as JSONL: line 329: JSON parse error: {why}" if why else \
        "line 329: not a JSON object; JSON Lines holds one object per line"
    assert_refused(evaluate_march(path), f"{path}: {message}")


def test_a_file_in_pieces_beginning_with_a_byte_order_mark_is_read_as_without_it(tmp_path, small_pieces):
    # The first piece reads past the mark at the file's start; a later one never begins at it.
    plain, marked = tmp_path / "plain.jsonl", tmp_path / "marked.jsonl"
    plain.write_text(json_lines_text(rows_of()))
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert marked.stat().st_size > 4 * 4096
    read = [evaluate_march(path) for path in (plain, marked)]
    assert read[0].code == 0 and (read[1].code, read[1].out) == (0, read[0].out)


def test_a_minute_listed_twice_in_two_pieces_names_the_later_line(tmp_path, small_pieces):
    rows = rows_of(("a",), 150)
    rows.append(dict(rows[3]))  # row 151 (line 151) repeats row 4's minute, two pieces later
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json_lines_text(rows))
    assert minutes.stat().st_size > 2 * 4096
    assert_refused(evaluate_march(minutes), f"1 problem(s) in minutes file {minutes}:\n{minutes}: row 151 (line 151), "
                   "column 'minute': minute listed twice for account 'a' (also row 4)")


def test_a_late_piece_without_a_column_is_refused_row_by_row_and_a_first_one_as_missing_it(tmp_path, small_pieces):
    rows = rows_of(("a",), 150)
    for row in rows[140:]:
        del row["requests"]
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json_lines_text(rows))
    assert minutes.stat().st_size > 2 * 4096  # rows 141-150 are in the third piece (of ~78 bytes a row)
    assert_refused(evaluate_march(minutes), f"10 problem(s) in minutes file {minutes}:\n" + "\n".join(
        f"{minutes}: row {row} (line {row}), column 'requests': missing value" for row in range(141, 151)))
    for row in rows:
        row.pop("requests", None)
    minutes.write_text(json_lines_text(rows))
    assert_refused(evaluate_march(minutes), f"{minutes}: missing column(s) requests (found: minute, account, failures)")


@pytest.mark.parametrize("order", ["in order", "shuffled"])
def test_a_minute_listed_twice_in_two_pieces_of_one_batch_is_found(tmp_path, monkeypatch, order):
    """Pieces of 4 KiB (about 50 rows) and batches of their usual size (512 K rows): rows 4 and 151 lie in two pieces
    but in the one batch the file is read as again, to name repeats across batches once two pieces' minutes of 'a'
    overlap; that reading looked across its batches only, found none, and the minute was counted twice (a's March
    with 151 rows, 16 of them unavailable: 1 - 16/44,640, and the 15 % more failures of the row read twice). Found,
    it is named as one reading of the file names it. Shuffled, the first reading's pieces overlap everywhere."""
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)
    rows = rows_of(("a",), 150)
    if order == "shuffled":
        random.Random(11).shuffle(rows)
    rows.append(dict(rows[3]))  # row 151 (line 151) repeats row 4's minute, two pieces later
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(json_lines_text(rows))
    assert minutes.stat().st_size > 2 * 4096
    said = (f"1 problem(s) in minutes file {minutes}:\n{minutes}: row 151 (line 151), column 'minute': minute listed "
            "twice for account 'a' (also row 4)")
    assert_refused(evaluate_march(minutes), said)
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 1 << 40)  # one piece: what one reading says
    assert_refused(evaluate_march(minutes), said)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_any_piece_size_gives_what_one_reading_gives(monkeypatch, tmp_path, seed):
    """Random files of two accounts' minutes in no order, read in one piece and in pieces of two random sizes: the
    same evaluation, or the same refusal, word for word. 200 rows among 20,160 account-minutes repeat about one
    (200² / 2 / 20,160), most often in two pieces, and now and then a line is blank. Such a run found a minute
    listed twice in two pieces of one batch counted twice (1 file of 25). (A row refused in a piece has the file read
    again whole: test_a_late_piece_without_a_column_is_refused_row_by_row_and_a_first_one_as_missing_it.)"""
    from slapolicy import Engine
    from slapolicy.minutes import readers

    rng = random.Random(seed)
    lines = []
    for _ in range(200):
        requests = rng.randint(0, 100)
        row = {"account": rng.choice("ab"), "minute": f"2019-03-{rng.randint(1, 14):02d}T{rng.randint(0, 23):02d}:"
               f"{rng.randint(0, 29):02d}", "requests": requests, "failures": rng.randint(0, requests)}
        lines.append("   " if rng.random() < 0.02 else json.dumps(row))
    minutes = tmp_path / "m.jsonl"
    minutes.write_text("\n".join(lines) + "\n")
    engine = Engine(POLICIES)

    def reading(piece):
        monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", piece)
        try:
            return json.dumps(engine.evaluate(minutes=str(minutes), month="2019-03"), sort_keys=True)
        except InputError as exc:
            return str(exc)
    once = reading(1 << 40)
    assert [reading(rng.randint(100, 400)), reading(rng.randint(401, 3000))] == [once, once]


# ---------------------------------------------------------------------------- a value changing kind


def first_lines(path, size):
    """The line numbers that begin each block of ``size`` bytes (json_lines._blocks) of a file."""
    from slapolicy.inputs import json_lines

    assert size == json_lines.BLOCK_BYTES
    with open(path, "rb") as stream:
        return [line for _, line in json_lines._blocks(stream, str(path), [0])]


def piece_first_lines(path, size):
    """The line numbers that begin each piece of ``size`` bytes (readers.text_pieces): the first line starting in it."""
    data = path.read_bytes()
    starts = [0] + [at + 1 for at, byte in enumerate(data) if byte == 10]
    return [next(n for n, s in enumerate(starts, 1) if s >= offset) for offset in range(size, len(data), size)]


def kind_changing_file(tmp_path, at, was=100, now="100", column="requests"):
    """rows_of()'s 360 rows, one a line; from line ``at`` on, ``column`` written ``now`` instead of ``was``."""
    rows = rows_of()
    for row in rows[at - 1:]:
        row[column] = now
    for row in rows[:at - 1]:
        row[column] = was
    path = tmp_path / "m.jsonl"
    path.write_text(json_lines_text(rows))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("where", ["inside a block", "a block's first line", "a piece's first line"])
def test_a_value_changing_kind_is_refused_by_its_line_wherever_blocks_and_pieces_fall(tmp_path, small_pieces, where):
    """pyarrow refuses a count written 100 and then "100" within a block, naming the line; from a block to a later one,
    or a piece to a later one, it was read (a file of more than 16 MiB, or 64 MiB in pieces, passed where a smaller
    one was refused). Now one rule: refused by the first line written otherwise, in every command, however it is cut."""
    from slapolicy.inputs import json_lines

    probe = kind_changing_file(tmp_path, 1)
    blocks = [line for line in first_lines(probe, json_lines.BLOCK_BYTES) if line > 100]
    pieces = [line for line in piece_first_lines(probe, 4096) if line > 100]
    at = {"inside a block": blocks[0] + 3, "a block's first line": next(b for b in blocks if b not in pieces),
          "a piece's first line": pieces[0]}[where]
    path = kind_changing_file(tmp_path, at)
    said = f"{path}: cannot be read as JSONL: line {at}: JSON parse error: Column(/requests) changed from number to string"
    assert outputs(every_reading(path, tmp_path)) == [(1, "", f"slapolicy: {said}\n")] * 3
    path = kind_changing_file(tmp_path, at, was="100", now=100)
    assert_refused(evaluate_march(path), said.replace("number to string", "string to number"))


@pytest.mark.slow
def test_a_column_not_read_changing_kind_is_refused_too_and_one_null_or_a_fraction_is_no_change(tmp_path, small_pieces):
    from slapolicy.inputs import json_lines

    probe = kind_changing_file(tmp_path, 1)
    at = next(b for b in first_lines(probe, json_lines.BLOCK_BYTES) if b > 100)
    # An export's note column: pyarrow parses every column, so one of them changing kind is refused within a block.
    path = kind_changing_file(tmp_path, at, was="x", now=5, column="note")
    assert_refused(evaluate_march(path), f"{path}: cannot be read as JSONL: line {at}: JSON parse error: "
                                         "Column(/note) changed from string to number")
    # null (no kind) in a block, numbers with a fraction in another (pyarrow reads 100 and 100.0 as numbers alike).
    path = kind_changing_file(tmp_path, at, was=None, now=1.0, column="peak_qps")
    whole = evaluate_march(path)
    assert whole.code == 0, whole.err
    whole = evaluate_march(kind_changing_file(tmp_path, at, was=100, now=100))
    assert whole.code == 0, whole.err
    assert outputs([evaluate_march(kind_changing_file(tmp_path, at, was=100, now=100.0))]) == outputs([whole])


def test_the_kinds_of_a_file_s_pieces_agree_as_one_reading_finds_them():
    from slapolicy.inputs.json_lines import kinds_agree

    number, text = "number", "string"
    assert kinds_agree([{"requests": number}, {}, {"requests": number, "note": text}])
    assert not kinds_agree([{"requests": number}, {"note": text}, {"requests": text}])
    # Nested values (refused as rows later, but parsed first): an array's items and an object's fields.
    assert kinds_agree([{"x": ("array", None)}, {"x": ("array", number)}, {"x": ("array", number)}])
    assert not kinds_agree([{"x": ("array", number)}, {"x": ("array", text)}])
    assert kinds_agree([{"x": ("object", {"a": number})}, {"x": ("object", {"b": text})}])
    assert not kinds_agree([{"x": ("object", {"a": number})}, {"x": ("object", {"a": text})}])
    assert not kinds_agree([{"x": ("object", {})}, {"x": number}])
