"""A policy version: validated against the JSON Schema and built into the immutable model (read from a file and
checked in :mod:`slapolicy.policy.directory`).

A version is one complete YAML document (``policies/<family>/<effective_from>.yaml``);
drafts live under ``policies/<family>/drafts/``. The model converts every decimal and
percentage with ``Decimal`` from the string legal wrote, and every date with
``datetime.date``.
"""
from __future__ import annotations

import datetime as dt
import difflib
import errno
import functools
import hashlib
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from types import SimpleNamespace

from ..calendar import OUTSIDE_YEARS, in_supported_years
from ..errors import QUOTED_CHARS, Diagnostic, lookalike_note
from ..files import TYPOGRAPHIC_QUOTES, in_typographic_quotes
from ..rules.conditions import Condition, FactDecl, meant, parse_condition
from ..rules.durable import ruleset_for
from .load import YamlDocument, unseen_problem



# ---------------------------------------------------------------------------- schema

def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a policy version, as shipped in the package."""
    return json.loads(schema_text())


def schema_text() -> str:
    import importlib.resources  # 1.3 ms: only a check not yet recorded, and `slapolicy schema`, read the schema

    return importlib.resources.files(__package__).joinpath("schema/policy.schema.json").read_text(encoding="utf-8")


_VALIDATOR = None


def _validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        from jsonschema import Draft202012Validator, validators  # 0.1 s to import: only when a policy file is checked

        _VALIDATOR = validators.extend(Draft202012Validator, {"pattern": _pattern})(schema())
    return _VALIDATOR


@functools.cache
def _compiled(pattern: str):
    r"""A schema pattern read as JSON Schema defines it (ECMA-262), not as Python's ``re`` would: ``$`` is the end
    of the text (Python's also matches before a final newline, so "99.5%\n" passed as a percentage and failed
    later, as an internal error) and ``\d`` an ASCII digit (Python's takes "§３.1", in full-width digits, as a
    clause number)."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern,
                      re.ASCII)


def _pattern(validator, pattern, instance, schema):
    from jsonschema.exceptions import ValidationError  # loaded with the validator

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# What a value must look like, in the policy's terms, for each pattern of the schema's $defs:
# a lawyer reads "a percentage like 99.5%", never the regular expression.
_EXPECTED = {
    "percent": "a percentage like 99.5%",
    "decimal": "a decimal number like 5.0",
    "date": "a date written YYYY-MM-DD, like 2020-01-01",
    "ref": 'a clause reference like "§3.1" or "§5.11, §5.12"',
}
_TYPES = {"string": "text", "integer": "a whole number", "boolean": "true or false", "array": "a list",
          "object": "a mapping of keys to values", "number": "a number"}


# The other patterns of the schema, by the pattern itself (they have no $defs name).
_EXPECTED_BY_PATTERN = {
    "^[a-z][a-z0-9-]*$": "lowercase letters, digits and dashes, like ccc-sla",
    "^([01][0-9]|2[0-3]):[0-5][0-9]$": "a time of day written HH:MM, like 00:00",
    "^[a-z][a-z0-9_]*$": "lowercase letters, digits and underscores, like customer_network",
    "^[a-z][a-z0-9_]*\\.[a-z][a-z0-9_]*$": "a fact name written group.name, like incident.cause",
    "^(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))*$": 'a clause number like "5.12" (no leading zero)',
    "^[a-z_]+(\\.[a-z_]+)*$": "a dotted path of settings in this document, like claims.window_closes",
}


def _expected(error) -> str:
    """The plain-language shape a pattern stands for: by its $defs name, else by the pattern."""
    defs = schema()["$defs"]
    for name, phrase in _EXPECTED.items():
        if defs[name].get("pattern") == error.validator_value:
            return phrase
    return _EXPECTED_BY_PATTERN.get(error.validator_value, "written differently")


