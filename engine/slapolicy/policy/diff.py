"""``slapolicy diff``: what changed between two versions, in the policy's own terms, each with its ref.

Things are matched by what they mean, not by where they sit in the file: tiers by their
range and credit (inserting one tier shows one added tier), clauses by id, causes and facts
by id (a new cause shows its title), lists of materials by id, the agreement's provisions by
their number. Descriptions and the agreement's own words (``text``) are compared too, as
"reworded"; so is every ``ref``, the clause a setting cites.
"""
from __future__ import annotations

import difflib
import re
from decimal import Decimal

from ..rules.conditions import Compare, Not, describe
from .load import code_point as _code, invisible as _invisible  # what shows nothing: one rule, the policy's

_SECTIONS = ("source", "timezone", "service_month", "availability", "exclusions", "compensation", "claims", "parameters")
_PROSE = {"description", "text"}
_SKIPPED_LEAVES = {"examples"}  # examples test the terms; `slapolicy test` reports them, not diff


def _leaves(node, path=(), ref=None):
    """(path, value, nearest ref) for every setting under ``node`` except tiers; lists of items with
    an ``id`` are keyed by that id, so that reordering or inserting one is not a change of every other."""
    if isinstance(node, dict):
        ref = node.get("ref", ref)
        for key, value in node.items():
            if key in _SKIPPED_LEAVES or (path == ("compensation",) and key == "tiers"):
                continue
            yield from _leaves(value, path + (key,), ref)
    elif isinstance(node, list) and node and all(isinstance(item, dict) and "id" in item for item in node):
        for item in node:
            yield from _leaves(item, path + (item["id"],), item.get("ref", ref))
    elif isinstance(node, list) and not any(isinstance(item, (dict, list)) for item in node):
        yield path, node, ref  # a list of values is one setting (a material's requires), not one per position
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, path + (i,), ref)
    else:
        yield path, node, ref


def _name(path) -> str:
    name = ".".join(str(p) for p in path)
    return name[: -len(".value")] if name.endswith(".value") else name


def _same_words(a, b) -> bool:
    return " ".join(str(a).split()) == " ".join(str(b).split())


def _change(kind, what, ref, old=None, new=None, detail=None, **extra) -> dict:
    change = {"kind": kind, "what": what, "ref": ref, "old": old, "new": new}
    if detail:
        change["detail"] = detail
    change.update(extra)
    if isinstance(old, str) and isinstance(new, str) and (unseen := unseen_changes(old, new)):
        change["unseen"] = unseen
    return change


# ---------------------------------------------------------------------------- changes a reader cannot see

# Word pairs weighed to align two texts (as the redline does, see redline.MAX_WORD_PAIRS); past it, words are
# compared where they stand.
MAX_WORD_PAIRS = 4_000_000


def _escaped(word: str, odd) -> str:
    """A word with each character of ``odd`` written as its code point: what a reader would not see otherwise."""
    return "".join(f"⟨U+{ord(c):04X}⟩" if c in odd else c for c in word)


def _word_note(was: str, now: str) -> str | None:
    """What changed from ``was`` to ``now`` when the two words look the same: characters that show nothing added or
    removed, or letters and marks swapped for others of another script that look alike (a Cyrillic е for an e, ’
    for ') — each swap has an ASCII character on one side. None when the change can be seen."""
    if was == now:
        return None
    seen_was = "".join(c for c in was if not _invisible(c))
    seen_now = "".join(c for c in now if not _invisible(c))
    if seen_was == seen_now:
        hidden = sorted(set(c for c in now if _invisible(c)) ^ set(c for c in was if _invisible(c))) or \
            sorted(set(c for c in now + was if _invisible(c)))
        odd = set(hidden)
        return (f"{_escaped(now, odd)} (was {_escaped(was, odd)}): {', '.join(map(_code, hidden))}, which shows "
                "nothing")
    if len(seen_was) != len(seen_now):
        return None
    swaps = [(a, b) for a, b in zip(seen_was, seen_now) if a != b]
    if not all(a.isascii() != b.isascii() for a, b in swaps):
        return None
    odd = {c for pair in swaps for c in pair if not c.isascii()} | {c for c in now + was if _invisible(c)}
    said = "; ".join(f"{_code(b)} in place of {_code(a)}" for a, b in dict.fromkeys(swaps))
    return f"{_escaped(now, odd)} (was {_escaped(was, odd)}): {said}, which look alike"


