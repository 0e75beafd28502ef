"""Replay past months under amended terms: the same numbers as evaluate, in every mode."""
import json
import shutil
import subprocess
import sys
import threading
import time

import pytest

from conftest import DRAFT, POLICIES, REPO
from helpers import draft_variant, minute_rows, write_csv
from slapolicy.api import evaluate
from slapolicy.replay import replay

EXAMPLES = REPO / "examples" / "ccc"
INPUTS = {"minutes": EXAMPLES / "minutes.csv", "incidents": EXAMPLES / "incidents.yaml",
          "notices": EXAMPLES / "notices.yaml", "billing": EXAMPLES / "billing.csv"}


def test_the_section_2_1_month_under_the_draft_owes_10_percent_more(tmp_path):
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 2))
    billing = write_csv(tmp_path / "b.csv", [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}])
    result = replay(POLICIES, minutes=minutes, billing=billing, start="2019-03", end="2019-03", under=DRAFT)
    (row,) = result["rows"]
    assert (row["baseline"]["credit_percent"], row["baseline"]["compensation"]) == (0, "0.00")
    assert (row["amended"]["credit_percent"], row["amended"]["compensation"]) == (10, "100.00")
    assert row["delta"] == {"credit_percent": 10, "compensation": "100.00"}
    assert row["clauses_changed"] == [{"what": "availability.standard", "ref": "§2.2", "kind": "changed", "old": "99.5%",
                                       "new": "99.95%", "why": "the standard is met in one and not the other"}]
    assert result["totals"]["overall"] == {"account_months": 1, "changed": 1, "baseline_compensation": "0.00",
                                           "amended_compensation": "100.00", "delta": "100.00", "without_billing": 0}


@pytest.mark.slow
def test_the_baseline_equals_evaluate_and_the_amended_equals_evaluate_under_the_draft():
    result = replay(POLICIES, start="2019-03", end="2019-03", under=DRAFT, **INPUTS)
    evaluations = {e["account"]: e for e in evaluate(POLICIES, month="2019-03", **INPUTS)["evaluations"]}
    drafts = {e["account"]: e for e in evaluate(POLICIES, month="2019-03", policy_file=DRAFT, **INPUTS)["evaluations"]}
    assert [r["account"] for r in result["rows"]] == ["acme", "globex", "initech"]
    for row in result["rows"]:
        for side, source in (("baseline", evaluations), ("amended", drafts)):
            expected = source[row["account"]]
            for key in ("availability_percent", "meets_standard", "credit_percent", "compensation",
                        "unavailable_minutes", "excluded_minutes"):
                assert row[side][key] == expected[key], (row["account"], side, key)


def test_months_without_data_or_bill_are_skipped_and_totals_are_per_month(tmp_path):
    rows = list(minute_rows("a", "2019-03-12T10:00", 300, 100, 2)) + list(minute_rows("b", "2019-04-02T10:00", 30, 100, 2))
    minutes = write_csv(tmp_path / "m.csv", rows)
    result = replay(POLICIES, minutes=minutes, start="2019-02", end="2019-04", under=DRAFT)
    assert [(r["account"], r["month"]) for r in result["rows"]] == [("a", "2019-03"), ("b", "2019-04")]
    assert result["totals"]["per_month"]["2019-02"]["account_months"] == 0
    assert result["totals"]["per_month"]["2019-03"]["without_billing"] == 1


