"""A claim's minutes are read ahead of its policy (slapolicy.minutes.aggregates.ReadAhead): the CLI starts the
decoding of the claimant's rows once the claim's document is read, while the engine's modules and the policy
load; the reading then takes those rows. Each batch is decoded once, the decision and its ledger record are
those of a reading without it, problems are named as they were, and a reading ahead that is not taken is
cancelled before the command returns."""
import datetime as dt
import json
import sqlite3
import sys
import threading

import pytest

from conftest import POLICIES, REPO, run_cli
from helpers import minute_rows
from test_scan import example_rows, write_parquet

import slapolicy.minutes.aggregates as aggregates
import slapolicy.minutes.reduce as reduce
from slapolicy.engine import Engine
from slapolicy.errors import InputError

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = EXAMPLES / "claim-globex-2019-03.json"
NOW = "2019-04-20T10:00+08:00"


@pytest.fixture
def decoded(monkeypatch):
    """The row groups of every batch decoded (reduce._batches), and the ReadAheads made, as they come. Batches of
    at most 4,000 rows, so that row groups of 4,000 are each a batch (by time, the 500-account month's are 1 M)."""
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 4000)
    seen = {"batches": [], "aheads": []}
    real_batches, real_init = reduce._batches, aggregates.ReadAhead.__init__

    def batches(part, *pick):
        for batch in real_batches(part, *pick):
            seen["batches"].append(part.row_groups)
            yield batch

    def init(self, *args):
        seen["aheads"].append(self)
        real_init(self, *args)

    monkeypatch.setattr(reduce, "_batches", batches)
    monkeypatch.setattr(aggregates.ReadAhead, "__init__", init)
    return seen


def by_time(path, rows, row_group_size):
    """Rows sorted by minute then account (a file written as time goes), row groups of ``row_group_size``."""
    return write_parquet(path, sorted(rows, key=lambda r: (r["minute"], r["account"])), row_group_size)


def claimed(minutes, ledger, claim=CLAIM):
    return ["claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", NOW,
            "--billing", EXAMPLES / "billing.csv", "--incidents", EXAMPLES / "incidents.yaml"]


def decided_without_reading_ahead(minutes, ledger, claim=CLAIM) -> dict:
    """The same claim through the Engine, which reads nothing ahead."""
    return Engine.for_one_call(POLICIES).decide_claim(
        json.loads(claim.read_text()), minutes=str(minutes), incidents=str(EXAMPLES / "incidents.yaml"),
        billing=str(EXAMPLES / "billing.csv"), ledger=ledger, now=dt.datetime.fromisoformat(NOW), where=str(claim))


def running_threads() -> list:
    """The threads of slapolicy's readings still running (a thread never started, as a test of Ctrl-C inside
    Thread.start leaves one, does not count)."""
    return [t for t in threading.enumerate() if t.name.startswith("slapolicy") and t.is_alive()]


def recorded_inputs(ledger) -> tuple:
    with sqlite3.connect(ledger) as db:
        return db.execute("SELECT inputs_digest, inputs_json FROM decisions").fetchone()


@pytest.mark.slow
def test_a_claim_decodes_each_batch_once_ahead_and_decides_as_without_it(tmp_path, decoded):
    # The example month's 35,820 rows of three accounts in minute order, row groups of 4,000 rows: nine row groups,
    # each holding every account (35,820 = 8 × 4,000 + 3,820), each a batch of its own, all of them read ahead.
    minutes = by_time(tmp_path / "m.parquet", example_rows(), 4000)
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.err) == (0, "")
    assert len(decoded["aheads"]) == 1 and decoded["aheads"][0].accounts == frozenset({"globex"})
    assert sorted(decoded["batches"]) == [(g,) for g in range(9)]  # once each: by the reading ahead, not again
    engine_result = decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert json.loads(result.out) == engine_result
    assert engine_result["decision"] == "approved" and engine_result["compensation"] == "180.00"
    # The ledger records the same inputs, whose digest names the same bytes read.
    assert recorded_inputs(tmp_path / "cli.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")
    assert not running_threads()


@pytest.fixture
def hashed(monkeypatch):
    """The Cancellation handed to each read_digest of the bytes read (a claim's record), as the calls are made."""
    calls, real = [], aggregates.read_digest

    def read_digest(source, parts, cancel=None):
        calls.append(cancel)
        return real(source, parts, cancel)

    monkeypatch.setattr(aggregates, "read_digest", read_digest)
    return calls


