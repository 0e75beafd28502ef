"""A minute listed twice is named with the other problems of its batch (it was named only once every other problem
of the part was fixed: an analyst fixed a file twice), in every format; unless a row's account or minute was itself
refused, since that row's key is then not the one written."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import evaluate_march
from helpers import write_csv

ROWS = [{"account": "a", "minute": "2019-03-01T00:00", "requests": 10, "failures": 20},  # 20 > 10: refused
        {"account": "a", "minute": "2019-03-01T00:01", "requests": 10, "failures": 1},
        {"account": "a", "minute": "2019-03-01T00:00", "requests": 10, "failures": 1}]   # row 1's minute again


def write(tmp_path, fmt, rows):
    path = tmp_path / f"m.{fmt}"
    if fmt == "csv":
        return write_csv(path, rows)
    if fmt == "jsonl":
        import json

        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return path
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt,where", [("csv", lambda row: f"row {row} (line {row + 1})"),
                                       ("jsonl", lambda row: f"row {row} (line {row})"),
                                       ("parquet", lambda row: f"row {row}")])
def test_a_minute_listed_twice_is_named_with_the_other_problems(tmp_path, fmt, where):
    minutes = write(tmp_path, fmt, ROWS)
    result = evaluate_march(minutes)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 2 problem(s) in minutes file {minutes}:\n"
                          f"{minutes}: {where(1)}, column 'failures': 20 failures exceed 10 requests\n"
                          f"{minutes}: {where(3)}, column 'minute': minute listed twice for account 'a' (also row 1)\n")


def test_a_refused_minute_leaves_the_repeat_to_the_next_reading(tmp_path):
    # Row 2's minute cannot be read: its key is not known, so rows 1 and 3 (the same minute) are named only once
    # row 2 is fixed, as the two readings below show. The first says so: "1 problem(s)" was taken for all there were.
    rows = [dict(ROWS[1]), dict(ROWS[1], minute="2019-03-01T00:99"), dict(ROWS[1])]
    minutes = write_csv(tmp_path / "m.csv", rows)
    result = evaluate_march(minutes)
    assert result.err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
                          f"{minutes}: row 2 (line 3), column 'minute': '2019-03-01T00:99' is not an ISO 8601 minute "
                          "(YYYY-MM-DDTHH:MM[:00][offset])\n"
                          "(minutes listed twice are looked for once every row's account and minute can be read: fix "
                          "these, then run again)\n")
    rows[1]["minute"] = "2019-03-01T00:02"
    write_csv(minutes, rows)
    result = evaluate_march(minutes)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n"
                          f"{minutes}: row 3 (line 4), column 'minute': minute listed twice for account 'a' (also row 1)\n")