def test_streaming_in_small_batches_gives_the_same_result(monkeypatch, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import slapolicy.minutes.readers as minutes

    whole = replay(POLICIES, start="2019-03", end="2019-03", under=DRAFT, **INPUTS)
    monkeypatch.setattr(minutes, "BATCH_ROWS", 1000)
    parquet = tmp_path / "minutes.parquet"  # naive timestamps as strings, row groups of 5000 read 1000 rows at a time
    pq.write_table(pacsv.read_csv(INPUTS["minutes"]), parquet, row_group_size=5000)
    batched = replay(POLICIES, start="2019-03", end="2019-03", under=DRAFT, **(INPUTS | {"minutes": parquet}))
    assert (batched["rows_read"], batched["parts_read"]) == (35820, 1)  # 8 row groups of ≤ 5000 rows: one part
    assert json.dumps(batched["rows"], sort_keys=True) == json.dumps(whole["rows"], sort_keys=True)


def test_a_bad_row_deep_in_the_file_names_its_row(cli, tmp_path, monkeypatch):
    import slapolicy.minutes.readers as minutes

    monkeypatch.setattr(minutes, "BATCH_ROWS", 1000)
    rows = list(minute_rows("a", "2019-03-01T00:00", 5000, 100, 1))
    rows[3456]["failures"] = 101
    rows[4000]["minute"] = rows[10]["minute"]
    minutes = write_csv(tmp_path / "m.csv", rows)
    result = cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT)
    assert result.code == 1
    assert f"{minutes}: row 3457 (line 3458), column 'failures': 101 failures exceed 100 requests" in result.err
    assert result.out == ""


@pytest.mark.parametrize("args,message", [
    (["--from", "2018-12", "--to", "2019-03"], "no version of"),
])
def test_bad_replay_options(cli, args, message):
    result = cli("replay", POLICIES, "--minutes", INPUTS["minutes"], "--under", DRAFT, *args)
    assert result.code == 1
    assert message in result.err


def _json(**kwargs):
    return json.dumps(replay(POLICIES, start="2019-03", end="2019-03", under=DRAFT, **INPUTS, **kwargs), sort_keys=True)


# A Dask cluster of two worker processes, in a process of its own: it prints its scheduler's address, and ends when its
# standard input closes. Made in the tests' process (LocalCluster), it left distributed's 'Dask-Offload' thread there
# for the process's life, and beside another thread the early helper never forks: tests/test_early_helper.py failed
# when it ran after this file in one process.
CLUSTER = """
import sys
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()
"""


@pytest.mark.slow
def test_local_workers_and_dask_give_byte_identical_json():
    local = _json()
    assert _json(workers=2) == local
    with subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as cluster:
        try:
            assert _json(dask=cluster.stdout.readline().strip()) == local
        finally:
            cluster.stdin.close()
    # No thread of this test's is left in the tests' process (the pool's and the client's wind down).
    deadline = time.monotonic() + 30
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [thread.name for thread in threading.enumerate()] == [threading.main_thread().name]


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_is_a_clear_error(cli):
    result = cli("replay", POLICIES, "--minutes", INPUTS["minutes"], "--under", DRAFT, "--from", "2019-03", "--to", "2019-03",
                 "--dask", "tcp://127.0.0.1:9")
    assert result.code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.err


def test_text_report(cli):
    result = cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--format", "text",
                 *[x for k, v in INPUTS.items() for x in (f"--{k}", v)])
    assert result.code == 0
    assert "acme          2019-03         99.90%           0% 0.00        10% 250.00     250.00  §2.2 availability.standard" in result.out
    assert result.out.splitlines()[-1] == "overall: 3 account-month(s), 1 changed, compensation 580.00 → 830.00 (250.00)"


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_html_report_is_self_contained(cli):
    result = cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--format", "html",
                 *[x for k, v in INPUTS.items() for x in (f"--{k}", v)])
    assert result.code == 0
    page = result.out
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "src=", "<link", "@import"):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.index("account-months") < page.index("<svg role=\"img\"") < page.index("<table>")
    # Strips only where they help: one for the one account-month that changed (the draft reads minutes alike).
    assert page.count('<svg class="strip"') == 1


