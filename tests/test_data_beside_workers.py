"""Rows handed in as data, to an engine that keeps worker processes or a Dask client, are read where they are held.

Found by a new user: `slapolicy serve --dask ADDRESS` (or `--workers N`) answered every request that sent its rows
inline (docs/service.md: "or from small data sent inline") 422 `minutes handed in as data are read in this process:
give a file path to use workers or Dask`, telling an HTTP client to give a path it cannot; so did `Engine(policy_dir,
workers=N)`, the engine docs/api.md tells a service to keep, for `minutes=` rows. The call now runs in this process,
as it would without the engine's workers; a call that names its own `workers=` or `dask=` is still refused."""
import pytest

from conftest import DRAFT, POLICIES, REPO
from serving import as_served, serving

pytestmark = pytest.mark.slow

EXAMPLES = REPO / "examples" / "ccc"
ROWS = [{"account": "a", "minute": f"2019-03-12T10:{m:02d}", "requests": 100, "failures": 2} for m in range(30)]
BILLING = [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]
CLAIM = {"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order",
         "event_report": "Calls failed.", "failure_records": ["c-1"],
         "unavailability": [{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T10:30+08:00"}]}


def test_an_engine_with_its_own_workers_reads_rows_given_as_data_here(tmp_path):
    import datetime as dt

    from slapolicy import Engine, SlapolicyError

    now = dt.datetime(2019, 4, 10, 12, tzinfo=dt.timezone.utc)
    here = Engine(POLICIES, ledger=tmp_path / "here.sqlite")
    expected = (here.evaluate(minutes=ROWS, month="2019-03", billing=BILLING),
                here.replay(minutes=ROWS, start="2019-03", end="2019-03", under=DRAFT, billing=BILLING),
                here.decide_claim(CLAIM, minutes=ROWS, billing=BILLING, now=now))
    # 30 unavailable minutes: 99.93 %, which meets the 99.5 % standard; the draft's 99.95 % pays tier 1, 10 %
    assert expected[0]["evaluations"][0]["availability_percent"] == "99.93"
    assert expected[1]["totals"]["overall"]["delta"] == "100.00"
    with Engine(POLICIES, ledger=tmp_path / "kept.sqlite", workers=2) as engine:
        got = (engine.evaluate(minutes=ROWS, month="2019-03", billing=BILLING),
               engine.replay(minutes=ROWS, start="2019-03", end="2019-03", under=DRAFT, billing=BILLING),
               engine.decide_claim(CLAIM, minutes=ROWS, billing=BILLING, now=now))
        assert engine._runner._pool is None  # read here: no process was started for them
        # a call naming its own workers asks for them: the rows cannot go there, and it is told so
        with pytest.raises(SlapolicyError, match="^minutes handed in as data are read in this process: give a file "
                                                 "path to use workers or Dask$"):
            engine.evaluate(minutes=ROWS, month="2019-03", workers=2)
    assert got[0] == expected[0] and got[1] == expected[1]
    assert {k: v for k, v in got[2].items() if k not in ("decided_at",)} == \
           {k: v for k, v in expected[2].items() if k not in ("decided_at",)}


def test_serve_with_workers_answers_rows_sent_inline(tmp_path):
    from slapolicy import Engine

    body = {"month": "2019-03", "minutes": ROWS, "billing": BILLING}
    expected = as_served(Engine(POLICIES).evaluate(minutes=ROWS, month="2019-03", billing=BILLING))
    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite", "--minutes", EXAMPLES / "minutes.csv",
                 "--workers", "2", timeout=120) as server:
        status, kind, answer = server.call("POST", "/v1/evaluate", body)
        assert (status, kind) == (200, "application/json"), answer
        assert answer == expected
        # the configured minutes still go to the workers
        status, _, answer = server.call("POST", "/v1/evaluate", {"month": "2019-03", "accounts": ["globex"]})
        assert status == 200 and [e["account"] for e in answer["evaluations"]] == ["globex"]
