"""The condition language of disclaimer clauses (``when:``), and its pure-Python matcher.

A condition is structured YAML, never evaluated code::

    all: [ {fact: notice.kind, equals: maintenance},
           {fact: notice.published_before_start, equals: true} ]

Combinators: ``all``, ``any``, ``not``. Comparisons: ``{fact: NAME, OP: VALUE}`` with OP one
of ``equals``, ``not_equals``, ``in``, ``not_in``, ``at_least``, ``above``, ``below``,
``at_most``. A value may name a policy parameter: ``{param: concurrency_threshold_qps}``.
A part of a condition that reads what the text leaves open is marked as such:
``{reading: true, description: WHY, when: CONDITION}`` (it holds when ``when`` holds).

Every declared fact is present in every situation (facts not supplied take their
declared default), so a comparison is always total and ``not`` is exact. The same
language compiles to durable-rules in :mod:`slapolicy.rules.durable`; this module's
:func:`matches` is the reference both must agree with (a property test checks it).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..errors import Diagnostic, lookalike_note

ORDER_OPS = ("at_least", "above", "below", "at_most")
NEGATION = {"equals": "not_equals", "not_equals": "equals", "in": "not_in", "not_in": "in",
            "at_least": "below", "below": "at_least", "above": "at_most", "at_most": "above"}


class _Value:
    """A record made from its fields in order, never changed, equal to and hashed as a record of its class with the
    same fields, shown with their names: what ``@dataclass(frozen=True)`` made of these classes, without its
    making (Python 3.11 execs each generated method: ~0.7 ms a class at every start). ``__slots__`` names the fields."""

    __slots__ = ()

    def __init__(self, *values):
        if len(values) != len(self.__slots__):
            raise TypeError(f"{type(self).__name__} takes {len(self.__slots__)} fields ({', '.join(self.__slots__)}), "
                            f"not {len(values)}")
        for name, value in zip(self.__slots__, values):
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}: a {type(self).__name__} is never changed")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}: a {type(self).__name__} is never changed")

    def __eq__(self, other):
        return self._fields() == other._fields() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self):
        return hash(self._fields())

    def __repr__(self):
        return f"{type(self).__qualname__}({', '.join(f'{n}={v!r}' for n, v in zip(self.__slots__, self._fields()))})"

    def __reduce__(self):  # copy and pickle through __init__: the slots cannot be set once made
        return type(self), self._fields()


class FactDecl(_Value):
    """A fact that clause conditions may test, declared by the policy: name, type (string | boolean | number |
    cause), values (the allowed strings of string and cause types), default, ref, description."""

    __slots__ = ("name", "type", "values", "default", "ref", "description")

    def coerce(self, value):
        """The typed value of ``value`` for this fact, or raise ValueError saying why."""
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError(f"fact {self.name} is a boolean (true or false), not {value!r}")
        if self.type == "number":
            if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
                raise ValueError(f"fact {self.name} is a number, not {value!r}")
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise ValueError(f"fact {self.name} is a number, not {value!r}") from None
            if not number.is_finite():
                raise ValueError(f"fact {self.name} must be a finite number, not {value!r}")
            return number
        if not isinstance(value, str):
            raise ValueError(f"fact {self.name} is a string, not {value!r}")
        if self.values and value not in self.values:
            raise ValueError(f"{value!r} is not a value of fact {self.name}{meant(value, self.values)} (one of: "
                             f"{', '.join(self.values)})")
        return value


def meant(written: str, names) -> str:
    """'; did you mean 'incident.cause'?' for a fact name or value misspelt (``incident.cuase``, ``customer_netwrk``),
    or '' when none of ``names`` is near it. A name near an ASCII one that is not ASCII itself (``nоtice.kind``, a
    Cyrillic о) also names the characters that differ, since the two print alike."""
    import difflib  # a misspelling's: a policy that declares what it tests never loads it

    close = difflib.get_close_matches(written, list(names), n=1)
    if not close:
        return ""
    return f"; did you mean {close[0]!r}" + ((close[0].isascii() and lookalike_note(written, "? It")) or "?")


class Compare(_Value):
    __slots__ = ("fact", "op", "value")  # value: a typed value, or a tuple of them for in / not_in


class All(_Value):
    __slots__ = ("items",)  # a tuple of conditions


class Any_(_Value):
    __slots__ = ("items",)


class Not(_Value):
    __slots__ = ("item",)


Condition = Compare | All | Any_ | Not


def condition_facts(condition) -> set[str]:
    """The names of the facts a condition tests."""
    if isinstance(condition, Compare):
        return {condition.fact}
    if isinstance(condition, Not):
        return condition_facts(condition.item)
    if isinstance(condition, (All, Any_)):
        return set().union(*(condition_facts(item) for item in condition.items))
    return set()


def parse_condition(data, path: tuple, facts: dict[str, FactDecl], parameters: dict, doc,
                    unseen=None) -> tuple[Condition | None, list[Diagnostic]]:
    """Build a condition from schema-valid YAML data; report undeclared facts and bad values with their place.

    ``unseen(text)``: why a text compared with a string or cause fact could look like another (a letter of another
    script, a character that shows nothing), or None; such a value is refused, saying so, since a condition testing
    it would never hold for the value it looks like (the policy's own rule, in policy/load.py)."""
    problems: list[Diagnostic] = []

    def operand(raw, where, decl: FactDecl):
        if isinstance(raw, dict):
            name = raw.get("param")
            if name not in parameters:
                problems.append(doc.diagnostic(where + ("param",), "unknown-param",
                                               f"condition names parameter {name!r}, which the policy does not declare under parameters"
                                               f"{lookalike_note(name)}"))
                return None
            raw = parameters[name]
        looks = unseen(raw) if unseen and decl.type in ("string", "cause") and isinstance(raw, str) else None
        if looks:
            problems.append(doc.diagnostic(where, "bad-fact-value", f"value {raw!r} of fact {decl.name} {looks}: "
                                                                    "write it as the inputs supply it"))
            return None
        try:
            return decl.coerce(raw)
        except ValueError as exc:
            problems.append(doc.diagnostic(where, "bad-fact-value", str(exc)))
            return None

    def build(node, where):
        if "all" in node:
            return All(tuple(build(item, where + ("all", i)) for i, item in enumerate(node["all"])))
        if "any" in node:
            return Any_(tuple(build(item, where + ("any", i)) for i, item in enumerate(node["any"])))
        if "not" in node:
            return Not(build(node["not"], where + ("not",)))
        if "reading" in node:  # a part marked as a reading of the text: it holds when its `when` holds
            return build(node["when"], where + ("when",))
        name = node["fact"]
        decl = facts.get(name)
        (op,) = [key for key in node if key != "fact"]
        if decl is None:
            problems.append(doc.diagnostic(where + ("fact",), "undeclared-fact",
                                           f"condition tests fact {name!r}, which the policy does not declare under "
                                           f"facts{meant(name, facts)}"))
            return Compare(name, op, None)
        if op in ORDER_OPS and decl.type != "number":
            problems.append(doc.diagnostic(where + (op,), "bad-operator",
                                           f"{op} compares numbers, but fact {name} is a {decl.type}"))
            return Compare(name, op, None)
        if op in ("in", "not_in"):
            value = tuple(operand(item, where + (op, i), decl) for i, item in enumerate(node[op]))
            # compared as read: "5" and "5.0", or a value and the parameter naming it, are one value
            problems.extend(doc.repeated(op, [(where + (op, i), item) for i, item in enumerate(value)]))
        else:
            value = operand(node[op], where + (op,), decl)
        return Compare(name, op, value)

    condition = build(data, path)
    return (None if problems else condition), problems


def numeric_constants(condition: Condition) -> dict[str, set[Decimal]]:
    """For each numeric fact, the constants it is compared with (used to canonicalise values)."""
    found: dict[str, set[Decimal]] = {}

    def walk(node):
        if isinstance(node, Compare):
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            for value in values:
                if isinstance(value, Decimal):
                    found.setdefault(node.fact, set()).add(value)
        elif isinstance(node, Not):
            walk(node.item)
        else:
            for item in node.items:
                walk(item)

    walk(condition)
    return found


def _compare(op: str, actual, expected) -> bool:
    if op == "equals":
        return actual == expected
    if op == "not_equals":
        return actual != expected
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "at_least":
        return actual >= expected
    if op == "above":
        return actual > expected
    if op == "below":
        return actual < expected
    return actual <= expected  # at_most


def matches(condition: Condition, facts: dict) -> bool:
    """The reference matcher: does ``condition`` hold for this complete set of typed facts?"""
    if isinstance(condition, Compare):
        return _compare(condition.op, facts[condition.fact], condition.value)
    if isinstance(condition, All):
        return all(matches(item, facts) for item in condition.items)
    if isinstance(condition, Any_):
        return any(matches(item, facts) for item in condition.items)
    return not matches(condition.item, facts)


def negation_normal_form(condition: Condition, negate: bool = False) -> Condition:
    """Push ``not`` down to the comparisons (durable-rules has no negation operator)."""
    if isinstance(condition, Compare):
        return Compare(condition.fact, NEGATION[condition.op], condition.value) if negate else condition
    if isinstance(condition, Not):
        return negation_normal_form(condition.item, not negate)
    items = tuple(negation_normal_form(item, negate) for item in condition.items)
    if isinstance(condition, All):
        return Any_(items) if negate else All(items)
    return All(items) if negate else Any_(items)


def describe(condition: Condition) -> str:
    """A one-line reading of a condition, for ``show`` and the trace."""
    words = {"equals": "=", "not_equals": "≠", "in": "in", "not_in": "not in",
             "at_least": "≥", "above": ">", "below": "<", "at_most": "≤"}
    if isinstance(condition, Compare):
        value = condition.value
        shown = "[" + ", ".join(map(_show, value)) + "]" if isinstance(value, tuple) else _show(value)
        return f"{condition.fact} {words[condition.op]} {shown}"
    if isinstance(condition, Not):
        return f"not ({describe(condition.item)})"
    joiner = " and " if isinstance(condition, All) else " or "
    return "(" + joiner.join(describe(item) for item in condition.items) + ")"


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
