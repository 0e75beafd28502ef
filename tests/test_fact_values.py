"""A fact's values are compared with what the inputs supply (a notice's kind, a plugin's value): one that looks like
another is refused at its line and column, as the policy's identifiers (ASCII by the schema) cannot look alike.
`maintenanсe` with a Cyrillic с, its conditions written alike, passed validate and never matched a maintenance
notice."""
import pytest

from conftest import POLICIES, REPO, run_cli

SHIPPED = (POLICIES / "2019-01-01.yaml").read_text()
KINDS = "values: [none, maintenance, major_event, high_concurrency]"


def _policy(tmp_path, text: str):
    path = tmp_path / "2019-01-01.yaml"
    path.write_text(text)
    return path


def _at(text: str, found: str) -> tuple[int, int]:
    """Line and column (1-based) where ``found`` starts."""
    before = text[:text.index(found)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def test_a_fact_value_mixing_scripts_is_refused_at_its_line_and_column_even_where_its_conditions_agree(tmp_path):
    lookalike = "maintenan\u0441e"  # Cyrillic с (U+0441)
    text = SHIPPED.replace(KINDS, KINDS.replace("maintenance", lookalike))
    text = text.replace("equals: maintenance}", f"equals: {lookalike}}}").replace(
        "notice.kind: maintenance,", f"notice.kind: {lookalike},")
    line, col = _at(text, lookalike)
    assert (line, col) == (238, 20)  # `    values: [none, ` is 19 characters
    policy = _policy(tmp_path, text)
    result = run_cli("validate", policy)
    assert (result.code, result.err) == (1, "1 file(s) checked: 2 error(s), 0 warning(s)\n")
    why = (f"error bad-fact-value value {lookalike!r} of fact notice.kind mixes letters of two scripts (U+0441 "
           "CYRILLIC SMALL LETTER ES among Latin letters), so it looks like a value it is not: write it as the inputs "
           "supply it")
    condition = _at(text, f"equals: {lookalike}}}")  # §5.11's, the one condition comparing it
    assert result.out == f"{policy}:238:20: {why}\n{policy}:{condition[0]}:{condition[1] + 8}: {why}\n"
    evaluated = run_cli("evaluate", POLICIES, "--policy-file", policy, "--minutes", REPO / "examples/ccc/minutes.csv",
                        "--month", "2019-03")
    assert (evaluated.code, evaluated.out) == (1, "")
    assert f"{policy}:238:20: error bad-fact-value value {lookalike!r}" in evaluated.err


def test_a_fact_value_holding_a_character_that_shows_nothing_is_refused_at_its_line_and_column(tmp_path):
    text = SHIPPED.replace("values: [none, illegal_number]", 'values: [none, "illegal\u200b_number"]')
    assert _at(text, '"illegal') == (259, 20)
    policy = _policy(tmp_path, text)
    result = run_cli("validate", policy)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"{policy}:259:20: error bad-fact-value value 'illegal\\u200b_number' of fact request.failure_reason holds "
        "U+200B ZERO WIDTH SPACE, which shows nothing: write it as the inputs supply it")


def test_a_value_in_one_script_other_than_latin_is_a_value(tmp_path):
    # Russian for maintenance, and a Japanese word of kanji and kana: each of one writing, nothing looks alike
    from slapolicy.policy.load import unseen_problem

    assert unseen_problem("обслуживание") is None
    assert unseen_problem("保守の通知") is None
    assert unseen_problem("major_event_2") is None
    assert unseen_problem("m\u0430jor") == ("mixes letters of two scripts (U+0430 CYRILLIC SMALL LETTER A among Latin "
                                            "letters), so it looks like a value it is not")
    text = SHIPPED.replace(KINDS, KINDS.replace("high_concurrency]", "high_concurrency, обслуживание]"))
    assert run_cli("validate", _policy(tmp_path, text)).code == 0


# A string fact declared without `values:` (one a plugin supplies, any text) takes whatever its conditions compare it
# with: `sоuth` with a Cyrillic о passed validate, and its clause never held for a notice of region south.
REGION = ('  - name: request.failure_reason', '''  - name: notice.region
    type: string
    default: none
    ref: "§5.11"
    description: "The region a notice names; any text."
  - name: request.failure_reason''')
CUSTOMER_NETWORK = "when: {fact: incident.cause, equals: customer_network}"


def _with_region(condition: str, default: str = "none") -> str:
    text = SHIPPED.replace(*REGION).replace("default: none\n    ref: \"§5.11\"", f"default: {default}\n    ref: \"§5.11\"")
    assert CUSTOMER_NETWORK in text
    return text.replace(CUSTOMER_NETWORK, "when: {any: [{fact: incident.cause, equals: customer_network}, "
                                          f"{condition}]}}", 1)


