"""Minutes files as analysts' tools write them: what a warehouse export, a DataFrame or a partitioned dataset holds
is read as the same minutes, or refused naming the file, row and column."""
import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import evaluate_march

# Account a, 12 March 2019 10:00-10:59 (policy time, Singapore): 100 requests a minute, 5 failures in the first
# 10 (95 % < 99 %: unavailable, §1.5), none after. 60 minutes with data, 10 unavailable.
MINUTES = [dt.datetime(2019, 3, 12, 10, m) for m in range(60)]


def counts_table(kind, requests, failures):
    return pa.table({"account": ["a"] * 60, "minute": pa.array(MINUTES, pa.timestamp("us")),
                     "requests": pa.array([requests] * 60, kind),
                     "failures": pa.array([failures] * 10 + [type(failures)(0)] * 50, kind)})


@pytest.mark.parametrize("kind,requests,failures", [
    (pa.decimal128(38, 0), Decimal(100), Decimal(5)),          # Snowflake's NUMBER(38, 0)
    (pa.decimal128(10, 2), Decimal("100.00"), Decimal("5.00")),  # a count kept with cents
    (pa.decimal256(40, 0), Decimal(100), Decimal(5)),
])
def test_decimal_counts_that_are_whole_are_read(tmp_path, kind, requests, failures):
    # A decimal column was refused: "holds values of type decimal128(38, 0); expected whole numbers or numbers or text".
    minutes = tmp_path / "m.parquet"
    pq.write_table(counts_table(kind, requests, failures), minutes)
    result = evaluate_march(minutes)
    assert result.code == 0, result.err
    (evaluation,) = json.loads(result.out)["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (60, 10)


def test_a_decimal_count_with_a_fraction_is_refused(tmp_path):
    minutes = tmp_path / "m.parquet"
    pq.write_table(counts_table(pa.decimal128(10, 2), Decimal("100.50"), Decimal("5.00")), minutes)
    result = evaluate_march(minutes)
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines()[:2] == [f"slapolicy: 60 problem(s) in minutes file {minutes}:",
                                           f"{minutes}: row 1, column 'requests': '100.50' is not a whole number"]


def dataset_file(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(counts_table(pa.int64(), 100, 5), path)
    return path


@pytest.mark.parametrize("how", ["file link", "link to the root", "hard link"])
def test_a_file_reached_twice_in_a_directory_is_refused_naming_both(tmp_path, how):
    # Read twice, its 60 minutes were refused as "minute listed twice for account 'a' (also in an earlier row)",
    # with no word of the link that made the copy.
    root = tmp_path / "minutes"
    first = dataset_file(root / "a.parquet")
    if how == "file link":
        (root / "b.parquet").symlink_to(first)
        second = root / "b.parquet"
    elif how == "link to the root":
        (root / "sub").mkdir()
        (root / "sub" / "again").symlink_to(root)
        second = root / "sub" / "again" / "a.parquet"
    else:
        (root / "b.parquet").hardlink_to(first)
        second = root / "b.parquet"
    result = evaluate_march(root)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {second}: the same file as {first} (reached again by a link): its minutes would "
                          "be read twice; remove the link from the directory\n")


def test_a_link_to_a_file_outside_the_directory_is_read_once(tmp_path):
    elsewhere = dataset_file(tmp_path / "elsewhere" / "a.parquet")
    root = tmp_path / "minutes"
    root.mkdir()
    (root / "a.parquet").symlink_to(elsewhere)
    result = evaluate_march(root)
    assert result.code == 0, result.err
    (evaluation,) = json.loads(result.out)["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (60, 10)


def test_a_minute_listed_again_in_another_file_names_that_file_and_row(tmp_path):
    # A re-export landing beside the first: its rows were each "minute listed twice for account 'a' (also in an earlier
    # row)", leaving a directory of many files to be searched. a.parquet holds 10:00-10:59 of 12 March; b.parquet
    # 10:58-11:01 (its rows 1 and 2 list a.parquet's rows 59 and 60 again). Files are read in name order.
    root = tmp_path / "minutes"
    first = dataset_file(root / "a.parquet")
    later = root / "b.parquet"
    pq.write_table(pa.table({"account": ["a"] * 4, "minute": pa.array(
        [dt.datetime(2019, 3, 12, 10, 58) + dt.timedelta(minutes=k) for k in range(4)], pa.timestamp("us")),
        "requests": [100] * 4, "failures": [0] * 4}), later)
    result = evaluate_march(root)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 2 problem(s) in minutes file {later}:\n"
        f"{later}: row 1, column 'minute': minute listed twice for account 'a' (also row 59 of {first})\n"
        f"{later}: row 2, column 'minute': minute listed twice for account 'a' (also row 60 of {first})\n"))
    dataset_file(later)  # a copy of a.parquet's 60 rows: 60 problems, the first 20 named
    result = evaluate_march(root)
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines() == [f"slapolicy: 60 problem(s) in minutes file {later}:"] + [
        f"{later}: row {row}, column 'minute': minute listed twice for account 'a' (also row {row} of {first})"
        for row in range(1, 21)] + ["... and 40 more"]


