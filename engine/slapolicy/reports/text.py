"""Text renderings a person reads in a minute."""
from __future__ import annotations

from ..calendar import holidays_note


def one_line(text: str) -> str:
    """A line of the report as it is shown: a character that is not printable (a line end, a terminal's escape,
    a bidirectional override) written as its escape, so that a name read from the inputs (an account, an incident)
    neither starts a line of its own, which could pass for a total, nor sends commands to the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


ACCOUNT_WIDTH = 40  # the widest the replay table's account column grows to fit its names


def _lines(lines: list) -> str:
    return "\n".join(one_line(line) for line in lines)


def render_evaluation(evaluation: dict, policy_file=None) -> str:
    """``policy_file``: the file the month was evaluated under when one was named (``--policy-file``): the header
    names it, since an edited copy has the name and version of the published version it was copied from."""
    month = evaluation["service_month"]
    policy = evaluation["policy"]
    under = f"policy {policy['id']} {policy['version']}"
    if policy_file is not None:
        under += f" of the file {policy_file} (sha256 {policy['sha256'][:12]}…) as asked"
    money = ""
    if evaluation["compensation"] is not None:
        money = f", compensation {evaluation['compensation']} of fee {evaluation['monthly_fee']}"
    excluded = ", ".join(f"§{clause}: {count}" for clause, count in evaluation["excluded_minutes"].items()) or "none"
    lines = [
        f"Account {evaluation['account']} — Service Month {month['start']} to {month['end']} "
        f"({month['total_minutes']} minutes), {under}",
        f"  availability {evaluation['availability_percent']}%: standard {'met' if evaluation['meets_standard'] else 'NOT met'}; "
        f"credit {evaluation['credit_percent']}%{money}",
        f"  unavailable minutes counted: {evaluation['unavailable_minutes']} "
        f"(of {evaluation['raw_unavailable_minutes']}; excluded {excluded}); minutes with data: {evaluation['minutes_with_data']}",
    ]
    if "before_aggregate_cap" in evaluation:
        lines.append(f"  {evaluation['before_aggregate_cap']}")
    lines += _warning_lines(evaluation)
    lines.append("  why:")
    for step in evaluation["trace"]:
        lines.append(f"    [{step['clause']}] {step['detail']}")
    return _lines(lines)


def _warning_lines(evaluation: dict) -> list[str]:
    """What someone should look at in an evaluation (docs/readings.md), a line each: a month without a minute of data
    reads as one measured whole unless it is said."""
    return [f"  WARNING [{warning['clause']}] {warning['message']}" for warning in evaluation.get("warnings", ())]


def render_evaluations(result: dict, policy_file=None, month: str = "", held: str = "") -> str:
    return "\n\n".join(render_evaluation(e, policy_file) for e in result["evaluations"]) or \
        nothing_to_evaluate(month, held)


def nothing_to_evaluate(month: str, held: str = "") -> str:
    """What an evaluation of no account says: most often a --month the minutes do not hold, or the wrong file.
    ``held``: what the minutes hold instead (``planning.held_minutes_note``), added when given."""
    return (f"no account has minutes or billing in the Service Month {month}: nothing to evaluate (check --month, and "
            f"that --minutes and --billing name the files meant{held})")


def render_claim(result: dict) -> str:
    """A reply a support agent can paste: the decision, each reason with its clause, the window, the records."""
    window = result["window"]
    evaluation = result["evaluation"]
    lines = [f"Claim {result['decision_id']} — account {result['account']}, Service Month {result['service_month']}: "
             f"{result['decision'].upper()}"]
    if result.get("repeated"):
        lines.append("(this claim was decided before; the recorded decision is repeated and nothing is granted again)")
    if result["message"]:
        lines.append(result["message"])
    if result["reasons"]:
        lines.append("Reasons:")
        for reason in result["reasons"]:
            lines.append(f"  - [{reason['clause']}] {reason['message']}")
    cap = (result.get("compensation_detail") or {}).get("aggregate_cap") or {}
    if cap.get("applies"):
        tight = cap["tightest_window"]
        lines.append(f"Aggregate cap ({cap['clause']}): first month of use {cap['first_month_of_use']} "
                     f"({cap['first_month_of_use_from']}), {cap['months_of_use']} month(s) of use; window "
                     f"{cap['window']['from']} to {cap['window']['to']}: {cap['fees_paid']} paid, {cap['already_granted']} "
                     f"granted for its other months; room {cap['room']} (tightest window {tight['from']} to {tight['to']}).")
    skipped = holidays_note([(day["date"], day["name"]) for day in window.get("holidays_skipped") or ()])
    lines.append(f"Claim window: opens {window['opens']}{f' ({skipped})' if skipped else ''}, "
                 f"closes at the end of {window['last_day']}.")
    lines.append(f"Service Availability: {evaluation['availability_percent']}% "
                 f"({'meets' if evaluation['meets_standard'] else 'below'} the standard), "
                 f"{evaluation['unavailable_minutes']} unavailable minute(s) counted, credit {evaluation['credit_percent']}%.")
    lines += _warning_lines(evaluation)
    rec = result["reconciliation"]
    lines.append(f"Records ({rec['clause']}, the provider's backend records prevail): {rec['claimed_minutes']} minute(s) "
                 f"claimed, {rec['confirmed_minutes']} confirmed as unavailable.")
    for key, label in (("claimed_not_unavailable_in_records", "claimed but available in the records"),
                       ("claimed_but_excluded", "claimed but excluded by a disclaimer"),
                       ("unavailable_not_claimed", "unavailable in the records but not claimed")):
        for span in rec[key][:10]:
            lines.append(f"  {label}: {span['start']} to {span['end']} ({span['minutes']} min)")
        if len(rec[key]) > 10:
            lines.append(f"  ... and {len(rec[key]) - 10} more range(s) {label}")
    return _lines(lines)


def baseline_versions(result: dict) -> list[tuple[str, str, str]]:
    """(version, first month, last month) of each run of consecutive months whose rows were evaluated under one
    baseline version, in order: a replay across amendments has several. A month without rows ends a run; a month
    whose accounts' Service Months began under different versions (one that started mid-month) names them all."""
    found: dict = {}
    for row in result["rows"]:
        found.setdefault(row["month"], set()).add(row["baseline"]["version"])
    runs: list = []
    previous = None
    for month in result["months"]:
        version = " and ".join(sorted(found[month])) if month in found else None
        if version is not None and version == previous:
            runs[-1][2] = month
        elif version is not None:
            runs.append([version, month, month])
        previous = version
    return [tuple(run) for run in runs]