def _above_100(text) -> bool:
    try:
        return Decimal(str(text).rstrip("%").strip()) > 100
    except ArithmeticError:
        return False


def _above_100_message(path: tuple, written: str) -> tuple[tuple, str, bool]:
    """A percentage above 100 %, written as one (a credit of 150%) or where a parameter may take one of several forms."""
    return path, f"{_name_of(path)} must be a percentage of at most 100% — got {written}", False


def _name_of(path: tuple) -> str:
    """The setting a path points at, by its own name (``availability.standard.value`` → ``standard``)."""
    names = [p for p in path if isinstance(p, str) and p != "value"]
    return names[-1] if names else "the document"


def _shown(value) -> str:
    if isinstance(value, str) and (not value.isprintable() or value != value.strip() or len(value) > QUOTED_CHARS):
        # a line break or a control character, shown as such: one message stays one line; a space before or after,
        # which would not be seen at the message's end ("got 5.0 "); a value longer than a message quotes whole,
        # quoted to be cut as every message's is (errors.bounded_message)
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:  # `status:` with nothing after it, or `~`: YAML's null, which Python would print as None
        return "nothing (an empty value)"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


def _condition_message(error, path: tuple):
    """A comparison ``{fact: ..., OP: ...}`` with a wrong key: blame only that key, name the operators."""
    instance = error.instance
    comparison = next((branch for branch in error.schema["oneOf"] if "fact" in branch.get("required", [])), None)
    if comparison is None:
        return None
    operators = [key for key in comparison["properties"] if key != "fact"]
    wrong = [key for key in instance if key not in comparison["properties"]]
    if "fact" in instance and wrong:
        close = difflib.get_close_matches(wrong[0], operators, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return path + (wrong[0],), (f"unknown comparison {wrong[0]!r}{hint} (a comparison is {{fact: NAME, OP: VALUE}} "
                                    f"with OP one of {', '.join(operators)})"), True
    if "fact" in instance and len(instance) == 1:
        return path, f"comparison of fact {instance['fact']!r} has no operator (one of {', '.join(operators)})", False
    if "fact" not in instance and not {"all", "any", "not"} & set(instance):
        return path, ("a condition is all: [...], any: [...], not: {...} or {fact: NAME, OP: VALUE}; "
                      f"found keys {', '.join(map(str, instance))}"), False
    return None


def _schema_message(error) -> tuple[tuple, str, bool]:
    """(path, message, point at key) for one jsonschema error, phrased for legal."""
    from jsonschema.exceptions import best_match  # loaded with the validator, only for a file with errors

    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(key for key in error.instance if key not in allowed)
        if extra:
            close = difflib.get_close_matches(extra[0], sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(allowed)) or "none"
            return path + (extra[0],), f"unknown key {extra[0]!r}{hint} (allowed here: {known})", True
    if error.validator == "oneOf" and isinstance(error.instance, dict) and "fact" in str(error.schema.get("oneOf")):
        found = _condition_message(error, path)
        if found:
            return found
    forms = _scalar_forms(error)
    if forms and isinstance(error.instance, str) and error.instance.endswith("%") and _above_100(error.instance):
        return _above_100_message(path, error.instance)
    if forms:
        return path, f"{_name_of(path)} must be {forms} — got {_shown(error.instance)}", False
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = best_match(error.context)
        if deepest.validator in ("pattern", "type", "enum"):
            return _schema_message(deepest)
        where = path + tuple(deepest.relative_path)
        return where, f"{_place(path)}: {deepest.message}", False
    if error.validator == "pattern":
        expected = _expected(error)
        if expected == _EXPECTED["percent"] and _above_100(error.instance):
            return _above_100_message(path, error.instance)
        return path, f"{_name_of(path)} must be {expected} — got {_shown(error.instance)}", False
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        phrase = " or ".join(_TYPES.get(t, t) for t in wanted)
        return path, f"{_name_of(path)} must be {phrase} — got {_shown(error.instance)}", False
    if error.validator == "enum":
        return path, (f"{_name_of(path)} must be one of: {', '.join(_shown(v) for v in error.validator_value)} — "
                      f"got {_shown(error.instance)}"), False
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return path, f"{_place(path)}: missing key {', '.join(missing)}", False
    return path, f"{_place(path)}: {error.message}", False


def _scalar_forms(error) -> str | None:
    """Every form a value may take where the schema offers several for one scalar (a parameter: a whole number, a
    decimal like 5.0 or a percentage like 99.5%), in words; None elsewhere. Naming only the closest one told legal
    that 1e400 "must be a whole number", where "5.0" and "99.5%" are as good."""
    if error.validator != "oneOf" or isinstance(error.instance, (dict, list)):
        return None
    phrases = []
    for branch in error.validator_value:
        if set(branch) == {"$ref"}:
            branch = schema()["$defs"][branch["$ref"].rsplit("/", 1)[1]]
        if "pattern" in branch:
            phrase = _expected(SimpleNamespace(validator_value=branch["pattern"]))
        elif set(branch) == {"type"} and isinstance(branch["type"], str):
            phrase = _TYPES.get(branch["type"], branch["type"])
        else:
            return None
        phrases.append(phrase)
    return ", ".join(phrases[:-1]) + " or " + phrases[-1] if len(phrases) > 1 else None


def _misspelt_required(found: list[tuple]) -> list[tuple]:
    """Drop "missing key X" where the same mapping has an unknown key close to X: the unknown
    key's message already names X ("did you mean"), and the correct key is not to blame."""
    unknown = {(path[:-1], path[-1]) for path, message, at_key in found if message.startswith("unknown key")}
    kept = []
    for path, message, at_key in found:
        if ": missing key " in message:
            missing = message.split(": missing key ", 1)[1].split(", ")
            near = [m for m in missing if any(p == path and difflib.get_close_matches(k, [m], n=1) for p, k in unknown)]
            rest = [m for m in missing if m not in near]
            if not rest:
                continue
            message = f"{_place(path)}: missing key {', '.join(rest)}"
        kept.append((path, message, at_key))
    return kept


def _place(path: tuple) -> str:
    if not path:
        return "document"
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")


def schema_diagnostics(doc: YamlDocument) -> list[Diagnostic]:
    found, repeats = [], set()
    for error in _validator().iter_errors(doc.data):
        # A list of values that must be distinct: each repeat at its own line, as the model says a repeat it finds
        # only once values are read (a value and the parameter naming it), not "[...] has non-unique elements".
        repeated = _repeated(doc, error) if error.validator == "uniqueItems" else []
        if repeated:
            repeats.update(repeated)
        else:
            found.append(_schema_message(error))
    found = [(path, _value_note(doc, path, message, at_key), at_key) for path, message, at_key in _misspelt_required(found)]
    return sorted({doc.diagnostic(path, "schema", message, key=at_key) for path, message, at_key in found} | repeats)


def _value_note(doc: YamlDocument, path: tuple, message: str, at_key: bool) -> str:
    """A schema message about a value (" — got ...") or an unknown key, with what the reader cannot see in it: the
    typographic quotes it is in, or the characters that are not ASCII where one is asked (a Cyrillic а in
    ``status: drаft``, which the message showed as "got drаft", beside "must be one of: published, draft")."""
    if at_key:
        return message + (lookalike_note(path[-1]) if message.startswith("unknown key ") else "")
    if " — got " not in message:
        return message
    value = _value_at(doc.data, path)
    if in_typographic_quotes(value):
        return f"{message}; it is in {TYPOGRAPHIC_QUOTES}"
    return message + lookalike_note(value)


def _value_at(data, path: tuple):
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _repeated(doc: YamlDocument, error) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    return doc.repeated(_name_of(path), [(path + (i,), item) for i, item in enumerate(error.instance)])


# ---------------------------------------------------------------------------- model

def node_at(raw: dict, dotted: str):
    """The node of a policy document at a dotted path (``claims.window_closes``: what a provision's
    ``applied_by`` names), or None when there is none."""
    node = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def not_a_zone(name) -> str:
    return f"{name!r} is not an IANA time zone: write a zone's name, like Asia/Singapore or UTC{lookalike_note(name)}"


def _is_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    except OSError as exc:  # a name longer than a file's is looked up as a file: no zone (it was exit 3)
        if exc.errno == errno.ENAMETOOLONG:
            return False
        raise
    return True


def percent(text: str) -> Decimal:
    return Decimal(text.rstrip("%"))


@dataclass(frozen=True)
class Tier:
    """A row of the compensation table (§3.1), bounds in percent with explicit inclusivity."""

    lower: Decimal | None
    lower_inclusive: bool
    upper: Decimal | None
    upper_inclusive: bool
    credit: Decimal
    ref: str
    text: str
    index: int

    def contains(self, availability_percent: Fraction) -> bool:
        low, high = self._exact_bounds
        if low is not None:
            if availability_percent < low or (availability_percent == low and not self.lower_inclusive):
                return False
        if high is not None:
            if availability_percent > high or (availability_percent == high and not self.upper_inclusive):
                return False
        return True

    @cached_property
    def _exact_bounds(self) -> tuple:
        """The bounds as Fractions, made once: every evaluation compares against them."""
        return (None if self.lower is None else Fraction(self.lower), None if self.upper is None else Fraction(self.upper))

    def describe(self) -> str:
        parts = []
        if self.lower is not None:
            parts.append(f"{'≥' if self.lower_inclusive else '>'} {self.lower}%")
        if self.upper is not None:
            parts.append(f"{'≤' if self.upper_inclusive else '<'} {self.upper}%")
        return " and ".join(parts) or "any availability"


@dataclass(frozen=True)
class Example:
    facts: dict
    applies: bool
    path: tuple


@dataclass(frozen=True)
class Clause:
    """A disclaimer clause of §5: its words, its condition, its examples."""

    id: str
    ref: str
    title: str
    text: str
    acts_on: str  # minutes | requests
    attribution: str  # normal | fallback
    condition: Condition
    examples: tuple[Example, ...]
    index: int


@dataclass(frozen=True, eq=False)
class Policy:
    """One policy version, immutable. ``raw`` is the document as loaded (do not mutate)."""

    path: str
    sha256: str
    raw: dict
    doc: YamlDocument = field(repr=False)
    id: str
    family: str
    title: str
    version: str
    status: str
    effective_from: dt.date
    timezone: str
    facts: dict  # name -> FactDecl
    causes: tuple[str, ...]
    parameters: dict
    clauses: tuple[Clause, ...]
    tiers: tuple[Tier, ...]

    # -- settings, read from raw so that every reading stays where legal wrote it
    def setting(self, *path):
        node = self.raw
        for key in path:
            node = node[key]
        return node["value"] if isinstance(node, dict) and "value" in node else node

    def ref(self, *path) -> str:
        node = self.raw
        for key in path:
            node = node[key]
        return node["ref"]

    @cached_property
    def unavailable_below(self) -> Decimal:
        return percent(self.setting("availability", "minute_unavailable_below"))

    @cached_property
    def unavailable_coefficients(self) -> tuple[int, int]:
        """§1.5 in integers: with the threshold p = num/den percent, (r − f)/r < p/100 ⇔ c1·(r − f) < c2·r,
        c1 = 100·den, c2 = num. The minutes path and the evaluation test minutes with these two numbers."""
        threshold = Fraction(self.unavailable_below)
        return 100 * threshold.denominator, threshold.numerator

    @cached_property
    def illegal_number_clause(self):
        """The request clause (§5.10) that removes illegal-number failures from requests and failures, if the
        version has one and reads them so (``availability.illegal_number_failures: remove_from_both``)."""
        if not self.request_clauses or "request.failure_reason" not in self.facts:
            return None
        if self.setting("availability", "illegal_number_failures") != "remove_from_both":
            return None
        matched = self.ruleset.match(self.complete_facts({"request.failure_reason": "illegal_number"}))
        return next((c for c in self.request_clauses if c.id in matched), None)

    @cached_property
    def standard(self) -> Decimal:
        return percent(self.setting("availability", "standard"))

    @cached_property
    def exact_standard(self) -> Fraction:
        return Fraction(self.standard)

    @property
    def standard_met_when(self) -> str:
        return self.raw["availability"]["standard"]["met_when"]

    @property
    def display_decimals(self) -> int:
        return self.setting("availability", "display_decimals")

    @property
    def gate(self) -> str:
        return self.setting("compensation", "gate")

    @cached_property
    def minute_clauses(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.acts_on == "minutes")

    @cached_property
    def request_clauses(self) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.acts_on == "requests")

    def default_facts(self) -> dict:
        return {name: decl.coerce(decl.default) for name, decl in self.facts.items()}

    def complete_facts(self, given: dict) -> dict:
        """Typed facts: declared defaults, overridden by ``given`` (raises ValueError on a bad value or name)."""
        facts = self.default_facts()
        for name, value in given.items():
            if name not in self.facts:
                raise ValueError(f"fact {name!r} is not declared by policy {self.id} {self.version}")
            facts[name] = self.facts[name].coerce(value)
        return facts

    @cached_property
    def ruleset(self):
        """The clauses compiled to durable-rules, registered once per process per sha256."""
        name = f"slapolicy_{self.id}_{self.sha256[:16]}".replace("-", "_")
        return ruleset_for(name, [(c.id, c.condition) for c in self.clauses])

    def summary(self) -> dict:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}

    @cached_property
    def minutes_reading(self) -> str:
        """A digest of every part of the document that decides which minutes are unavailable and excluded:
        all of it except the metadata, the standard, the display of availability, compensation and claims."""
        kept = {key: value for key, value in self.raw.items() if key not in NOT_READING_MINUTES}
        kept["availability"] = {key: value for key, value in self.raw["availability"].items()
                                if key not in ("standard", "display_decimals", "display_rounding")}
        return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


