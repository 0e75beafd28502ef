"""Row groups of one account each, written minute by minute (an export written account by account), are proven to
hold consecutive whole minutes by one pass (timestamps.consecutive_minutes), which spares each row's division and
checks and the search for a minute listed twice: the answer and every message must be those of the rows read and
checked one by one, and anything else (a gap, a minute listed twice, seconds, accounts out of order, a run whose
steps wrap around 64 bits) is read as before."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import POLICIES
from slapolicy.inputs.problems import Problems
from slapolicy.inputs.tables import check_minute_table
from slapolicy.inputs.timestamps import consecutive_minutes

START = 1_551_369_600_000  # 2019-02-28T16:00:00Z in ms: the first minute of March 2019 in Singapore (UTC+8)
MINUTE = 60_000
ROWS = 1440  # a day of each account's minutes


def ticks_column(values, unit="ms", tz="UTC"):
    return pa.chunked_array([pa.array(np.asarray(values, np.int64), pa.int64()).cast(pa.timestamp(unit, tz=tz))])


def consecutive(first, rows, step=MINUTE):
    return first + step * np.arange(rows, dtype=np.int64)


def test_runs_of_consecutive_minutes_are_each_rows_minute():
    ticks = np.concatenate([consecutive(START, 3), consecutive(START + 7 * MINUTE, 2)])
    found = consecutive_minutes(ticks_column(ticks), [3, 2])
    assert found.tolist() == (ticks // MINUTE).tolist() == [25856160, 25856161, 25856162, 25856167, 25856168]
    # A run may begin where the one before it ended, or before: another account's minutes.
    back = np.concatenate([consecutive(START + 5 * MINUTE, 2), consecutive(START, 2)])
    assert consecutive_minutes(ticks_column(back), [2, 2]).tolist() == (back // MINUTE).tolist()
    micro = consecutive(START * 1000, 4, MINUTE * 1000)
    assert consecutive_minutes(ticks_column(micro, "us"), [4]).tolist() == (micro // (MINUTE * 1000)).tolist()


@pytest.mark.parametrize("case", ["gap", "twice", "back", "seconds in the middle", "seconds throughout", "naive",
                                  "missing", "runs short", "runs long", "empty run", "wraps around 64 bits"])
def test_rows_that_are_not_consecutive_whole_minutes_are_left_to_the_row_checks(case):
    ticks, runs, tz, nulls = consecutive(START, 6), [6], "UTC", None
    if case == "gap":
        ticks[3:] += MINUTE
    elif case == "twice":
        ticks[3] = ticks[2]
    elif case == "back":
        ticks[[2, 3]] = ticks[[3, 2]]
    elif case == "seconds in the middle":
        ticks[3] += 1000
    elif case == "seconds throughout":
        ticks += 1000
    elif case == "naive":
        tz = None
    elif case == "missing":
        nulls = np.array([False, False, True, False, False, False])
    elif case == "runs short":
        runs = [5]
    elif case == "runs long":
        runs = [4, 3]
    elif case == "empty run":
        runs = [0, 6]
    else:  # each step is one minute modulo 2**64, the second row 2**64 ticks before the first's next minute
        first = (2 ** 63 - 1) // MINUTE * MINUTE
        ticks = np.array([first, first + MINUTE - 2 ** 64, first + 2 * MINUTE - 2 ** 64], np.int64)
        runs = [3]
        assert (np.diff(ticks) == MINUTE).all()  # as numpy sees the steps
    column = pa.chunked_array([pa.array(ticks, pa.int64(), mask=nulls).cast(pa.timestamp("ms", tz=tz))])
    assert consecutive_minutes(column, runs) is None


def test_a_batch_of_one_account_row_groups_is_checked_by_its_runs():
    """check_minute_table with the accounts its row groups' statistics prove: the runs are proven, and the rows are
    the minutes the row checks give; accounts out of name order are not runs in account order: read as before."""
    ticks = np.concatenate([consecutive(START, 4), consecutive(START, 3)])
    table = pa.table({"minute": ticks_column(ticks), "requests": pa.array([5] * 7, pa.int64()),
                      "failures": pa.array([0] * 7, pa.int64())})
    checked = check_minute_table(table, "Asia/Singapore", Problems("m.parquet", "minutes"), None,
                                 account=(("a", 4), ("b", 3)))
    assert checked.account_runs.tolist() == [0, 4]
    assert checked.minute.tolist() == (ticks // MINUTE).tolist() and checked.account_index.tolist() == [0] * 4 + [1] * 3
    unordered = check_minute_table(table, "Asia/Singapore", Problems("m.parquet", "minutes"), None,
                                   account=(("b", 4), ("a", 3)))
    assert unordered.account_runs is None and unordered.minute.tolist() == checked.minute.tolist()


def by_account_file(path, accounts=("acct-0", "acct-1", "acct-2"), edit=None, group_rows=ROWS):
    """A minutes file written account by account, a day of minutes each (``edit(account, ticks)`` changes one's),
    in row groups of ``group_rows`` (ROWS: one account each, which its statistics prove)."""
    names, minutes = [], []
    for account in accounts:
        ticks = consecutive(START, ROWS)
        if edit:
            ticks = edit(account, ticks)
        names += [account] * len(ticks)
        minutes.append(ticks)
    ticks = np.concatenate(minutes)
    rows = len(ticks)
    pq.write_table(pa.table({"account": names, "minute": ticks_column(ticks),
                             "requests": pa.array(np.full(rows, 100), pa.int64()),
                             "failures": pa.array(np.arange(rows) % 7 == 0, pa.int64())}), path, row_group_size=group_rows)
    return path


def evaluated(cli, path):
    result = cli("evaluate", POLICIES, "--minutes", path, "--month", "2019-03")
    return result.code, result.out, result.err


@pytest.mark.parametrize("edit,with_data", [
    (None, [ROWS, ROWS, ROWS]),
    (lambda account, ticks: np.delete(ticks, 100) if account == "acct-1" else ticks, [ROWS, ROWS - 1, ROWS]),
    (lambda account, ticks: ticks + MINUTE * 60 if account == "acct-2" else ticks, [ROWS, ROWS, ROWS]),
])
def test_an_evaluation_by_one_account_row_groups_is_the_one_of_the_same_rows_read_row_by_row(cli, tmp_path, edit,
                                                                                            with_data):
    """The same rows in row groups of one account each (their runs proven) and in one row group (every row checked):
    the same JSON, byte for byte; a gap in one account's minutes leaves it to the row checks, and counts alike."""
    runs = by_account_file(tmp_path / "runs.parquet", edit=edit)
    whole = by_account_file(tmp_path / "whole.parquet", edit=edit, group_rows=10 * ROWS)
    code, out, err = evaluated(cli, runs)
    assert code == 0, err
    assert (code, out) == evaluated(cli, whole)[:2]
    import json

    assert [e["minutes_with_data"] for e in json.loads(out)["evaluations"]] == with_data


@pytest.mark.parametrize("edit,message", [
    (lambda account, ticks: np.where(np.arange(len(ticks)) == 501, ticks[500], ticks) if account == "acct-1" else ticks,
     "row 1942, column 'minute': minute listed twice for account 'acct-1' (also row 1941)"),
    (lambda account, ticks: np.where(np.arange(len(ticks)) == 700, ticks + 30_000, ticks) if account == "acct-2" else ticks,
     "row 3581, column 'minute': 2019-03-01T03:40:30Z has seconds; a statistics point starts at :00 (§1.5)"),
])
def test_a_bad_row_among_one_account_row_groups_is_named_as_the_row_checks_name_it(cli, tmp_path, edit, message):
    runs = by_account_file(tmp_path / "runs.parquet", edit=edit)
    code, out, err = evaluated(cli, runs)
    assert code == 1 and out == "" and f"{runs}: {message}" in err, err
    whole = by_account_file(tmp_path / "whole.parquet", edit=edit, group_rows=10 * ROWS)
    assert f"{whole}: {message}" in evaluated(cli, whole)[2]