def test_the_row_that_listed_a_minute_first_is_looked_for_no_further_than_it(tmp_path, monkeypatch):
    # The error path's reading that names where a repeated minute was listed first went on decoding a.parquet's 39
    # batches after its first, which lists it. a.parquet: 40 row groups of 10 minutes from 1 March 00:00 UTC, a batch
    # each; b.parquet lists its first minute again.
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from helpers import many_batches_parquet

    import slapolicy.minutes.aggregates as aggregates
    import slapolicy.minutes.readers as readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 10)
    root = tmp_path / "minutes"
    root.mkdir()
    first = many_batches_parquet(root / "a.parquet")
    later = root / "b.parquet"
    pq.write_table(pq.read_table(first).slice(0, 1), later)
    decoded = []
    checked = aggregates.checked_batches

    def counted(part, *args, **kwargs):
        for batch in checked(part, *args, **kwargs):
            decoded.append(Path(part.path).name)
            yield batch

    monkeypatch.setattr(aggregates, "checked_batches", counted)
    result = evaluate_march(root)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 1 problem(s) in minutes file {later}:\n"
        f"{later}: row 1, column 'minute': minute listed twice for account 'acme' (also row 1 of {first})\n"))
    # The reading that finds the repeat: 40 + 1 batches; the one that names its first listing: a.parquet's first.
    assert decoded == ["a.parquet"] * 40 + ["b.parquet"] + ["a.parquet"]


