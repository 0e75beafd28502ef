"""``slapolicy render``: a policy version as a document for legal, in text or one self-contained HTML page.

Read top to bottom like the agreement: a table of contents by §, then each provision with its
number, its own words, its settings in plain language (readings marked as readings: choices
made where the text is silent or contradicts itself), and its examples.
"""
from __future__ import annotations

import html
import re
import textwrap

from ..rules.conditions import describe
from .model import node_at

_SECTIONS = (("timezone", "Time zone"), ("service_month", "Service Month"), ("availability", "Service availability"),
             ("compensation", "Compensation"), ("claims", "Claims"), ("exclusions", "Exclusions"),
             ("parameters", "Other numbers of the agreement"))
_NOT_SETTINGS = {"ref", "text", "description", "reading", "examples", "tiers", "required_materials"}
_ANSWERS = ("meets", "credit", "compensation", "room", "opens", "closes", "missing", "applies")


def _words(text) -> str:
    return " ".join(str(text or "").split())


def _humanize(key: str) -> str:
    return key.replace("_", " ")


def _value(node) -> str:
    """A setting's value in words: the value, with any further fields (met_when, places, ...) after it."""
    if not isinstance(node, dict):
        return _humanize(str(node)) if isinstance(node, str) and "_" in node and " " not in node else str(node)
    main = node.get("value")
    extra = [f"{_humanize(k)} {_value(v)}" for k, v in node.items()
             if k not in _NOT_SETTINGS and k != "value" and not isinstance(v, (dict, list))]
    text = _value(main) if main is not None else ""
    return ", ".join(part for part in [text] + extra if part)


def _example_sentence(example: dict) -> str:
    answer = next((key for key in _ANSWERS if key in example), None)
    inputs = [f"{_humanize(k)} {_example_value(v)}" for k, v in example.items() if k != answer and k != "note"]
    given = ", ".join(inputs) or "nothing given"
    if answer is None:
        return given
    value = example[answer]
    if answer == "meets":
        said = "meets the standard" if value else "does not meet the standard"
    elif answer == "missing":
        said = "the material is missing" if value else "the material is given"
    elif answer == "applies":
        said = "applies" if value else "does not apply"
    else:
        said = f"{_humanize(answer)} {_example_value(value)}"
    return f"{given} → {said}"


