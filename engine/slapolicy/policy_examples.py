"""``slapolicy test``: run the examples written inside each clause through the real rules backend.

Like ``opa test``, a run that tests nothing fails: a clause without an example is a
failure, and so is a file with no clauses.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Diagnostic


@dataclass
class ExampleReport:
    passed: int = 0
    failed: int = 0
    failures: list[Diagnostic] = field(default_factory=list)
    clauses_exercised: set = field(default_factory=set)

    def add(self, other: "ExampleReport") -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.failures.extend(other.failures)
        self.clauses_exercised |= other.clauses_exercised

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0


def _show_facts(facts: dict) -> str:
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in facts.items()) or "defaults only"


def run_examples(policy) -> ExampleReport:
    report = ExampleReport()
    doc = policy.doc
    for clause in policy.clauses:
        where = ("disclaimers", clause.index)
        if not clause.examples:
            report.failed += 1
            report.failures.append(doc.diagnostic(where + ("id",), "no-examples",
                                                  f"FAIL clause {clause.id} ({clause.ref}) has no examples"))
            continue
        for number, example in enumerate(clause.examples, start=1):
            facts = policy.complete_facts(example.facts)
            applies = clause.id in policy.ruleset.match(facts)
            if applies == example.applies:
                report.passed += 1
                report.clauses_exercised.add(clause.id)
            else:
                report.failed += 1
                report.failures.append(doc.diagnostic(
                    example.path, "example-failed",
                    f"FAIL clause {clause.id} ({clause.ref}) example {number}: expected applies: "
                    f"{str(example.applies).lower()}, got {str(applies).lower()} ({_show_facts(example.facts)})"))
    return report
