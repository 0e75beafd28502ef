"""A Parquet file's footer read without pyarrow (slapolicy.parquet_footer): what `evaluate` and `replay` ask before
they fork the helper of their reading as they begin, whether the file is written account by account
(one_account_each). The helper is used only there; a file written as time goes (each row group holding every
account) is read on threads, and its helper loaded pyarrow and planned the file for nothing (benchmarks/README.md,
the thirteenth round). The footer's answer is a first look: where it says no, the full plan says no too
(minutes.aggregates.helper_may_share, which the helper still asks); where it cannot tell, the helper is forked as
before."""
import datetime as dt
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DRAFT, POLICIES

MARCH = (25_856_640, 25_901_280)  # 2019-03 in UTC, epoch minutes: 2019-03-01 00:00 to 2019-04-01 00:00
WIDENED = (MARCH[0] - 900, MARCH[1] + 900)  # as the CLI asks: ±15:00, for the zone the policy may name


def write(path, groups, unit="ms", tz="UTC", statistics=True, nulls=False, account=True):
    """A Parquet file of one row group per entry of ``groups``: (its accounts, its first minute, its minutes[, whether
    its first row's account is missing]), each minute a row per account, minute by minute (a group of one account is
    written account by account)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = pa.timestamp(unit, tz=tz)
    fields = ([("account", pa.string())] if account else []) + [("minute", kind), ("requests", pa.int64()),
                                                                 ("failures", pa.int64())]
    schema = pa.schema(fields)
    with pq.ParquetWriter(path, schema, write_statistics=statistics) as writer:
        for accounts, first, count, *missing in groups:  # missing: (True) this row group's first row has no account
            moments = [first + dt.timedelta(minutes=k) for k in range(count) for _ in accounts]
            names = [None if (nulls or any(missing)) and k == 0 else name for k in range(count) for name in accounts]
            columns = ({"account": pa.array(names, pa.string())} if account else {}) | {
                "minute": pa.array(moments, kind), "requests": pa.array([100] * len(moments), pa.int64()),
                "failures": pa.array([0] * len(moments), pa.int64())}
            writer.write_table(pa.table(columns, schema=schema), row_group_size=1 << 20)
    return path


def at(day, month=3, hour=0):
    return dt.datetime(2019, month, day, hour, tzinfo=dt.timezone.utc)


def by_account(accounts=("acme", "globex", "initech", "umbrella", "hooli", "stark"), first=None, count=120):
    return [((name,), first or at(10), count) for name in accounts]


def by_time(groups=6, accounts=("acme", "globex", "initech"), first=None, count=40):
    start = first or at(10)
    return [(accounts, start + dt.timedelta(minutes=count * g), count) for g in range(groups)]


def shared(path, first="2019-03", last="2019-03") -> bool:
    """What the helper forked early asks of the whole plan (pyarrow's footer, every row group)."""
    from slapolicy.minutes.aggregates import helper_may_share

    return helper_may_share(str(path), first, last)


def test_a_file_written_account_by_account_proves_one_account_each(tmp_path):
    from slapolicy.parquet_footer import one_account_each

    path = write(tmp_path / "m.parquet", by_account())
    assert one_account_each(str(path), WIDENED) == (6, True)
    assert shared(path)


def test_a_file_written_as_time_goes_proves_none_from_its_first_row_group(tmp_path):
    from slapolicy.parquet_footer import one_account_each

    path = write(tmp_path / "m.parquet", by_time())
    assert one_account_each(str(path), WIDENED) == (6, False)
    assert not shared(path)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", ["UTC", None], ids=["aware", "naive"])
def test_row_groups_outside_the_months_asked_about_are_not_looked_at(tmp_path, unit, tz):
    """February written as time goes, March account by account (and the other way round): each month is told by its
    own row groups, the minute's statistics read in their unit, with or without a zone."""
    from slapolicy.parquet_footer import one_account_each

    february = (at(1, 2) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(minutes=1)
    asked = {"2019-02": (february - 900, february + 28 * 1440 + 900), "2019-03": WIDENED}
    mixed = write(tmp_path / "mixed.parquet", by_time(first=at(2, 2)) + by_account(first=at(10)), unit=unit, tz=tz)
    assert one_account_each(str(mixed), asked["2019-03"]) == (12, True)
    assert one_account_each(str(mixed), asked["2019-02"]) == (12, False)
    assert (shared(mixed), shared(mixed, "2019-02", "2019-02")) == (True, False)
    other = write(tmp_path / "other.parquet", by_account(first=at(2, 2)) + by_time(first=at(10)), unit=unit, tz=tz)
    assert one_account_each(str(other), asked["2019-03"]) == (12, False)
    assert one_account_each(str(other), asked["2019-02"]) == (12, True)
    assert (shared(other), shared(other, "2019-02", "2019-02")) == (False, True)
    # No row group in the months asked about: nothing to share.
    assert one_account_each(str(mixed), (0, 1440)) == (12, False)


@pytest.mark.parametrize("why", ["no statistics", "a missing account"])
def test_a_row_group_whose_statistics_prove_no_account(tmp_path, why):
    from slapolicy.parquet_footer import one_account_each

    path = write(tmp_path / "m.parquet", by_account(), statistics=why != "no statistics",
                 nulls=why == "a missing account")
    assert one_account_each(str(path), WIDENED) == (6, False)
    assert not shared(path)


def test_what_the_footer_does_not_say_is_none(tmp_path, monkeypatch):
    """None: the helper is forked as before, and plans the whole reading itself."""
    from slapolicy import parquet_footer

    assert parquet_footer.one_account_each(str(write(tmp_path / "a.parquet", by_account(), account=False)),
                                           WIDENED) is None  # an account= directory's file
    text = tmp_path / "m.parquet"
    text.write_text("account,minute,requests,failures\n")
    assert parquet_footer.one_account_each(str(text), WIDENED) is None
    assert parquet_footer.one_account_each(str(tmp_path / "gone.parquet"), WIDENED) is None
    path = write(tmp_path / "m.parquet", by_account())
    monkeypatch.setattr(parquet_footer, "FOOTER_START", 200)  # the first row groups beyond the bytes read
    assert parquet_footer.one_account_each(str(path), WIDENED) is None


@pytest.mark.parametrize("tz, widened", [("UTC", 900), (None, 1800)], ids=["aware", "naive"])
@pytest.mark.parametrize("after", [-1, 0], ids=["outside", "inside"])
def test_a_row_group_is_looked_at_where_the_plan_reads_it(tmp_path, tz, widened, after):
    """A row group of two accounts whose last minute is just before, or at, the first minute the plan reads: March in
    UTC widened by 15:00 for the policy's zone, and a naive minute's statistics by 15:00 more. Looked at where it
    is read (no helper), passed over where it is not (the file's other row groups prove one account each). Widened
    by 30:00 whatever the minute's type, the look said no for an aware row group 20 hours before March that the
    plan never reads."""
    from slapolicy.parquet_footer import one_account_each

    last = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=MARCH[0] - widened + after)
    path = write(tmp_path / "m.parquet", [(["acme", "globex"], last - dt.timedelta(minutes=9), 10)] + by_account(),
                 tz=tz)
    assert one_account_each(str(path), WIDENED) == (7, after == -1)
    assert shared(path) is (after == -1)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sets(st.sampled_from(["acme", "globex", "initech"]), min_size=1, max_size=3),
                          st.integers(-3 * 1440, 33 * 1440), st.integers(1, 20), st.booleans()), min_size=1, max_size=7),
       st.booleans(), st.sampled_from(["UTC", None]))