@pytest.mark.slow
def test_the_bytes_read_ahead_are_hashed_once_as_they_are_read(tmp_path, decoded, hashed):
    # The claim's record names the digest of the bytes read (read_digest). It was hashed once the reading that takes
    # the rows read ahead had planned its own reading: on the 500-account month by time, 24 MB hashed after the last
    # batch was read (~20 ms of a claim's wall time). The reading ahead hashes them from its plan on, beside its
    # decoding, and the reading that plans the same bytes takes that digest: one hashing, the reading ahead's.
    minutes = by_time(tmp_path / "m.parquet", example_rows(), 4000)
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.err) == (0, "")
    [ahead] = decoded["aheads"]
    assert hashed == [ahead._hashing_cancel]
    assert json.loads(result.out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert len(hashed) == 2  # the Engine's own, without a reading ahead
    assert recorded_inputs(tmp_path / "cli.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")
    assert not running_threads()


IN_A_PROCESS_OF_ITS_OWN = """
import builtins, importlib, json, os, sys, time
from slapolicy.minutes import aggregates, readers
readers.BATCH_ROWS = 4000  # each row group of 4,000 rows a batch: nine tasks
real, names, parent = builtins.__import__, [], os.getpid()

def recorded(name, globals=None, locals=None, fromlist=(), level=0):
    names.append(importlib._bootstrap._resolve_name(name, globals["__package__"], level) if level else name)
    return real(name, globals, locals, fromlist, level)

def task(*args):  # a batch picked; in the helper, what it imported so far (the pickling of its results before too)
    if os.getpid() == parent:
        time.sleep(0.02)  # this process's thread leaves batches to the helper
    try:
        return picked(*args)
    finally:
        if os.getpid() != parent:
            with open({log!r}, "a") as log:
                log.write(json.dumps(names) + "\\n")

os.register_at_fork(after_in_child=lambda: setattr(builtins, "__import__", recorded))
picked, aggregates._picked_or_none = aggregates._picked_or_none, task
from slapolicy.cli import main
sys.argv = ["slapolicy", *{argv!r}]
main()
"""


LEFT_TO_THE_HELPER = """
import json, os, sys, time
from slapolicy.minutes import aggregates, readers
readers.BATCH_ROWS = 4000  # each row group of 4,000 rows a batch: nine tasks
parent, asked = os.getpid(), []

def task(*args):  # each batch this process's thread picks says whether the claim had asked for its rows by then
    if os.getpid() == parent:
        with open({log!r}, "a") as log:
            log.write(json.dumps(bool(asked)) + "\\n")
    else:
        time.sleep(0.1)  # a helper slower than the engine's loading: this process's thread then reads some
    return picked(*args)

def asking(self, *args, **kwargs):
    asked.append(True)
    return ask(self, *args, **kwargs)

picked, aggregates._picked_or_none = aggregates._picked_or_none, task
ask, aggregates.ReadAhead.picked = aggregates.ReadAhead.picked, asking
from slapolicy.cli import main
sys.argv = ["slapolicy", *{argv!r}]
main()
"""


def claimed_in_a_process_of_its_own(tmp_path, script):
    """A claim on the example's month written by time (without its peak_qps, some of whose values are missing: see
    below) decided by ``script``, a command's process whose lines of JSON go to its log: the minutes, the
    command's output and the log's lines."""
    from test_forked_helper import run_alone

    rows = [{name: value for name, value in row.items() if name != "peak_qps"} for row in example_rows()]
    minutes = by_time(tmp_path / "m.parquet", rows, 4000)
    log = tmp_path / "log.jsonl"
    argv = [str(argument) for argument in claimed(minutes, tmp_path / "cli.sqlite")]
    code, out = run_alone(script.format(log=str(log), argv=argv), tmp_path)
    assert code == 0, out
    return minutes, out, [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")
def test_a_claims_own_process_leaves_its_batches_to_the_helper_until_the_claim_asks_for_its_rows(tmp_path):
    # The command's thread loads the engine's modules and the policy while the helper reads; a reading thread here,
    # taking batches from the start, took the GIL from it, and the policy (the request) came only once the last
    # batch was read, all 23 batches of the 500-account month by time then reduced after it (benchmarks/README.md).
    # Now this process's thread picks batches only once the claim asks for its rows, and then does pick some.
    minutes, out, here = claimed_in_a_process_of_its_own(tmp_path, LEFT_TO_THE_HELPER)
    assert here and all(here), here  # on main: [false, false, ...], this process's thread reading from the start
    assert json.loads(out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")
def test_a_claim_in_a_process_of_its_own_shares_its_reading_ahead_with_a_forked_helper(tmp_path):
    # The command's thread loads the engine's modules and the policy while the claimant's rows are read ahead, and
    # took the GIL from the reading's two threads: one of them is now a forked copy of the process, with a GIL of its
    # own (as evaluate's and replay's by account). It imports nothing as it reads that was not imported before the
    # fork (a module another thread was importing at the fork would wait there for ever), and the decision and its
    # record are those of a reading without it. (Without the example's peak_qps, some of whose values are missing: a
    # batch with missing values is taken by pyarrow's compute functions, Table.take, which the helper then loads as a
    # thread does. None of the command's modules loads them as it is imported, which is all its thread does then.)
    from slapolicy.minutes.reduce import READ_PART_IMPORTS

    minutes, out, tasks = claimed_in_a_process_of_its_own(tmp_path, IN_A_PROCESS_OF_ITS_OWN)
    assert 1 <= len(tasks) <= 9  # the helper picked some of the nine batches
    imported = {name for names in tasks for name in names}
    assert "pyarrow._parquet" in imported
    assert {name for name in imported if name not in READ_PART_IMPORTS and not name.startswith("numpy.")} == set()
    assert json.loads(out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert recorded_inputs(tmp_path / "cli.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")


def test_a_json_lines_file_read_ahead_in_pieces_forks_no_helper(tmp_path, decoded, monkeypatch):
    # A JSON Lines file's pieces fill in the JSON kinds of their columns as they are read (which the pieces of one file
    # must agree on): read in a helper, those would stay there. Its pieces are read on threads, where the CLI allows a
    # helper (here 64 KiB pieces of the 11,340 rows of the example month's account that claims).
    import os

    from slapolicy import distributed
    from slapolicy.minutes import readers

    forks = []

    def fork():  # recorded, and refused as the system may refuse it (the tasks then run here)
        forks.append(True)
        raise OSError("no fork here")

    monkeypatch.setattr(distributed, "forked_helper_allowed", lambda: True)
    monkeypatch.setattr(os, "fork", fork)
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 64 << 10)
    pieces, real_pieces = [], readers.text_pieces

    def text_pieces(part):
        pieces.append(len(real_pieces(part)))
        return pieces[-1] and real_pieces(part)

    monkeypatch.setattr(readers, "text_pieces", text_pieces)
    minutes = tmp_path / "m.jsonl"
    # The claimed account's rows alone, on which its claim is decided: the whole month's 35,820 took 0.25 s more
    minutes.write_text("".join(json.dumps(row) + "\n" for row in example_rows() if row["account"] == "globex"))
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.err) == (0, "")
    assert len(decoded["aheads"]) == 1 and pieces and min(pieces) > 4 and forks == []
    assert json.loads(result.out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")


@pytest.mark.slow
def test_the_batches_read_ahead_are_checked_and_reduced_once_beside_the_reading(tmp_path, decoded, monkeypatch):
    # Each of the nine batches is reduced once, as it is picked (or, picked before the policy loaded, by the reading
    # as it takes them), on the readings' own threads: no pool of threads reduces them after the last batch.
    reduced, real = [], aggregates.read_part

    def read_part(part, request, picked=None, kinds=None):
        reduced.append((part.row_groups, threading.current_thread().name, picked is not None))
        return real(part, request, picked, kinds)

    monkeypatch.setattr(aggregates, "read_part", read_part)
    minutes = by_time(tmp_path / "m.parquet", example_rows(), 4000)
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.err) == (0, "")
    assert sorted(reduced) == [((g,), "slapolicy-background", True) for g in range(9)]
    assert json.loads(result.out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert not running_threads()


@pytest.mark.parametrize("account_pages", [True, False])
def test_a_batch_read_for_some_accounts_is_decoded_a_column_at_a_time_and_keeps_their_rows(tmp_path, monkeypatch,
                                                                                           account_pages):
    # Three row groups of four rows in minute order, read for accounts a and b; none is proven one account by its
    # statistics, so each batch's account column is decoded, first and alone, then each other column alone, cut to
    # their rows before the next is decoded (readers._read_picked): a claim's by-time batch of 1 M rows is never
    # held whole. Group 0 holds a and b only (every row kept), group 1 a and c (rows 0 and 2 kept), group 2 ab and
    # c: its statistics (ab to c) cannot leave it out, yet none of its rows is theirs, and nothing more is decoded.
    from slapolicy.calendar import calendar_month
    from slapolicy.minutes import readers
    from slapolicy.minutes.planning import LocalParquet, Request, plan

    monkeypatch.setattr(readers, "BATCH_ROWS", 4)  # each row group a batch of its own
    if not account_pages:  # as for a file whose account pages do not say where the rows are (pages.account_rows)
        monkeypatch.setattr(readers.pages, "account_rows", lambda *args: None)
    names = ["a", "b", "a", "b", "a", "c", "a", "c", "ab", "c", "ab", "c"]
    rows = [{"account": name, "minute": f"2019-03-05T10:0{k // 2}:00+00:00", "requests": 100 + k, "failures": k % 3}
            for k, name in enumerate(names)]
    minutes = write_parquet(tmp_path / "m.parquet", rows, 4)
    calls, real = [], LocalParquet.read_row_groups

    def read_row_groups(self, groups, columns=None, **options):
        calls.append((tuple(groups), tuple(columns)))
        return real(self, groups, columns=columns, **options)

    monkeypatch.setattr(LocalParquet, "read_row_groups", read_row_groups)
    first, end = calendar_month("2019-03").epoch_minutes("UTC")
    ab = frozenset({"a", "b"})
    (part,) = plan(str(minutes), Request("UTC", (first, end), None, ab))
    picked = [batch for piece in readers.batch_parts(part) for batch in reduce.picked_batches(piece, ab)]
    # The count column all 0 (illegal_number_failures) is proven so by its statistics, and not decoded at all.
    each = ("minute",), ("requests",), ("failures",), ("peak_qps",)
    if account_pages:  # groups 1 and 2 list their two names in turn: their rows are found in the account's pages, and
        # group 0's are all theirs, which pyarrow's column gives as read
        assert calls == [((0,), ("account",)), *(((0,), c) for c in each), *(((1,), c) for c in each)]
    else:
        assert calls == [((0,), ("account",)), *(((0,), c) for c in each), ((1,), ("account",)),
                         *(((1,), c) for c in each), ((2,), ("account",))]
    assert [(read, base, positions if positions is None else positions.tolist())
            for read, _, _, base, _, _, positions in picked] == [(4, 0, None), (4, 4, [0, 2]), (4, 8, None)]
    assert picked[2][1] is None
    kept = [[(r["account"], r["minute"].strftime("%H:%M"), r["requests"], r["failures"], r["peak_qps"])
             for r in table.to_pylist()] for _, table, *_ in picked[:2]]
    assert kept == [[("a", "10:00", 100, 0, None), ("b", "10:00", 101, 1, None), ("a", "10:01", 102, 2, None),
                     ("b", "10:01", 103, 0, None)],
                    [("a", "10:02", 104, 1, None), ("a", "10:03", 106, 0, None)]]
    # The columns come in the file's order, the account's with the names its rows use (see reduce._take).
    assert [table.column_names for _, table, *_ in picked[:2]] == [["account", "minute", "requests", "failures",
                                                                     "peak_qps"]] * 2
    assert [table.column("account").chunk(0).dictionary.to_pylist() for _, table, *_ in picked[:2]] == [["a", "b"],
                                                                                                      ["a"]]


@pytest.mark.slow
def test_the_rows_read_ahead_carry_only_the_names_of_their_accounts(tmp_path, decoded):
    # Nine row groups of the example month in minute order, each holding all three accounts; globex's rows of each
    # (1,333 or 1,334 of 4,000 where the three accounts share every minute, fewer where they do not) come with its
    # name alone: their checks and reduction then trim, order and total one name, not the batch's every name (a
    # by-time batch of the 500-account month: 500 names for a claim's ~2,000 rows).
    from slapolicy.calendar import calendar_month
    from slapolicy.minutes.planning import Request, plan
    from slapolicy.minutes.readers import batch_parts

    # Without peak_qps, which some rows leave empty (a batch with values missing is picked by pyarrow's take).
    rows = [{name: value for name, value in row.items() if name != "peak_qps"} for row in example_rows()]
    minutes = by_time(tmp_path / "m.parquet", rows, 4000)
    first, end = calendar_month("2019-03").epoch_minutes("UTC")
    globex = frozenset({"globex"})
    (part,) = plan(str(minutes), Request("UTC", (first, end), None, globex))
    picked = [batch for piece in batch_parts(part) for batch in reduce.picked_batches(piece, globex)]
    accounts = [table.column("account").chunk(0) for _, table, *_ in picked]
    assert [column.dictionary.to_pylist() for column in accounts] == [["globex"]] * 9
    assert [len(column) for column in accounts] == [1333, 1334, 1333, 1333, 1334, 1333, 1153, 914, 1273]
    assert all(column.indices.to_pylist() == [0] * len(column) for column in accounts)


def test_a_batch_the_policys_plan_leaves_out_is_read_ahead_for_nothing(tmp_path, decoded, hashed, monkeypatch):
    # Row group 0: globex's 30 minutes from 2019-02-28 20:00 +08:00 (12:00-12:29 UTC), before its Service Month in
    # the policy's zone, but within the ±15 hours the plan without the policy widens the calendar month by (from
    # 2019-02-28 09:00 UTC). Row groups 1 and 2: 30 minutes each from 2019-03-22 09:00, 12 failures of 100
    # requests (88 %). Batches of up to 60 rows: the reading ahead gathers groups 0 and 1, then 2; the claim's plan
    # holds groups 1 and 2, takes the batch of group 2 and reads group 1 (its batch with group 0 is not its own).
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 60)
    rows = list(minute_rows("globex", "2019-02-28T20:00", 30, 100, 12)) + \
        list(minute_rows("globex", "2019-03-22T09:00", 60, 100, 12))
    minutes = write_parquet(tmp_path / "m.parquet", rows, row_group_size=30)
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.err) == (0, "")
    assert sorted(decoded["batches"]) == [(0, 1), (1,), (2,)]
    # The reading ahead hashed groups 0-2, the claim's reading hashes its own 1-2; the first is given up.
    [ahead] = decoded["aheads"]
    assert len(hashed) == 2 and ahead._hashing_cancel in hashed and ahead._hashing_cancel.cancelled
    engine_result = decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert json.loads(result.out) == engine_result
    assert engine_result["reconciliation"]["confirmed_minutes"] == 60  # 09:00-09:59 of the 270 claimed
    assert recorded_inputs(tmp_path / "cli.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")


@pytest.mark.slow
def test_a_claim_answered_from_the_ledger_cancels_its_reading_ahead(tmp_path, decoded):
    minutes = by_time(tmp_path / "m.parquet", example_rows(), 4000)
    ledger = tmp_path / "ledger.sqlite"
    first = run_cli(*claimed(minutes, ledger))
    decoded["aheads"].clear()
    again = run_cli(*claimed(minutes, ledger))
    assert again.code == 0  # the recorded decision, read from the ledger
    assert json.loads(again.out)["decision_id"] == json.loads(first.out)["decision_id"]
    [ahead] = decoded["aheads"]
    assert ahead._cancel.cancelled and ahead._reading._done.is_set()  # cancelled, and ended before the command
    assert not running_threads()


def test_a_bad_row_of_the_claimant_read_ahead_is_named_as_without_it(tmp_path, decoded):
    # acme's and globex's ten minutes from 2019-03-22 09:00 +08:00, globex's 09:03 with 60 failures of 54 requests.
    # In minute order, acme then globex each minute, row groups of 6 rows: globex's 09:03 is row 2 × 3 + 2 = 8
    # of the file, the second of the claimant's rows in row group 1 (rows 7-12).
    rows = list(minute_rows("acme", "2019-03-22T09:00", 10, 50, 0)) + \
        list(minute_rows("globex", "2019-03-22T09:00", 10, 54, 0))
    rows[13]["failures"] = 60  # globex's fourth minute, 09:03
    minutes = by_time(tmp_path / "m.parquet", rows, 6)
    expected = f"{minutes}: row 8, column 'failures': 60 failures exceed 54 requests"
    result = run_cli(*claimed(minutes, tmp_path / "cli.sqlite"))
    assert (result.code, result.out, result.err.splitlines()[1:]) == (1, "", [expected])
    with pytest.raises(InputError) as raised:
        decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert str(raised.value).splitlines()[1:] == [expected]
    assert len(decoded["aheads"]) == 1
    assert not (tmp_path / "cli.sqlite").exists() and not (tmp_path / "engine.sqlite").exists()


@pytest.mark.slow
def test_a_reading_for_other_accounts_does_not_take_it(tmp_path, decoded):
    minutes = str(by_time(tmp_path / "m.parquet", example_rows(), 4000))
    with aggregates.ReadAhead(minutes, ["acme"], "2019-03") as ahead:
        assert aggregates.ReadAhead.taken(minutes, frozenset({"globex"})) is None
        assert aggregates.ReadAhead.taken(str(tmp_path / "m.parquet"), frozenset({"acme"})) is None  # another str
        assert aggregates.ReadAhead.taken(minutes, frozenset({"acme"})) is ahead
        assert aggregates.ReadAhead.taken(minutes, frozenset({"acme"})) is None  # taken once
        picked, reduced = ahead.picked()
        assert sorted(piece.row_groups for piece in picked) == [(g,) for g in range(9)]
        assert reduced == {}  # none without a request to reduce them under


@pytest.mark.slow
@pytest.mark.parametrize("document", ['{"account": "globex", "service_month": "2019-03"', "[1, 2]"])
def test_a_claim_names_a_durable_rules_to_rebuild_before_its_documents_problem(tmp_path, document):
    # A claim checks the rules backend after its reading ahead starts, not at the command's start as the other
    # rule commands do; a bad document (JSON cut short, or not an object) is still named after the backend.
    import subprocess
    import sys

    from test_rules_backend import REBUILD, _broken_durable

    claim = tmp_path / "claim.json"
    claim.write_text(document)
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "claim", str(POLICIES), str(claim), "--minutes",
                          str(EXAMPLES / "minutes.csv"), "--ledger", str(tmp_path / "ledger.sqlite")],
                         capture_output=True, text=True, env=_broken_durable(tmp_path))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"slapolicy: durable-rules was built without the flag Python {version} needs; reinstall it: {REBUILD}\n"
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_reading_ahead_of_a_text_file_not_taken_stops_between_its_blocks(tmp_path, monkeypatch):
    # The example minutes as CSV (35,820 rows, ~1.2 MB) in 64 KiB blocks: some twenty blocks, one task. The claim
    # is answered from the ledger the second time; its reading ahead, held after its first block until it is
    # cancelled, reads at most one more block, not the rest of the file.
    import time

    from slapolicy import engine
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 64 << 10)
    minutes, ledger = EXAMPLES / "minutes.csv", tmp_path / "ledger.sqlite"
    assert run_cli(*claimed(minutes, ledger)).code == 0
    aheads, read = [], []
    real_batches, real_init = reduce._batches, aggregates.ReadAhead.__init__

    def init(self, *args):
        aheads.append(self)
        real_init(self, *args)

    def held(part, *pick):
        for batch in real_batches(part, *pick):
            read.append(batch[0].num_rows)
            yield batch
            deadline = time.monotonic() + 5
            while not aheads[0]._cancel.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)

    def recorded_once_a_block_is_read(*args):
        # The answer from the ledger waits for the reading ahead's first block (on a loaded machine it could
        # come first, and the reading be cancelled before it read anything).
        deadline = time.monotonic() + 5
        while not read and time.monotonic() < deadline:
            time.sleep(0.01)
        return real_recorded(*args)

    real_recorded = engine.recorded_decision
    monkeypatch.setattr(aggregates.ReadAhead, "__init__", init)
    monkeypatch.setattr(reduce, "_batches", held)
    monkeypatch.setattr(engine, "recorded_decision", recorded_once_a_block_is_read)
    again = run_cli(*claimed(minutes, ledger))
    assert again.code == 0 and aheads[0]._cancel.cancelled and aheads[0]._reading._done.is_set()
    assert 1 <= len(read) <= 2 and sum(read) < 35_820
    assert not running_threads()


