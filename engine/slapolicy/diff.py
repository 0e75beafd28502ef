"""``slapolicy diff``: what changed between two versions, in the policy's own terms, each with its ref."""
from __future__ import annotations

from .conditions import describe

_SECTIONS = ("timezone", "service_month", "availability", "exclusions", "compensation", "claims", "parameters")
_SKIPPED_LEAVES = {"description", "text", "ref", "reading"}


def _leaves(node, path=(), ref=None):
    """(path, value, nearest ref) for every setting under ``node`` except tiers and prose."""
    if isinstance(node, dict):
        ref = node.get("ref", ref)
        for key, value in node.items():
            if key in _SKIPPED_LEAVES or (path == ("compensation",) and key == "tiers"):
                continue
            yield from _leaves(value, path + (key,), ref)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, path + (i,), ref)
    else:
        yield path, node, ref


def _name(path) -> str:
    name = ".".join(str(p) for p in path)
    return name[: -len(".value")] if name.endswith(".value") else name


def _change(kind, what, ref, old=None, new=None, detail=None) -> dict:
    change = {"kind": kind, "what": what, "ref": ref, "old": old, "new": new}
    if detail:
        change["detail"] = detail
    return change


def diff_policies(old, new) -> dict:
    changes = []
    for key in ("version", "status", "effective_from", "title"):
        if old.raw[key] != new.raw[key]:
            changes.append(_change("changed", key, None, old.raw[key], new.raw[key]))
    old_leaves = {p: (v, r) for p, v, r in _leaves({k: old.raw[k] for k in _SECTIONS})}
    new_leaves = {p: (v, r) for p, v, r in _leaves({k: new.raw[k] for k in _SECTIONS})}
    for path in sorted(set(old_leaves) | set(new_leaves), key=lambda p: tuple(map(str, p))):
        before, after = old_leaves.get(path, (None, None)), new_leaves.get(path, (None, None))
        if before[0] != after[0]:
            kind = "added" if path not in old_leaves else "removed" if path not in new_leaves else "changed"
            changes.append(_change(kind, _name(path), after[1] or before[1], before[0], after[0]))
    changes.extend(_diff_tiers(old.tiers, new.tiers))
    changes.extend(_diff_clauses(old, new))
    for label, get in (("cause", lambda p: set(p.causes)), ("fact", lambda p: set(p.facts))):
        for item in sorted(get(new) - get(old)):
            changes.append(_change("added", f"{label} {item}", None, None, item))
        for item in sorted(get(old) - get(new)):
            changes.append(_change("removed", f"{label} {item}", None, item, None))
    return {"old": old.summary(), "new": new.summary(), "changes": changes}


def _diff_tiers(old_tiers, new_tiers):
    for i in range(max(len(old_tiers), len(new_tiers))):
        a = old_tiers[i] if i < len(old_tiers) else None
        b = new_tiers[i] if i < len(new_tiers) else None
        what = f"compensation.tiers[{i + 1}]"
        if a is None:
            yield _change("added", what, b.ref, None, f"{b.describe()}: {b.credit}%")
        elif b is None:
            yield _change("removed", what, a.ref, f"{a.describe()}: {a.credit}%", None)
        elif (a.describe(), a.credit) != (b.describe(), b.credit):
            yield _change("changed", what, b.ref, f"{a.describe()}: {a.credit}%", f"{b.describe()}: {b.credit}%")


def _diff_clauses(old, new):
    before = {c.id: c for c in old.clauses}
    after = {c.id: c for c in new.clauses}
    for clause_id in sorted(set(before) | set(after), key=lambda s: tuple(int(x) for x in s.split("."))):
        a, b = before.get(clause_id), after.get(clause_id)
        what = f"clause {clause_id}"
        if a is None:
            yield _change("added", what, b.ref, None, b.title, detail=describe(b.condition))
        elif b is None:
            yield _change("removed", what, a.ref, a.title, None, detail=describe(a.condition))
        else:
            if " ".join(a.text.split()) != " ".join(b.text.split()):
                yield _change("reworded", what, b.ref, a.text, b.text)
            if describe(a.condition) != describe(b.condition):
                yield _change("condition", what, b.ref, describe(a.condition), describe(b.condition))
            for attr in ("title", "acts_on", "attribution"):
                if getattr(a, attr) != getattr(b, attr):
                    yield _change("changed", f"{what} {attr}", b.ref, getattr(a, attr), getattr(b, attr))
            if [(e.facts, e.applies) for e in a.examples] != [(e.facts, e.applies) for e in b.examples]:
                yield _change("examples", what, b.ref, len(a.examples), len(b.examples))


def render_diff(result: dict) -> str:
    lines = [f"{result['old']['id']} {result['old']['version']} → {result['new']['version']}"]
    if not result["changes"]:
        lines.append("no changes in the policy's terms")
    for change in result["changes"]:
        ref = f"{change['ref']} " if change["ref"] else ""
        kind, what = change["kind"], change["what"]
        if kind == "added":
            text = f"+ {what}: {change['new']}"
        elif kind == "removed":
            text = f"- {what}: {change['old']}"
        elif kind == "reworded":
            text = f"~ {what} reworded:\n      was: {change['old']}\n      now: {change['new']}"
        elif kind == "examples":
            text = f"~ {what} examples changed ({change['old']} → {change['new']})"
        else:
            text = f"~ {what}: {change['old']} → {change['new']}"
        lines.append(f"  {ref}{text}")
    return "\n".join(lines)
