"""durable-rules and the pure-Python matcher must always agree (engine/slapolicy/rules/durable.py says why)."""
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slapolicy.rules.conditions import All, Any_, Compare, Not, matches
from slapolicy.rules.durable import canonical_number, ruleset_for

STRINGS = ("none", "maintenance", "major_event")
NUMBERS = [Decimal(x) for x in ("0", "4.99", "5", "5.0", "7.25", "12")]

string_compare = st.one_of(
    st.builds(Compare, st.just("notice.kind"), st.sampled_from(["equals", "not_equals"]), st.sampled_from(STRINGS)),
    st.builds(Compare, st.just("notice.kind"), st.sampled_from(["in", "not_in"]),
              st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3, unique=True).map(tuple)))
bool_compare = st.builds(Compare, st.just("notice.published_before_start"), st.sampled_from(["equals", "not_equals"]),
                         st.booleans())
number_compare = st.builds(Compare, st.just("minute.concurrency_qps"),
                           st.sampled_from(["equals", "not_equals", "at_least", "above", "below", "at_most"]),
                           st.sampled_from(NUMBERS))
leaf = st.one_of(string_compare, bool_compare, number_compare)
conditions = st.recursive(leaf, lambda inner: st.one_of(
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
    st.lists(inner, min_size=1, max_size=3).map(lambda xs: Any_(tuple(xs))),
    inner.map(Not)), max_leaves=6)
fact_sets = st.fixed_dictionaries({
    "notice.kind": st.sampled_from(STRINGS),
    "notice.published_before_start": st.booleans(),
    "minute.concurrency_qps": st.one_of(st.sampled_from(NUMBERS),
                                        st.decimals(min_value=-10, max_value=100, places=3, allow_nan=False)),
})


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(conditions, min_size=1, max_size=3), st.lists(fact_sets, min_size=1, max_size=6))
def test_durable_rules_agree_with_the_reference_matcher(conds, facts_list):
    clauses = [(f"5.{i + 1}", c) for i, c in enumerate(conds)]
    ruleset = ruleset_for(f"prop_{uuid.uuid4().hex}", clauses)
    for facts in facts_list:
        expected = tuple(cid for cid, c in clauses if matches(c, facts))
        assert ruleset.match(facts) == expected
        assert ruleset.match_reference(facts) == expected


def test_matches_are_cached_per_canonical_situation():
    condition = Compare("minute.concurrency_qps", "at_least", Decimal("5.0"))
    ruleset = ruleset_for(f"cache_{uuid.uuid4().hex}", [("5.7", condition)])
    for value in ("5.5", "6", "1000", "5.0001"):
        assert ruleset.match({"minute.concurrency_qps": Decimal(value)}) == ("5.7",)
    assert ruleset.matches_run == 1  # all four lie in the cell (5.0, +inf)
    assert ruleset.match({"minute.concurrency_qps": Decimal("4.999999999999999999999")}) == ()
    assert ruleset.match({"minute.concurrency_qps": Decimal("5")}) == ("5.7",)
    assert ruleset.matches_run == 3


def test_canonical_number_keeps_every_comparison():
    cuts = (Decimal("4.99"), Decimal("5.0"))
    assert canonical_number(Decimal("1"), cuts) == Decimal("3.99")
    assert canonical_number(Decimal("4.99"), cuts) == Decimal("4.99")
    assert canonical_number(Decimal("4.995"), cuts) == Decimal("4.995")
    assert canonical_number(Decimal("4.999"), cuts) == Decimal("4.995")
    assert canonical_number(Decimal("5.00"), cuts) == Decimal("5.0")
    assert canonical_number(Decimal("9"), cuts) == Decimal("6.0")


def test_a_ruleset_is_registered_once_per_name():
    condition = Compare("notice.kind", "equals", "maintenance")
    name = f"once_{uuid.uuid4().hex}"
    assert ruleset_for(name, [("5.12", condition)]) is ruleset_for(name, [("5.12", condition)])