@pytest.mark.slow
@pytest.mark.skipif(not _chromium(), reason="headless Chromium is not installed (.ci/run installs it)")
def test_html_report_renders_in_headless_chromium(cli, tmp_path):
    result = cli("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--format", "html",
                 *[x for k, v in INPUTS.items() for x in (f"--{k}", v)])
    page = tmp_path / "replay.html"
    page.write_text(result.out)
    shot = tmp_path / "replay.png"
    run = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900",
                          f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), run.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20  # text, bars and strips: not a blank page
    whites = max(count for count, colour in colours if colour == (255, 255, 255)) if any(
        colour == (255, 255, 255) for _, colour in colours) else 0
    assert whites < image.width * image.height * 0.97


@pytest.mark.slow
def test_versions_share_the_classification_of_minutes_only_when_they_read_minutes_alike(tmp_path):
    from conftest import PUBLISHED
    from slapolicy.policy.directory import load_policy
    from slapolicy.policy.model import reads_minutes_alike

    published, draft = load_policy(PUBLISHED), load_policy(DRAFT)
    laxer = load_policy(draft_variant(tmp_path, 'value: "99%"\n    ref: "§1.5"', 'value: "95%"\n    ref: "§1.5"'))
    richer = load_policy(draft_variant(tmp_path, 'credit: "10%"', 'credit: "12%"', "richer.yaml"))
    assert reads_minutes_alike(published, draft) and reads_minutes_alike(published, richer)
    assert not reads_minutes_alike(published, laxer)


@pytest.mark.slow
def test_an_amendment_that_reads_minutes_differently_is_classified_on_its_own(tmp_path):
    laxer = draft_variant(tmp_path, 'value: "99%"\n    ref: "§1.5"', 'value: "95%"\n    ref: "§1.5"')
    result = replay(POLICIES, start="2019-03", end="2019-03", under=laxer, **INPUTS)
    expected = {e["account"]: e for e in evaluate(POLICIES, month="2019-03", policy_file=laxer, **INPUTS)["evaluations"]}
    baseline = {e["account"]: e for e in evaluate(POLICIES, month="2019-03", **INPUTS)["evaluations"]}
    assert any(expected[a]["raw_unavailable_minutes"] != baseline[a]["raw_unavailable_minutes"] for a in expected)
    for row in result["rows"]:
        for key in ("unavailable_minutes", "excluded_minutes", "availability_percent", "compensation"):
            assert row["amended"][key] == expected[row["account"]][key], (row["account"], key)
            assert row["baseline"][key] == baseline[row["account"]][key], (row["account"], key)


def test_progress_is_called_on_the_callers_thread_as_the_minutes_are_read(tmp_path, monkeypatch):
    """The minutes are read on a thread of replay's own, but ``progress`` is the caller's: a GUI's widgets, or a
    thread-local, are touched from the thread that called replay. 40 batches of 10 rows, a task each: progress
    gets every running total, 10 to 400, in order, each on the caller's thread, and as the reading goes (the last
    batch is read only once the caller has been told of an earlier one, or after 5 s, which the test counts)."""
    import threading

    import slapolicy.minutes.aggregates as aggregates
    from helpers import many_batches_parquet
    from slapolicy.minutes import readers

    monkeypatch.setattr(readers, "BATCH_ROWS", 10)  # each of many_batches_parquet's 40 row groups a task
    minutes = many_batches_parquet(tmp_path / "minutes.parquet")
    seen, told, late, started, lock = [], threading.Event(), [], [0], threading.Lock()
    real_part = aggregates.read_part

    def part(*args):
        with lock:
            started[0] += 1
            last = started[0] == 40
        if last and not told.wait(5):
            late.append("the caller was not told before the last batch")
        return real_part(*args)

    def progress(rows):
        seen.append((rows, threading.get_ident()))
        told.set()

    monkeypatch.setattr(aggregates, "read_part", part)
    result = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=DRAFT, progress=progress)
    assert seen == [(10 * k, threading.get_ident()) for k in range(1, 41)]
    assert late == []
    assert (result["rows_read"], [(r["account"], r["baseline"]["availability_percent"]) for r in result["rows"]]) == \
        (400, [("acme", "100.00")])  # acme's 400 minutes, none failing: (1 - 0/44640) x 100 %


