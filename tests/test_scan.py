"""The one minutes path (slapolicy.minutes): every format and layout reads alike, only what can hold the
request is read, and every bad row is named."""
import csv
import datetime as dt
import json
import shutil

import pytest

from conftest import DRAFT, POLICIES, PUBLISHED, REPO
from slapolicy.replay import month_range, replay

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = {"incidents": EXAMPLES / "incidents.yaml", "notices": EXAMPLES / "notices.yaml",
          "billing": EXAMPLES / "billing.csv"}
SGT = dt.timezone(dt.timedelta(hours=8))


def example_rows():
    with open(EXAMPLES / "minutes.csv") as handle:
        return list(csv.DictReader(handle))


def stamp(text):
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SGT)


def arrow_table(rows, **types):
    """Rows as a pyarrow table with zone-aware timestamps and integer counts (what exports usually hold)."""
    import pyarrow as pa

    return pa.table({
        "account": pa.array([r["account"] for r in rows], types.get("account", pa.string())),
        "minute": pa.array([stamp(r["minute"]) for r in rows], types.get("minute", pa.timestamp("s", tz="UTC"))),
        "requests": pa.array([None if r["requests"] is None else str(r["requests"]) if "requests" in types
                              and pa.types.is_string(types["requests"]) else int(r["requests"]) for r in rows],
                             types.get("requests", pa.int64())),
        "failures": pa.array([int(r["failures"]) for r in rows], types.get("failures", pa.int64())),
        "illegal_number_failures": pa.array([int(r.get("illegal_number_failures") or 0) for r in rows], pa.int64()),
        "peak_qps": pa.array([float(r["peak_qps"]) if r.get("peak_qps") not in (None, "") else None for r in rows],
                             pa.float64())})


def write_parquet(path, rows, row_group_size=4096, **types):
    import pyarrow.parquet as pq

    pq.write_table(arrow_table(rows, **types), path, row_group_size=row_group_size)
    return path


def replay_of(minutes, start="2019-02", end="2019-04", **options):
    return replay(POLICIES, minutes=minutes, start=start, end=end, under=DRAFT, strips=True, **INPUTS, **options)


def rows_text(result):
    return json.dumps(result["rows"], sort_keys=True)


def layouts(tmp_path):
    """The shipped March as every input the path takes: formats, row-group layouts, directories, memory."""
    import pyarrow.parquet as pq

    rows = example_rows()
    by_time = sorted(rows, key=lambda r: (r["minute"], r["account"]))
    out = {"csv": EXAMPLES / "minutes.csv"}
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows))
    out["jsonl"] = jsonl
    out["parquet by account"] = write_parquet(tmp_path / "by-account.parquet", rows)
    out["parquet by time"] = write_parquet(tmp_path / "by-time.parquet", by_time, row_group_size=10_000)
    out["parquet in ms, small row groups"] = write_parquet(tmp_path / "ms.parquet", rows, row_group_size=1000,
                                                           minute=__import__("pyarrow").timestamp("ms", tz="UTC"))
    flat = tmp_path / "flat"
    hive = tmp_path / "hive"
    for account in ("acme", "globex", "initech"):
        mine = [r for r in rows if r["account"] == account]
        flat.mkdir(exist_ok=True)
        write_parquet(flat / f"{account}.parquet", mine)
        folder = hive / "month=2019-03" / f"account={account}"
        folder.mkdir(parents=True)
        pq.write_table(arrow_table(mine).drop_columns(["account"]), folder / "part-0.parquet", row_group_size=5000)
    out["directory of files"] = flat
    out["hive month=/account="] = hive
    out["in memory"] = arrow_table(rows)
    return out


@pytest.mark.slow
def test_every_format_and_layout_gives_the_same_replay(tmp_path):
    results = {name: replay_of(source) for name, source in layouts(tmp_path).items()}
    texts = {name: rows_text(result) for name, result in results.items()}
    assert len(set(texts.values())) == 1, [name for name in texts if texts[name] != texts["csv"]]
    assert {name: result["rows_read"] for name, result in results.items()} == dict.fromkeys(results, 35820)
    # 3 accounts × March; acme owes 250.00 more under the 99.95 % standard (docs/cli.md shows the same row)
    assert [(r["account"], r["month"]) for r in results["csv"]["rows"]] == [
        ("acme", "2019-03"), ("globex", "2019-03"), ("initech", "2019-03")]
    assert results["csv"]["totals"]["overall"]["delta"] == "250.00"


def without_timezone_step(evaluation):
    return dict(evaluation, trace=[step for step in evaluation["trace"] if step["step"] != "timezone"])


@pytest.mark.slow
def test_evaluate_and_claim_read_every_layout_alike(tmp_path):
    from slapolicy.api import evaluate
    from slapolicy.claims import decide_claim

    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    now = dt.datetime(2019, 4, 20, tzinfo=SGT)
    evaluations, decisions, naive = {}, {}, {}
    for k, (name, source) in enumerate(layouts(tmp_path).items()):
        result = evaluate(POLICIES, minutes=source, month="2019-03", **INPUTS)["evaluations"]
        naive[name] = [step["detail"] for step in result[0]["trace"] if step["step"] == "timezone"]
        evaluations[name] = json.dumps([without_timezone_step(e) for e in result], sort_keys=True)
        decision = decide_claim(POLICIES, claim, minutes=source, billing=INPUTS["billing"], incidents=INPUTS["incidents"],
                                notices=INPUTS["notices"], ledger=tmp_path / f"ledger-{k}.sqlite", now=now)
        decisions[name] = json.dumps({key: decision[key] for key in ("decision", "reasons", "evaluation", "compensation",
                                                                     "reconciliation")}, sort_keys=True)
    assert len(set(evaluations.values())) == 1
    assert len(set(decisions.values())) == 1
    # Text without an offset is read in the policy's timezone, and the trace says so, counting the account's rows of
    # the month (acme's 11,340, whatever the layout); Parquet here is zone-aware.
    text = ["11340 minute row(s) of the account's Service Month without a UTC offset were read in Asia/Singapore"]
    assert naive == {name: text if name in ("csv", "jsonl") else [] for name in naive}


def minutes(account, start, count, requests=100, failures=0):
    first = dt.datetime.fromisoformat(start)
    return [{"account": account, "minute": (first + dt.timedelta(minutes=k)).isoformat(), "requests": requests,
             "failures": failures} for k in range(count)]


def aggregates(source, months=("2019-03", "2019-03"), accounts=None):
    from slapolicy.minutes import read_minutes
    from slapolicy.policy import load_policy

    policies = [load_policy(PUBLISHED), load_policy(DRAFT)]
    return read_minutes(source, month_range(*months), policies, accounts=accounts)


def test_counts_and_only_candidate_rows_are_kept(tmp_path):
    rows = minutes("a", "2019-02-28T23:58", 5) + minutes("a", "2019-03-10T10:00", 3, 100, 2) + minutes("b ", "2019-03-31T23:59", 2)
    rows[5]["illegal_number_failures"] = 2
    rows[4].update(requests=2, failures=2, illegal_number_failures=2)  # every request an illegal-number failure
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows, row_group_size=4))
    assert result.rows_read == 10
    assert sorted(result.cells) == [("a", "2019-03"), ("b", "2019-03")]  # names trimmed as every reader trims them
    a, b = result.cells[("a", "2019-03")], result.cells[("b", "2019-03")]
    # a's March: 03-01T00:00, 00:01, 00:02 and three minutes on the 10th = 6 rows; 00:02's 2 requests are all
    # illegal-number failures, so 5 minutes have normal traffic; 2 + 2 illegal-number failures in 2 minutes.
    assert (a.totals.with_data, a.totals.traffic_all, a.totals.traffic_normal) == (6, 6, 5)
    assert (a.totals.illegal_failures, a.totals.illegal_minutes) == (4, 2)
    assert (b.totals.with_data, len(b.rows.minute)) == (1, 0)  # 2019-04-01T00:00 is outside the month
    # 98 % success is unavailable (below 99 %); with both illegal-number failures removed, 98/98 is not.
    start = int(dt.datetime(2019, 3, 10, 10, 0, tzinfo=SGT).timestamp()) // 60
    assert a.rows.minute.tolist() == [start + 1, start + 2]
    assert (a.rows.requests.tolist(), a.rows.failures.tolist(), a.rows.illegal.tolist()) == ([100, 100], [2, 2], [0, 0])