@pytest.mark.slow
def test_a_file_replaced_after_its_reading_ahead_is_read_again(tmp_path, decoded):
    # The rows read ahead are of the file as it was; replaced (same name, the same nine row groups of 4,000 rows)
    # before the reading that takes them plans it, the new file is what the claim is decided on. In the new file
    # globex has no failure at all, so none of the 270 minutes it claims is confirmed: denied (the old file: 180.00).
    minutes = str(by_time(tmp_path / "m.parquet", example_rows(), 4000))
    quiet = [dict(row, failures="0") if row["account"] == "globex" else row for row in example_rows()]
    with aggregates.ReadAhead(minutes, ["globex"], "2019-03") as ahead:
        assert ahead._reading._done.wait(60)
        assert sorted(decoded["batches"]) == [(g,) for g in range(9)]  # every batch read ahead, from the old file
        by_time(tmp_path / "new.parquet", quiet, 4000)
        (tmp_path / "new.parquet").replace(minutes)
        decoded["batches"].clear()
        result = Engine.for_one_call(POLICIES).decide_claim(
            json.loads(CLAIM.read_text()), minutes=minutes, incidents=str(EXAMPLES / "incidents.yaml"),
            billing=str(EXAMPLES / "billing.csv"), ledger=tmp_path / "ahead.sqlite", now=dt.datetime.fromisoformat(NOW),
            where=str(CLAIM))
        assert ahead._hashing_cancel.cancelled  # its digest, of the old file's bytes, is given up
    assert sorted(decoded["batches"]) == [(g,) for g in range(9)]  # read again, each once
    assert result == decided_without_reading_ahead(tmp_path / "m.parquet", tmp_path / "engine.sqlite")
    assert (result["decision"], result["reconciliation"]["confirmed_minutes"], result["compensation"]) == ("denied", 0, None)
    assert recorded_inputs(tmp_path / "ahead.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")


