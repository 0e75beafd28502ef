"""Text renderings a person reads in a minute."""
from __future__ import annotations


def render_evaluation(evaluation: dict) -> str:
    month = evaluation["service_month"]
    policy = evaluation["policy"]
    money = ""
    if evaluation["compensation"] is not None:
        money = f", compensation {evaluation['compensation']} of fee {evaluation['monthly_fee']}"
    excluded = ", ".join(f"§{clause}: {count}" for clause, count in evaluation["excluded_minutes"].items()) or "none"
    lines = [
        f"Account {evaluation['account']} — Service Month {month['start']} to {month['end']} "
        f"({month['total_minutes']} minutes), policy {policy['id']} {policy['version']}",
        f"  availability {evaluation['availability_percent']}%: standard {'met' if evaluation['meets_standard'] else 'NOT met'}; "
        f"credit {evaluation['credit_percent']}%{money}",
        f"  unavailable minutes counted: {evaluation['unavailable_minutes']} "
        f"(of {evaluation['raw_unavailable_minutes']}; excluded {excluded}); minutes with data: {evaluation['minutes_with_data']}",
        "  why:",
    ]
    for step in evaluation["trace"]:
        lines.append(f"    [{step['clause']}] {step['detail']}")
    return "\n".join(lines)


def render_evaluations(result: dict) -> str:
    return "\n\n".join(render_evaluation(e) for e in result["evaluations"]) or "no accounts to evaluate"