# ---------------------------------------------------------------------------- only what can hold the request

def _corrupt(path):
    path.write_bytes(b"PAR1 this is not a Parquet file PAR1")


@pytest.mark.slow
def test_a_hive_directory_outside_the_month_or_account_is_never_opened(tmp_path, cli):
    import pyarrow.parquet as pq

    rows = example_rows()
    for month in ("2019-02", "2019-03", "2019-04"):
        for account in ("acme", "globex", "initech"):
            folder = tmp_path / "hive" / f"month={month}" / f"account={account}"
            folder.mkdir(parents=True)
            mine = [r for r in rows if r["account"] == account]
            path = folder / "part-0.parquet"
            pq.write_table(arrow_table(mine).drop_columns(["account"]), path)
            if month != "2019-03":
                _corrupt(path)  # reading it would fail
    whole = cli("evaluate", POLICIES, "--minutes", write_parquet(tmp_path / "all.parquet", rows), "--month", "2019-03")
    hive = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03")
    assert (hive.code, hive.err) == (0, "")
    assert hive.out == whole.out
    for account in ("globex", "initech"):
        _corrupt(tmp_path / "hive" / "month=2019-03" / f"account={account}" / "part-0.parquet")
    one = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03", "--account", "acme")
    assert one.code == 0, one.err
    assert one.json()["evaluations"] == [e for e in whole.json()["evaluations"] if e["account"] == "acme"]
    everyone = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03")
    assert everyone.code == 1 and "account=globex/part-0.parquet: cannot be read as PARQUET" in everyone.err


def test_row_groups_outside_the_month_or_account_are_not_read(tmp_path):
    from slapolicy.minutes import plan, request_for
    from slapolicy.policy import load_policy

    # One row group per account and day: 3 accounts × 3 days, written account by account.
    rows = []
    for account in ("a", "b", "c"):
        for day in ("2019-02-28", "2019-03-01", "2019-04-01"):
            rows += minutes(account, f"{day}T08:00", 60)  # 08:00 SGT = 00:00 UTC: each day in its own month
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=60)
    policy = load_policy(PUBLISHED)
    march = month_range("2019-03", "2019-03")
    every = plan(path, request_for(march, policy.timezone, [policy]))
    assert [group for part in every for group in part.row_groups] == [1, 4, 7]  # the March day of a, b and c
    assert [part.row_bases for part in every] == [(60, 240, 420)]
    assert [part.proven for part in every] == [("a", "b", "c")]  # one account each: its column is not decoded
    one = plan(path, request_for(march, policy.timezone, [policy], accounts=["b"]))
    assert [group for part in one for group in part.row_groups] == [4]
    result = aggregates(path, accounts=["b"])
    assert (result.rows_read, sorted(result.cells)) == (60, [("b", "2019-03")])


def test_a_claim_reads_only_the_row_groups_of_its_account(tmp_path, monkeypatch):
    import slapolicy.minutes.aggregates as path_module  # map_parts reads each part with its read_part

    rows = minutes("a", "2019-03-05T10:00", 30, 100, 5) + minutes("b", "2019-03-05T10:00", 30, 100, 5)
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    read = []
    real = path_module.read_part
    monkeypatch.setattr(path_module, "read_part", lambda part, request: read.append(part.row_groups) or real(part, request))
    result = aggregates(path, accounts=["b"])
    assert read == [(1,)]  # row group 0 holds only 'a' (its statistics say so): not read
    assert sorted(result.cells) == [("b", "2019-03")]
    assert result.rows_read == 30 and result.cells[("b", "2019-03")].totals.with_data == 30


def test_row_groups_of_one_account_each_are_read_as_one_batch_without_their_account_column(tmp_path, monkeypatch):
    """Three row groups of 30 rows, one account each (a, ' b', c), read together as one batch of 90 rows, their
    accounts taken from the statistics: a bad row of c is named by its row of the file (60 + 6), and a request
    for a reads a's and ' b''s row groups (a name with a blank is not pruned by statistics; c's is) as one batch
    and keeps a's rows only."""
    import pyarrow.parquet as pq
    import slapolicy.inputs.tables as tables_module

    rows = minutes("a", "2019-03-05T10:00", 30) + minutes(" b", "2019-03-05T10:00", 30) + \
        minutes("c", "2019-03-05T10:00", 30)
    rows[65]["failures"] = 101
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    monkeypatch.setattr(tables_module, "_account_codes", lambda table: pytest.fail("the account column was decoded"))
    with pytest.raises(Exception) as caught:
        aggregates(path)
    assert "row 66, column 'failures': 101 failures exceed 100 requests" in str(caught.value)
    result = aggregates(path, accounts=["a"])
    assert (result.rows_read, {key: cell.totals.with_data for key, cell in result.cells.items()}) == \
        (60, {("a", "2019-03"): 30})
    rows[65]["failures"] = 0
    result = aggregates(write_parquet(tmp_path / "n.parquet", rows, row_group_size=30), accounts=["b", "c"])
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {("b", "2019-03"): 30,
                                                                                  ("c", "2019-03"): 30}


@pytest.mark.slow
def test_a_row_group_up_to_twice_the_batch_bound_is_one_batch_and_a_thread_holds_one_batch_at_a_time(
        tmp_path, monkeypatch):
    """Batches of 4 rows: row groups of 8 rows (twice the bound) are read whole, one of 9 in batches of 4, 4, 1.
    Each batch is let go before the next is decoded, so a thread never holds two: the bound on its memory."""
    import gc
    import threading
    import weakref

    import slapolicy.minutes.readers as readers
    import slapolicy.minutes.reduce as reduce_module

    monkeypatch.setattr(readers, "BATCH_ROWS", 4)
    rows = minutes("a", "2019-03-05T10:00", 25, 100, 5)  # 25 rows: row groups of 8, 8, 9 (written 8 at a time)
    rows[20]["failures"] = 101  # row 21, the 5th row of the last row group: the second batch of it
    path = write_parquet(tmp_path / "m.parquet", rows[:16], row_group_size=8)
    sizes, held, earlier = [], [], []  # each batch's rows; batches still alive when it was decoded
    real = readers._batches

    def watched(part, *pick):  # batches are read on several threads: each counts its own
        for table, *rest in real(part, *pick):
            gc.collect()
            held.append(sum(ref() is not None for thread, ref in earlier if thread == threading.get_ident()))
            sizes.append(table.num_rows)
            earlier.append((threading.get_ident(), weakref.ref(table)))
            yield (table, *rest)

    monkeypatch.setattr(reduce_module, "_batches", watched)
    assert aggregates(path).cells[("a", "2019-03")].totals.with_data == 16
    assert (sizes, held) == ([8, 8], [0, 0])

    import pyarrow.parquet as pq

    path = tmp_path / "n.parquet"
    with pq.ParquetWriter(path, arrow_table(rows).schema) as writer:
        for start, end in ((0, 8), (8, 16), (16, 25)):
            writer.write_table(arrow_table(rows[start:end]))
    assert [pq.ParquetFile(path).metadata.row_group(g).num_rows for g in range(3)] == [8, 8, 9]
    sizes.clear(), held.clear(), earlier.clear()
    with pytest.raises(Exception) as caught:
        aggregates(path)
    assert "row 21, column 'failures': 101 failures exceed 100 requests" in str(caught.value)
    # Each batch a task on the threads, then, for the problem, the part read again whole in file order.
    assert (sorted(sizes[:5]), sizes[5:], held) == ([1, 4, 4, 8, 8], [8, 8, 4, 4, 1], [0] * 10)


# ---------------------------------------------------------------------------- dirty files