def render_replay(result: dict) -> str:
    under = result["under"]
    lines = [f"Replay {result['months'][0]} to {result['months'][-1]} under {under['version']} ({under['file']}), "
             f"{result['rows_read']} minute rows read"]
    runs = baseline_versions(result)
    if len(runs) > 1:  # across amendments: each month's baseline is the version then in force (the HTML says it too)
        lines.append("baseline versions in force: " + ", ".join(
            f"{version} ({first}{'' if first == last else ' to ' + last})" for version, first, last in runs))
    if "before_aggregate_cap" in result:
        lines.append(result["before_aggregate_cap"])
    if "not_replayed_note" in result:  # before the rows: "0 changed" alone read as the amendment changing nothing
        lines.append(result["not_replayed_note"])
    if "nothing_to_replay" in result:  # a report of zeros alone left the analyst to guess why
        lines.append(result["nothing_to_replay"])
    # The account column is as wide as its longest name as shown (up to ACCOUNT_WIDTH), and a longer name keeps two
    # spaces before its month: a name of 14 characters or more ran into the month ('</td></tr></table>x2019-02').
    shown = [one_line(row["account"]) for row in result["rows"]]
    width = min(max([12, *map(len, shown)]), ACCOUNT_WIDTH)
    # An amendment of §1.5 or of an exclusion moves the availability itself: both are shown where they differ (the
    # baseline's alone showed a row counted as changed with no change in it), and the column widens to hold them.
    availabilities = [replay_availability(row) for row in result["rows"]]
    column = max([13, *(len(shown_availability) + 1 for shown_availability in availabilities)])
    lines.append(f"{'account':<{width}}  {'month':<9}{'availability':>{column}}{'baseline':>18}{'amended':>18}{'delta':>11}"
                 "  why")
    for row, account, availability in zip(result["rows"], shown, availabilities):
        b, a = row["baseline"], row["amended"]
        why = "; ".join(f"{c['ref'] or ''} {c['what']}".strip() for c in row["clauses_changed"]) or "-"
        lines.append(f"{account:<{width}}  {row['month']:<9}{availability:>{column}}"
                     f"{str(b['credit_percent']) + '% ' + (b['compensation'] or '-'):>18}"
                     f"{str(a['credit_percent']) + '% ' + (a['compensation'] or '-'):>18}"
                     f"{row['delta']['compensation'] or '-':>11}  {why}")
    lines.append("")
    for month, total in result["totals"]["per_month"].items():
        lines.append(f"{month}: {total['account_months']} account-month(s), {total['changed']} changed, "
                     f"compensation {total['baseline_compensation']} → {total['amended_compensation']} ({total['delta']})"
                     f"{_without_billing(total)}")
    overall = result["totals"]["overall"]
    lines.append(f"overall: {overall['account_months']} account-month(s), {overall['changed']} changed, compensation "
                 f"{overall['baseline_compensation']} → {overall['amended_compensation']} ({overall['delta']})"
                 f"{_without_billing(overall)}")
    return _lines(lines)


def replay_availability(row: dict) -> str:
    """A replay row's availability as the reports show it: the baseline's, and the amended one beside it where it
    differs (``99.97% → 99.95%``)."""
    before, after = row["baseline"]["availability_percent"], row["amended"]["availability_percent"]
    return f"{before}%" if before == after else f"{before}% → {after}%"


def without_billing_note(total: dict) -> str:
    """Why a total of 0.00 may not mean nothing is owed: account-months without billing have no fee, so no money."""
    count = total.get("without_billing", 0)
    if not count:
        return ""
    return (f"{count} account-month(s) without billing: their compensation is not in this total "
            f"(no Monthly Service Fee; give --billing)")


def _without_billing(total: dict) -> str:
    note = without_billing_note(total)
    return f"; {note}" if note else ""
