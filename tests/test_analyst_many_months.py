"""Replay over many months and versions, as an analyst runs it (session 18, E): a family whose second version takes
effect mid-month, accounts that appear only in some months, billing for months without minutes, minutes on both sides
of a month's end in the policy's timezone and an incident across it, and the same answer, byte for byte, in this
process, on --workers 2 and on a Dask cluster."""
import datetime as dt
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DRAFT, POLICIES, REPO, run_cli

# Locking a family of its own runs its versions' examples, and each replay starts processes or reads a dataset: seconds.
pytestmark = pytest.mark.slow

SGT = dt.timezone(dt.timedelta(hours=8))
UTC = dt.timezone.utc


def write_minutes(path, account, first, count, failing):
    """``count`` minutes of ``account`` from ``first`` (aware), 100 requests each, the first ``failing`` half failed
    (50 %: unavailable, §1.5)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = int(first.timestamp())
    pq.write_table(pa.table({"account": [account] * count,
                             "minute": pa.array([start + 60 * k for k in range(count)], pa.timestamp("s", tz="UTC")),
                             "requests": [100] * count, "failures": [50] * failing + [0] * (count - failing)}), path)


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """A family of two versions, the second (the standard raised to 99.95 %) taking effect on 2019-03-15; minutes
    by month= directory, acme in February to April, initech in February only, globex in March only; billing of acme's
    three months and of globex's April, a month without its minutes."""
    root = tmp_path_factory.mktemp("months")
    family = root / "ccc"
    family.mkdir()
    published = (POLICIES / "2019-01-01.yaml").read_text(encoding="utf-8")
    (family / "2019-01-01.yaml").write_text(published, encoding="utf-8")
    raised = DRAFT.read_text(encoding="utf-8").replace('"2027-01-01"', '"2019-03-15"').replace(
        "status: draft", "status: published")
    (family / "2019-03-15.yaml").write_text(raised, encoding="utf-8")
    assert run_cli("lock", family, "--new").code == 0
    data = root / "data"
    # 45 unavailable minutes of a month of 44,640 (40,320 in February): 99.90 % (99.89 %), below 99.95 %, above 99.5 %
    write_minutes(data / "month=2019-02" / "acme.parquet", "acme", dt.datetime(2019, 2, 10, tzinfo=SGT), 300, 45)
    write_minutes(data / "month=2019-02" / "initech.parquet", "initech", dt.datetime(2019, 2, 11, tzinfo=SGT), 300, 45)
    write_minutes(data / "month=2019-03" / "acme.parquet", "acme", dt.datetime(2019, 3, 10, tzinfo=SGT), 300, 45)
    write_minutes(data / "month=2019-03" / "globex.parquet", "globex", dt.datetime(2019, 3, 12, tzinfo=SGT), 300, 45)
    write_minutes(data / "month=2019-04" / "acme.parquet", "acme", dt.datetime(2019, 4, 1, tzinfo=SGT), 300, 45)
    billing = root / "billing.csv"
    billing.write_text("account,month,monthly_fee,offset\nacme,2019-02,100.00,0.00\nacme,2019-03,100.00,0.00\n"
                       "acme,2019-04,100.00,0.00\nglobex,2019-04,200.00,0.00\n")
    # 60 minutes from 2019-03-31 23:30 in Singapore (15:30 UTC): 30 of March, 30 of April, all unavailable
    edge = root / "edge.parquet"
    write_minutes(edge, "acme", dt.datetime(2019, 3, 31, 15, 30, tzinfo=UTC), 60, 60)
    # the customer's network down from 23:40 to 00:10 (§5.1): 20 of March's minutes, 10 of April's
    incidents = root / "incidents.yaml"
    incidents.write_text("- id: X-1\n  start: 2019-03-31T23:40\n  end: 2019-04-01T00:10\n  cause: customer_network\n"
                         "  account: acme\n")
    return family, data, billing, edge, incidents


def replayed(family, minutes, *options, fmt="json"):
    result = run_cli("replay", family, "--minutes", minutes, "--from", "2019-02", "--to", "2019-04", "--under", DRAFT,
                     "--format", fmt, *options)
    assert (result.code, result.err) == (0, ""), result.err
    return result.out


def test_each_month_is_replayed_against_the_version_in_force_on_its_first_day(months):
    # 2019-03-15 takes effect mid-month: it governs April (§6.2), not March; an account is replayed in the months it
    # has minutes or billing in, and globex's April, billed without minutes, is a month of 100 %.
    family, data, billing, _, _ = months
    result = json.loads(replayed(family, data, "--billing", billing))
    assert [(r["account"], r["month"], r["baseline"]["version"], r["baseline"]["availability_percent"],
             r["baseline"]["credit_percent"], r["amended"]["credit_percent"], r["baseline"]["compensation"],
             r["amended"]["compensation"]) for r in result["rows"]] == [
        ("acme", "2019-02", "2019-01-01", "99.89", 0, 10, "0.00", "10.00"),
        ("acme", "2019-03", "2019-01-01", "99.90", 0, 10, "0.00", "10.00"),
        ("acme", "2019-04", "2019-03-15", "99.90", 10, 10, "10.00", "10.00"),
        ("globex", "2019-03", "2019-01-01", "99.90", 0, 10, None, None),
        ("globex", "2019-04", "2019-03-15", "100.00", 0, 0, "0.00", "0.00"),
        ("initech", "2019-02", "2019-01-01", "99.89", 0, 10, None, None),
    ]
    text = replayed(family, data, "--billing", billing, fmt="text")
    assert text.splitlines()[1] == "baseline versions in force: 2019-01-01 (2019-02 to 2019-03), 2019-03-15 (2019-04)"


def test_minutes_across_a_months_end_in_the_policys_timezone_fall_in_each_month(months):
    family, _, _, edge, incidents = months
    result = json.loads(replayed(family, edge))
    assert [(r["account"], r["month"], r["baseline"]["unavailable_minutes"]) for r in result["rows"]] == [
        ("acme", "2019-03", 30), ("acme", "2019-04", 30)]
    # an incident across the month's end excludes each month's part of it: 30 - 20 = 10 and 30 - 10 = 20 counted
    result = json.loads(replayed(family, edge, "--incidents", incidents))
    assert [(r["month"], r["baseline"]["unavailable_minutes"], r["baseline"]["excluded_minutes"],
             r["baseline"]["availability_percent"]) for r in result["rows"]] == [
        ("2019-03", 10, {"5.1": 20}, "99.98"), ("2019-04", 20, {"5.1": 10}, "99.95")]


# A Dask cluster of two worker processes in a process of its own (as tests/test_replay.py starts one): it prints its
# scheduler's address, and ends when its standard input closes.
CLUSTER = """
import sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()
"""


def test_many_months_and_versions_give_the_same_bytes_here_on_workers_and_on_dask(months):
    family, data, billing, edge, incidents = months
    cases = [(minutes, fmt, options) for minutes, options in ((data, ("--billing", billing)),
                                                              (edge, ("--incidents", incidents)))
             for fmt in ("json", "text", "html")]
    here = [replayed(family, minutes, *options, fmt=fmt) for minutes, fmt, options in cases]
    assert [replayed(family, minutes, *options, "--workers", "2", fmt=fmt) for minutes, fmt, options in cases] == here
    with subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          cwd=REPO) as cluster:
        try:
            address = cluster.stdout.readline().strip()
            assert [replayed(family, minutes, *options, "--dask", address, fmt=fmt)
                    for minutes, fmt, options in cases] == here
        finally:
            cluster.stdin.close()