def _seconds(rows):
    rows[2]["minute"] = rows[2]["minute"][:-3] + ":30"


def _repeat_in_a_later_row_group(rows):
    rows.append(dict(rows[0]))


def _repeat_in_the_same_row_group(rows):
    rows[2] = dict(rows[1])


def _more_failures_than_requests(rows):
    rows[1]["failures"] = 101


@pytest.mark.parametrize("spoil,message", [
    (_seconds, "row 3, column 'minute': 2019-03-01T02:02:30Z has seconds; a statistics point starts at :00 (§1.5)"),
    (_repeat_in_a_later_row_group, "row 7, column 'minute': minute listed twice for account 'a' (also row 1)"),
    (_repeat_in_the_same_row_group, "row 3, column 'minute': minute listed twice for account 'a' (also row 2)"),
    (_more_failures_than_requests, "row 2, column 'failures': 101 failures exceed 100 requests"),
])
@pytest.mark.parametrize("command", ["evaluate", "replay"])
def test_a_dirty_parquet_file_gets_the_exact_messages(tmp_path, cli, monkeypatch, spoil, message, command):
    import slapolicy.minutes.readers as path_module

    monkeypatch.setattr(path_module, "BATCH_ROWS", 3)  # each row group of 3 rows its own batch
    rows = minutes("a", "2019-03-01T10:00", 6)
    spoil(rows)
    parquet = write_parquet(tmp_path / "m.parquet", rows, row_group_size=3)
    if command == "evaluate":
        result = cli("evaluate", POLICIES, "--minutes", parquet, "--month", "2019-03")
    else:
        result = cli("replay", POLICIES, "--minutes", parquet, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT)
    assert result.code == 1
    assert f"{parquet}: {message}" in result.err
    assert result.out == "" and "Traceback" not in result.err


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


def expected_cells(rows):
    """The definition, row by row in Python: counts of every March row, and the rows unavailable below 99 %
    (published) or 99 % after removing §5.10 failures (both versions remove them)."""
    first = int(dt.datetime(2019, 3, 1, tzinfo=SGT).timestamp()) // 60
    end = int(dt.datetime(2019, 4, 1, tzinfo=SGT).timestamp()) // 60
    cells = {}
    for row in rows:
        minute = int(stamp(row["minute"]).timestamp()) // 60
        if not first <= minute < end:
            continue
        r, f, i = row["requests"], row["failures"], row["illegal_number_failures"]
        counts, kept = cells.setdefault(row["account"].strip(), ([0] * 5, []))
        for k, value in enumerate((1, r > 0, r - i > 0, i, i > 0)):
            counts[k] += int(value)
        if r - i > 0 and 100 * (r - f) < 99 * (r - i):  # (r−f)/(r−i) < 99 %, i removed from both
            kept.append((minute, r, f, i, repr(row["peak_qps"] if row["peak_qps"] is not None else float("nan"))))
    return {(name, "2019-03"): (tuple(counts), sorted(kept)) for name, (counts, kept) in cells.items()}


def cells_of(result):
    return {key: ((cell.totals.with_data, cell.totals.traffic_all, cell.totals.traffic_normal,
                   cell.totals.illegal_failures, cell.totals.illegal_minutes),
                  list(zip(cell.rows.minute.tolist(), cell.rows.requests.tolist(), cell.rows.failures.tolist(),
                           cell.rows.illegal.tolist(), [repr(q) for q in cell.rows.peak_qps.tolist()])))
            for key, cell in result.cells.items()}


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=accounts, order=st.sampled_from(["account", "minute", "as given"]), group=st.integers(1, 50),
       kind=st.sampled_from(["parquet", "csv"]))
def test_any_clean_file_in_any_order_reads_as_the_definition_says(tmp_path, spec, order, group, kind):
    import slapolicy.minutes.readers as path_module

    rows = rows_of(spec, order)
    if not rows:
        return
    if kind == "parquet":
        path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=group)
    else:
        path = tmp_path / "m.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows([dict(r, peak_qps="" if r["peak_qps"] is None else repr(r["peak_qps"]),
                                   minute=r["minute"] + "+08:00") for r in rows])
    saved = path_module.BATCH_ROWS
    path_module.BATCH_ROWS = group  # several batches per file, so repeats across batches are looked for too
    try:
        result = aggregates(path)
    finally:
        path_module.BATCH_ROWS = saved
    expected = expected_cells(rows)
    inside = sum(counts[0] for counts, _ in expected.values())
    # Text is read whole; Parquet row groups wholly outside March are not read at all.
    assert result.rows_read == len(rows) if kind == "csv" else inside <= result.rows_read <= len(rows)
    assert cells_of(result) == expected


@pytest.mark.parametrize("keep_statistics", [True, False])
def test_a_row_that_disagrees_with_its_account_directory_is_refused(tmp_path, cli, keep_statistics):
    import pyarrow.parquet as pq

    # globex's 11340 rows, account column and all, filed under account=acme: they were counted as acme's.
    globex = [r for r in example_rows() if r["account"] == "globex"]
    folder = tmp_path / "hive" / "month=2019-03" / "account=acme"
    folder.mkdir(parents=True)
    pq.write_table(arrow_table(globex), folder / "part-0.parquet", write_statistics=keep_statistics)
    result = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03")
    assert result.code == 1 and result.out == ""
    assert "column 'account': account 'globex' in the directory account=acme" in result.err


@pytest.mark.slow
def test_a_csv_beside_the_parquet_files_of_a_directory_is_refused(tmp_path, cli):
    # It used to be skipped silently: minutes someone meant to count, or a copy that would count twice.
    folder = tmp_path / "minutes"
    folder.mkdir()
    write_parquet(folder / "a.parquet", example_rows())
    (folder / "b.csv").write_text((EXAMPLES / "minutes.csv").read_text())
    result = cli("evaluate", POLICIES, "--minutes", folder, "--month", "2019-03")
    assert result.code == 1 and result.out == ""
    assert (f"{folder / 'b.csv'}: a directory of minutes is read as Parquet files only; this file would not be read"
            in result.err)


# ---------------------------------------------------------------------------- ordered batches: one pass each

def _time_sorted(accounts, start, count, requests=100):
    """``count`` minutes from ``start``, every account at each minute, written as time goes."""
    return sorted((r for account in accounts for r in minutes(account, start, count, requests)),
                  key=lambda r: (r["minute"], r["account"]))


def test_batches_cut_inside_a_minute_are_not_read_twice(tmp_path, monkeypatch):
    """Written as time goes and cut every 4 rows (inside a minute of 3 accounts): each account's minute ranges
    of neighbouring batches touch but do not overlap, so no second reading is needed."""
    import slapolicy.minutes.aggregates as aggregates_module
    import slapolicy.minutes.readers as path_module

    monkeypatch.setattr(path_module, "BATCH_ROWS", 4)
    rows = _time_sorted(["a", "b", "c"], "2019-03-01T00:00", 10)  # 30 rows: batches of 4 cut minutes 1, 2, 4, ...
    rows[13]["failures"] = 50  # minute 4 of account b: 50 % success, unavailable
    monkeypatch.setattr(aggregates_module, "_repeats_across_batches",
                        lambda parts, request: pytest.fail("the file was read a second time"))
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows, row_group_size=4))
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {
        ("a", "2019-03"): 10, ("b", "2019-03"): 10, ("c", "2019-03"): 10}
    first = int(dt.datetime(2019, 3, 1, tzinfo=SGT).timestamp()) // 60
    assert result.cells[("b", "2019-03")].rows.minute.tolist() == [first + 4]
    assert result.cells[("a", "2019-03")].rows.minute.tolist() == []


