"""``slapolicy audit``: check a ledger's hash chain, then re-check every decision from its recorded inputs.

First the chain (docs/ledger.md): every entry's hash, the sequence numbers, each grant against
the decision it pays, and the head record; the first entry that does not hold is named. Then each
recorded decision carries its claim, the policy directory, the sha256 of every input file and of
the policy version used: the audit decides every claim again, in sequence (commit) order, into a
scratch ledger (so the §6.1 cap sees the same history), and reports each decision that would now
differ: a published policy file edited, an input file changed or gone, or a changed engine.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from .. import __version__
from .decision import file_digest
from .window import ordinal
from ..minutes.storage import is_url
from ..engine import Engine
from ..errors import SlapolicyError
from ..ledger import Ledger, checkpoint_argument, checkpoint_text
from ..minutes import READ_DIGEST
from ..policy.directory import PolicyDirectory
from ..policy.lock import LOCK_FILE

def _essence(result: dict, words: bool = True) -> dict:
    """What a decision decided, compared with the same claim decided again. ``words``: also what the customer was
    told (the message and each reason's), compared when the same slapolicy decides again: a chain recomputed over
    an edited message would otherwise be "same" (another slapolicy may word them otherwise)."""
    essence = {"decision": result["decision"], "compensation": result["compensation"],
               "reasons": [r["code"] for r in result["reasons"]], "policy_sha256": result["policy"]["sha256"],
               "policy_version": result["policy"]["version"],
               "availability_percent": result["evaluation"]["availability_percent"],
               "unavailable_minutes": result["evaluation"]["unavailable_minutes"]}
    if words:
        essence |= {"message": result["message"], "reason_messages": [r["message"] for r in result["reasons"]]}
    return essence


def audit_ledger(ledger_path, policy_dir=None, checkpoint=None) -> dict:
    """``{ledger, chain, decisions, summary}``; raises LedgerError for a file that is not a usable ledger.
    ``checkpoint``: a head recorded earlier, ``"N:HASH"`` or ``{"entries": N, "hash": HASH}``
    (:func:`slapolicy.ledger.checkpoint_argument`); ``chain["checkpoint"]`` then says whether the ledger still
    extends it (a truncated tail, a rewritten prefix or another ledger does not)."""
    wanted = checkpoint_argument(checkpoint) if checkpoint is not None else None  # a bad one before the file is opened
    with Ledger(ledger_path, create=False, readonly=True) as book:
        with book.snapshot():
            chain = book.verify(wanted)
            guarded = book.guard_in_place()
            records = book.decisions() if chain["intact"] else []
    checked = []
    if not chain["intact"]:
        # The records after a broken entry cannot be trusted: deciding them again would compare against forgeries.
        return {"ledger": str(ledger_path), "chain": chain, "append_only_guard": guarded, "decisions": checked,
                "summary": {"checked": 0, "same": 0, "differs": 0, "unverifiable": 0}}
    with tempfile.TemporaryDirectory(prefix="slapolicy-audit-") as scratch:
        replica = Ledger(Path(scratch) / "ledger.sqlite", durable=False)  # deleted below: nothing to sync
        try:
            for record in records:
                if _in_recorded_form(record):
                    checked.append(_recheck(record, replica, policy_dir, Path(scratch)))
                else:  # only a forger who recomputed the chain can store another form: say so, do not crash
                    checked.append({key: record[key] for key in ("decision_id", "account", "service_month", "decided_at",
                                                                 "seq")}
                                   | {"status": "unverifiable", "differences": {},
                                      "notes": ["the recorded inputs or result are not in the form slapolicy writes them"]})
        finally:
            replica.close()
    summary = {status: sum(c["status"] == status for c in checked) for status in ("same", "differs", "unverifiable")}
    return {"ledger": str(ledger_path), "chain": chain, "append_only_guard": guarded, "decisions": checked,
            "summary": {"checked": len(checked), **summary}}


def _in_recorded_form(record: dict) -> bool:
    """The recorded inputs and result have the shape decide_claim writes, so re-checking them cannot trip."""
    inputs = record["inputs"]
    try:
        files = inputs["files"]
        _essence(record["result"])
        dt.datetime.fromisoformat(inputs.get("now") or record["decided_at"])
        return (isinstance(inputs["claim"], dict) and isinstance(inputs["policy_dir"], str) and isinstance(files, dict)
                and all(entry is None or (isinstance(entry, dict) and isinstance(entry.get("path"), (str, type(None)))
                                          and isinstance(entry.get("sha256"), str)) for entry in files.values()))
    except (KeyError, TypeError, AttributeError, ValueError):
        return False


def _recheck(record: dict, replica: Ledger, policy_dir, scratch: Path) -> dict:
    inputs = record["inputs"]
    notes = []
    files = {}
    for name, entry in inputs["files"].items():
        if entry is None:
            files[name] = None
            continue
        if entry["path"] is None:
            notes.append(f"input {name} was handed in memory, not as a file: it cannot be read again")
            files[name] = None
            continue
        path = entry["path"] if is_url(entry["path"]) else Path(entry["path"])
        if not is_url(path) and not path.exists():
            notes.append(f"input {name} {path} no longer exists")
            files[name] = None
            continue
        files[name] = path
        if entry.get("sha256_of") == READ_DIGEST:
            continue  # the bytes the decision read: known once it is decided again, below
        digest = file_digest(path)
        if digest != entry["sha256"]:
            notes.append(_changed(name, path, entry["sha256"], digest))
    base = {"decision_id": record["decision_id"], "account": record["account"], "service_month": record["service_month"],
            "decided_at": record["decided_at"], "seq": record["seq"]}
    if files.get("minutes") is None:
        return base | {"status": "unverifiable", "notes": notes, "differences": {}}
    now = dt.datetime.fromisoformat(inputs.get("now") or record["decided_at"])
    family = policy_dir or inputs["policy_dir"]
    as_decided = _as_decided(family, record["result"]["policy"]["sha256"], scratch)
    if as_decided is not None:
        family, name = as_decided
        notes.append(f"decided under {name}, an encoding a correction has since replaced: decided again under it "
                     "(docs/policy-format.md, \"Correcting an encoding\")")
    try:
        again = Engine.for_one_call(family).decide_claim(
            inputs["claim"], minutes=files["minutes"], incidents=files.get("incidents"), notices=files.get("notices"),
            billing=files.get("billing"), ledger=replica, now=now)
    except SlapolicyError as exc:
        return base | {"status": "unverifiable", "notes": notes + [f"cannot decide again: {exc}"], "differences": {}}
    minutes = inputs["files"].get("minutes") or {}
    if minutes.get("sha256_of") == READ_DIGEST:
        digest = replica.inputs(again["decision_id"])["files"]["minutes"]["sha256"]
        if digest != minutes["sha256"]:
            notes.append(_changed("minutes", files["minutes"], minutes["sha256"], digest, "the bytes read "))
    words = inputs.get("engine") == _engine_version()
    before, after = _essence(record["result"], words), _essence(again, words)
    differences = {key: {"recorded": before[key], "now": after[key]} for key in before if before[key] != after[key]}
    if "policy_sha256" in differences:
        notes.append(_policy_note(family, record, again))
    if inputs.get("engine") and inputs["engine"] != _engine_version():
        notes.append(f"decided by slapolicy {inputs['engine']}, re-checked by {_engine_version()}")
    status = "differs" if differences else "same"
    return base | {"status": status, "notes": notes, "differences": differences}


def _policy_note(family, record: dict, again: dict) -> str:
    """Why the version deciding the claim now is not the one recorded: a version published since with an earlier
    effective_from (`publish --retroactive`) now governs the month, the recorded one still published unchanged; or
    the recorded file is no longer in the family as recorded."""
    recorded, now = record["result"]["policy"], again["policy"]
    try:
        kept = any(p.sha256 == recorded["sha256"] for p in PolicyDirectory(family, run_examples=False).versions)
    except SlapolicyError:
        kept = False
    if kept and recorded.get("version") != now.get("version"):
        return (f"decided under version {recorded.get('version')}, still published unchanged; version "
                f"{now.get('version')}, published since with an earlier effective_from (publish --retroactive), now "
                f"governs {record['service_month']}")
    return "the policy version file differs from the one recorded (a published file was edited?)"


def _changed(name: str, path, recorded: str, now: str, what: str = "") -> str:
    return f"input {name} {path} changed since the decision ({what}sha256 {recorded[:12]}… → {now[:12]}…)"


def _as_decided(family, sha256: str, scratch: Path):
    """(a copy of the family with the superseded file whose sha256 was recorded in place of the version it was
    corrected into, its name) when the decision was made under a superseded encoding; else None."""
    try:
        directory = PolicyDirectory(family)
        old = directory.superseded_file(sha256)
    except SlapolicyError:
        return None
    if old is None:
        return None
    copy = scratch / f"as-decided-{sha256[:12]}"
    if not copy.exists():
        copy.mkdir()
        for file in directory.path.glob("*.yaml"):
            shutil.copy(file, copy / file.name)
        version_file = old.name.split(".")[0] + ".yaml"  # 2019-01-01.32cfebe23efd.yaml replaced 2019-01-01.yaml
        shutil.copy(old, copy / version_file)
        lock = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in copy.glob("*.yaml")}
        (copy / LOCK_FILE).write_text(json.dumps(lock))
    return copy, str(old.relative_to(directory.path))


def _engine_version() -> str:
    return __version__


def render_audit(result: dict) -> str:
    lines = []
    for entry in result["decisions"]:
        head = f"{entry['decision_id']} {entry['account']} {entry['service_month']}: {entry['status']}"
        lines.append(head)
        for key, change in entry["differences"].items():
            lines += _difference(key, change["recorded"], change["now"])
        for note in entry["notes"]:
            lines.append(f"    note: {note}")
    if not result.get("append_only_guard", True):
        lines.append(GUARD_NOTE)
    lines.append(render_chain(result["chain"]))
    if "checkpoint" in result["chain"]:
        lines.append(render_checkpoint(result["chain"]))
    if not result["chain"]["intact"]:
        lines.append("decisions not re-checked while the chain is broken: restore the ledger from a backup")
        return "\n".join(lines)
    s = result["summary"]
    lines.append(f"{s['checked']} decision(s) checked: {s['same']} same, {s['differs']} differ, {s['unverifiable']} unverifiable")
    return "\n".join(lines)


def _difference(key: str, recorded, now) -> list[str]:
    """One difference as the lines of text an auditor reads: values as the decision shows them (a list by its items,
    nothing as "(none)"), never as Python prints them (``['filed_too_early', ...]``, ``None``); the customer's reason
    messages, each a sentence, by what differs of them (:func:`_messages_differ`). Values that print alike (the text
    "42" forged where the number 42 is decided again) are shown as the ledger's JSON holds them: a difference always
    names what differs."""
    if key == "reason_messages":
        return _messages_differ(key, recorded, now)
    if _shown(recorded) == _shown(now):
        return [f"    {key}: recorded {json.dumps(recorded)}, now {json.dumps(now)} (as the ledger's JSON holds them: "
                "they print alike)"]
    return [f"    {key}: recorded {_shown(recorded)}, now {_shown(now)}"]


def _messages_differ(key: str, recorded: list, now: list) -> list[str]:
    """The reason messages: those recorded only (``-``) and given only now (``+``), one given another number of times
    (``~``), and, where those on both sides come in another order, each that moved with its places."""
    before, after = Counter(recorded), Counter(now)
    lines = [f"    {key}: recorded {len(recorded)}, now {len(now)}"]
    for message in dict.fromkeys(recorded + now):  # each once, in the order first met
        times, again = before[message], after[message]
        if again == 0:
            lines.append(f"      - recorded only{f' ({times} times)' if times > 1 else ''}: {message}")
        elif times == 0:
            lines.append(f"      + now only{f' ({again} times)' if again > 1 else ''}: {message}")
        elif times != again:
            lines.append(f"      ~ recorded {_times(times)}, now {_times(again)}: {message}")
    # the places of the messages on both sides: the k-th of a message recorded is the k-th of it now
    common = before & after
    places = {}
    for side, messages in ((0, recorded), (1, now)):
        seen = Counter()
        for place, message in enumerate(messages, 1):
            seen[message] += 1
            if seen[message] <= common[message]:
                places.setdefault((message, seen[message]), [0, 0])[side] = place
    was, is_now = (sorted(places, key=lambda m, side=side: places[m][side]) for side in (0, 1))
    if was != is_now:  # a message moved among those on both sides, not only past one added or dropped
        if before == after:
            lines[0] += ": the same messages in another order"
        lines += [f"      recorded {ordinal(places[m][0])}, now {ordinal(places[m][1])}: {m[0]}"
                  for rank, m in enumerate(was) if is_now[rank] != m]
    return lines


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _shown(value) -> str:
    if value is None or value == []:
        return "(none)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


GUARD_NOTE = ("note: the ledger's append-only guard is not as this slapolicy writes it (its triggers were removed or "
              "altered, or it comes from an earlier slapolicy); the next decision walks the whole chain before it puts "
              "the guard back (docs/ledger.md)")


def render_chain(chain: dict) -> str:
    keyed = "HMAC-SHA-256 chain" if chain["keyed"] else "SHA-256 chain"
    if chain["intact"] and chain["head_checkpoint"] is None:
        return f"chain: no entries ({keyed}): no decision recorded yet"
    if chain["intact"]:
        return (f"chain: {chain['entries']} entries intact ({keyed}); head {chain['head_checkpoint']} (keep it: a later "
                "audit given it as --checkpoint checks that the ledger still extends it)")
    return f"chain: BROKEN: {chain['first_broken']['problem']}"


def render_checkpoint(chain: dict) -> str:
    checkpoint = chain["checkpoint"]
    named = f"checkpoint {checkpoint_text(checkpoint)}"
    if not checkpoint["holds"]:
        return f"{named}: FAILS: {checkpoint['problem']}"
    since = chain["entries"] - checkpoint["entries"]
    grown = "the head is the checkpoint" if since == 0 else f"{since} entr{'y' if since == 1 else 'ies'} appended since"
    return f"{named}: holds (entries #1 to #{checkpoint['entries']} hash to it; {grown})"


def audit_failed(result: dict) -> bool:
    summary = result["summary"]
    checkpoint = result["chain"].get("checkpoint")
    return not result["chain"]["intact"] or bool(summary["differs"] or summary["unverifiable"]) \
        or (checkpoint is not None and not checkpoint["holds"])
