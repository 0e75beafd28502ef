"""``slapolicy show``: the version in force and its terms, each clause's words beside its condition."""
from __future__ import annotations

import textwrap

from ..rules.conditions import describe


def policy_terms(policy) -> dict:
    """The terms of a version as plain JSON-serialisable data."""
    return {
        "policy": {**policy.summary(), "title": policy.title, "status": policy.status,
                   "effective_from": policy.effective_from.isoformat(), "file": policy.path},
        "timezone": policy.timezone,
        "standard": {"value": f"{policy.standard}%", "met_when": policy.standard_met_when,
                     "ref": policy.ref("availability", "standard")},
        "minute_unavailable_below": f"{policy.unavailable_below}%",
        "gate": policy.gate,
        "tiers": [{"range": t.describe(), "credit": f"{t.credit}%", "ref": t.ref} for t in policy.tiers],
        "clauses": [{"id": c.id, "ref": c.ref, "title": c.title, "text": " ".join(c.text.split()),
                     "when": describe(c.condition), "acts_on": c.acts_on, "attribution": c.attribution}
                    for c in policy.clauses],
        "document": policy.raw,
    }


def _setting_lines(section: dict, indent: str = "  ") -> list[str]:
    lines = []
    for key, node in section.items():
        if key in ("ref", "text") or not isinstance(node, dict) or "value" not in node:
            continue
        reading = " (reading)" if node.get("reading") else ""
        lines.append(f"{indent}{key}: {node['value']}  [{node['ref']}]{reading}")
    return lines


def render_terms(policy, month: str | None = None) -> str:
    raw = policy.raw
    head = f"{policy.title} — version {policy.version} ({policy.status}), effective {policy.effective_from}"
    lines = [head]
    if month:
        lines.append(f"in force for Service Month {month}: latest version effective on or before its first day (§6.2)")
    lines += [f"file: {policy.path}", f"sha256: {policy.sha256}",
              f"timezone: {policy.timezone}  [{raw['timezone']['ref']}]", "", "Availability"]
    lines += _setting_lines(raw["availability"])
    lines.append(f"  standard met when availability is {policy.standard_met_when.replace('_', ' ')} {policy.standard}%")
    lines += ["", "Exclusions"] + _setting_lines(raw["exclusions"])
    lines += ["", "Compensation"] + _setting_lines(raw["compensation"])
    for number, tier in enumerate(policy.tiers, start=1):
        lines.append(f"  tier {number}: availability {tier.describe()} → {tier.credit}% of the fee  [{tier.ref}]")
    cap = raw["compensation"]["aggregate_cap"]
    if cap["value"] != "none":  # its numbers are beside its value, which _setting_lines shows alone
        lines.append(f"  aggregate cap: the fees paid since the first month of use, or once used more than "
                     f"{cap['after_months_of_use']} months, the fees paid in the {cap['lookback_months']} months ending "
                     f"with the damaged month  [{cap['ref']}]")
    lines += ["", "Claims"] + _setting_lines(raw["claims"])
    opens, closes = raw["claims"]["window_opens"], raw["claims"]["window_closes"]
    after = (f"after business day {opens['after_business_days']} of the following month" if opens["after_business_days"]
             else "on the first day of the following month")  # after no business day: as that month begins
    lines.append(f"  window opens at {opens['at']} {after}  [{opens['ref']}]")
    lines.append(f"  window closes at the end of calendar day {closes['calendar_days_after_end']} after the Service Month  [{closes['ref']}]")
    lines += ["", "Disclaimers"]
    for clause in policy.clauses:
        extra = []
        if clause.acts_on != "minutes":
            extra.append(f"acts on {clause.acts_on}")
        if clause.attribution != "normal":
            extra.append(clause.attribution)
        suffix = f" ({', '.join(extra)})" if extra else ""
        lines.append(f"  {clause.ref} {clause.title}{suffix}")
        for text_line in textwrap.wrap(" ".join(clause.text.split()), 76):
            lines.append(f"      {text_line}")
        lines.append(f"      when: {describe(clause.condition)}")
    return "\n".join(lines)


