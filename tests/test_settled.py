"""Account-months settled while the minutes are read (slapolicy.minutes.aggregates.Settled): in a file written
account by account, an account whose row groups are all reduced is evaluated (evaluate) or replayed (replay)
while the threads read the others, and the output is the one a single merge after the reading gives."""
import datetime as dt
import importlib
import json
import threading

import numpy as np
import pytest

from conftest import DRAFT, POLICIES, REPO

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = {"incidents": EXAMPLES / "incidents.yaml", "notices": EXAMPLES / "notices.yaml",
          "billing": EXAMPLES / "billing.csv"}
SGT = dt.timezone(dt.timedelta(hours=8))
ACCOUNTS = ("acme", "globex", "initech")  # 11,340, 11,340 and 13,140 minutes of March 2019 in examples/ccc


def by_account_parquet(path, zone=True, bad_row=None):
    """examples/ccc/minutes.csv written account by account, each account's rows in row groups of at most 4,000
    (acme 4,000 + 4,000 + 3,340, ...), so that every row group's statistics prove its one account. ``zone``: False
    writes the minutes without an offset (local times). ``bad_row``: (account, k) gets 60 failures of 54 requests."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    with open(EXAMPLES / "minutes.csv") as handle:
        rows = list(csv.DictReader(handle))
    kind = pa.timestamp("s", tz="UTC") if zone else pa.timestamp("s")
    schema = pa.schema([("account", pa.string()), ("minute", kind), ("requests", pa.int64()),
                        ("failures", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for account in ACCOUNTS:
            mine = [r for r in rows if r["account"] == account]
            moments = [dt.datetime.fromisoformat(r["minute"]) for r in mine]
            failures = [int(r["failures"]) for r in mine]
            requests = [int(r["requests"]) for r in mine]
            if bad_row is not None and bad_row[0] == account:
                requests[bad_row[1]], failures[bad_row[1]] = 54, 60
            writer.write_table(pa.table({
                "account": pa.array([account] * len(mine)),
                "minute": pa.array([m.replace(tzinfo=SGT) if zone else m for m in moments], kind),
                "requests": pa.array(requests, pa.int64()), "failures": pa.array(failures, pa.int64())},
                schema=schema), row_group_size=4000)
    return path


@pytest.fixture
def small_batches(monkeypatch):
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 4000)  # each row group a batch, a task of its own


@pytest.mark.slow
def test_each_account_is_settled_once_its_row_groups_are_reduced(small_batches, tmp_path):
    """Ten tasks, one a row group (acme's three, globex's three, initech's four): a piece per account, in file
    order, each with the cells one merge gives."""
    from slapolicy.minutes import read_minutes
    from slapolicy.minutes.aggregates import Settled
    from slapolicy.policy import load_policy
    from slapolicy.replay import month_range

    path = by_account_parquet(tmp_path / "by-account.parquet")
    policy, months = load_policy(POLICIES / "2019-01-01.yaml"), month_range("2019-03", "2019-03")
    settled = Settled()
    result = read_minutes(str(path), months, [policy], settled=settled)
    pieces = list(settled)
    merged = read_minutes(str(path), months, [policy])
    assert [sorted(piece.accounts) for piece in pieces] == [["acme"], ["globex"], ["initech"]]
    assert (result.settled, merged.settled) == (True, False)
    assert [p.rows_read for p in pieces] == [11340, 11340, 13140] and result.rows_read == merged.rows_read == 35820
    assert list(result.cells) == list(merged.cells) == [(a, "2019-03") for a in ACCOUNTS]
    for key, cell in merged.cells.items():
        mine = result.cells[key]
        assert mine.totals == cell.totals == next(p for p in pieces if key in p.cells).cells[key].totals
        for name in ("minute", "requests", "failures", "illegal", "peak_qps"):  # peak_qps: NaN, none in the file
            np.testing.assert_array_equal(getattr(mine.rows, name), getattr(cell.rows, name))
        assert mine.rows.has_peak_qps == cell.rows.has_peak_qps


@pytest.mark.slow
def test_row_groups_of_several_accounts_settle_nothing(tmp_path):
    """examples' minutes in row groups of 4,096 rows: the one holding acme's last rows and globex's first proves no
    account, so any later task may hold any account and nothing settles before the end."""
    from slapolicy.minutes import read_minutes
    from slapolicy.minutes.aggregates import Settled
    from slapolicy.policy import load_policy
    from slapolicy.replay import month_range
    from test_scan import example_rows, write_parquet

    path = write_parquet(tmp_path / "mixed.parquet", example_rows())
    settled = Settled()
    result = read_minutes(str(path), month_range("2019-03", "2019-03"), [load_policy(POLICIES / "2019-01-01.yaml")],
                          settled=settled)
    assert (list(settled), result.settled, len(result.cells)) == ([], False, 3)


def evaluations(settle: bool, minutes, **inputs) -> str:
    """evaluate's JSON; ``settle``: False settles nothing (the engine merges after the reading, as it did)."""
    import slapolicy.engine as engine_module
    from slapolicy.engine import Engine

    with pytest.MonkeyPatch.context() as patch:
        if not settle:
            patch.setattr(engine_module, "Settled", lambda: None)
        return json.dumps(Engine.for_one_call(POLICIES).evaluate(minutes=minutes, month="2019-03", **inputs),
                          indent=2, ensure_ascii=False)


def replayed(settle: bool, minutes, **inputs) -> str:
    """replay's JSON (March 2019 under the draft); ``settle`` as in evaluations."""
    import slapolicy.engine as engine_module
    from slapolicy.engine import Engine

    with pytest.MonkeyPatch.context() as patch:
        if not settle:
            patch.setattr(engine_module, "Settled", lambda relay: None)
        return json.dumps(Engine.for_one_call(POLICIES).replay(minutes=minutes, start="2019-03", end="2019-03",
                                                                under=DRAFT, **inputs), indent=2, ensure_ascii=False)


@pytest.mark.slow
def test_an_account_is_evaluated_while_the_others_are_read(small_batches, tmp_path):
    """The last task (initech's last row group) waits until acme has been evaluated (10 s at most): evaluate and
    replay give the JSON they give with nothing settled, acme owing 250.00 more under the draft."""
    import slapolicy.evaluation.month as month_module
    import slapolicy.minutes.aggregates as aggregates
    replay_module = importlib.import_module("slapolicy.replay")  # the package names its function replay

    path = by_account_parquet(tmp_path / "by-account.parquet")
    first_done, waited = threading.Event(), []
    real_part, real_items, real_chunk = aggregates.read_part, month_module.evaluate_items, replay_module.replay_chunk

    def part(piece, request):
        if piece.row_groups[0] == 9:  # the file's last row group
            waited.append(first_done.wait(10))
        return real_part(piece, request)

    def items(policy, service_month, chosen, **kwargs):
        results = real_items(policy, service_month, chosen, **kwargs)
        first_done.set()
        return results

    def chunk(spec, chosen):
        rows = real_chunk(spec, chosen)
        first_done.set()
        return rows

    for name, module, real, fake in (("read_part", aggregates, real_part, part),
                                     ("evaluate_items", month_module, real_items, items),
                                     ("replay_chunk", replay_module, real_chunk, chunk)):
        setattr(module, name, fake)
    try:
        first_done.clear()
        settled_json = evaluations(True, str(path), **INPUTS)
        first_done.set()
        plain_json = evaluations(False, str(path), **INPUTS)
        first_done.clear()
        settled_replay = replayed(True, str(path), **INPUTS)
        first_done.set()
        plain_replay = replayed(False, str(path), **INPUTS)
    finally:
        aggregates.read_part, month_module.evaluate_items, replay_module.replay_chunk = real_part, real_items, real_chunk
    # The settled runs' last task waited for acme's evaluation (False: 10 s passed); the others found it set.
    assert waited == [True] * 4
    assert settled_json == plain_json
    assert [e["account"] for e in json.loads(settled_json)["evaluations"]] == list(ACCOUNTS)
    assert settled_replay == plain_replay
    assert json.loads(settled_replay)["totals"]["overall"]["delta"] == "250.00"


@pytest.mark.slow
def test_naive_timestamps_are_counted_by_account_month(small_batches, tmp_path):
    """Minutes without an offset: each account's trace counts its own rows of the month (acme 11,340, globex 11,340,
    initech 13,140), whether it was evaluated as it settled or after one merge."""
    path = by_account_parquet(tmp_path / "naive.parquet", zone=False)
    settled_json = evaluations(True, str(path), **INPUTS)
    assert settled_json == evaluations(False, str(path), **INPUTS)
    steps = [s["detail"] for e in json.loads(settled_json)["evaluations"] for s in e["trace"] if s["step"] == "timezone"]
    assert steps == [f"{rows} minute row(s) of the account's Service Month without a UTC offset were read in Asia/Singapore"
                     for rows in (11340, 11340, 13140)]


@pytest.mark.slow
def test_a_bad_row_of_the_last_account_is_named_after_the_others_settled(small_batches, tmp_path, cli):
    """initech's row 201 (file row 22,881 = 11,340 + 11,340 + 201): the one problem named, nothing printed."""
    path = by_account_parquet(tmp_path / "bad.parquet", bad_row=("initech", 200))
    for command in (["evaluate", POLICIES, "--month", "2019-03"],
                    ["replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT]):
        result = cli(*command, "--minutes", path, "--billing", INPUTS["billing"])
        assert (result.code, result.out, result.err.splitlines()[1:]) == (
            1, "", [f"{path}: row 22881, column 'failures': 60 failures exceed 54 requests"])


@pytest.mark.slow
def test_an_evaluation_failing_as_it_settled_is_done_again_after_the_reading(small_batches, tmp_path):
    """The first evaluation of settled accounts fails (once): the accounts are evaluated after the reading, and the
    JSON is the same."""
    import slapolicy.evaluation.month as month_module
    replay_module = importlib.import_module("slapolicy.replay")  # the package names its function replay

    path = by_account_parquet(tmp_path / "by-account.parquet")
    expected = evaluations(False, str(path), **INPUTS), replayed(False, str(path), **INPUTS)
    calls = []
    real_items, real_chunk = month_module.evaluate_items, replay_module.replay_chunk

    def failing(real):
        def call(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("once")
            return real(*args, **kwargs)
        return call

    month_module.evaluate_items, replay_module.replay_chunk = failing(real_items), failing(real_chunk)
    try:
        got = evaluations(True, str(path), **INPUTS)
        first = len(calls)
        calls.clear()
        got = got, replayed(True, str(path), **INPUTS)
    finally:
        month_module.evaluate_items, replay_module.replay_chunk = real_items, real_chunk
    assert got == expected
    assert first == 2 and len(calls) == 2  # the failed one, then every account at once after the reading


@pytest.mark.slow
def test_the_cli_writes_the_json_of_accounts_settled_as_json_writes_the_whole(small_batches, tmp_path, cli,
                                                                              monkeypatch):
    """evaluate --format json writes each settled account's JSON while the others are read (acme, globex and
    initech, once each), replay each row: the bytes are json.dumps' of the engine's result; the text format is
    unchanged."""
    from slapolicy.cli import data_commands
    from slapolicy.reports.text import render_evaluations

    written, real = [], data_commands.Encoded.__call__

    def write(encoded, value):
        written.append(value["account"])
        real(encoded, value)

    monkeypatch.setattr(data_commands.Encoded, "__call__", write)
    path = by_account_parquet(tmp_path / "by-account.parquet")
    options = ["evaluate", POLICIES, "--month", "2019-03", "--minutes", path,
               *[a for name, file in INPUTS.items() for a in (f"--{name}", file)]]
    result = cli(*options)
    assert (result.code, result.err, written) == (0, "", list(ACCOUNTS))
    expected = evaluations(True, str(path), **INPUTS)
    assert result.out == expected + "\n"
    text = cli(*options, "--format", "text")
    assert (text.code, text.out) == (0, render_evaluations(json.loads(expected)) + "\n")
    written.clear()  # replay --format json: each row written as it is made, the same bytes
    replay = cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, *options[4:])
    assert (replay.code, replay.err, written) == (0, "", list(ACCOUNTS))
    assert replay.out == replayed(True, str(path), **INPUTS) + "\n"
