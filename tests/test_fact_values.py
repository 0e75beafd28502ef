"""A fact's values are compared with what the inputs supply (a notice's kind, a plugin's value): one that looks like
another is refused at its line and column, as the policy's identifiers (ASCII by the schema) cannot look alike.
`maintenanсe` with a Cyrillic с, its conditions written alike, passed validate and never matched a maintenance
notice."""
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
    assert (result.code, result.err) == (1, "1 file(s) checked: 1 error(s), 0 warning(s)\n")
    assert result.out == (f"{policy}:238:20: error bad-fact-value value {lookalike!r} of fact notice.kind mixes letters "
                          "of two scripts (U+0441 CYRILLIC SMALL LETTER ES among Latin letters), so it looks like a "
                          "value it is not: write it as the inputs supply it\n")
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