def aligned_words(old: str, new: str, limit: int) -> tuple[list, list, int, list]:
    """Two texts' words, aligned: (old words, new words, how many words both begin with, and difflib's opcodes over
    the words between that head and the words both end with, indexes counted from the head). Past ``limit`` word
    pairs between them (difflib's matching grows with their product: 20,000 words took 70 s), the part between is
    one replacement: still exact, only coarser."""
    a, b = str(old or "").split(), str(new or "").split()
    head = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    tail = next((i for i, (x, y) in enumerate(zip(reversed(a[head:]), reversed(b[head:]))) if x != y),
                min(len(a), len(b)) - head)
    a_mid, b_mid = a[head: len(a) - tail], b[head: len(b) - tail]
    if len(a_mid) * len(b_mid) > limit:
        return a, b, head, [("replace", 0, len(a_mid), 0, len(b_mid))]
    return a, b, head, difflib.SequenceMatcher(a=a_mid, b=b_mid, autojunk=False).get_opcodes()


def word_changes(old: str, new: str) -> tuple:
    """(old words, new words, each place they differ as (i1, i2, j1, j2): old words [i1:i2] became new words
    [j1:j2]), aligned by :func:`aligned_words` (the redline's alignment, which also shows the words alike)."""
    a, b, head, blocks = aligned_words(old, new, MAX_WORD_PAIRS)
    return a, b, [(i1 + head, i2 + head, j1 + head, j2 + head) for op, i1, i2, j1, j2 in blocks if op != "equal"]


# A reworded text longer than this is shown in text by the words that changed, each with a few words around it:
# "was" and "now" whole, each a line of thousands of words, leave the reader to find the change.
LONG_TEXT_WORDS = 200
CONTEXT_WORDS = 6
MAX_HUNKS = 20


def word_hunks(old: str, new: str) -> list[str]:
    """Each place two texts differ, as ``at word N: … before [-removed-] {+added+} after …`` (N counted in the old
    text, from 1); at most MAX_HUNKS, then how many more."""
    a, b, changes = word_changes(old, new)
    hunks = []
    for i1, i2, j1, j2 in changes:
        before, after = a[max(0, i1 - CONTEXT_WORDS): i1], a[i2: i2 + CONTEXT_WORDS]
        parts = (["…"] if i1 > CONTEXT_WORDS else []) + before
        parts += [f"[-{' '.join(a[i1:i2])}-]"] if i2 > i1 else []
        parts += [f"{{+{' '.join(b[j1:j2])}+}}"] if j2 > j1 else []
        parts += after + (["…"] if i2 + CONTEXT_WORDS < len(a) else [])
        hunks.append(f"at word {i1 + 1:,}: {' '.join(parts)}")
    return hunks[:MAX_HUNKS] + ([f"and {len(hunks) - MAX_HUNKS} more changes"] if len(hunks) > MAX_HUNKS else [])


def unseen_changes(old: str, new: str) -> list[str]:
    """The changes between two texts that a reader comparing them would not see, one note per word: a text
    "reworded" whose old and new words look the same otherwise leaves a reviewer to guess (or to miss) what the
    file now says differently. Words are aligned as the redline aligns them."""
    if old == new or (old.isascii() and new.isascii() and old.isprintable() and new.isprintable()):
        return []
    a, b, changes = word_changes(old, new)
    notes = []
    for i1, i2, j1, j2 in changes:
        # a word of nothing but such characters, standing between words
        notes += [f"{_escaped(w, set(w))} {'added' if side == 'b' else 'removed'}: {', '.join(map(_code, dict.fromkeys(w)))}, "
                  "which shows nothing" for side, words in (("a", a[i1:i2]), ("b", b[j1:j2])) for w in words
                  if all(map(_invisible, w))]
        # words replaced are paired where they stand ("Cloud's compensation." for "Cloud’s compensation, and ...")
        notes += filter(None, (_word_note(x, y) for x, y in zip(a[i1:i2], b[j1:j2])))
    return list(dict.fromkeys(notes))