# Top-level parts of a policy that say nothing about how minutes are read (§1.5) or excluded (§5).
NOT_READING_MINUTES = ("version", "status", "effective_from", "amends", "description", "title", "source", "provisions",
                       "compensation", "claims")


def reads_minutes_alike(one: Policy, other: Policy) -> bool:
    """Whether two versions classify every minute the same way, so one classification serves both.

    Minute-fact plugins are given the policy; they are expected to read only the parts kept in
    :attr:`Policy.minutes_reading` (docs/plugins.md says so).
    """
    return one.minutes_reading == other.minutes_reading


def _build(doc: YamlDocument, path: str, sha256: str) -> tuple[Policy | None, list[Diagnostic]]:
    data = doc.data
    problems: list[Diagnostic] = []
    causes = tuple(c["id"] for c in data["causes"])
    problems += doc.repeated("causes", [(("causes", i, "id"), cause) for i, cause in enumerate(causes)])
    # Each provision is found by its number (show --provision, diff) and each material by its id: a second one of
    # either was silently left out of one and shown by the other.
    problems += doc.repeated("provisions", [(("provisions", i, "ref"), entry.get("ref"))
                                            for i, entry in enumerate(data.get("provisions") or [])])
    problems += doc.repeated("required_materials", [(("claims", "required_materials", i, "id"), entry.get("id"))
                                                    for i, entry in enumerate(data["claims"]["required_materials"])])
    facts: dict[str, FactDecl] = {}
    for i, entry in enumerate(data["facts"]):
        values = tuple(entry.get("values", ()))
        problems += [doc.diagnostic(("facts", i, "values", j), "bad-fact-value", f"value {v!r} of fact {entry['name']} "
                                    f"{problem}: write it as the inputs supply it") for j, v in enumerate(values)
                     if (problem := unseen_problem(v))]
        if not values and entry["type"] == "string" and isinstance(entry["default"], str) \
                and (problem := unseen_problem(entry["default"])):  # with values:, the default must be one of them
            problems.append(doc.diagnostic(("facts", i, "default"), "bad-fact-value", f"default {entry['default']!r} of "
                                           f"fact {entry['name']} {problem}: write it as the inputs supply it"))
        if entry["type"] == "cause":
            values = ("none",) + causes
        decl = FactDecl(entry["name"], entry["type"], values, entry["default"], entry["ref"], entry["description"])
        if entry["name"] in facts:
            problems.append(doc.diagnostic(("facts", i, "name"), "duplicate-fact", f"fact {entry['name']} is declared twice"))
        try:
            decl.coerce(entry["default"])
        except ValueError as exc:
            problems.append(doc.diagnostic(("facts", i, "default"), "bad-fact-value", f"default: {exc}"))
        facts[entry["name"]] = decl
    parameters = {name: entry["value"] for name, entry in data["parameters"].items()}
    parameters = {name: (percent(v) if isinstance(v, str) and v.endswith("%") else v) for name, v in parameters.items()}
    try:
        effective = dt.date.fromisoformat(data["effective_from"])
    except ValueError:
        problems.append(doc.diagnostic(("effective_from",), "bad-date",
                                       f"effective_from {data['effective_from']!r} is not a calendar date"))
        effective = None
    if effective is not None and not in_supported_years(effective):  # it would govern no month slapolicy evaluates
        problems.append(doc.diagnostic(("effective_from",), "bad-date", f"effective_from {effective} {OUTSIDE_YEARS}"))
    clauses = []
    for i, entry in enumerate(data["disclaimers"]):
        condition, found = parse_condition(entry["when"], ("disclaimers", i, "when"), facts, parameters, doc,
                                           unseen_problem)
        problems.extend(found)
        examples = []
        for j, example in enumerate(entry["examples"]):
            example_path = ("disclaimers", i, "examples", j)
            for name, value in example["facts"].items():
                if name not in facts:
                    problems.append(doc.diagnostic(example_path + ("facts", name), "undeclared-fact",
                                                   f"example sets fact {name!r}, which the policy does not declare "
                                                   f"under facts{meant(name, facts)}", key=True))
                else:
                    try:
                        facts[name].coerce(value)
                    except ValueError as exc:
                        problems.append(doc.diagnostic(example_path + ("facts", name), "bad-fact-value", str(exc)))
            examples.append(Example(dict(example["facts"]), example["applies"], example_path))
        clauses.append(Clause(entry["id"], entry["ref"], entry["title"], entry["text"], entry.get("acts_on", "minutes"),
                              entry.get("attribution", "normal"), condition, tuple(examples), i))
    tiers = []
    for i, entry in enumerate(data["compensation"]["tiers"]):
        lower = entry.get("at_least", entry.get("above"))
        upper = entry.get("below", entry.get("at_most"))
        tiers.append(Tier(percent(lower) if lower else None, "at_least" in entry, percent(upper) if upper else None,
                          "at_most" in entry, percent(entry["credit"]), entry["ref"], entry.get("text", ""), i))
    timezone = data["timezone"]["value"]
    if not _is_zone(timezone):
        problems.append(doc.diagnostic(("timezone", "value"), "bad-timezone", not_a_zone(timezone)))
    if any(p.severity == "error" for p in problems):
        return None, problems
    policy = Policy(path=path, sha256=sha256, raw=data, doc=doc, id=data["id"], family=data["family"], title=data["title"],
                    version=data["version"], status=data["status"], effective_from=effective, timezone=timezone,
                    facts=facts, causes=causes, parameters=parameters, clauses=tuple(clauses), tiers=tuple(tiers))
    return policy, problems