def test_an_account_missing_from_a_batch_s_first_and_last_minutes_keeps_its_range(tmp_path, monkeypatch):
    """Account d appears only in the middle minute of a batch (not in its first two or last two minutes): its
    range comes from its own rows, so a repeat of that minute in the next batch is still found."""
    import slapolicy.minutes.aggregates as aggregates_module
    import slapolicy.minutes.readers as path_module

    monkeypatch.setattr(path_module, "BATCH_ROWS", 11)
    rows = _time_sorted(["a", "b"], "2019-03-01T00:00", 6)  # 12 rows, minutes 0-5
    rows.insert(6, minutes("d", "2019-03-01T00:02", 1)[0])  # batch 1 = rows 1-11: minutes 0-4, d at minute 2
    once = list(rows)
    rows.insert(11, dict(rows[6]))  # batch 2 = rows 12-14: d at minute 2 again, then a and b at minute 5
    with pytest.raises(Exception) as caught:
        aggregates(write_parquet(tmp_path / "m.parquet", rows, row_group_size=11))
    assert "row 12, column 'minute': minute listed twice for account 'd' (also row 7)" in str(caught.value)
    monkeypatch.setattr(aggregates_module, "_repeats_across_batches",
                        lambda parts, request: pytest.fail("the file was read a second time"))
    result = aggregates(write_parquet(tmp_path / "n.parquet", once, row_group_size=11))
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {
        ("a", "2019-03"): 6, ("b", "2019-03"): 6, ("d", "2019-03"): 1}


def test_a_repeat_across_batches_cut_inside_a_minute_is_named(tmp_path, monkeypatch):
    import slapolicy.minutes.readers as path_module

    monkeypatch.setattr(path_module, "BATCH_ROWS", 4)
    rows = _time_sorted(["a", "b", "c"], "2019-03-01T00:00", 3)  # 9 rows: batch 1 = minute 0 and a at minute 1
    rows.insert(4, dict(rows[3]))  # a at minute 1 again, as row 5: the first row of the second batch
    with pytest.raises(Exception) as caught:
        aggregates(write_parquet(tmp_path / "m.parquet", rows, row_group_size=4))
    assert "row 5, column 'minute': minute listed twice for account 'a' (also row 4)" in str(caught.value)


def test_a_file_written_as_time_goes_is_counted_by_its_rounds_and_the_rest(tmp_path, monkeypatch):
    """Accounts a, b, c every minute for 20 minutes, but b is missing at minutes 5 and 12: 58 rows in one batch,
    counted as 18 whole rounds of three accounts plus the pieces [a, c] (minutes 5 and 12), and minute 19 cut
    by a batch of 40 rows: a = c = 20 minutes, b = 18."""
    import slapolicy.minutes.readers as path_module

    rows = [r for r in _time_sorted(["a", "b", "c"], "2019-03-01T00:00", 20)
            if not (r["account"] == "b" and r["minute"][11:16] in ("00:05", "00:12"))]
    assert len(rows) == 58
    rows[1]["requests"] = 0  # b at minute 0 had no calls: a minute with data, without traffic
    expected = {("a", "2019-03"): (20, 20), ("b", "2019-03"): (18, 17), ("c", "2019-03"): (20, 20)}
    for batch in (58, 40):  # one batch; two batches cut inside minute 13 (row 40 is b at minute 13)
        monkeypatch.setattr(path_module, "BATCH_ROWS", batch)
        result = aggregates(write_parquet(tmp_path / f"m{batch}.parquet", rows, row_group_size=1000))
        assert {key: (cell.totals.with_data, cell.totals.traffic_all) for key, cell in result.cells.items()} == expected


def test_a_timestamp_with_seconds_is_named_in_a_file_written_as_time_goes(tmp_path):
    """20 accounts × 5 minutes written as time goes (each timestamp divided once for its 20 rows): row 47, the
    7th account at minute 2, is 30 s late and named; the rows beside it, in the same minute, are not."""
    rows = _time_sorted([f"acct-{k:02d}" for k in range(20)], "2019-03-01T00:00", 5)
    rows[46]["minute"] = "2019-03-01T00:02:30"
    with pytest.raises(Exception) as caught:
        aggregates(write_parquet(tmp_path / "m.parquet", rows))
    assert "1 problem(s)" in str(caught.value)
    assert "row 47, column 'minute': 2019-02-28T16:02:30Z has seconds; a statistics point starts at :00 (§1.5)" \
        in str(caught.value)


def test_counts_out_of_order_in_whole_number_columns_are_each_named_in_order(tmp_path):
    """Columns of 64-bit integers: requests ≥ failures ≥ illegal-number failures ≥ 0 is proven for a whole batch
    at once; when it fails, every count is checked on its own, column by column, as for any other file. A count
    refused (negative) is not compared with its neighbours: "0 failures exceed -5 requests" said nothing more."""
    rows = minutes("a", "2019-03-05T10:00", 7, 100, 1)
    for row in rows:
        row["illegal_number_failures"] = 0
    rows[1].update(requests=-5, failures=0)  # row 2: negative requests only
    rows[3]["illegal_number_failures"] = 3  # row 4: 3 > 1 failures
    rows[4]["illegal_number_failures"] = -1  # row 5
    rows[5]["failures"] = -1  # row 6: negative failures only (the 0 illegal-number failures are not compared)
    rows[6].update(failures=101, illegal_number_failures=-2)  # row 7: 101 > 100 requests, and -2 negative: both
    path = write_parquet(tmp_path / "m.parquet", rows)
    with pytest.raises(Exception) as caught:
        aggregates(path)
    assert str(caught.value).splitlines() == [
        f"6 problem(s) in minutes file {path}:",
        f"{path}: row 2, column 'requests': -5 is negative",
        f"{path}: row 6, column 'failures': -1 is negative",
        f"{path}: row 5, column 'illegal_number_failures': -1 is negative",
        f"{path}: row 7, column 'illegal_number_failures': -2 is negative",
        f"{path}: row 7, column 'failures': 101 failures exceed 100 requests",
        f"{path}: row 4, column 'illegal_number_failures': 3 illegal-number failures exceed 1 failures"]


def test_a_count_column_its_statistics_prove_zero_is_not_decoded(tmp_path, monkeypatch):
    """Two row groups of 3 rows (one batch each): the first's illegal-number failures are 0 in every row, its
    statistics say so (min = max = 0, none missing), so the column is not decoded there and reads as zeros, as
    in a file without it; the second holds one (row 5) and is decoded. Counts (§5.10): 6 minutes with data and
    traffic, 6 with traffic once the illegal-number failures are removed (100 − 1 > 0), 1 illegal-number
    failure, in 1 minute."""
    import slapolicy.minutes.readers as readers
    import slapolicy.minutes.reduce as reduce_module

    monkeypatch.setattr(readers, "BATCH_ROWS", 3)
    rows = minutes("a", "2019-03-05T10:00", 6, 100, 2)
    for row in rows:
        row["illegal_number_failures"] = 0
    rows[4]["illegal_number_failures"] = 1
    decoded, real = [], readers._batches  # (rows before the batch, its columns): batches are read on threads
    monkeypatch.setattr(reduce_module, "_batches", lambda part, *pick: (
        decoded.append((batch[2], batch[0].column_names)) or batch for batch in real(part, *pick)))
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows, row_group_size=3))
    read = ["minute", "requests", "failures"]  # the account, too, is proven by the statistics (min = max = 'a')
    assert sorted(decoded) == [(0, read + ["peak_qps"]), (3, read + ["illegal_number_failures", "peak_qps"])]
    totals = result.cells[("a", "2019-03")].totals
    assert (totals.with_data, totals.traffic_all, totals.traffic_normal, totals.illegal_failures,
            totals.illegal_minutes) == (6, 6, 6, 1, 1)


def test_what_the_count_bounds_prove_is_not_checked_again_row_by_row():
    """Row 2 holds 7 failures of 5 requests. Bounds that prove failures ≤ requests (failures 0-4, requests 5-9:
    a row group's statistics) are taken as proven, as statistics already decide which row groups are read;
    bounds that do not (failures 0-7) leave the check to the rows, which name row 2."""
    import pyarrow as pa

    from slapolicy.inputs.problems import Problems
    from slapolicy.inputs.tables import check_minute_table

    table = pa.table({"account": ["a", "a"], "minute": pa.array([0, 60], pa.timestamp("s", tz="UTC")),
                      "requests": pa.array([5, 5], pa.int64()), "failures": pa.array([1, 7], pa.int64())})
    found = []
    for bounds in ({"requests": (5, 9), "failures": (0, 4)}, {"requests": (5, 9), "failures": (0, 7)}):
        problems = Problems("m.parquet", "minutes")
        check_minute_table(table, "Asia/Singapore", problems, None, bounds=bounds)
        found.append((problems.total, problems.items))
    assert found == [(0, []), (1, ["m.parquet: row 2, column 'failures': 7 failures exceed 5 requests"])]