def test_where_the_footer_says_no_the_whole_plan_says_no(tmp_path_factory, groups, statistics, tz):
    """Row groups of one account or several, in March or up to two days either side of it (the ±15:00 the plan widens
    by, and the ±15:00 more of a naive minute, on both sides of each bound), a missing account in some: whenever the
    footer's first look says no, the helper's plan of the whole file (helper_may_share) says no too; and when the
    first two row groups it looks at are the file's only ones, the two agree."""
    from slapolicy.parquet_footer import one_account_each

    path = tmp_path_factory.mktemp("footer") / "m.parquet"
    start = at(1)
    write(path, [(sorted(accounts), start + dt.timedelta(minutes=offset), count, missing)
                 for accounts, offset, count, missing in groups], tz=tz, statistics=statistics)
    told = one_account_each(str(path), WIDENED)
    assert told is not None and told[0] == len(groups)
    if not told[1]:
        assert not shared(path)
    elif len(groups) <= 2:
        assert shared(path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_footer_bytes_that_do_not_parse_are_none_never_an_error(data):
    from slapolicy.parquet_footer import _one_account_each

    try:
        told = _one_account_each(memoryview(data), WIDENED, 2)
    except Exception as exc:  # noqa: BLE001 -- what one_account_each turns into None
        from slapolicy.parquet_footer import Unhandled

        assert isinstance(exc, (Unhandled, IndexError, KeyError, ValueError)), exc
    else:
        assert told is None or (isinstance(told[0], int) and isinstance(told[1], bool))


def test_every_cut_of_a_real_footer_is_none_or_the_answer(tmp_path, monkeypatch):
    from slapolicy import parquet_footer

    path = write(tmp_path / "m.parquet", by_time(groups=4))
    with open(path, "rb") as handle:
        whole = handle.read()
    length = int.from_bytes(whole[-8:-4], "little")
    metadata = whole[-8 - length:-8]
    for cut in range(len(metadata) + 1):
        try:
            told = parquet_footer._one_account_each(memoryview(metadata[:cut]), WIDENED, 2)
        except (parquet_footer.Unhandled, IndexError, KeyError, ValueError):
            continue
        assert told in (None, (4, False))


@pytest.mark.parametrize("groups, used", [(3, False), (4, True)])
def test_the_cli_forks_no_helper_for_fewer_row_groups_than_a_reading_shares(tmp_path, groups, used):
    from slapolicy.cli.data_commands import _helper_may_be_used
    from slapolicy.distributed import HELPER_TASKS

    assert HELPER_TASKS == 4
    path = write(tmp_path / "m.parquet", by_account()[:groups])
    assert _helper_may_be_used(str(path), "2019-03", "2019-03") is used


def test_the_cli_asks_about_the_months_in_utc_widened_for_the_zone(tmp_path):
    """The footer is read before the policy (its zone) is: the months in UTC, ±15:00 for the zone the policy may
    name, as the helper's plan asks (a naive minute's statistics are widened by ±15:00 more, by the footer's look as
    by the plan)."""
    from slapolicy.calendar import WIDEN_MINUTES, calendar_month
    from slapolicy.cli import data_commands

    asked = []
    real = data_commands.one_account_each
    data_commands.one_account_each = lambda path, span: asked.append(span) or real(path, span)
    try:
        path = write(tmp_path / "m.parquet", by_account())
        assert data_commands._helper_may_be_used(str(path), "2019-02", "2019-03")
        assert not data_commands._helper_may_be_used(str(tmp_path / "m.parquet"), "2019-03", "2019-02")
    finally:
        data_commands.one_account_each = real
    first, last = calendar_month("2019-02").epoch_minutes("UTC")[0], calendar_month("2019-03").epoch_minutes("UTC")[1]
    assert asked[0] == (first - WIDEN_MINUTES, last + WIDEN_MINUTES) == (25_816_320 - 900, MARCH[1] + 900)
    assert data_commands._helper_may_be_used(str(tmp_path), "2019-03", "2019-03")  # a directory: the helper tells


COUNTING = """
import os, sys
real, forks = os.fork, []
def fork():
    pid = real()
    if pid:
        forks.append(pid)
    return pid
os.fork = fork
import slapolicy.minutes.readers as readers
readers.BATCH_ROWS = 100  # each row group of 120 rows a batch, a task of its own: six a reading may share
_exit = os._exit
parent = os.getpid()
def ending(status):
    if os.getpid() == parent:  # not the helper, which ends so too
        sys.stderr.write(f"forks: {len(forks)}\\n")
    sys.stderr.flush()
    _exit(status)
os._exit = ending  # the command ends its own process so (cli.command.end_process)
sys.argv = ["slapolicy"] + sys.argv[1:]
from slapolicy.cli import main
sys.exit(main())
"""


def assert_forks_and_agrees(tmp_path, minutes, first, last, forks):
    """`evaluate` (March 2019) and `replay` (``first`` to ``last``) of ``minutes``, each run as a command: it forks
    its helper ``forks`` times, and its JSON is the one main() called by a program gives (no helper)."""
    from slapolicy.cli import main

    script = tmp_path / "counting.py"
    script.write_text(COUNTING)
    for args in (["evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"],
                 ["replay", POLICIES, "--minutes", minutes, "--from", first, "--to", last, "--under", DRAFT]):
        args = [str(arg) for arg in args]
        done = subprocess.run([sys.executable, str(script)] + args, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONHASHSEED": "0"})
        assert (done.returncode, done.stderr) == (0, f"forks: {forks}\n")
        out = tmp_path / "in-process.json"
        assert main(args + ["--output", str(out)]) == 0
        assert done.stdout == out.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")
@pytest.mark.parametrize("layout, forks", [("by-time", 0), ("by-account", 1)])
def test_evaluate_and_replay_fork_their_helper_only_for_a_file_written_account_by_account(tmp_path, layout, forks):
    """By time, the helper forked as the command began loaded pyarrow, planned the file and ended: one fork for
    nothing (main at 4cdbe21: 'forks: 1'). The JSON is the one main() called by a program gives (no helper)."""
    path = write(tmp_path / "m.parquet", by_account() if layout == "by-account" else by_time())
    assert_forks_and_agrees(tmp_path, path, "2019-03", "2019-03", forks)


def months_by_time(root, months=range(1, 13), groups=3):
    """One small file a month, written as time goes (each row group holding every account): an analyst's export."""
    root.mkdir(parents=True, exist_ok=True)
    for m in months:
        write(root / f"part-{m:02d}.parquet", by_time(groups, first=at(2, m)))
    return root


def test_the_cli_forks_no_helper_for_a_directory_of_files_written_as_time_goes(tmp_path):
    # Each file's footer as a single file's is read: the helper was forked for every directory, and for 12 small
    # files written as time goes it loaded pyarrow and planned them for nothing (0.13 CPU-s of 0.47, benchmarks/README.md).
    from slapolicy.cli.data_commands import _helper_may_be_used

    root = months_by_time(tmp_path / "by-time")
    assert not _helper_may_be_used(str(root), "2019-03", "2019-03")
    assert not _helper_may_be_used(str(root), "2019-01", "2019-12")
    assert shared(root) is False  # what the helper's plan would have said


def test_the_cli_forks_the_helper_for_a_directory_of_files_written_account_by_account(tmp_path):
    from slapolicy.cli.data_commands import _helper_may_be_used

    root = tmp_path / "by-account"
    root.mkdir()
    for k, name in enumerate(("acme", "globex", "initech", "umbrella")):
        write(root / f"{name}.parquet", by_account((name,)))
    assert _helper_may_be_used(str(root), "2019-03", "2019-03") and shared(root)
    (root / "umbrella.parquet").unlink()  # three row groups: fewer than a reading shares
    assert not _helper_may_be_used(str(root), "2019-03", "2019-03")
    assert not _helper_may_be_used(str(root), "2019-05", "2019-05")  # no row group of the month


def test_the_directory_look_reads_on_past_enough_row_groups_to_a_file_written_as_time_goes(tmp_path):
    # A directory of four files written account by account and one written as time goes after them: the look stopped
    # once four row groups were proven, and the helper forked loaded pyarrow and planned the directory for nothing
    # (0.409 against 0.304 CPU-s of evaluate, 10 runs each under chrt -f 50; benchmarks/README.md).
    from slapolicy.cli.data_commands import _helper_may_be_used

    root = tmp_path / "mixed"
    root.mkdir()
    for name in ("acme", "globex", "initech", "umbrella"):
        write(root / f"{name}.parquet", by_account((name,)))
    assert _helper_may_be_used(str(root), "2019-03", "2019-03") and shared(root)
    write(root / "z-exported.parquet", by_time())
    assert shared(root) is False  # what the helper's plan says
    assert not _helper_may_be_used(str(root), "2019-03", "2019-03")


def test_the_directory_look_leaves_out_what_the_plan_leaves_out_and_the_helper_tells_the_rest(tmp_path):
    from slapolicy.cli.data_commands import _helper_may_be_used

    root = tmp_path / "data"
    for name in ("acme", "globex", "initech", "umbrella"):
        (root / "month=2019-03").mkdir(parents=True, exist_ok=True)
        write(root / "month=2019-03" / f"{name}.parquet", by_account((name,)))
    assert _helper_may_be_used(str(root), "2019-03", "2019-03")
    # A file written as time goes where the plan never looks: a hidden file, a _temporary/ directory, a month=
    # directory of another month (its rows, lying in March, are not read for March)
    for hidden in (root / ".staging.parquet", root / "_temporary" / "0.parquet", root / "month=2019-02" / "0.parquet"):
        hidden.parent.mkdir(exist_ok=True)
        write(hidden, by_time())
    assert _helper_may_be_used(str(root), "2019-03", "2019-03")
    assert not _helper_may_be_used(str(root), "2019-02", "2019-03")  # the month= directory of February is read then
    assert not shared(root, "2019-02", "2019-03")
    # Files of account= directories without the account column: the footer does not tell, the helper does
    hive = tmp_path / "hive" / "month=2019-03" / "account=acme"
    hive.mkdir(parents=True)
    write(hive / "part-0.parquet", by_account(("acme",)), account=False)
    (tmp_path / "hive" / "month=2019-03" / "account=globex").mkdir()
    write(tmp_path / "hive" / "month=2019-03" / "account=globex" / "part-0.parquet", by_time(), account=False)
    assert _helper_may_be_used(str(tmp_path / "hive"), "2019-03", "2019-03")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")
@pytest.mark.parametrize("layout, forks", [("by-time", 0), ("by-account", 1)])
def test_evaluate_and_replay_fork_their_helper_for_a_directory_only_when_its_files_are_written_account_by_account(
        tmp_path, layout, forks):
    """A directory of 12 files written as time goes: one fork for nothing on main at 371289f ('forks: 1')."""
    root = tmp_path / "data"
    if layout == "by-time":
        months_by_time(root, groups=6)
    else:
        root.mkdir()
        for name in ("acme", "globex", "initech", "umbrella", "hooli", "stark"):
            write(root / f"{name}.parquet", by_account((name,)))
    assert_forks_and_agrees(tmp_path, root, "2019-01", "2019-12", forks)
