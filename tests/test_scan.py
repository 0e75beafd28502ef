"""The three scans of replay (row groups, DuckDB, pyarrow) give the same result; the fast ones step aside
for anything they cannot prove clean, so the pyarrow scan can name the bad rows."""
import csv
import datetime as dt
import json

import pytest

from conftest import DRAFT, POLICIES, REPO
from slapolicy.replay import month_range, replay

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = {"incidents": EXAMPLES / "incidents.yaml", "notices": EXAMPLES / "notices.yaml",
          "billing": EXAMPLES / "billing.csv"}
SGT = dt.timezone(dt.timedelta(hours=8))


def example_rows():
    with open(EXAMPLES / "minutes.csv") as handle:
        return list(csv.DictReader(handle))


def write_parquet(path, rows, row_group_size=4096, **types):
    """Rows as Parquet with zone-aware timestamps and integer counts (what exports usually hold)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def stamp(text):
        moment = dt.datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=SGT)

    columns = {
        "account": pa.array([r["account"] for r in rows], types.get("account", pa.string())),
        "minute": pa.array([stamp(r["minute"]) for r in rows], types.get("minute", pa.timestamp("s", tz="UTC"))),
        "requests": pa.array([None if r["requests"] is None else str(r["requests"]) if "requests" in types
                              and pa.types.is_string(types["requests"]) else int(r["requests"]) for r in rows],
                             types.get("requests", pa.int64())),
        "failures": pa.array([int(r["failures"]) for r in rows], types.get("failures", pa.int64())),
        "illegal_number_failures": pa.array([int(r.get("illegal_number_failures") or 0) for r in rows], pa.int64()),
        "peak_qps": pa.array([float(r["peak_qps"]) if r.get("peak_qps") not in (None, "") else None for r in rows],
                             pa.float64())}
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def replay_with(monkeypatch, scan, minutes, start="2019-02", end="2019-04"):
    monkeypatch.setenv("SLAPOLICY_SCAN", scan)
    return replay(POLICIES, minutes=minutes, start=start, end=end, under=DRAFT, strips=True, **INPUTS)


def same_rows(*results):
    texts = {json.dumps(result["rows"], sort_keys=True) for result in results}
    return len(texts) == 1


def test_the_three_scans_agree_on_a_file_written_account_by_account(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    parquet = write_parquet(tmp_path / "m.parquet", example_rows())
    groups = pq.ParquetFile(parquet).metadata
    accounts_per_group = [groups.row_group(g).column(0).statistics for g in range(groups.num_row_groups)]
    assert any(s.min != s.max for s in accounts_per_group)  # a row group where one account ends and the next begins
    assert any(s.min == s.max for s in accounts_per_group)  # and row groups of one account (read from statistics)
    results = [replay_with(monkeypatch, scan, parquet) for scan in ("auto", "duckdb", "arrow")]
    assert [r["scanned_by"] for r in results] == ["parquet row groups", "duckdb", "pyarrow"]
    assert [r["rows_read"] for r in results] == [35820] * 3
    assert same_rows(*results)
    csv_march = replay(POLICIES, minutes=EXAMPLES / "minutes.csv", start="2019-03", end="2019-03", under=DRAFT, **INPUTS)
    assert [r["amended"] for r in csv_march["rows"]] == [r["amended"] for r in results[0]["rows"] if r["month"] == "2019-03"]


def test_accounts_interleaved_minute_by_minute_go_to_duckdb(tmp_path, monkeypatch):
    rows = sorted(example_rows(), key=lambda r: (r["minute"], r["account"]))
    parquet = write_parquet(tmp_path / "m.parquet", rows)
    fast, exact = replay_with(monkeypatch, "auto", parquet), replay_with(monkeypatch, "arrow", parquet)
    assert (fast["scanned_by"], exact["scanned_by"]) == ("duckdb", "pyarrow")
    assert same_rows(fast, exact)


def test_one_account_split_over_row_groups_and_milliseconds_are_read_alike(tmp_path, monkeypatch):
    import pyarrow as pa

    parquet = write_parquet(tmp_path / "m.parquet", example_rows(), row_group_size=1000, minute=pa.timestamp("ms", tz="UTC"))
    fast, exact = replay_with(monkeypatch, "auto", parquet), replay_with(monkeypatch, "arrow", parquet)
    assert fast["scanned_by"] == "parquet row groups"
    assert same_rows(fast, exact)


def minutes(account, start, count, requests=100, failures=0):
    first = dt.datetime.fromisoformat(start)
    return [{"account": account, "minute": (first + dt.timedelta(minutes=k)).isoformat(), "requests": requests,
             "failures": failures} for k in range(count)]


def scan_of(path):
    from slapolicy.policy import load_policy
    from slapolicy.scan_parquet import scan_row_groups

    policies = [load_policy(POLICIES / "2019-01-01.yaml"), load_policy(DRAFT)]
    return scan_row_groups(str(path), "Asia/Singapore", month_range("2019-03", "2019-03"), policies)


def test_the_row_group_scan_counts_and_keeps_only_candidate_rows(tmp_path):
    rows = minutes("a", "2019-02-28T23:58", 5) + minutes("a", "2019-03-10T10:00", 3, 100, 2) + minutes("b ", "2019-03-31T23:59", 2)
    rows[5]["illegal_number_failures"] = 2
    rows[4].update(requests=2, failures=2, illegal_number_failures=2)  # every request an illegal-number failure
    result = scan_of(write_parquet(tmp_path / "m.parquet", rows, row_group_size=4))
    assert result.rows_read == 10
    assert sorted(result.cells) == [("a", "2019-03"), ("b", "2019-03")]  # names trimmed as every reader trims them
    a, b = result.cells[("a", "2019-03")], result.cells[("b", "2019-03")]
    assert (a.totals.with_data, a.totals.traffic_all, a.totals.traffic_normal) == (6, 6, 5)
    assert (a.totals.illegal_failures, a.totals.illegal_minutes) == (4, 2)
    assert (b.totals.with_data, len(b.rows.minute)) == (1, 0)  # 2019-04-01T00:00 is outside the month
    # 98 % success is unavailable (below 99 %); with both illegal-number failures removed, 98/98 is not.
    start = int(dt.datetime(2019, 3, 10, 10, 0, tzinfo=SGT).timestamp()) // 60
    assert a.rows.minute.tolist() == [start + 1, start + 2]
    assert (a.rows.requests.tolist(), a.rows.failures.tolist(), a.rows.illegal.tolist()) == ([100, 100], [2, 2], [0, 0])


def _seconds(rows):
    rows[2]["minute"] = rows[2]["minute"][:-3] + ":30"


def _repeat_in_a_later_row_group(rows):
    rows.append(dict(rows[0]))


def _out_of_order(rows):
    rows[1], rows[2] = rows[2], rows[1]


def _negative(rows):
    rows[1]["failures"] = -1


def _more_failures_than_requests(rows):
    rows[1]["failures"] = 101


def _illegal_above_failures(rows):
    rows[1]["illegal_number_failures"] = 1


def _infinite_peak(rows):
    rows[1]["peak_qps"] = "inf"


def _missing_requests(rows):
    rows[1]["requests"] = None


def _names_that_trim_alike(rows):
    rows[-1]["account"] = " a"


def _blank_name(rows):
    rows[-1]["account"] = " "


@pytest.mark.parametrize("spoil", [_seconds, _repeat_in_a_later_row_group, _out_of_order, _negative,
                                   _more_failures_than_requests, _illegal_above_failures, _infinite_peak,
                                   _missing_requests, _names_that_trim_alike, _blank_name])
def test_the_row_group_scan_steps_aside_for_what_it_cannot_prove(tmp_path, spoil):
    rows = minutes("a", "2019-03-01T10:00", 6)
    assert scan_of(write_parquet(tmp_path / "clean.parquet", rows, row_group_size=3)) is not None
    spoil(rows)
    assert scan_of(write_parquet(tmp_path / "m.parquet", rows, row_group_size=3)) is None


@pytest.mark.parametrize("types", [{"minute": "naive"}, {"requests": "string"}, {"requests": "uint64"}])
def test_the_row_group_scan_takes_only_zone_aware_times_and_integer_counts(tmp_path, types):
    import pyarrow as pa

    chosen = {"naive": pa.timestamp("s"), "string": pa.string(), "uint64": pa.uint64()}
    rows = minutes("a", "2019-03-01T10:00", 3)
    path = write_parquet(tmp_path / "m.parquet", rows, **{k: chosen[v] for k, v in types.items()})
    assert scan_of(path) is None


def test_a_row_group_too_big_to_hold_goes_to_the_streaming_scans(tmp_path, monkeypatch):
    import slapolicy.scan_parquet as scan_parquet

    path = write_parquet(tmp_path / "m.parquet", minutes("a", "2019-03-01T10:00", 6), row_group_size=6)
    assert scan_of(path) is not None
    monkeypatch.setattr(scan_parquet, "MAX_GROUP_ROWS", 5)
    assert scan_of(path) is None


@pytest.mark.parametrize("spoil,message", [
    (_seconds, "row 3, column 'minute'"),
    (_repeat_in_a_later_row_group, "row 7, column 'minute': minute listed twice for account 'a'"),
    (_more_failures_than_requests, "row 2, column 'failures': 101 failures exceed 100 requests"),
])
def test_a_dirty_parquet_file_gets_the_exact_messages(tmp_path, cli, spoil, message):
    rows = minutes("a", "2019-03-01T10:00", 6)
    spoil(rows)
    parquet = write_parquet(tmp_path / "m.parquet", rows, row_group_size=3)
    result = cli("replay", POLICIES, "--minutes", parquet, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT)
    assert result.code == 1
    assert message in result.err
    assert result.out == ""


def test_an_unknown_scan_choice_is_refused(cli, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_SCAN", "fastest")
    result = cli("replay", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--from", "2019-03", "--to", "2019-03",
                 "--under", DRAFT)
    assert result.code == 1
    assert "SLAPOLICY_SCAN='fastest' is not one of auto, duckdb, arrow" in result.err


# ---------------------------------------------------------------------------- any clean file, any layout

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

MARCH_START = dt.datetime(2019, 2, 28, 23, 0)
one_minute = st.tuples(st.integers(0, 2 * 1440), st.integers(0, 300), st.integers(0, 100), st.integers(0, 100),
                       st.one_of(st.none(), st.floats(0, 500, allow_nan=False)))
accounts = st.dictionaries(st.sampled_from(["a", "b", " c", "d "]), st.lists(one_minute, max_size=40, unique_by=lambda m: m[0]),
                           min_size=1, max_size=3)


def rows_of(spec, order):
    rows = []
    for account, minutes_of in spec.items():
        for offset, requests, failure_share, illegal_share, peak in minutes_of:
            failures = requests * failure_share // 100
            rows.append({"account": account, "minute": (MARCH_START + dt.timedelta(minutes=offset)).isoformat(),
                         "requests": requests, "failures": failures, "peak_qps": peak,
                         "illegal_number_failures": failures * illegal_share // 100})
    if order == "account":
        rows.sort(key=lambda r: (r["account"], r["minute"]))
    elif order == "minute":
        rows.sort(key=lambda r: (r["minute"], r["account"]))
    return rows


def cells_of(result):
    return {key: (cell.totals, cell.rows.minute.tolist(), cell.rows.requests.tolist(), cell.rows.failures.tolist(),
                  cell.rows.illegal.tolist(), [repr(q) for q in cell.rows.peak_qps.tolist()], cell.rows.has_peak_qps)
            for key, cell in result.cells.items()}


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=accounts, order=st.sampled_from(["account", "minute", "as given"]), group=st.integers(1, 50))
def test_every_scan_reads_any_clean_file_alike(tmp_path, monkeypatch, spec, order, group):
    from slapolicy.policy import load_policy
    from slapolicy.scan import scan_minutes

    rows = rows_of(spec, order)
    if not rows:
        return
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=group)
    policies = [load_policy(POLICIES / "2019-01-01.yaml"), load_policy(DRAFT)]
    months = month_range("2019-03", "2019-03")
    results = {}
    for scan in ("auto", "duckdb", "arrow"):
        monkeypatch.setenv("SLAPOLICY_SCAN", scan)
        results[scan] = scan_minutes(path, "Asia/Singapore", months, policies)
    assert results["arrow"].scanner == "pyarrow"
    if order == "account":  # written account by account: the row-group scan must take it
        assert results["auto"].scanner == "parquet row groups"
    assert cells_of(results["auto"]) == cells_of(results["duckdb"]) == cells_of(results["arrow"])
    assert results["auto"].rows_read == results["arrow"].rows_read == len(rows)