def test_a_minute_going_back_between_rounds_is_not_taken_for_time_order(tmp_path):
    """Written as time goes (each run of one timestamp read once), but minute 1 holds accounts 0-9 only and is
    followed by minute 0 again for account 15: the account code rises there (9 → 15) while the minute goes back,
    so the batch is not in time order, and the repeat of account 15 at minute 0 is named."""
    accounts = [f"acct-{k:02d}" for k in range(20)]
    rows = _time_sorted(accounts, "2019-03-01T00:00", 1) + _time_sorted(accounts[:10], "2019-03-01T00:01", 1) + \
        minutes("acct-15", "2019-03-01T00:00", 1) + _time_sorted(accounts, "2019-03-01T00:02", 5)
    assert len(rows) == 131 and rows[30]["account"] == "acct-15"
    with pytest.raises(Exception) as caught:
        aggregates(write_parquet(tmp_path / "m.parquet", rows))
    assert str(caught.value).splitlines()[1:] == [
        f"{tmp_path / 'm.parquet'}: row 31, column 'minute': minute listed twice for account 'acct-15' (also row 16)"]


def test_a_request_for_many_accounts_keeps_theirs_in_a_file_written_as_time_goes(tmp_path):
    """12 accounts × 3 minutes in one row group; a request for 10 of them (looked up by their dictionary index,
    not compared one by one) keeps 3 minutes of each and nothing of the other two."""
    accounts = [f"acct-{k:02d}" for k in range(12)]
    path = write_parquet(tmp_path / "m.parquet", _time_sorted(accounts, "2019-03-01T00:00", 3))
    result = aggregates(path, accounts=accounts[1:11])
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {
        (name, "2019-03"): 3 for name in accounts[1:11]}


def test_a_claim_in_a_file_written_as_time_goes_keeps_its_rows_whole(tmp_path):
    """20 accounts × 5 minutes, every row with its peak QPS (k + minute / 10 for acct-k): a request for acct-07
    picks its rows out of each batch (numbers, timestamps and the dictionary of names each by their own
    positions) and keeps its one unavailable minute whole: minute 3, 100 requests, 50 failures, 7.3 QPS."""
    import pyarrow as pa

    rows = _time_sorted([f"acct-{k:02d}" for k in range(20)], "2019-03-01T00:00", 5)
    for row in rows:
        row["peak_qps"] = int(row["account"][5:]) + int(row["minute"][15]) / 10
    rows[3 * 20 + 7]["failures"] = 50
    path = tmp_path / "m.parquet"
    __import__("pyarrow.parquet").parquet.write_table(
        arrow_table(rows).set_column(5, "peak_qps", pa.array([r["peak_qps"] for r in rows], pa.float64())), path)
    cell = aggregates(path, accounts=["acct-07"]).cells[("acct-07", "2019-03")]
    first = int(dt.datetime(2019, 3, 1, tzinfo=SGT).timestamp()) // 60
    assert (cell.totals.with_data, cell.rows.minute.tolist(), cell.rows.requests.tolist(), cell.rows.failures.tolist(),
            cell.rows.peak_qps.tolist()) == (5, [first + 3], [100], [50], [7.3])


@pytest.mark.slow
def test_reading_parquet_never_loads_pyarrow_compute(tmp_path):
    """Whole numbers, timestamps and a dictionary of names are read, checked and picked without pyarrow.compute,
    whose import alone costs 0.05 s of a command's start (text columns still use it)."""
    import subprocess
    import sys

    path = write_parquet(tmp_path / "m.parquet", _time_sorted([f"acct-{k:02d}" for k in range(20)],
                                                               "2019-03-01T00:00", 5))
    arrow_table_of = __import__("pyarrow.parquet").parquet.read_table(path)
    assert arrow_table_of.column("account").type == __import__("pyarrow").string()
    script = (f"import sys\nfrom slapolicy.minutes import read_minutes\nfrom slapolicy.policy import load_policy\n"
              f"from slapolicy.replay import month_range\npolicy = load_policy({str(PUBLISHED)!r})\n"
              f"for accounts in (None, ['acct-07']):\n"
              f"    result = read_minutes({str(path)!r}, month_range('2019-03', '2019-03'), [policy], accounts=accounts)\n"
              f"    assert len(result.cells) == (20 if accounts is None else 1)\n"
              f"print('pyarrow.compute' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"


def test_a_claim_reads_every_spelling_of_its_account_in_a_file_written_as_time_goes(tmp_path):
    """The dictionary holds 'b' and ' b' (the same account once trimmed) among others: a request for b keeps the
    rows of both, 3 + 2 minutes, and no row of a or c."""
    rows = _time_sorted(["a", "b", "c"], "2019-03-01T00:00", 5)
    for row in rows:
        if row["account"] == "b" and row["minute"][11:16] in ("00:03", "00:04"):
            row["account"] = " b"
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows), accounts=["b"])
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {("b", "2019-03"): 5}
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows), accounts=["a"])
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {("a", "2019-03"): 5}


def test_a_dictionary_out_of_order_or_with_blanks_reads_as_plain_names(tmp_path):
    """Parquet dictionaries are usually the names in order; one that is not (or holds names that trimming makes
    equal) takes the general path, with the same result."""
    rows = minutes("zeta", "2019-03-01T00:00", 2) + minutes("alpha", "2019-03-01T00:00", 2) + \
        minutes(" alpha", "2019-03-01T00:02", 1)
    result = aggregates(write_parquet(tmp_path / "m.parquet", rows))
    assert {key: cell.totals.with_data for key, cell in result.cells.items()} == {
        ("alpha", "2019-03"): 3, ("zeta", "2019-03"): 2}


# ---------------------------------------------------------------------------- what a claim records of its minutes

def _claim(tmp_path, path, account="b"):
    """Decide one claim on ``path``; (the decision, the ledger's record of the minutes)."""
    from slapolicy import Engine
    from slapolicy.ledger import Ledger

    ledger = tmp_path / f"ledger-{len(list(tmp_path.glob('ledger-*')))}.sqlite"
    claim = {"account": account, "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
             "channel": "work_order", "event_report": "calls failed", "failure_records": ["c-1"],
             "unavailability": [{"start": "2019-03-05T10:00+08:00", "end": "2019-03-05T10:30+08:00"}]}
    decision = Engine(POLICIES, ledger=ledger).decide_claim(claim, minutes=path,
                                                            now=dt.datetime(2019, 4, 20, tzinfo=SGT))
    with Ledger(ledger, readonly=True) as book:
        return decision, book.inputs(decision["decision_id"])["files"]["minutes"]


def test_a_claim_records_the_digest_of_the_bytes_it_read_not_of_the_whole_file(tmp_path):
    """One row group per account: the claim for b hashes the footer and b's row group. Bytes of a's row group
    (never read) may change without changing the record; a change to b's rows changes it."""
    import pyarrow.parquet as pq

    rows = minutes("a", "2019-03-05T10:00", 30, 100, 5) + minutes("b", "2019-03-05T10:00", 30, 100, 5)
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    decision, record = _claim(tmp_path, path)
    assert record["sha256_of"] == "the bytes read" and record["path"] == str(path.resolve())
    assert record["sha256"] != __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    # Overwrite a's column chunks (row group 0) with zeros: the footer and b's row group are as they were.
    chunk = pq.read_metadata(path).row_group(0).column(2)  # requests of row group 0
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = bytes(chunk.total_compressed_size)
    path.write_bytes(bytes(data))
    again, same = _claim(tmp_path, path)
    assert same["sha256"] == record["sha256"] and again["decision"] == decision["decision"]
    rows[45]["failures"] = 60  # one more of b's minutes unavailable
    write_parquet(path, rows, row_group_size=30)
    _, changed = _claim(tmp_path, path)
    assert changed["sha256"] != record["sha256"]