def diff_policies(old, new) -> dict:
    changes = []
    for key in ("id", "family", "version", "status", "effective_from", "amends", "title"):
        if old.raw.get(key) != new.raw.get(key):
            changes.append(_change("changed", key, None, old.raw.get(key), new.raw.get(key)))
    if not _same_words(old.raw.get("description", ""), new.raw.get("description", "")):
        changes.append(_change("reworded", "description", None, old.raw.get("description"), new.raw.get("description")))
    changes.extend(_diff_settings(old, new))
    changes.extend(_diff_tiers(old.tiers, new.tiers))
    changes.extend(_diff_clauses(old, new))
    changes.extend(_diff_named(old.raw.get("causes", []), new.raw.get("causes", []), "cause", "id", "title"))
    changes.extend(_diff_named(old.raw.get("facts", []), new.raw.get("facts", []), "fact", "name", "description"))
    changes.extend(_diff_provisions(old.raw.get("provisions"), new.raw.get("provisions")))
    return {"old": old.summary(), "new": new.summary(), "changes": changes, "notes": _comparing(old, new)}


def _comparing(old, new) -> list[str]:
    """What the two texts compared are to each other, where it is not "a version and one that amends it": two
    agreements (their ids differ; their dates are then no order), or the later text given first (its changes read backwards, an added clause as
    removed)."""
    notes = []
    if old.id != new.id:
        notes.append(f"versions of two agreements, {old.id} and {new.id}: neither amends the other, so what follows "
                     "compares two texts, not an amendment and the version it changes")
    elif old.effective_from > new.effective_from:
        notes.append(f"the later version is given first: {old.version} takes effect on {old.effective_from}, "
                     f"{new.version} on {new.effective_from}, so each change reads from the later text back to the "
                     f"earlier (what {old.version} added shows as removed); give the earlier version first")
    return notes


def heading(result: dict) -> str:
    """``ccc-sla 2019-01-01 → 2027-01-01``; with the second id where the two are versions of two agreements."""
    old, new = result["old"], result["new"]
    return f"{old['id']} {old['version']} → {'' if new['id'] == old['id'] else new['id'] + ' '}{new['version']}"


def _diff_settings(old, new):
    old_leaves = {p: (v, r) for p, v, r in _leaves({k: old.raw[k] for k in _SECTIONS if k in old.raw})}
    new_leaves = {p: (v, r) for p, v, r in _leaves({k: new.raw[k] for k in _SECTIONS if k in new.raw})}
    # Within one setting its value comes first, its words after.
    for path in sorted(set(old_leaves) | set(new_leaves), key=lambda p: (tuple(map(str, p[:-1])), p[-1] in _PROSE, str(p[-1]))):
        before, after = old_leaves.get(path, (None, None)), new_leaves.get(path, (None, None))
        prose = path[-1] in _PROSE
        if _same_value(before[0], after[0]) or (
                prose and path in old_leaves and path in new_leaves and _same_words(before[0], after[0])):
            continue
        kind = "added" if path not in old_leaves else "removed" if path not in new_leaves else (
            "reworded" if prose else "changed")
        yield _change(kind, _name(path), after[1] or before[1], before[0], after[0])


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?%?\Z")  # a whole number, a decimal like 5.0, a percentage like 99.5%


def _same_value(a, b) -> bool:
    """Equal, or the same number written otherwise: "99.5%" and "99.50%", 5 and "5.0" are one term (the engine
    reads each as that Decimal), and a diff for legal that calls them a change cries wolf at every boundary."""
    if a == b:
        return True
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, str)) or not isinstance(b, (int, str)):
        return False
    a, b = str(a), str(b)
    if not (_NUMBER.match(a) and _NUMBER.match(b)) or a.endswith("%") != b.endswith("%"):
        return False
    return Decimal(a.rstrip("%")) == Decimal(b.rstrip("%"))


def _meaning(condition):
    """What a condition tests, whatever order its parts are written in: the values of ``in`` and ``not_in``, and
    the conditions of ``all`` and ``any``, as sets (``in: [none, provider]`` is ``in: [provider, none]``)."""
    if isinstance(condition, Compare):
        value = frozenset(condition.value) if isinstance(condition.value, tuple) else condition.value
        return ("compare", condition.fact, condition.op, value)
    if isinstance(condition, Not):
        return ("not", _meaning(condition.item))
    return (type(condition).__name__, frozenset(map(_meaning, condition.items)))


def _tier_text(tier) -> str:
    return f"{tier.describe()}: {tier.credit}%"


def _range(tier) -> tuple:
    """A tier's range by its bounds' values: "95%" and "95.0%" are one bound (Decimal equality)."""
    return tier.lower, tier.lower_inclusive, tier.upper, tier.upper_inclusive


def _same_tier(a, b) -> bool:
    return _range(a) == _range(b) and a.credit == b.credit