def test_no_match_is_a_normal_answer():
    ruleset = ruleset_for(f"none_{uuid.uuid4().hex}", [("5.12", Compare("notice.kind", "equals", "maintenance"))])
    assert ruleset.match({"notice.kind": "none"}) == ()


def test_more_than_1024_distinct_situations_use_one_session():
    """durable-rules refuses the 1025th live session; the adapter reuses one session per ruleset."""
    from slapolicy.rules import session_stats

    kinds = [f"kind_{n}" for n in range(1100)]
    ruleset = ruleset_for(f"many_{uuid.uuid4().hex}", [("5.12", Compare("notice.kind", "equals", "kind_7"))])
    for kind in kinds:  # 1100 distinct situations: 1100 calls into durable-rules
        assert ruleset.match({"notice.kind": kind}) == (("5.12",) if kind == "kind_7" else ())
    assert ruleset.matches_run == 1100
    stats = session_stats()
    assert stats["facts_held"] == 0 and stats["sessions"] <= stats["rulesets"]


def test_a_condition_is_a_value_equal_and_hashed_by_its_class_and_fields():
    import copy
    import pickle

    from slapolicy.rules.conditions import FactDecl

    kind = Compare("notice.kind", "equals", "maintenance")
    assert kind == Compare("notice.kind", "equals", "maintenance") and hash(kind) == hash(Compare("notice.kind", "equals", "maintenance"))
    assert kind != Compare("notice.kind", "equals", "emergency") and kind != ("notice.kind", "equals", "maintenance")
    assert All((kind,)) != Any_((kind,)) and len({All((kind,)), Any_((kind,)), All((kind,))}) == 2  # same items, other class
    assert repr(Not(All((kind,)))) == "Not(item=All(items=(Compare(fact='notice.kind', op='equals', value='maintenance'),)))"
    assert pickle.loads(pickle.dumps(Not(kind))) == copy.deepcopy(Not(kind)) == Not(kind)
    with pytest.raises(AttributeError, match="cannot assign to field 'op': a Compare is never changed"):
        kind.op = "not_equals"
    with pytest.raises(AttributeError, match="cannot delete field 'value'"):
        del kind.value
    with pytest.raises(TypeError, match=r"Compare takes 3 fields \(fact, op, value\), not 2"):
        Compare("notice.kind", "equals")
    fact = FactDecl("minute.concurrency_qps", "number", (), "0", "§5.3", "peak queries per second")
    assert (fact.name, fact.type, fact.values, fact.default, fact.ref, fact.description) == (
        "minute.concurrency_qps", "number", (), "0", "§5.3", "peak queries per second")
    assert fact.coerce("5.0") == Decimal("5.0")


def test_every_comparison_and_its_negation_on_both_sides_of_the_constant():
    # Each operator against 5.0 at 4.99, 5.0 and 5.01, as written and under `not`, from durable-rules and from the
    # reference matcher alike: the property test above is slow, and in the fast loop the matcher's at_least read as
    # "above", its below as "at most", or `not at_least` rewritten to "at most", passed every test.
    five = Decimal("5.0")
    holds = {"equals": (False, True, False), "not_equals": (True, False, True), "at_least": (False, True, True),
             "above": (False, False, True), "below": (True, False, False), "at_most": (True, True, False)}
    clauses = [(f"5.{i + 1}", Compare("minute.concurrency_qps", op, five)) for i, op in enumerate(holds)]
    clauses += [(f"6.{i + 1}", Not(Compare("minute.concurrency_qps", op, five))) for i, op in enumerate(holds)]
    ruleset = ruleset_for(f"sides_{uuid.uuid4().hex}", clauses)
    for at, value in enumerate(("4.99", "5.0", "5.01")):
        facts = {"minute.concurrency_qps": Decimal(value)}
        expected = tuple([f"5.{i + 1}" for i, sides in enumerate(holds.values()) if sides[at]]
                         + [f"6.{i + 1}" for i, sides in enumerate(holds.values()) if not sides[at]])
        assert (ruleset.match(facts), ruleset.match_reference(facts)) == (expected, expected), value
