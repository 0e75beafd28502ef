"""The cost of one ledger append against the length of the claimant account's history.

A ledger holds HISTORY decisions of account "long" (the first GRANTS of them approved, each with a grant for its own
Service Month; the others denied) and 50 decisions of other accounts. The history is written straight into SQLite
with its hash chain (as `Ledger.decide` would write it), so that building it does not cost HISTORY² checks. Then the
next decision of "long" is appended through `Ledger.decide` (the standing check, the grants read, the insert), five
times on fresh copies (REPEAT); the median is compared with the same append for an account whose history is empty, in a
ledger of the same size: the baseline of the same run.

    python benchmarks/ledger.py
"""
import json
import shutil
import statistics
import sqlite3
import tempfile
import time
from pathlib import Path

from slapolicy.ledger import COLUMNS, GENESIS, TABLES, Chain, Entry, Ledger

OTHERS = 50
REPEAT = 9


def month(index: int) -> str:
    return f"{2000 + index // 12:04d}-{index % 12 + 1:02d}"


def decision(n: int, account: str, service_month: str, approved: bool) -> dict:
    amount = "180.00" if approved else None
    return {"decision_id": f"D-{n:020x}", "decided_at": "2030-01-01T00:00:00+00:00", "account": account,
            "service_month": service_month, "decision": "approved" if approved else "denied", "reasons": [],
            "policy": {"id": "ccc-sla", "version": "2019-01-01", "sha256": "0" * 64}, "inputs_digest": "1" * 64,
            "compensation": amount, "message": "x" * 3500}  # a real result_json is about 4 KB


def write_history(path: Path, history: int, grants: int) -> None:
    """HISTORY decisions of "long" interleaved with OTHERS of other accounts, chained, and the head in meta."""
    Ledger(path).close()
    rows = [("long", month(i), i < grants) for i in range(history)]
    others = [(f"other-{i}", month(i), False) for i in range(OTHERS)]
    step = max(1, len(rows) // OTHERS)
    order = []
    for i, row in enumerate(rows):
        order.append(row)
        if i % step == 0 and others:
            order.append(others.pop())
    order += others
    chain, head, seq = Chain(None), GENESIS, 0
    db = sqlite3.connect(path)
    for n, (account, service_month, approved) in enumerate(order):
        made = decision(n, account, service_month, approved)
        seq += 1
        entries = [Entry("decision", {
            "seq": seq, "decision_id": made["decision_id"], "claim_digest": f"{n:064x}", "decided_at": made["decided_at"],
            "account": account, "service_month": service_month, "decision": made["decision"],
            "policy_version": "2019-01-01", "policy_sha256": "0" * 64, "inputs_digest": "1" * 64,
            "inputs_json": json.dumps({"claim": {"note": "y" * 1000}}, sort_keys=True), "result_json": json.dumps(made, sort_keys=True)}, "")]
        if approved:
            seq += 1
            entries.append(Entry("grant", {"seq": seq, "account": account, "service_month": service_month,
                                           "decision_id": made["decision_id"], "amount": "180.00",
                                           "granted_at": made["decided_at"]}, ""))
        for entry in entries:
            head = chain.link(head, entry)
            columns = COLUMNS[entry.kind]
            db.execute(f"INSERT INTO {TABLES[entry.kind]} ({', '.join(columns)}, entry_hash) VALUES "
                       f"({', '.join('?' * (len(columns) + 1))})", [entry.fields[c] for c in columns] + [head])
    db.executemany("UPDATE meta SET value = ? WHERE key = ?", ((str(seq), "entries"), (head, "head")))
    db.commit()
    db.close()


def append_seconds(path: Path, account: str) -> float:
    """The median time of one more denied decision of ``account``, each on a fresh copy of the ledger."""
    times = []
    for attempt in range(REPEAT):
        copy = path.with_name(f"copy-{attempt}.sqlite")
        shutil.copy(path, copy)
        with Ledger(copy) as ledger:
            made = decision(10**9 + attempt, account, "2099-01", False)
            started = time.perf_counter()
            ledger.decide("f" * 64, account, lambda grants: (made, {"claim": {}}, None))
            times.append(time.perf_counter() - started)
        copy.unlink()
    return statistics.median(times)


def check_seconds(path: Path, account: str) -> float:
    """The median time of the check an append makes before it writes (no commit, so no disk flush in it)."""
    times = []
    with Ledger(path, readonly=True) as ledger, ledger.snapshot():
        chain = ledger.chain()
        for _ in range(REPEAT):
            started = time.perf_counter()
            ledger._check_standing(account, chain)
            ledger._check_guard(chain)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    print("| decisions of the account | of them approved (grants) | append | empty-history append | ratio "
          "| check before the append | for an empty history |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for history, grants in ((100, 12), (1000, 12), (1000, 120)):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ledger.sqlite"
            write_history(path, history, grants)
            long, fresh = append_seconds(path, "long"), append_seconds(path, "new-account")
            check, empty = check_seconds(path, "long"), check_seconds(path, "new-account")
            print(f"| {history:,} | {grants} | {long * 1000:.1f} ms | {fresh * 1000:.1f} ms | {long / fresh:.1f}× "
                  f"| {check * 1000:.2f} ms | {empty * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
