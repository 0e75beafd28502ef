"""``slapolicy demo``: the main jobs on the shipped policy and example data, one after another."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path


def shipped(relative: str) -> Path:
    """A file shipped with slapolicy (policies/, examples/): the copy inside an installed
    package, or the source tree's own for an editable install."""
    here = Path(__file__).resolve().parent
    for root in (here / "shipped", here.parents[1]):
        if (root / relative).exists():
            return root / relative
    raise FileNotFoundError(f"shipped data {relative} not found: reinstall slapolicy")


def section(title: str) -> None:
    sys.stdout.write(f"\n=== {title}\n")


def run_demo() -> int:
    from .cli.command import main

    policies = shipped("policies/ccc")
    data = shipped("examples/ccc")
    draft = policies / "drafts" / "2027-01-01-standard-99.95.yaml"
    # The claims' ledger lives as long as the demo: each run left a slapolicy-demo-* directory behind, unnamed.
    with tempfile.TemporaryDirectory(prefix="slapolicy-demo-") as scratch:
        return _run_steps(main, policies, data, draft, str(Path(scratch) / "ledger.sqlite"))


def _run_steps(main, policies: Path, data: Path, draft: Path, ledger: str) -> int:
    inputs = ["--minutes", str(data / "minutes.csv"), "--incidents", str(data / "incidents.yaml"),
              "--notices", str(data / "notices.yaml"), "--billing", str(data / "billing.csv")]
    steps = [
        ("the policy: schema and linter (one warning: the SLA's own contradiction)", ["validate", str(policies)]),
        ("the examples inside the clauses", ["test", str(policies)]),
        ("the versions of the family", ["versions", str(policies)]),
        ("March 2019 for three accounts, under the version in force",
         ["evaluate", str(policies), "--month", "2019-03", "--format", "text", *inputs]),
        ("what the example draft changes", ["diff", str(policies / "2019-01-01.yaml"), str(draft)]),
        ("acme's March 2019 under that draft: 99.90 % is now below the standard",
         ["evaluate", str(policies), "--month", "2019-03", "--account", "acme", "--policy-file", str(draft),
          "--format", "text", *inputs]),
        ("replay March 2019 under the draft: what would have been owed?",
         ["replay", str(policies), "--from", "2019-03", "--to", "2019-03", "--under", str(draft), "--format", "text",
          *inputs]),
        ("globex claims March 2019 through its work order system",
         ["claim", str(policies), str(data / "claim-globex-2019-03.json"), "--ledger", ledger,
          "--now", "2019-04-10T12:00+08:00", "--format", "text", *inputs]),
        ("acme claims by e-mail, too early and without a report: every reason is given",
         ["claim", str(policies), str(data / "claim-acme-2019-03-by-email.json"), "--ledger", ledger,
          "--now", "2019-04-10T12:00+08:00", "--format", "text", *inputs]),
    ]
    code = 0
    for title, argv in steps:
        section(f"{title}\n$ slapolicy {' '.join(argv)}")
        sys.stdout.flush()
        code |= main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    return code
