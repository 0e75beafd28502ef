"""``slapolicy demo``: the main jobs on the shipped policy and example data, one after another."""
from __future__ import annotations

import sys
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
    from .cli import main

    policies = shipped("policies/ccc")
    section(f"slapolicy validate {policies}")
    code = main(["validate", str(policies)])
    section(f"slapolicy test {policies}")
    code |= main(["test", str(policies)])
    section(f"slapolicy show {policies} --month 2019-03")
    code |= main(["show", str(policies), "--month", "2019-03"])
    return code