def test_a_value_compared_with_a_fact_without_values_is_refused_when_it_mixes_scripts(tmp_path):
    lookalike = "s\u043euth"  # Cyrillic о (U+043E)
    text = _with_region(f'{{fact: notice.region, in: [north, "{lookalike}"]}}')
    line, col = _at(text, f'"{lookalike}"')
    assert (line, col) == (274, 102)  # the fact's five lines moved §5.1's condition from line 269 to 274
    policy = _policy(tmp_path, text)
    result = run_cli("validate", policy)
    assert (result.code, result.err) == (1, "1 file(s) checked: 1 error(s), 0 warning(s)\n")
    assert result.out == (f"{policy}:274:102: error bad-fact-value value {lookalike!r} of fact notice.region mixes "
                          "letters of two scripts (U+043E CYRILLIC SMALL LETTER O among Latin letters), so it looks "
                          "like a value it is not: write it as the inputs supply it\n")
    clean = _policy(tmp_path, _with_region('{fact: notice.region, in: [north, south, "Zürich", "обслуживание"]}'))
    assert run_cli("validate", clean).code == 0  # each value of one script


def test_a_condition_value_hiding_a_character_is_refused(tmp_path):
    text = _with_region('{fact: notice.region, not_equals: "south\u200b"}')
    line, col = _at(text, '"south')
    policy = _policy(tmp_path, text)
    result = run_cli("validate", policy)
    assert result.code == 1
    assert result.out == (f"{policy}:{line}:{col}: error bad-fact-value value 'south\\u200b' of fact notice.region "
                          "holds U+200B ZERO WIDTH SPACE, which shows nothing: write it as the inputs supply it\n")


def test_a_lookalike_of_a_declared_value_says_why_it_is_not_that_value(tmp_path):
    # Before: "'mаintenance' is not a value of fact notice.kind (one of: none, maintenance, ...)", which the eye
    # reads as naming the value written.
    lookalike = "m\u0430intenance"
    text = SHIPPED.replace("equals: maintenance}", f"equals: {lookalike}}}", 1)
    line, col = _at(text, lookalike)
    result = run_cli("validate", _policy(tmp_path, text))
    assert result.code == 1
    assert result.out.splitlines()[0].endswith(
        f":{line}:{col}: error bad-fact-value value {lookalike!r} of fact notice.kind mixes letters of two scripts "
        "(U+0430 CYRILLIC SMALL LETTER A among Latin letters), so it looks like a value it is not: write it as the "
        "inputs supply it")


def test_the_default_of_a_fact_without_values_is_refused_when_it_looks_like_another(tmp_path):
    text = _with_region("{fact: notice.region, equals: south}", default='"n\u043ene"')
    line, col = _at(text, '"n\u043ene"')
    policy = _policy(tmp_path, text)
    result = run_cli("validate", policy)
    assert result.code == 1
    assert result.out == (f"{policy}:{line}:{col}: error bad-fact-value default 'nоne' of fact notice.region mixes "
                          "letters of two scripts (U+043E CYRILLIC SMALL LETTER O among Latin letters), so it looks "
                          "like a value it is not: write it as the inputs supply it\n")


@pytest.mark.slow
def test_a_misspelt_fact_or_value_names_the_one_meant(tmp_path):
    """Before: "... which the policy does not declare under facts", and "'customer_netwrk' is not a value of fact
    incident.cause (one of: ...)", sixteen values to read through for the one meant."""
    first = "{facts: {incident.cause: customer_network}, applies: true}"
    for written, message in (
            ("{fact: incident.cause, equals: customer_network}", None),
            ("{facts: {incident.cuase: customer_network}, applies: true}",
             "error undeclared-fact example sets fact 'incident.cuase', which the policy does not declare under facts; "
             "did you mean 'incident.cause'?"),
            ("{facts: {incident.cause: customer_netwrk}, applies: true}",
             "error bad-fact-value 'customer_netwrk' is not a value of fact incident.cause; did you mean "
             "'customer_network'? (one of: none, provider, customer_network, customer_credentials, attack_on_customer, "
             "usage_violation, customer_negligence, illegal_content, trial_feature, authority_control, "
             "third_party_network, force_majeure, not_provider, legal_exemption, customer_law_violation, "
             "number_noncompliance)")):
        if message is None:  # the condition of §5.1, its fact misspelt
            text = SHIPPED.replace(written, "{fact: incident.caus, equals: customer_network}", 1)
            line, col = _at(text, "incident.caus,")
            message = ("error undeclared-fact condition tests fact 'incident.caus', which the policy does not declare "
                       "under facts; did you mean 'incident.cause'?")
        else:
            text = SHIPPED.replace(first, written, 1)
            line, col = _at(text, written)
            col += len("{facts: {") if "cuase" in written else len("{facts: {incident.cause: ")
        policy = _policy(tmp_path, text)
        result = run_cli("validate", policy)
        assert result.code == 1
        assert result.out.splitlines() == [f"{policy}:{line}:{col}: {message}"]
    far = run_cli("validate", _policy(tmp_path, SHIPPED.replace(first, "{facts: {weather: rain}, applies: true}", 1)))
    assert far.out.endswith("which the policy does not declare under facts\n")  # nothing near it: no guess