def test_a_claim_hashes_the_bytes_it_reads_while_it_reads_them(tmp_path, monkeypatch):
    """The digest of the bytes read and the reading of b's row group meet at a barrier of two (done one after the
    other, the first would wait alone and the barrier break after 10 s); the record is the digest of those
    bytes, as read_digest gives it."""
    import threading

    import slapolicy.minutes.aggregates as aggregates_module
    from slapolicy.minutes import plan, read_digest, request_for
    from slapolicy.policy import load_policy

    barrier = threading.Barrier(2, timeout=10)
    for name in ("read_digest", "read_part"):
        real = getattr(aggregates_module, name)
        monkeypatch.setattr(aggregates_module, name, lambda *a, _real=real: barrier.wait() is None or _real(*a))
    rows = minutes("a", "2019-03-05T10:00", 30, 100, 5) + minutes("b", "2019-03-05T10:00", 30, 100, 5)
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    decision, record = _claim(tmp_path, path)
    policy = load_policy(PUBLISHED)
    parts = plan(path, request_for(month_range("2019-03", "2019-03"), policy.timezone, [policy], ["b"]))
    assert [part.row_groups for part in parts] == [(1,)]
    assert (decision["decision"], record["sha256"]) == ("denied", read_digest(path, parts))


def test_the_digest_of_the_bytes_read_hashes_the_footer_then_each_chunk_in_fewest_reads(tmp_path, monkeypatch):
    """The digest is sha256 of its header, then each file's name, kind and row groups, footer and column chunks in
    order, whatever the reads; chunks that lie one after the other are read together (a claim by time: 116 reads of
    the 500-account month's 24 MB were 24), each read at most DIGEST_BLOCK bytes."""
    import hashlib

    import pyarrow.parquet as pq

    from slapolicy.minutes import plan, read_digest, readers, request_for
    from slapolicy.policy import load_policy

    rows = [row for account in "abc" for row in minutes(account, "2019-03-05T10:00", 30, 100, 5)]
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    policy = load_policy(PUBLISHED)
    data, metadata = path.read_bytes(), pq.read_metadata(path)
    footer = int.from_bytes(data[-8:-4], "little") + 8

    def expected(groups):
        digest = hashlib.sha256(b"slapolicy minutes read digest 1\n" + f"m.parquet\tparquet\t{groups}\n".encode())
        digest.update(data[-footer:])
        for group in groups:
            for c in range(metadata.num_columns):
                chunk = metadata.row_group(group).column(c)
                start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
                digest.update(data[start:start + chunk.total_compressed_size])
        return digest.hexdigest()

    reads = []

    class Counted:  # the file read_digest opens, its reads counted
        def __init__(self, *args):
            self.file = open(*args)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def read(self, size=-1):
            reads.append(size)
            return self.file.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    monkeypatch.setattr(readers, "open", Counted, raising=False)
    for accounts, groups in ((["b"], [1]), (["a", "b", "c"], [0, 1, 2])):
        parts = plan(path, request_for(month_range("2019-03", "2019-03"), policy.timezone, [policy], accounts))
        reads.clear()
        assert read_digest(path, parts) == expected(groups)
        assert len(reads) == 3  # the footer's length, the footer, the row groups' chunks together (was 2 + 5 a group)
        monkeypatch.setattr(readers, "DIGEST_BLOCK", 7)
        reads.clear()
        assert read_digest(path, parts) == expected(groups)
        assert reads[0] == 4 and max(reads) == 7  # the footer's length, then 7 bytes at most a read
        monkeypatch.setattr(readers, "DIGEST_BLOCK", 1 << 20)


def test_audit_names_a_change_in_the_bytes_a_claim_read(tmp_path, cli):
    rows = minutes("a", "2019-03-05T10:00", 30, 100, 5) + minutes("b", "2019-03-05T10:00", 30, 100, 5)
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    _claim(tmp_path, path)
    ledger = tmp_path / "ledger-0.sqlite"
    assert cli("audit", ledger).code == 0
    rows[40]["failures"] = 0  # b's minute 10: no longer unavailable
    write_parquet(path, rows, row_group_size=30)
    result = cli("audit", ledger)
    assert result.code == 1
    assert f"input minutes {path.resolve()} changed since the decision (the bytes read sha256 " in result.out


# ---------------------------------------------------------------------------- only the requested accounts' rows

def test_a_claim_checks_only_its_account_s_rows_and_names_its_own_bad_row_exactly(tmp_path, cli):
    """A file written as time goes holds every account in every row group: a claim for a reads them all, but
    checks and keeps a's rows only. Another account's bad row does not refuse it; a's own is named by its row
    and line in the file, in Parquet and CSV alike."""
    rows = _time_sorted(["a", "b", "c"], "2019-03-05T10:00", 30, 100)  # 90 rows: a, b, c at each minute
    rows[4]["failures"] = 101  # b at minute 1: more failures than requests
    parquet = write_parquet(tmp_path / "m.parquet", rows, row_group_size=40)
    decision, _ = _claim(tmp_path, parquet, account="a")
    assert decision["decision"] == "denied" and decision["evaluation"]["minutes_with_data"] == 30
    assert cli("evaluate", POLICIES, "--minutes", parquet, "--month", "2019-03").code == 1  # every account: refused
    rows[45]["failures"] = 102  # a at minute 15: row 46 of the file
    for path in (write_parquet(tmp_path / "n.parquet", rows, row_group_size=40),):
        with pytest.raises(Exception) as caught:
            _claim(tmp_path, path, account="a")
        assert str(caught.value) == (f"1 problem(s) in minutes file {path}:\n"
                                     f"{path}: row 46, column 'failures': 102 failures exceed 100 requests")
    text = tmp_path / "m.csv"
    with open(text, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["account", "minute", "requests", "failures"])
        writer.writeheader()
        writer.writerows(dict(r, minute=r["minute"] + "+08:00") for r in rows)
    with pytest.raises(Exception) as caught:
        _claim(tmp_path, text, account="a")
    assert str(caught.value).endswith(f"{text}: row 46 (line 47), column 'failures': 102 failures exceed 100 requests")


def test_a_repeat_in_a_claimant_s_rows_names_both_rows_of_the_file(tmp_path):
    rows = _time_sorted(["a", "b"], "2019-03-05T10:00", 5, 100)  # a0 b0 a1 b1 ...
    rows.insert(7, dict(rows[6]))  # a at minute 3 again: rows 7 and 8 of the file
    path = write_parquet(tmp_path / "m.parquet", rows)
    with pytest.raises(Exception) as caught:
        aggregates(path, accounts=["a"])
    assert f"{path}: row 8, column 'minute': minute listed twice for account 'a' (also row 7)" in str(caught.value)


def test_the_accounts_listed_are_those_with_minutes_in_the_month_whatever_the_layout(tmp_path, cli):
    """An account with rows only in February: in one file its rows are read (the batch holds March rows too),
    in row groups or a month= directory they are never opened. Either way March lists only the accounts
    with March rows (and billed ones): the layout does not decide who is a customer."""
    import pyarrow.parquet as pq

    rows = minutes("gone", "2019-02-27T10:00", 3) + minutes("a", "2019-03-02T10:00", 3, 100, 50)
    flat = tmp_path / "m.csv"
    with open(flat, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["account", "minute", "requests", "failures"])
        writer.writeheader()
        writer.writerows(dict(r, minute=r["minute"] + "+08:00") for r in rows)
    grouped = write_parquet(tmp_path / "m.parquet", rows, row_group_size=3)  # February's row group is pruned
    hive = tmp_path / "hive"
    for month, part in (("2019-02", rows[:3]), ("2019-03", rows[3:])):
        (hive / f"month={month}").mkdir(parents=True)
        pq.write_table(arrow_table(part), hive / f"month={month}" / "part-0.parquet")
    listed = []
    for source in (flat, grouped, hive):
        result = cli("evaluate", POLICIES, "--minutes", source, "--month", "2019-03")
        assert result.code == 0, result.err
        listed.append([(e["account"], e["minutes_with_data"]) for e in result.json()["evaluations"]])
    assert listed == [[("a", 3)]] * 3
    billing = tmp_path / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\ngone,2019-03,100.00,0.00\n")
    result = cli("evaluate", POLICIES, "--minutes", flat, "--month", "2019-03", "--billing", billing)
    assert [(e["account"], e["minutes_with_data"], e["availability_percent"]) for e in result.json()["evaluations"]] == [
        ("a", 3, "99.99"), ("gone", 0, "100.00")]  # billed for March: listed, no minute with data


