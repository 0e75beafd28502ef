"""``slapolicy diff --format html``: a redline legal can send for review, one self-contained page.

Changes are grouped by the § they touch, in the agreement's order; reworded text shows the
words struck and inserted (<del>, <ins>), settings show the old value struck and the new one.
No external assets, no script.
"""
from __future__ import annotations

import html
import re

from .diff import MAX_WORD_PAIRS, aligned_words, heading, written  # noqa: F401 (MAX_WORD_PAIRS: read at each call, a test sets it)

STYLE = """
body { font: 15px/1.5 Georgia, 'Times New Roman', serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin: 1.8rem 0 .4rem; border-bottom: 1px solid #ccc; }
.meta { color: #555; font: 13px/1.4 system-ui, sans-serif; }
.note { border-left: 3px solid #b58900; padding-left: .6rem; }
ul { padding-left: 1.2rem; } li { margin: .35rem 0; }
del { color: #a4161a; background: #fde2e1; text-decoration: line-through; }
ins { color: #1b5e20; background: #e3f4e1; text-decoration: none; border-bottom: 1px solid #2e7d32; }
.what { font: 13px/1.4 ui-monospace, monospace; color: #333; }
.kind { font: 12px system-ui, sans-serif; text-transform: uppercase; letter-spacing: .04em; color: #666; margin-right: .4rem; }
"""

_KIND = {"added": "added", "removed": "removed", "changed": "changed", "reworded": "reworded",
         "condition": "condition changed", "examples": "examples changed", "renumbered": "renumbered"}


def _e(value) -> str:
    return html.escape(str(written(value)), quote=True)  # a list as its values, a boolean as YAML writes it


def word_redline(old: str, new: str) -> str:
    """Old and new text as one, the words removed in <del> and the words added in <ins>."""
    a, b, head, opcodes = aligned_words(old, new, MAX_WORD_PAIRS)
    parts = [_e(" ".join(a[:head]))] if head else []
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            parts.append(_e(" ".join(a[head + i1: head + i2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{_e(' '.join(a[head + i1: head + i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{_e(' '.join(b[head + j1: head + j2]))}</ins>")
    end = opcodes[-1][2] + head if opcodes else head  # where the words both end with begin
    if end < len(a):
        parts.append(_e(" ".join(a[end:])))
    return " ".join(parts)


def _section(ref) -> str:
    """The § a change belongs to (the first cited), or the header for version metadata."""
    match = re.match(r"§(\d+(?:\.\d+)?)", ref or "")
    return f"§{match.group(1)}" if match else "Header"


def _order(section: str):
    if section == "Header":
        return (0,)
    return (1,) + tuple(int(x) for x in section[1:].split("."))


def _item(change: dict) -> str:
    kind = change["kind"]
    label = f'<span class="kind">{_KIND.get(kind, kind)}</span><span class="what">{_e(change["what"])}</span>'
    if kind == "added":
        body = f"<ins>{_e(change['new'])}</ins>"
    elif kind == "removed":
        body = f"<del>{_e(change['old'])}</del>"
    elif kind in ("reworded", "condition"):
        body = word_redline(change["old"], change["new"])
    elif kind == "renumbered":
        body = f"<del>{_e(change['old'])}</del> <ins>{_e(change['new'])}</ins> ({_e(change['title'])}), its words unchanged"
    elif kind == "examples":
        body = f"{_e(change['old'])} → {_e(change['new'])} examples"
    else:
        old = "" if change["old"] is None else f"<del>{_e(change['old'])}</del> "
        new = "" if change["new"] is None else f"<ins>{_e(change['new'])}</ins>"
        body = old + new
    detail = f'<br><span class="meta">when: {_e(change["detail"])}</span>' if change.get("detail") else ""
    # struck and inserted words that look the same: what differs, by code point (diff.unseen_changes)
    detail += "".join(f'<br><span class="meta">unseen: {_e(note)}</span>' for note in change.get("unseen", ()))
    ref = f"{_e(change['ref'])} " if change.get("ref") else ""
    return f"<li>{ref}{label}: {body}{detail}</li>"


def render_redline(result: dict) -> str:
    old, new = result["old"], result["new"]
    groups: dict[str, list] = {}
    for change in result["changes"]:
        groups.setdefault(_section(change.get("ref")), []).append(change)
    body = []
    for section in sorted(groups, key=_order):
        body.append(f"<h2>{_e(section)}</h2><ul>{''.join(_item(c) for c in groups[section])}</ul>")
    if not body:
        body.append("<p>No changes in the policy's terms.</p>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Redline {_e(heading(result))}</title>
<style>{STYLE}</style></head><body>
<h1>Redline: {_e(heading(result))}</h1>
{''.join(f'<p class="note">{_e(note)}</p>' for note in result.get("notes", ()))}
<p class="meta">{len(result['changes'])} change(s). Struck text is in version {_e(old['version'])}
(sha256 {_e(old['sha256'][:16])}…), inserted text in version {_e(new['version'])} (sha256 {_e(new['sha256'][:16])}…).
Settings are named as in the policy file; each line cites its clause.</p>
{''.join(body)}
</body></html>
"""