HASHED_FIRST = """
import json, sys, time
from slapolicy.minutes import aggregates

def log(what):
    with open({log!r}, "a") as file:
        file.write(json.dumps(what) + "\\n")

def hook(event, args):
    if event == "import" and args[0] == "slapolicy.engine":
        log("the engine's modules")

def slow_digest(*args, **kwargs):  # longer than the engine's modules take to load
    time.sleep(0.5)
    try:
        return real_digest(*args, **kwargs)
    finally:
        log("the digest")

sys.addaudithook(hook)
real_digest, aggregates.read_digest = aggregates.read_digest, slow_digest
from slapolicy.cli import main
sys.argv = ["slapolicy", *{argv!r}]
main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("row_group_size, first", [(4000, "the digest"), (10 ** 6, "the engine's modules")])
def test_a_claim_reading_several_row_groups_ahead_hashes_them_before_its_engine_loads(tmp_path, row_group_size, first):
    # The digest of the bytes read (the claim's record) is hashed on a thread of its own, which shared the GIL with the
    # command's thread loading the engine's modules and the policy, and the two cores with them and the helper: in 4 of
    # 6 timelines of a claim on the 500-account month by time (23 row groups), it got neither and ended 17-22 ms after
    # the last batch, one core idle meanwhile (benchmarks/README.md, the fifteenth round). The command's thread now
    # waits for it before loading them where the reading has several row groups, while the helper reads; one row
    # group (a claim by account: no helper, its ~0.4 MB hashed in a millisecond) is not waited for.
    rows = [{name: value for name, value in row.items() if name != "peak_qps"} for row in example_rows()]
    minutes = by_time(tmp_path / "m.parquet", rows, row_group_size)
    log = tmp_path / "log.jsonl"
    from test_forked_helper import run_alone

    argv = [str(argument) for argument in claimed(minutes, tmp_path / "cli.sqlite")]
    code, out = run_alone(HASHED_FIRST.format(log=str(log), argv=argv), tmp_path)
    assert code == 0, out
    order = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(order) == ["the digest", "the engine's modules"] and order[0] == first, order
    assert json.loads(out) == decided_without_reading_ahead(minutes, tmp_path / "engine.sqlite")
    assert recorded_inputs(tmp_path / "cli.sqlite") == recorded_inputs(tmp_path / "engine.sqlite")