def _diff_tiers(old_tiers, new_tiers):
    """Tiers matched by meaning: the same range and credit is the same tier; the same range with
    another credit is a changed credit; the same credit over another range is a changed range."""
    gone = [t for t in old_tiers if not any(_same_tier(t, u) for u in new_tiers)]
    came = [t for t in new_tiers if not any(_same_tier(t, u) for u in old_tiers)]
    for a in list(gone):
        b = next((u for u in came if _range(u) == _range(a)), None)
        if b is not None:
            gone.remove(a), came.remove(b)
            yield _change("changed", f"compensation tier {a.describe()}", b.ref, f"credit {a.credit}%", f"credit {b.credit}%",
                          old_tier=a.describe(), new_tier=b.describe())
    for a in list(gone):
        b = next((u for u in came if u.credit == a.credit), None)
        if b is not None:
            gone.remove(a), came.remove(b)
            yield _change("changed", f"compensation tier paying {a.credit}%", b.ref, a.describe(), b.describe(),
                          old_tier=a.describe(), new_tier=b.describe())
    for a in gone:
        yield _change("removed", f"compensation tier {a.describe()}", a.ref, _tier_text(a), None, old_tier=a.describe())
    for b in came:
        yield _change("added", f"compensation tier {b.describe()}", b.ref, None, _tier_text(b), new_tier=b.describe())
    for a in old_tiers:
        b = next((u for u in new_tiers if _same_tier(u, a)), None)
        if b is not None and not _same_words(a.text, b.text):
            yield _change("reworded", f"compensation tier {a.describe()}", b.ref, a.text, b.text)
        if b is not None and a.ref != b.ref:
            yield _change("changed", f"compensation tier {a.describe()} ref", b.ref, a.ref, b.ref)


def _clause_order(clause_id: str):
    return tuple(int(x) for x in clause_id.split(".") if x.isdigit())


def _diff_clauses(old, new):
    """Clauses matched by id; a clause whose words now stand under another id is one renumbered clause (its
    condition, title and examples compared where it went), not two clauses each rewritten in another's words."""
    before = {c.id: c for c in old.clauses}
    after = {c.id: c for c in new.clauses}
    moved = renumbered(before, after)
    arrived = set(moved.values())
    for clause_id in sorted(set(before) | set(after), key=_clause_order):
        a, b = before.get(clause_id), after.get(clause_id)
        if clause_id in moved:
            went = after[moved[clause_id]]
            yield _change("renumbered", f"clause {clause_id}", went.ref, f"§{clause_id}", f"§{went.id}", title=a.title)
            yield from _clause_changes(a, went)
            a = None  # the old clause of this number is told
        if clause_id in arrived:
            b = None  # the new clause of this number is the one renumbered into it
        if a is not None and b is None:
            yield _change("removed", f"clause {clause_id}", a.ref, a.title, None, detail=describe(a.condition))
        elif b is not None and a is None:
            yield _change("added", f"clause {clause_id}", b.ref, None, b.title, detail=describe(b.condition))
        elif a is not None:
            yield from _clause_changes(a, b)


def renumbered(before: dict, after: dict) -> dict:
    """Old clause id -> new id, for each clause whose words the new version holds under another id only (the words
    of the clause now under its old id, and of the one formerly under its new id, being others)."""
    moved = {}
    for old_id, clause in before.items():
        if old_id in after and _same_words(clause.text, after[old_id].text):
            continue
        went = [new_id for new_id, other in after.items() if new_id != old_id and new_id not in moved.values()
                and _same_words(clause.text, other.text)
                and not (new_id in before and _same_words(before[new_id].text, other.text))]
        if len(went) == 1:
            moved[old_id] = went[0]
    return moved


def _clause_changes(a, b):
    """What changed from clause ``a`` to clause ``b`` (the same clause, under the same id or renumbered)."""
    what = f"clause {b.id}"
    if not _same_words(a.text, b.text):
        yield _change("reworded", what, b.ref, a.text, b.text)
    if _meaning(a.condition) != _meaning(b.condition):
        yield _change("condition", what, b.ref, describe(a.condition), describe(b.condition))
    for attr in ("title", "ref", "acts_on", "attribution"):
        if getattr(a, attr) != getattr(b, attr) and not (attr == "ref" and (a.ref, b.ref) == (f"§{a.id}", f"§{b.id}")):
            yield _change("changed", f"{what} {attr}", b.ref, getattr(a, attr), getattr(b, attr))
    if [(e.facts, e.applies) for e in a.examples] != [(e.facts, e.applies) for e in b.examples]:
        yield _change("examples", what, b.ref, len(a.examples), len(b.examples))