def test_a_second_reading_checks_only_the_requested_accounts_too(tmp_path, monkeypatch):
    """Rows in no order make two batches' minute ranges of account a overlap, so the parts are read again to
    look for a repeat: that reading, too, checks a's rows only, and b's bad row does not refuse a."""
    import slapolicy.minutes.readers as readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 4)
    a = minutes("a", "2019-03-01T00:00", 4)
    b = minutes("b", "2019-03-01T00:00", 2)
    b[0]["failures"] = 101  # more failures than requests
    rows = [a[0], b[0], a[2], b[1], a[1], a[3]]  # batch 1: a at minutes 0 and 2; batch 2: a at 1 and 3
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=4)
    result = aggregates(path, accounts=["a"])
    assert result.cells[("a", "2019-03")].totals.with_data == 4
    with pytest.raises(Exception, match="row 2, column 'failures': 101 failures exceed 100 requests"):
        aggregates(path)


@pytest.mark.slow
@pytest.mark.parametrize("order", ["account", "minute", "none"])
@pytest.mark.parametrize("batch", [4096, 6])
def test_every_row_inside_a_provider_incident_is_kept_whatever_the_order(tmp_path, monkeypatch, order, batch):
    """Accounts a, b, c, 1600 clean minutes each from 10:00 (no failures: no row is a candidate of its own), and two
    provider incidents, 10:05-10:08 (outward: minutes 5, 6, 7) and 10:30-10:30:30 (minute 30): each account keeps
    exactly those 4 rows, whether the rows come account by account (a binary search per run and incident, or,
    in batches of 6 rows, runs too short for that: a search per row), minute by minute (a binary search per
    incident), or shuffled (a search per row). That is when two months are read (replay); reading one, those rows
    are counted, not kept: per account, 3 minutes with requests inside P-1 and 1 inside P-2."""
    import random

    import slapolicy.minutes.readers as readers
    from slapolicy.inputs.events import read_incidents
    from slapolicy.minutes import read_minutes
    from slapolicy.policy import load_policy

    monkeypatch.setattr(readers, "BATCH_ROWS", batch)
    rows = [r for account in "abc" for r in minutes(account, "2019-03-05T10:00", 1600)]
    if order == "minute":
        rows.sort(key=lambda r: (r["minute"], r["account"]))
    elif order == "none":
        random.Random(7).shuffle(rows)
    incidents = tmp_path / "incidents.json"
    incidents.write_text(json.dumps([
        {"id": "P-1", "start": "2019-03-05T10:05+08:00", "end": "2019-03-05T10:08+08:00", "cause": "provider"},
        {"id": "P-2", "start": "2019-03-05T10:30+08:00", "end": "2019-03-05T10:30:30+08:00", "cause": "provider"}]))
    policy = load_policy(PUBLISHED)
    path, windows = write_parquet(tmp_path / "m.parquet", rows, row_group_size=batch), read_incidents(incidents, policy)
    result = read_minutes(path, month_range("2019-03", "2019-04"), [policy], incidents=windows)
    first = int(dt.datetime(2019, 3, 5, 10, 0, tzinfo=SGT).timestamp()) // 60
    assert {key: cell.rows.minute.tolist() for key, cell in result.cells.items()} == {
        (account, "2019-03"): [first + 5, first + 6, first + 7, first + 30] for account in "abc"}
    result = read_minutes(path, month_range("2019-03", "2019-03"), [policy], incidents=windows)
    assert {key: (cell.rows.minute.tolist(), cell.rows.incident_traffic) for key, cell in result.cells.items()} == {
        (account, "2019-03"): ([], {(first + 5, first + 8): (3, 3), (first + 30, first + 31): (1, 1)}) for account in "abc"}


def test_a_failing_row_inside_a_provider_incident_is_kept_once(tmp_path):
    """Accounts b and a (b first in the file: the names are merged in order), ten minutes each from 10:00; a's
    minutes 3-6 fail 2 of 100 requests (98 %, unavailable below 99 %), and a provider incident 10:05-10:08 keeps
    minutes 5, 6, 7 of both: a keeps {3, 4, 5, 6} and {5, 6, 7} as 3, 4, 5, 6, 7 (5 and 6 once), b keeps 5, 6, 7.
    That is when two months are read (replay); reading one, the incident's rows are counted (3 minutes with
    requests each), and a keeps its four candidates only."""
    from slapolicy.inputs.events import read_incidents
    from slapolicy.minutes import read_minutes
    from slapolicy.policy import load_policy

    rows = minutes("b", "2019-03-05T10:00", 10) + minutes("a", "2019-03-05T10:00", 10)
    for row in rows[13:17]:
        row["failures"] = 2
    incidents = tmp_path / "incidents.json"
    incidents.write_text(json.dumps([
        {"id": "P-1", "start": "2019-03-05T10:05+08:00", "end": "2019-03-05T10:08+08:00", "cause": "provider"}]))
    policy = load_policy(PUBLISHED)
    path, windows = write_parquet(tmp_path / "m.parquet", rows, row_group_size=10), read_incidents(incidents, policy)
    result = read_minutes(path, month_range("2019-03", "2019-04"), [policy], incidents=windows)
    first = int(dt.datetime(2019, 3, 5, 10, 0, tzinfo=SGT).timestamp()) // 60
    assert list(result.cells) == [("a", "2019-03"), ("b", "2019-03")]
    a, b = result.cells[("a", "2019-03")], result.cells[("b", "2019-03")]
    assert a.rows.minute.tolist() == [first + 3, first + 4, first + 5, first + 6, first + 7]
    assert a.rows.failures.tolist() == [2, 2, 2, 2, 0]
    assert b.rows.minute.tolist() == [first + 5, first + 6, first + 7]
    assert (a.totals.with_data, b.totals.with_data) == (10, 10)
    result = read_minutes(path, month_range("2019-03", "2019-03"), [policy], incidents=windows)
    a, b = result.cells[("a", "2019-03")], result.cells[("b", "2019-03")]
    assert (a.rows.minute.tolist(), b.rows.minute.tolist()) == ([first + 3, first + 4, first + 5, first + 6], [])
    assert a.rows.incident_traffic == b.rows.incident_traffic == {(first + 5, first + 8): (3, 3)}


