"""The trace's count of minute rows read without a UTC offset is the account's own, in its Service Month: it was the
whole file's without --account (every account's, of every month read) and the account's with it."""
import json

import pytest

from conftest import evaluate_march
from helpers import write_csv

# a: 3 rows with an offset; b: 2 rows without (read in Asia/Singapore); c: 1 row without in March, 4 in April.
ROWS = ([{"account": "a", "minute": f"2019-03-12T10:0{m}+08:00", "requests": 10, "failures": 0} for m in range(3)] +
        [{"account": "b", "minute": f"2019-03-12T10:0{m}", "requests": 10, "failures": 0} for m in range(2)] +
        [{"account": "c", "minute": "2019-03-12T10:00", "requests": 10, "failures": 0}] +
        [{"account": "c", "minute": f"2019-04-12T10:0{m}", "requests": 10, "failures": 0} for m in range(4)])


def timezone_steps(result) -> dict:
    assert result.code == 0, result.err
    return {e["account"]: [s["detail"] for s in e["trace"] if s["step"] == "timezone"]
            for e in json.loads(result.out)["evaluations"]}


def said(rows: int) -> list:
    return [f"{rows} minute row(s) of the account's Service Month without a UTC offset were read in Asia/Singapore"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_each_account_month_counts_its_own_rows_without_an_offset(tmp_path, fmt):
    if fmt == "csv":
        minutes = write_csv(tmp_path / "m.csv", ROWS)
    else:
        minutes = tmp_path / "m.jsonl"
        minutes.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    # Before: a [], b and c each "the minutes file's 7 timestamp(s)" (b's 2, c's 1 and c's 4 of April).
    assert timezone_steps(evaluate_march(minutes)) == {"a": [], "b": said(2), "c": said(1)}
    assert timezone_steps(evaluate_march(minutes, "--account", "b")) == {"b": said(2)}
    assert timezone_steps(evaluate_march(minutes, "--account", "c")) == {"c": said(1)}
    assert timezone_steps(evaluate_march(minutes, "--account", "a")) == {"a": []}
