"""Load on the real server (loopback, bounded): 16 clients × 200 requests, a version published in the middle."""
import collections
import importlib.util

import pytest

from conftest import REPO, run_cli
from serving import serving

spec = importlib.util.spec_from_file_location("serve_benchmark", REPO / "benchmarks" / "serve.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def cli_evaluations(family, data) -> dict:
    """account → the CLI's `evaluate --account` JSON for March 2019."""
    out = {}
    for account in bench.ACCOUNTS:
        result = run_cli("evaluate", family, "--minutes", data["minutes"], "--billing", data["billing"],
                         "--month", "2019-03", "--account", account)
        assert result.code == 0, result.err
        out[account] = result.json()
    return out


@pytest.mark.slow
@pytest.mark.load
def test_sixteen_clients_with_a_publication_in_the_middle(tmp_path):
    from slapolicy.ledger import Ledger
    from slapolicy.policy.publish import publish

    data = bench.write_data(tmp_path)
    family = bench.family_copy(tmp_path)
    draft = bench.amendment(family)
    before = cli_evaluations(family, data)
    ledger = tmp_path / "ledger.sqlite"
    with serving(family, "--ledger", ledger, "--minutes", data["minutes"], "--billing", data["billing"]) as server:
        load = bench.run_load(server.host, server.port, clients=16, requests=200,
                              publish=lambda: publish(family, draft, retroactive=True))
    after = cli_evaluations(family, data)
    exchanges, published = load["exchanges"], load["published"]
    print(bench.figures(exchanges, load["wall"]))

    assert len(exchanges) == 3200
    assert [e for e in exchanges if e["status"] not in (200, 201)] == []
    old_sha = before["acme"]["evaluations"][0]["policy"]["sha256"]
    new_sha = published["result"].sha256
    assert after["acme"]["evaluations"][0]["policy"]["sha256"] == new_sha != old_sha

    # Evaluations: identical to the CLI's under the version in force when answered; never a mixture; after the
    # publication has returned, only the new version.
    seen = collections.Counter()
    for e in (e for e in exchanges if e["kind"] == "evaluate"):
        account = e["request"]["accounts"][0]
        assert e["body"] in (before[account], after[account])
        fresh = e["body"] == after[account]
        seen[fresh] += 1
        if e["started"] > published["ended"]:
            assert fresh, e
        if e["ended"] < published["started"]:
            assert not fresh, e
    assert seen[True] > 0 and seen[False] > 0

    for e in (e for e in exchanges if e["kind"] == "versions"):
        shas = [v["sha256"] for v in e["body"]["versions"]]
        assert shas in ([old_sha], [old_sha, new_sha])
        if e["started"] > published["ended"]:
            assert shas == [old_sha, new_sha]

    # Claims: each answered 201 once, recorded exactly once, read back identical; its evaluation's figures are the
    # CLI's under the version it names; at most one grant per account and month.
    claims = [e for e in exchanges if e["kind"] == "claim"]
    assert len(claims) == 640 and {e["status"] for e in claims} == {201}
    ids = [e["body"]["decision_id"] for e in claims]
    assert len(set(ids)) == 640
    by_id = {e["body"]["decision_id"]: e["body"] for e in claims}
    for e in (e for e in exchanges if e["kind"] == "decision"):
        recorded = by_id[e["body"]["decision_id"]]
        assert e["body"] == {k: v for k, v in recorded.items() if k != "repeated"}
    for decision in by_id.values():
        expected = before if decision["policy"]["sha256"] == old_sha else after
        cli = expected[decision["account"]]["evaluations"][0]
        # (a claim's trace words its steps for the claim; every figure is the CLI's)
        assert {k: v for k, v in decision["evaluation"].items() if k != "trace"} == {
            k: v for k, v in cli.items() if k != "trace"}
    with Ledger(ledger, create=False) as book:
        rows = book.decisions()
        assert sorted(r["decision_id"] for r in rows) == sorted(ids)
        chain = book.verify()
    assert chain["first_broken"] is None
    # Entries: one per decision, and one per grant.
    approved = collections.Counter(d["account"] for d in by_id.values() if d["decision"] == "approved")
    assert chain["entries"] == 640 + sum(approved.values())
    assert set(approved.values()) <= {1}
    # initech (99.33 %) is owed under both versions; acme (99.98 %) under neither.
    assert approved["initech"] == 1 and approved["acme"] == 0