def test_a_local_parquet_file_reads_as_pyarrows_parquet_file_reads_it(tmp_path):
    """planning.LocalParquet (pyarrow's reader without pyarrow.parquet, whose pyarrow.fs cost ~12 ms of a command's
    start) gives what ParquetFile gives: its metadata, its Arrow schema (the account column as a dictionary when
    asked), row groups by column name (a struct by its name or a leaf's dotted path), batches, and the same errors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from slapolicy.minutes.planning import LocalParquet, local_metadata

    table = pa.table({"account": ["a", "b", "a", "c"] * 5, "minute": pa.array(range(20), pa.timestamp("ms", "UTC")),
                      "requests": pa.array(range(20), pa.int64()),
                      "extra": pa.array([{"x": k, "y": str(k)} for k in range(20)])})
    path = tmp_path / "m.parquet"
    pq.write_table(table, path, row_group_size=6)
    theirs = pq.ParquetFile(path, read_dictionary=["account"], pre_buffer=False)
    ours = LocalParquet(str(path), metadata=pq.read_metadata(path), read_dictionary=["account"])
    assert local_metadata(str(path)).equals(theirs.metadata) and ours.metadata.equals(theirs.metadata)
    assert ours.schema_arrow.equals(theirs.schema_arrow, check_metadata=True)
    assert pa.types.is_dictionary(ours.schema_arrow.field("account").type)
    for columns in (["account", "minute"], ["requests"], ["extra"], ["extra.y"], ["missing", "requests"], None):
        assert ours.read_row_groups([1, 3], columns=columns, use_threads=False).equals(
            theirs.read_row_groups([1, 3], columns=columns, use_threads=False))
        assert [b.to_pylist() for b in ours.iter_batches(batch_size=4, row_groups=[0, 2], columns=columns)] == \
            [b.to_pylist() for b in theirs.iter_batches(batch_size=4, row_groups=[0, 2], columns=columns)]
    ours.close()
    (tmp_path / "bad.parquet").write_bytes(b"not Parquet")
    for name in ("bad.parquet", "missing.parquet"):
        errors = []
        for reader in (lambda p: pq.ParquetFile(p, pre_buffer=False), LocalParquet, pq.read_metadata, local_metadata):
            with pytest.raises((pa.ArrowException, OSError)) as raised:
                reader(str(tmp_path / name))
            errors.append((type(raised.value), str(raised.value)))
        assert errors[1:] == errors[:1] * 3


def test_a_parquet_footer_is_parsed_once_while_its_file_is_unchanged(tmp_path, monkeypatch):
    """Planning and reading a file of three row groups (three parts of one row group each), twice: its footer is
    parsed once. Written again (other rows, another size), it is parsed again and its new rows are read."""
    import slapolicy.minutes.planning as planning
    import slapolicy.minutes.readers as readers

    monkeypatch.setattr(planning, "PART_ROWS", 30)  # a part per row group: each opens the file
    parsed, real = [], planning.local_metadata
    monkeypatch.setattr(planning, "local_metadata", lambda *a, **k: parsed.append(a[0]) or real(*a, **k))
    opened, real_file = [], readers.LocalParquet  # whether each part's reader was handed the footer already parsed
    monkeypatch.setattr(readers, "LocalParquet", lambda *a, **k: opened.append(k["metadata"] is not None) or
                        real_file(*a, **k))
    rows = minutes("a", "2019-03-05T10:00", 90)
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    for _ in range(2):
        result = aggregates(path)
        assert (result.parts, result.cells[("a", "2019-03")].totals.with_data) == (3, 90)
    assert (parsed, opened) == ([str(path.resolve())], [True] * 6)
    write_parquet(path, rows[:60], row_group_size=30)
    result = aggregates(path)
    assert (result.parts, result.cells[("a", "2019-03")].totals.with_data) == (2, 60)
    assert parsed == [str(path.resolve())] * 2


def test_the_footers_of_a_directory_of_small_files_are_each_parsed_once(tmp_path, monkeypatch):
    """Its plan parses each file's footer, and its reading finds it kept: 40 files of ~1 KB footers (the footers
    were kept 16 at most, so that each of a directory's files had its footer parsed twice: ~0.06 ms a file). The
    footers kept are bounded by their bytes: past planning.FOOTER_BYTES_KEPT, the oldest go."""
    import slapolicy.minutes.planning as planning

    (tmp_path / "d").mkdir()
    for k in range(40):
        write_parquet(tmp_path / "d" / f"part-{k:02d}.parquet", minutes(f"a{k:02d}", "2019-03-05T10:00", 3))
    planning._footers.clear()
    planning._footers_kept[0] = 0
    parsed, real = [], planning.local_metadata
    monkeypatch.setattr(planning, "local_metadata", lambda *a, **k: parsed.append(a[0]) or real(*a, **k))
    result = aggregates(tmp_path / "d")
    assert (result.parts, len(result.cells), len(parsed), len(set(parsed))) == (40, 40, 40, 40)
    assert planning._footers_kept[0] == sum(len(footer) for footer, _ in planning._footers.values())
    footer = len(next(iter(planning._footers.values()))[0])
    monkeypatch.setattr(planning, "FOOTER_BYTES_KEPT", 10 * footer)  # room for ten footers
    planning._footers.clear()
    planning._footers_kept[0] = 0
    parsed.clear()
    aggregates(tmp_path / "d")
    assert len(parsed) == 80 and len(planning._footers) <= 10  # planned, then read in the same order: none kept
    assert planning._footers_kept[0] == sum(len(footer) for footer, _ in planning._footers.values())


def test_a_parquet_footer_is_parsed_again_when_its_file_is_rewritten_in_place_with_the_same_size_and_time(tmp_path):
    """A file rewritten in place (the same inode) within one tick of the clock that stamps it, or with its time
    set back (``cp -p``, ``rsync --inplace -t``), keeps its size and modification time. 30 minutes of 100
    requests and 2 failures each: written first without illegal-number failures (the row group's statistics
    prove the column 0, so it is not decoded), then with 2 in each of the first 10 minutes. The second reading
    counts them: 10 minutes × 2 = 20 illegal-number failures over 10 minutes (not the first footer's 0)."""
    import os

    import pyarrow.parquet as pq

    rows = minutes("a", "2019-03-05T10:00", 30, 100, 2)
    path = tmp_path / "m.parquet"

    def write(table):  # plain, uncompressed: the same size whatever the counts
        pq.write_table(table, path, compression="NONE", use_dictionary=False)

    write(arrow_table(rows))
    before = os.stat(path)
    cell = aggregates(path).cells[("a", "2019-03")]
    assert (cell.totals.illegal_failures, cell.totals.illegal_minutes) == (0, 0)
    for row in rows[:10]:
        row["illegal_number_failures"] = 2
    write(arrow_table(rows))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    cell = aggregates(path).cells[("a", "2019-03")]
    assert (cell.totals.illegal_failures, cell.totals.illegal_minutes) == (20, 10)


def test_the_batches_of_a_part_are_read_as_tasks_and_a_problem_reads_the_part_again_in_file_order(tmp_path, monkeypatch):
    """One part of three row groups of 4 rows, each batch a task of its own: the part's counts are joined from
    theirs. Row 2 has more failures than requests and rows 5 and 6 share a minute: read in file order, the
    part again names both, as when it was one task (a batch whose accounts and minutes were all read is
    searched for repeats whatever problems came before it)."""
    import slapolicy.minutes.aggregates as aggregates_module
    import slapolicy.minutes.readers as readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 4)
    tasks, real = [], aggregates_module.read_part
    monkeypatch.setattr(aggregates_module, "read_part",
                        lambda part, request: tasks.append(part.row_groups) or real(part, request))
    rows = minutes("a", "2019-03-05T10:00", 12, 100, 60)  # 40 % success: every minute unavailable, kept
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=4)
    result = aggregates(path)
    first = int(dt.datetime(2019, 3, 5, 10, 0, tzinfo=SGT).timestamp()) // 60
    cell = result.cells[("a", "2019-03")]
    assert (result.parts, cell.totals.with_data, cell.rows.minute.tolist()) == (1, 12, list(range(first, first + 12)))
    assert sorted(tasks) == [(0,), (1,), (2,)]
    rows[1]["failures"] = 101
    rows[5]["minute"] = rows[4]["minute"]
    tasks.clear()
    with pytest.raises(Exception) as caught:
        aggregates(write_parquet(tmp_path / "n.parquet", rows, row_group_size=4))
    assert str(caught.value).splitlines()[1:] == [
        f"{tmp_path / 'n.parquet'}: row 2, column 'failures': 101 failures exceed 100 requests",
        f"{tmp_path / 'n.parquet'}: row 6, column 'minute': minute listed twice for account 'a' (also row 5)"]
    assert (sorted(tasks[:3]), tasks[3:]) == ([(0,), (1,), (2,)], [(0, 1, 2)])