def _example_value(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_example_value(v)}" for k, v in value.items()) + "}" if value else "none"
    if isinstance(value, list):
        return "[" + ", ".join(_example_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _setting(key: str, node) -> dict:
    if isinstance(node, dict):
        return {"name": _humanize(key), "value": _value(node), "ref": node.get("ref", ""), "reading": bool(node.get("reading")),
                "description": _words(node.get("description")),
                "examples": [_example_sentence(e) for e in node.get("examples", [])]}
    return {"name": _humanize(key), "value": _value(node), "ref": "", "reading": False, "description": "", "examples": []}


def _section_number(ref: str) -> tuple:
    """The first § of a reference as numbers, for ordering: "§1.11.1" → (1, 11, 1); none sorts last."""
    match = re.search(r"§(\d+(?:\.\d+)*)", ref or "")
    return tuple(int(x) for x in match.group(1).split(".")) if match else (10 ** 6,)


def _readings_in(node) -> list:
    """The parts of a condition marked ``reading: true`` (a reading written inside a clause's condition)."""
    found = []
    if isinstance(node, dict):
        if node.get("reading"):
            found.append(node)
        for value in node.values():
            found += _readings_in(value)
    elif isinstance(node, list):
        for value in node:
            found += _readings_in(value)
    return found


def _condition_words(node) -> str:
    """A raw condition in words (the parsed model keeps no link back to readings)."""
    if not isinstance(node, dict):
        return str(node)
    if "fact" in node:
        op, value = next((k, v) for k, v in node.items() if k != "fact")
        return f"{node['fact']} {_humanize(op)} {_example_value(value)}"
    for key in ("all", "any"):
        if key in node:
            return f" {'and' if key == 'all' else 'or'} ".join(f"({_condition_words(c)})" for c in node[key])
    if "not" in node:
        return f"not ({_condition_words(node['not'])})"
    return _condition_words(node.get("when"))


def _anchor(ref: str) -> str:
    return "p-" + re.sub(r"[^0-9a-z]+", "-", ref.lower()).strip("-")


def _by_provision(policy, sections: list, clauses: list) -> list:
    """The whole agreement in its order (``provisions:``): each provision's words with the settings that
    apply it (``applied_by``); the §5 clauses after §5, with their conditions and examples."""
    raw = policy.raw
    tiers = next((p["tiers"] for p in sections if p["anchor"] == "compensation"), [])
    materials = next((p["materials"] for p in sections if p["anchor"] == "claims"), [])
    # A setting some provision applies by name is shown there, not again under its whole section.
    named = {path for entry in raw["provisions"] for path in entry.get("applied_by", [])}
    out = []
    for entry in raw["provisions"]:
        ref = entry["ref"]
        provision = {"ref": ref, "title": entry.get("title", ""), "anchor": _anchor(ref),
                     "words": _words(entry.get("text")), "settings": [], "tiers": [], "materials": [],
                     "level": ref.count(".") + ref.count("(")}
        for path in entry.get("applied_by", []):
            node = node_at(raw, path)
            if path == "compensation.tiers":
                provision["tiers"] = tiers
            elif path == "claims.required_materials":
                own = [m for m in materials if m["ref"] == ref]
                provision["materials"] = own or materials
            elif isinstance(node, dict) and "value" not in node and path.count(".") == 0:
                # A whole section (timezone is a setting itself): its settings, each with its own ref.
                provision["settings"] += [_setting(k, v) for k, v in node.items()
                                          if k not in _NOT_SETTINGS and f"{path}.{k}" not in named] \
                    if path != "timezone" else [_setting("time zone", node)]
            elif node is not None:
                provision["settings"].append(_setting(path.split(".")[-1], node))
        out.append(provision)
        if ref == "§5":
            out += [dict(c, level=1) for c in clauses]
    return out


def document(policy) -> dict:
    """The version as provisions: {ref, title, anchor, words, settings, tiers, examples}. With the agreement's
    own provisions in the file, in the agreement's order; else one per section of the file, by §."""
    raw = policy.raw
    provisions = []
    for key, title in _SECTIONS:
        node = raw.get(key)
        if node is None:
            continue
        settings = [_setting(k, v) for k, v in node.items() if k not in _NOT_SETTINGS]
        if key == "timezone":
            settings = [_setting("time zone", node)]
        ref = node.get("ref") or ", ".join(dict.fromkeys(s["ref"] for s in settings if s["ref"]))
        provision = {"ref": ref, "title": title, "anchor": key, "words": _words(node.get("text")),
                     "settings": settings, "tiers": [], "materials": []}
        if key == "compensation":
            for tier, entry in zip(policy.tiers, node["tiers"]):
                provision["tiers"].append({"range": tier.describe(), "credit": f"{tier.credit}%", "ref": tier.ref,
                                           "words": _words(entry.get("text")),
                                           "examples": [_example_sentence(e) for e in entry.get("examples", [])]})
        if key == "claims":
            for item in node.get("required_materials", []):
                provision["materials"].append({"id": item["id"], "ref": item["ref"], "words": _words(item.get("text")),
                                               "examples": [_example_sentence(e) for e in item.get("examples", [])]})
        provisions.append(provision)
    for clause in policy.clauses:
        extra = []
        if clause.acts_on != "minutes":
            extra.append(f"acts on {clause.acts_on}: removes the matching failed requests instead of excluding minutes")
        if clause.attribution != "normal":
            extra.append("a fallback: credited with a minute only when no other clause applies")
        settings = [{"name": "applies when", "value": describe(clause.condition), "ref": clause.ref, "reading": False,
                     "description": "; ".join(extra), "examples": []}]
        settings += [{"name": "reading of the condition", "value": _condition_words(node.get("when")), "ref": node.get("ref", ""),
                      "reading": True, "description": _words(node.get("description")), "examples": []}
                     for node in _readings_in(raw["disclaimers"][clause.index].get("when"))]
        examples = [f"{', '.join(f'{k} = {_example_value(v)}' for k, v in e.facts.items()) or 'the defaults'} → "
                    f"{'applies' if e.applies else 'does not apply'}" for e in clause.examples]
        provisions.append({"ref": clause.ref, "title": clause.title, "anchor": f"clause-{clause.id}",
                           "words": _words(clause.text), "settings": settings, "tiers": [], "materials": [],
                           "examples": examples})
    provisions.sort(key=lambda p: _section_number(p["ref"]))  # the contents read in the agreement's order, by §
    if raw.get("provisions"):
        clauses = [p for p in provisions if p["anchor"].startswith("clause-")]
        provisions = _by_provision(policy, [p for p in provisions if not p["anchor"].startswith("clause-")], clauses)
    causes = [{"id": c["id"], "ref": c.get("ref", ""), "title": c.get("title", "")} for c in raw.get("causes", [])]
    return {"title": policy.title, "id": policy.id, "version": policy.version, "status": policy.status,
            "effective_from": policy.effective_from.isoformat(), "amends": raw.get("amends"), "sha256": policy.sha256,
            "description": _words(raw.get("description")), "provisions": provisions, "causes": causes}


# ---------------------------------------------------------------------------- text

def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, 88, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent.rstrip()]