def _diff_named(old_items, new_items, label, key, shown):
    """Causes and facts, matched by id (name): added ones show their title (description)."""
    before = {item[key]: item for item in old_items}
    after = {item[key]: item for item in new_items}
    for name in [n for n in after if n not in before]:
        yield _change("added", f"{label} {name}", after[name].get("ref"), None, after[name].get(shown) or name)
    for name in [n for n in before if n not in after]:
        yield _change("removed", f"{label} {name}", before[name].get("ref"), before[name].get(shown) or name, None)
    for name in [n for n in before if n in after]:
        a, b = before[name], after[name]
        if not _same_words(a.get(shown, ""), b.get(shown, "")):
            yield _change("reworded", f"{label} {name}", b.get("ref"), a.get(shown), b.get(shown))
        for field in sorted((set(a) | set(b)) - {key, shown}):
            if a.get(field) != b.get(field):
                yield _change("changed", f"{label} {name} {field}", b.get("ref"), a.get(field), b.get(field))


def _diff_provisions(old_items, new_items):
    """The agreement's own words, provision by provision, matched by number: a provision added, removed or
    reworded, its heading, and the settings that apply it. A version without ``provisions:`` is one line."""
    if not old_items and not new_items:
        return
    if not old_items or not new_items:
        count = len(old_items or new_items)
        kind, side = ("added", "new") if new_items else ("removed", "old")
        words = f"the agreement's own words, {count} provision(s), only in the {side} version"
        yield _change(kind, "provisions", None, None if new_items else words, words if new_items else None)
        return
    before = {item["ref"]: item for item in old_items}
    after = {item["ref"]: item for item in new_items}
    for ref in [r for r in after if r not in before]:
        yield _change("added", f"provision {ref}", ref, None, after[ref].get("text") or after[ref].get("title"))
    for ref in [r for r in before if r not in after]:
        yield _change("removed", f"provision {ref}", ref, before[ref].get("text") or before[ref].get("title"), None)
    for ref in [r for r in before if r in after]:
        a, b = before[ref], after[ref]
        if not _same_words(a.get("text", ""), b.get("text", "")):
            yield _change("reworded", f"provision {ref}", ref, a.get("text"), b.get("text"))
        for field in ("title", "applied_by"):
            if a.get(field) != b.get(field):
                shown = [", ".join(v) if isinstance(v, list) else v for v in (a.get(field), b.get(field))]
                yield _change("changed", f"provision {ref} {field}", ref, *shown)


def written(value) -> str:
    """A value as the YAML writes it: ``true``, not Python's ``True``; a list as its values, ``none, illegal_number``
    (not Python's ``['none', 'illegal_number']``); nothing for None."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ", ".join(map(str, map(written, value)))
    return "" if value is None else value


def change_line(change: dict) -> str:
    """One change as a line of text: ``+`` added, ``-`` removed, ``~`` changed; never a Python None."""
    kind, what = change["kind"], change["what"]
    old, new = (written(change[side]) for side in ("old", "new"))
    if kind == "added":
        return f"+ {what}: {new}"
    if kind == "removed":
        return f"- {what}: {old}"
    unseen = "".join(f"\n      unseen: {note}" for note in change.get("unseen", ()))
    if kind == "reworded" and max(len(str(old).split()), len(str(new).split())) > LONG_TEXT_WORDS:
        return (f"~ {what} reworded ({len(str(old).split()):,} words → {len(str(new).split()):,}):"
                + "".join(f"\n      {hunk}" for hunk in word_hunks(str(old), str(new))) + unseen)
    if kind == "reworded":
        return (f"~ {what} reworded:\n      was: {' '.join(str(old).split())}\n      now: {' '.join(str(new).split())}"
                + unseen)
    if kind == "examples":
        return f"~ {what} examples changed ({old} → {new})"
    if kind == "renumbered":
        return f"~ {what} renumbered: {old} → {new} ({change['title']}), its words unchanged"
    return f"~ {what}: {old or '(none)'} → {new or '(none)'}" + unseen


def render_diff(result: dict) -> str:
    lines = [heading(result)] + [f"  note: {note}" for note in result.get("notes", ())]
    if not result["changes"]:
        lines.append("no changes in the policy's terms")
    for change in result["changes"]:
        ref = f"{change['ref']} " if change["ref"] else ""
        lines.append(f"  {ref}{change_line(change)}")
    return "\n".join(lines)