def provision(policy, number: str) -> list[dict]:
    """Every part of the document that states provision ``number`` ("5.7", "3.2(2)", "§1.11.1", "Preamble"): its
    dotted path and the node itself, with the words and the settings beside them. "3.2" also finds "§3.2(1)"."""
    wanted = number.strip()
    # as a reader types it: "preamble", "§ 5.7" (a space after the sign, as some documents print it)
    wanted = "Preamble" if wanted.lower() == "preamble" else "§" + wanted.lstrip("§").strip()
    found = []

    def states(node) -> bool:
        refs = [ref.strip() for ref in str(node.get("ref", "")).split(",")]
        return any(ref == wanted or ref.startswith(wanted + "(") for ref in refs)

    def walk(node, path):
        if isinstance(node, dict):
            if "ref" in node and states(node):
                found.append({"path": ".".join(map(str, path)) or "(document)", "heading": heading(policy, path),
                              "node": node})
                return
            for key, value in node.items():
                walk(value, path + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, path + (index,))

    walk(policy.raw, ())
    # The provision itself first (under provisions:, its heading and its words, or a §5 clause's under disclaimers:),
    # then the settings that cite it, those with words of their own before the others, each in the document's order:
    # `show --provision 5.7` printed four settings and two facts before §5.7's text, 50 lines down, `--provision 2.2`
    # the gate's words (§3's, which it cites with §2.2) before §2.2's, and `--provision 3.1` its heading ("Compensation
    # Standard", a title without words) last, after the compensation settings.
    def own(entry) -> bool:
        return entry["path"].startswith(("provisions.", "disclaimers."))

    return sorted(found, key=lambda entry: (not own(entry), not own(entry) and "text" not in entry["node"]))


# The lists of a document whose items are named by a field of their own, as `diff` and lint name them: (the list's path,
# the word for an item, the field naming it). A position (``provisions.33``) told a reader nothing.
_NAMED_ITEMS = ((("provisions",), "provision", "ref"), (("disclaimers",), "clause", "id"),
                (("causes",), "cause", "id"), (("facts",), "fact", "name"),
                (("claims", "required_materials"), "required material", "id"))


def heading(policy, path: tuple) -> str:
    """What `show --provision` calls the part of the document at ``path``: a provision by its number
    (``provision §3.2(2)``), a clause, cause, fact or required material by its id or name, with its title where it has
    one (``clause 5.7 (Concurrency without prior notice)``), a tier by its place and range (``compensation tier 1 (≥ 99%
    and < 99.95%)``), a setting by its dotted path (``claims.window_closes``), as `applied_by` names it."""
    if not path:
        return "(document)"
    node = policy.raw
    for key in path:
        node = node[key]
    for where, word, field in _NAMED_ITEMS:
        if tuple(path[:-1]) == where and isinstance(path[-1], int) and isinstance(node, dict) and field in node:
            title = node.get("title")
            named = f"{word} {node[field]}"
            return named + (f" ({title})" if isinstance(title, str) and title and title != node[field] else "")
    if tuple(path[:-1]) == ("compensation", "tiers") and isinstance(path[-1], int):
        tier = next(t for t in policy.tiers if t.index == path[-1])
        return f"compensation tier {path[-1] + 1} ({tier.describe()})"
    return ".".join(str(key) for key in path)


def render_provision(policy, number: str, found: list[dict]) -> str:
    import yaml  # PyYAML (0.015 s): only `show --provision` prints YAML

    lines = [f"{policy.title} — version {policy.version}: {number}"]
    for entry in found:
        lines += ["", f"{entry['heading']}:"]
        dumped = yaml.safe_dump(entry["node"], allow_unicode=True, sort_keys=False, width=96)
        lines += ["  " + line for line in dumped.rstrip("\n").split("\n")]
    return "\n".join(lines)