@pytest.mark.parametrize("directory,message", [
    # Spark writes rows whose partition column is null under this name: they were read as an account of that name.
    ("account=__HIVE_DEFAULT_PARTITION__", "the directory account=__HIVE_DEFAULT_PARTITION__ holds rows without an "
                                           "account (Hive's and Spark's name for a missing value); every minute row "
                                           "needs its account"),
    # A blank key made the file's own account column required: "missing column(s) account (found: minute, ...)".
    ("account= ", "the directory key account=  names no account (it is blank)"),
])
def test_an_account_directory_of_no_account_is_refused(tmp_path, directory, message):
    root = tmp_path / "minutes"
    dataset_file(root / "account=a" / "p.parquet")
    part = root / directory / "p.parquet"
    pq.write_table(counts_table(pa.int64(), 100, 5).drop(["account"]), _made(part))
    result = evaluate_march(root)
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {part}: {message}\n")
    # Asked for account a only, the directory cannot hold its rows: it is never opened, as another account's.
    result = evaluate_march(root, "--account", "a")
    assert result.code == 0, result.err
    (evaluation,) = json.loads(result.out)["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("a", 60, 10)


def _made(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_parquet_file_rewritten_between_the_plan_and_the_reading_is_refused(tmp_path, monkeypatch):
    # An export landing while a replay starts: the plan read the footer of 3 row groups of 60 rows (accounts a, b, c),
    # then the file became one of 1 row group. Reading row group 1 of it ended in exit 3 (IndexError: 1 out of bounds).
    import slapolicy.minutes.aggregates as aggregates

    minutes = tmp_path / "m.parquet"
    rows = [{"account": account, "minute": minute, "requests": 100, "failures": 5} for account in "abc" for minute in MINUTES]
    pq.write_table(pa.Table.from_pylist(rows), minutes, row_group_size=60)
    planned = aggregates.plan

    def rewritten_after_planning(source, request):
        parts = planned(source, request)
        pq.write_table(counts_table(pa.int64(), 100, 5), minutes)
        return parts

    monkeypatch.setattr(aggregates, "plan", rewritten_after_planning)
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {minutes}: the file changed while it was read (its row groups are not those it held when "
               "the reading began); read it again once it is written\n")


def _changed_after_planning(monkeypatch, change):
    import slapolicy.minutes.aggregates as aggregates

    planned = aggregates.plan

    def changed(source, request):
        parts = planned(source, request)
        change()
        return parts

    monkeypatch.setattr(aggregates, "plan", changed)


def _three_files(tmp_path):
    rows = [{"account": account, "minute": minute, "requests": 100, "failures": 5} for account in "abc" for minute in MINUTES]
    directory = tmp_path / "d"
    directory.mkdir()
    for account in "ab":
        pq.write_table(pa.Table.from_pylist([r for r in rows if r["account"] == account]), directory / f"{account}.parquet")
    return directory, rows


@pytest.mark.parametrize("change, message", [
    (lambda path: path.unlink(), "the file was removed while the minutes were read (it was listed when the reading "
                                 "began)"),
    (lambda path: os.truncate(path, 100), "the file changed while it was read (it ended in a Parquet footer when the "
                                          "reading began, and no longer does: cut short, or being written)"),
])
def test_a_file_removed_or_cut_short_while_the_minutes_are_read_is_said_so(tmp_path, monkeypatch, change, message):
    # It was pyarrow's words, as if the file were not Parquet: 'cannot be read as PARQUET: [Errno 2] Failed to open
    # local file ...', 'cannot be read as PARQUET: Parquet magic bytes not found in footer. Either the file is
    # corrupted or this is not a parquet file.'
    directory, _ = _three_files(tmp_path)
    _changed_after_planning(monkeypatch, lambda: change(directory / "b.parquet"))
    result = evaluate_march(directory)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {directory / 'b.parquet'}: {message}; read it again once the files are written\n")


def test_a_file_that_appears_while_the_minutes_are_read_is_not_read(tmp_path, monkeypatch):
    directory, rows = _three_files(tmp_path)
    before = evaluate_march(directory)
    _changed_after_planning(monkeypatch, lambda: pq.write_table(
        pa.Table.from_pylist([r for r in rows if r["account"] == "c"]), directory / "c.parquet"))
    after = evaluate_march(directory)
    assert before.code == after.code == 0
    assert [e["account"] for e in after.json()["evaluations"]] == ["a", "b"]
    assert after.out == before.out
    assert [e["account"] for e in evaluate_march(directory).json()["evaluations"]] == ["a", "b", "c"]  # next time


@pytest.mark.parametrize("written,message", [
    # Beyond 64 bits, a JSON Lines number is read as a float: it was "1.8446744073709552e+19 is not a whole number".
    ("18446744073709551616", "18446744073709551616 is beyond the largest count (2^63 − 1)"),
    ("-18446744073709551616", "-18446744073709551616 is negative"),
    ("2.5", "2.5 is not a whole number"),
])
def test_a_count_read_as_a_float_is_refused_in_its_own_words(tmp_path, written, message):
    minutes = tmp_path / "m.jsonl"
    minutes.write_text(f'{{"account": "a", "minute": "2019-03-12T10:00", "requests": {written}, "failures": 0}}\n')
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: 1 problem(s) in minutes file {minutes}:\n{minutes}: row 1 (line 1), column 'requests': {message}\n")


def test_a_whole_float_count_up_to_2_63_is_read(tmp_path):
    # 2^62 + 2^61 (a float written whole, beside a fraction-free float column) is a count as an int64 holds it; it
    # was refused as "not a whole number" above 2^62. 1 failure in it: far below 1 %, available.
    minutes = tmp_path / "m.jsonl"
    minutes.write_text('{"account": "a", "minute": "2019-03-12T10:00", "requests": 6.917529027641082e18, "failures": 1}\n')
    result = evaluate_march(minutes)
    assert result.code == 0, result.err
    (evaluation,) = json.loads(result.out)["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (1, 0)


# ---------------------------------------------------------------------------- an account column of floats

FLOATS = ("column 'account' holds floating-point numbers ({kind}){why}; an account is named by text or a whole "
          "number: write the column as text or as whole numbers (a column of whole numbers with one missing is written "
          "as floating point: fill in or drop the rows without an account)")


def accounts_table(accounts, kind=None):
    """One minute a row from 12 March 2019 10:00, of the accounts given (a column of ``kind``)."""
    return pa.table({"account": pa.array(accounts, kind), "minute": pa.array(MINUTES[:len(accounts)], pa.timestamp("us")),
                     "requests": [100] * len(accounts), "failures": [0] * len(accounts)})


@pytest.mark.parametrize("accounts,kind,why", [
    # A column of whole numbers with one missing, as pandas writes it: row 3 is the one to fix.
    ([1000.0, 1001.0, None, 1000.0], pa.float64(), ": row 3 is missing"),
    ([1000.0, float("nan"), 1001.5, None, 7.25, 1.5], pa.float64(),
     ": row 2 is missing, row 3 is 1001.5, row 4 is missing and 2 more"),
    ([1000.0, 1001.0], pa.float32(), ", whole numbers read as floats (row 1 is 1000.0)"),
    ([Decimal("1000.00"), Decimal("1000.50")], pa.decimal128(10, 2), ": row 2 is 1000.5"),
])
def test_an_account_column_of_floats_is_refused_naming_the_rows_that_show_why(tmp_path, cli, accounts, kind, why):
    # It was "column 'account' holds values of type double; expected text or whole numbers": which rows, and what to
    # write, were left to the reader of a file of millions of rows.
    from conftest import DRAFT, POLICIES

    minutes = tmp_path / "m.parquet"
    pq.write_table(accounts_table(accounts, kind), minutes)
    for result in (evaluate_march(minutes), cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to",
                                                "2019-03", "--under", DRAFT)):
        assert (result.code, result.out, result.err) == (
            1, "", f"slapolicy: {minutes}: " + FLOATS.format(kind=kind, why=why) + "\n")


def test_an_account_column_of_floats_in_json_lines_or_memory_names_rows_and_lines(tmp_path):
    from slapolicy import InputError, evaluate
    from conftest import POLICIES

    minutes = tmp_path / "m.jsonl"
    # Line 2 is blank: row 2 is on line 3. Its 1001.5 makes the block's column floats.
    minutes.write_text('{"account": 1000, "minute": "2019-03-12T10:00", "requests": 100, "failures": 0}\n\n'
                       '{"account": 1001.5, "minute": "2019-03-12T10:01", "requests": 100, "failures": 0}\n')
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {minutes}: " + FLOATS.format(kind="double", why=": row 2 (line 3) is 1001.5") + "\n")
    with pytest.raises(InputError) as refused:
        evaluate(POLICIES, minutes=accounts_table([1000.0, None]), month="2019-03")
    assert str(refused.value) == "argument 'minutes': " + FLOATS.format(kind="double", why=": row 2 is missing")


def test_an_account_column_of_whole_decimals_is_read_as_its_digits(tmp_path):
    # A warehouse's NUMBER(38, 0) account id was refused as "holds values of type decimal128(38, 0)"; whole
    # numbers are read as their digits, as an integer column's are.
    minutes = tmp_path / "m.parquet"
    pq.write_table(accounts_table([Decimal(1000), Decimal(1000), Decimal(2)], pa.decimal128(38, 0)), minutes)
    result = evaluate_march(minutes)
    assert result.code == 0, result.err
    assert [(e["account"], e["minutes_with_data"]) for e in json.loads(result.out)["evaluations"]] == [
        ("1000", 2), ("2", 1)]


def test_a_billing_account_column_of_floats_is_refused_as_the_minutes_one_is(tmp_path):
    # The billing's 1000.0 was read as account '1000' and its 1000.5 as account '1000.5'.
    from conftest import REPO

    billing = tmp_path / "billing.parquet"
    pq.write_table(pa.table({"account": [1000.0, 1000.5], "month": ["2019-03"] * 2, "monthly_fee": ["10.00"] * 2,
                             "offset": ["0.00"] * 2}), billing)
    result = evaluate_march(REPO / "examples" / "ccc" / "minutes.csv", "--billing", billing)
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {billing}: " + FLOATS.format(kind="double", why=": row 2 is 1000.5") + "\n")


def test_a_count_written_with_a_zero_fraction_reads_alike_as_text_and_as_a_number(tmp_path):
    # pandas writes a column of counts that one missing value made floating point as 100.0 (DataFrame.to_csv): a CSV
    # file, or JSON Lines text, of such counts was refused ("'100.0' is not a whole number") where a JSON Lines 100.0,
    # a Parquet double or a decimal 100.00 of the same rows was read. 60 minutes of a: 10 with 5 failures of 100.
    lines = [(m.strftime("%Y-%m-%dT%H:%M"), "100.0", "5.00" if k < 10 else "0.0") for k, m in enumerate(MINUTES)]
    written = tmp_path / "pandas.csv"
    written.write_text("account,minute,requests,failures,illegal_number_failures\n" +
                       "".join(f"a,{m},{r},{f},\n" for m, r, f in lines))
    text, number = tmp_path / "text.jsonl", tmp_path / "number.jsonl"
    text.write_text("".join(json.dumps({"account": "a", "minute": m, "requests": r, "failures": f}) + "\n"
                            for m, r, f in lines))
    number.write_text("".join(json.dumps({"account": "a", "minute": m, "requests": float(r), "failures": float(f)})
                              + "\n" for m, r, f in lines))
    results = [evaluate_march(path) for path in (written, text, number)]
    assert [(r.code, r.err) for r in results] == [(0, "")] * 3
    assert results[0].out == results[1].out == results[2].out
    (evaluation,) = json.loads(results[0].out)["evaluations"]
    assert (evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == (60, 10)
    # A fraction is no count, nor is a point without digits after it or before it.
    written.write_text("account,minute,requests,failures\na,2019-03-12T10:00,100.5,0\na,2019-03-12T10:01,100.,0\n"
                       "a,2019-03-12T10:02,.0,0\na,2019-03-12T10:03, 100.00 ,0.0\n")
    result = evaluate_march(written)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: 3 problem(s) in minutes file {written}:\n"
        f"{written}: row 1 (line 2), column 'requests': '100.5' is not a whole number\n"
        f"{written}: row 2 (line 3), column 'requests': '100.' is not a whole number\n"
        f"{written}: row 3 (line 4), column 'requests': '.0' is not a whole number\n"))


@pytest.mark.parametrize("given", ["none/", "none", "exports/2019-03"])
def test_minutes_named_by_a_path_that_does_not_exist_are_said_missing_whatever_its_name(tmp_path, given):
    # A directory meant ('none/', 'exports/2019-03') was "unknown format (no extension); use .csv, .jsonl or
    # .parquet", as if it existed and were a file of another kind.
    result = evaluate_march(f"{tmp_path}/{given}")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {tmp_path}/{given}: no such file or "
                                                            "directory\n")


def test_billing_named_by_a_path_without_extension_that_does_not_exist_is_said_missing(tmp_path):
    result = evaluate_march(Path(__file__).parent.parent / "examples" / "ccc" / "minutes.csv", "--billing",
                            tmp_path / "billing")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {tmp_path / 'billing'}: no such file\n")


@pytest.mark.parametrize("by_url", [False, True])
def test_an_empty_parquet_file_among_a_datasets_files_is_said_to_be_empty(tmp_path, by_url):
    # A file still being written, or a failed job's, in a month= directory: it was 'cannot be read as PARQUET:
    # Parquet file size is 0 bytes', pyarrow's words. Nothing is evaluated, and the file is named.
    root = tmp_path / "minutes"
    dataset_file(root / "month=2019-03" / "a.parquet")
    empty = root / "month=2019-03" / "part-00001.parquet"
    empty.write_bytes(b"")
    named = f"{root.as_uri()}/month=2019-03/part-00001.parquet" if by_url else str(empty)
    result = evaluate_march(root.as_uri() if by_url else root)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {named}: an empty file (0 bytes), not a Parquet file: one still being written, "
                          "or left by a job that failed; remove it, or read the minutes once it is written\n")
    empty.unlink()
    assert evaluate_march(root).code == 0