@pytest.mark.slow
def test_progress_from_worker_processes_is_called_on_the_callers_thread(tmp_path):
    """With ``workers``, the caller waits for the reading's result (nothing is replayed while it is read) and is
    given the totals there: four files of acme's 10 minutes, a part (a task) each, give 10, 20, 30, 40."""
    import threading

    from helpers import many_batches_parquet

    minutes = tmp_path / "minutes"
    minutes.mkdir()
    for k in range(4):
        many_batches_parquet(minutes / f"part-{k}.parquet", groups=1, skip=10 * k)
    seen = []
    result = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=DRAFT, workers=2,
                    progress=lambda rows: seen.append((rows, threading.get_ident())))
    assert seen == [(10 * k, threading.get_ident()) for k in range(1, 5)]
    assert result["rows_read"] == 40


def test_totals_without_billing_say_the_money_of_those_account_months_is_not_counted(cli):
    # Without --billing no account-month has a fee, so every total is 0.00 although acme's credit goes 0 % -> 10 %:
    # a total of 0.00 must not read as "nothing owed".
    args = ("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--minutes", INPUTS["minutes"])
    text = cli(*args, "--format", "text")
    assert text.code == 0
    assert text.out.splitlines()[-2:] == [
        "2019-03: 3 account-month(s), 1 changed, compensation 0.00 → 0.00 (0.00); 3 account-month(s) without billing: "
        "their compensation is not in this total (no Monthly Service Fee; give --billing)",
        "overall: 3 account-month(s), 1 changed, compensation 0.00 → 0.00 (0.00); 3 account-month(s) without billing: "
        "their compensation is not in this total (no Monthly Service Fee; give --billing)"]
    page = cli(*args, "--format", "html")
    assert page.code == 0
    assert ("<p>3 account-month(s) without billing: their compensation is not in this total "
            "(no Monthly Service Fee; give --billing).</p>") in page.out
    billed = cli(*args, "--billing", INPUTS["billing"], "--format", "html")
    assert "without billing" not in billed.out


def _section_5_7_amendment(directory):
    """The published policy as a draft raising §5.7's threshold from 5.0 to 10.0 QPS, its words and its examples with
    it, as docs/policy-format.md's recipe has legal do: a new user's first amendment."""
    path = draft_variant(directory, 'concurrency_threshold_qps: {value: "5.0"', 'concurrency_threshold_qps: {value: "10.0"',
                         "2026-12-01-concurrency.yaml")
    text = path.read_text()
    for old, new in [("concurrent volume of 5.0QPS", "concurrent volume of 10.0QPS"),
                     ('{minute.concurrency_qps: "5.0", minute', '{minute.concurrency_qps: "10.0", minute'),
                     ('{minute.concurrency_qps: "4.99", minute', '{minute.concurrency_qps: "9.99", minute')]:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    return path


def _section_5_7_month(directory):
    """30 minutes of 100 requests, 2 failing (98 % < 99 %: unavailable, §1.5) at a peak of 7 QPS: excluded by §5.7 at
    5.0 QPS (availability 100.00 %), counted at 10.0 QPS (1 − 30/44640 = 99.93 %, the standard still met)."""
    minutes = write_csv(directory / "m.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 2, peak="7"))
    billing = write_csv(directory / "b.csv", [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}])
    return minutes, billing