def render_text(policy, status: str | None = None) -> str:
    """The version as a document to read; ``status`` in place of the one the file says (what the record of published
    versions says of a file saying published, which it does not record: directory.PUBLISHED_NOWHERE)."""
    doc = document(policy)
    doc["status"] = status or doc["status"]
    lines = [doc["title"], f"Version {doc['version']} ({doc['status']}), effective {doc['effective_from']}"
             + (f", amends {doc['amends']}" if doc["amends"] else ""), f"sha256 {doc['sha256']}", ""]
    lines += _wrap(doc["description"], "") + ["", "Contents"]
    for p in doc["provisions"]:
        if p["title"]:
            lines.append(f"  {'  ' * p.get('level', 0)}{p['ref']:<12} {p['title']}")
    lines.append("")
    lines.append("Settings marked [reading] are readings: choices made where the text is silent or contradicts itself.")
    for p in doc["provisions"]:
        heading = p["ref"] if p["title"] in ("", p["ref"]) else f"{p['ref']}  {p['title']}"
        lines += ["", heading, "-" * min(88, len(heading))]
        if p["words"]:
            lines += _wrap(p["words"], "  │ ")  # the agreement's own words
        for s in p["settings"]:
            mark = " [reading]" if s["reading"] else ""
            ref = f" ({s['ref']})" if s["ref"] and s["ref"] != p["ref"] else ""
            lines += _wrap(f"{s['name']}: {s['value']}{ref}{mark}", "  • ")
            if s["description"]:
                lines += _wrap(s["description"], "      ")
            lines += [f"      example: {e}" for e in s["examples"]]
        for t in p["tiers"]:
            lines.append(f"  • tier {t['range']}: {t['credit']} of the Monthly Service Fee ({t['ref']})")
            if t["words"]:
                lines += _wrap(f"“{t['words']}”", "      ")
            lines += [f"      example: {e}" for e in t["examples"]]
        for m in p["materials"]:
            lines += _wrap(f"material {m['id']} ({m['ref']}): {m['words']}", "  • ")
            lines += [f"      example: {e}" for e in m["examples"]]
        lines += [f"  example: {e}" for e in p.get("examples", [])]
    lines += ["", "Causes an incident may name"]
    lines += [f"  {c['id']:<24} {c['ref']:<8} {c['title']}" for c in doc["causes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- html

STYLE = """
body { font: 15px/1.55 Georgia, 'Times New Roman', serif; margin: 2rem auto; max-width: 62rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .3rem; border-bottom: 1px solid #ccc; }
.meta, .setting .why, nav, .examples, table { font-family: system-ui, sans-serif; font-size: 13px; }
.meta { color: #555; } nav ol { columns: 2; list-style: none; padding-left: 0; } nav a { text-decoration: none; }
.ref { color: #1a5fb4; font-weight: bold; margin-right: .4rem; }
blockquote { margin: .4rem 0 .8rem; padding: .3rem .9rem; border-left: 3px solid #bbb; background: #fafafa; }
.setting { margin: .35rem 0; } .reading { font: bold 11px system-ui, sans-serif; color: #8a4b00; background: #fff1d6;
  border: 1px solid #f0c36d; border-radius: 3px; padding: 0 .3rem; margin-left: .3rem; }
.examples { margin: .2rem 0 .6rem 1.2rem; color: #333; } .examples li { margin: .1rem 0; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _examples_html(examples: list) -> str:
    if not examples:
        return ""
    return '<ul class="examples">' + "".join(f"<li>example: {_e(e)}</li>" for e in examples) + "</ul>"


def _provision_html(p: dict) -> str:
    parts = [f'<section id="{_e(p["anchor"])}"><h2><span class="ref">{_e(p["ref"])}</span>{_e(p["title"])}</h2>']
    if p["words"]:
        parts.append(f"<blockquote>{_e(p['words'])}</blockquote>")
    for s in p["settings"]:
        mark = '<span class="reading" title="a reading: a choice made where the text is silent or contradicts itself">' \
               'reading</span>' if s["reading"] else ""
        ref = f' <span class="meta">({_e(s["ref"])})</span>' if s["ref"] and s["ref"] != p["ref"] else ""
        why = f'<br><span class="why">{_e(s["description"])}</span>' if s["description"] else ""
        parts.append(f'<div class="setting"><b>{_e(s["name"])}</b>: {_e(s["value"])}{ref}{mark}{why}</div>'
                     + _examples_html(s["examples"]))
    if p["tiers"]:
        rows = "".join(f"<tr><td>{_e(t['range'])}</td><td>{_e(t['credit'])}</td><td>{_e(t['ref'])}</td>"
                       f"<td>{_e(t['words'])}{_examples_html(t['examples'])}</td></tr>" for t in p["tiers"])
        parts.append("<table><thead><tr><th>availability</th><th>credit</th><th>ref</th><th>words and examples</th></tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
    for m in p["materials"]:
        parts.append(f'<div class="setting"><b>material {_e(m["id"])}</b> <span class="meta">({_e(m["ref"])})</span>: '
                     f'{_e(m["words"])}</div>' + _examples_html(m["examples"]))
    parts.append(_examples_html(p.get("examples", [])))
    parts.append("</section>")
    return "".join(parts)


def render_html(policy, status: str | None = None) -> str:
    """render_text's document as one self-contained page."""
    doc = document(policy)
    doc["status"] = status or doc["status"]
    toc = "".join(f'<li style="margin-left:{p.get("level", 0) * 1.2}rem"><a href="#{_e(p["anchor"])}">'
                  f'<span class="ref">{_e(p["ref"])}</span>{_e(p["title"])}</a></li>'
                  for p in doc["provisions"] if p["title"])
    causes = "".join(f"<tr><td><code>{_e(c['id'])}</code></td><td>{_e(c['ref'])}</td><td>{_e(c['title'])}</td></tr>"
                     for c in doc["causes"])
    amends = f", amends {_e(doc['amends'])}" if doc["amends"] else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(doc['title'])} — version {_e(doc['version'])}</title>
<style>{STYLE}</style></head><body>
<h1>{_e(doc['title'])}</h1>
<p class="meta">Version {_e(doc['version'])} ({_e(doc['status'])}), effective {_e(doc['effective_from'])}{amends}.
sha256 {_e(doc['sha256'])}</p>
<p>{_e(doc['description'])}</p>
<p class="meta">Settings marked <span class="reading">reading</span> are readings: choices made where the text is silent
or contradicts itself. Quoted text is the agreement's own words.</p>
<nav><h2>Contents</h2><ol>{toc}</ol></nav>
{''.join(_provision_html(p) for p in doc['provisions'])}
<section id="causes"><h2>Causes an incident may name</h2>
<table><thead><tr><th>cause</th><th>ref</th><th>meaning</th></tr></thead><tbody>{causes}</tbody></table></section>
</body></html>
"""