def test_a_row_cites_the_changes_that_decide_it_not_the_clauses_examples(tmp_path):
    # A clause's examples test its condition; they never decide a minute, as its words never do. The amendment of
    # §5.7's threshold cited 'clause 5.7' twice, its condition and its examples ('examples changed (5 → 5)'), both
    # "minutes excluded by §5.7 differ".
    minutes, billing = _section_5_7_month(tmp_path)
    under = _section_5_7_amendment(tmp_path)
    (row,) = replay(POLICIES, minutes=minutes, billing=billing, start="2019-03", end="2019-03", under=under)["rows"]
    assert (row["baseline"]["excluded_minutes"], row["amended"]["excluded_minutes"]) == ({"5.7": 30}, {})
    assert [(c["what"], c["kind"], c["why"]) for c in row["clauses_changed"]] == [
        ("clause 5.7", "condition", "minutes excluded by §5.7 differ"),
        ("parameters.concurrency_threshold_qps", "changed", "exclusions are decided differently")]


def test_the_text_and_html_reports_show_both_availabilities_where_the_amendment_moves_it(cli, tmp_path):
    # An amendment of an exclusion moves the availability itself: the reports showed the baseline's alone (100.00%),
    # so a row counted as changed showed no change at all where the credit stayed 0 %.
    minutes, billing = _section_5_7_month(tmp_path)
    under = _section_5_7_amendment(tmp_path)
    args = ("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", under, "--minutes", minutes,
            "--billing", billing)
    text = cli(*args, "--format", "text")
    assert text.code == 0
    assert text.out.splitlines()[2:4] == [
        "account       month         availability          baseline           amended      delta  why",
        "a             2019-03   100.00% → 99.93%           0% 0.00           0% 0.00       0.00  §5.7 clause 5.7; "
        "§5.7 parameters.concurrency_threshold_qps"]
    page = cli(*args, "--format", "html")
    assert page.code == 0
    assert '<td class=num data-value="100.00">100.00% → 99.93%</td>' in page.out


def test_a_cause_only_the_amendment_declares_is_judged_by_each_versions_own_clauses(tmp_path):
    # The walk-through's amendment adds a cause, chosen_carrier, and §5.19 excluding it. Replay reads incidents of
    # the causes of all its versions; the baseline, which does not declare it, stopped with an internal error
    # ("'chosen_carrier' is not a value of fact incident.cause"). Its own conditions now judge it (docs/readings.md):
    # §5.15 excludes a minute of an incident whose cause is not `provider`, so the baseline excludes the 30 minutes
    # (100 requests, 2 failing: 98 % < 99 %, unavailable, §1.5) as the amendment does, under §5.19.
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 2))
    incidents = tmp_path / "i.yaml"
    incidents.write_text("- {id: c1, start: '2019-03-12T10:00', end: '2019-03-12T10:30', cause: chosen_carrier}\n")
    under = REPO / "docs" / "walkthrough" / "2021-01-01-chosen-carrier.yaml"
    (row,) = replay(POLICIES, minutes=minutes, incidents=incidents, start="2019-03", end="2019-03", under=under)["rows"]
    assert (row["baseline"]["excluded_minutes"], row["amended"]["excluded_minutes"]) == ({"5.15": 30}, {"5.19": 30})
    assert (row["baseline"]["unavailable_minutes"], row["amended"]["unavailable_minutes"]) == (0, 0)
    assert row["baseline"]["availability_percent"] == row["amended"]["availability_percent"] == "100.00"


def test_a_cause_only_the_amendment_declares_is_still_refused_by_evaluate_under_the_baseline(cli, tmp_path):
    # One version alone: a cause it does not declare is a mistake in the incidents, refused by name (exit 1).
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 2))
    incidents = tmp_path / "i.yaml"
    incidents.write_text("- {id: c1, start: '2019-03-12T10:00', end: '2019-03-12T10:30', cause: chosen_carrier}\n")
    result = cli("evaluate", POLICIES, "--month", "2019-03", "--minutes", minutes, "--incidents", incidents)
    assert (result.code, result.out) == (1, "")
    assert f"{incidents}: row 1 (line 1), column 'cause': unknown cause 'chosen_carrier'; policy 2019-01-01 declares: " \
           "provider, customer_network," in result.err
