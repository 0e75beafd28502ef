"""Messages in the policy's own terms: what was expected, an example of a correct value, what was found,
and the line and column counted from 1 everywhere (docs/policy-format.md)."""
import pytest

from conftest import PUBLISHED
from helpers import draft_variant

STANDARD = 'value: "99.5%"\n    met_when: at_least'


def problems(cli, path):
    result = cli("validate", path)
    return result.code, [line.split(": ", 1)[1] for line in result.out.splitlines() if " error " in line], result.out


def line_col(text, needle, col_of=None):
    """1-based line and column of ``col_of`` (default ``needle``) on the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(col_of or needle) + 1
    raise AssertionError(needle)


@pytest.mark.parametrize("written,shown", [("99.9", "99.9"), ('"99.9 %"', "99.9 %"), ('"99.9"', "99.9")])
def test_a_standard_without_percent_sign_is_explained_not_shown_as_a_regular_expression(cli, tmp_path, written, shown):
    path = draft_variant(tmp_path, STANDARD, f"value: {written}\n    met_when: at_least")
    code, errors, out = problems(cli, path)
    line, col = line_col(path.read_text(), f"value: {written}", written)
    assert code == 1
    assert errors == [f"error schema standard must be a percentage like 99.5% — got {shown}"]
    assert f"{path}:{line}:{col}: " in out
    assert "^(" not in out and "does not match" not in out


def test_a_credit_above_100_percent_says_so(cli, tmp_path):
    path = draft_variant(tmp_path, 'credit: "50%"', 'credit: "150%"')
    code, errors, _ = problems(cli, path)
    assert errors == ["error schema credit must be a percentage of at most 100% — got 150%"]


def test_equal_for_equals_blames_only_the_wrong_key(cli, tmp_path):
    old = "when: {fact: incident.cause, equals: customer_network}"
    path = draft_variant(tmp_path, old, "when: {fact: incident.cause, equal: customer_network}")
    code, errors, out = problems(cli, path)
    line, col = line_col(path.read_text(), "equal: customer_network", "equal:")
    assert errors == ["error schema unknown comparison 'equal'; did you mean 'equals'? (a comparison is "
                      "{fact: NAME, OP: VALUE} with OP one of equals, not_equals, in, not_in, at_least, above, below, at_most)"]
    assert out.startswith(f"{path}:{line}:{col}: ")
    assert "'fact'" not in out  # the correct key is not blamed


def test_a_misspelt_required_key_is_blamed_once_with_the_right_spelling(cli, tmp_path):
    path = draft_variant(tmp_path, "timezone:\n  value:", "timezon:\n  value:")
    code, errors, out = problems(cli, path)
    line, _ = line_col(path.read_text(), "timezon:")
    assert [e.split(" (allowed here")[0] for e in errors] == [
        "error schema unknown key 'timezon'; did you mean 'timezone'?"]
    assert out.startswith(f"{path}:{line}:1: ")


@pytest.mark.slow
def test_a_wrong_type_names_the_setting_and_what_it_must_be(cli, tmp_path):
    path = draft_variant(tmp_path, "display_decimals: {value: 2,", "display_decimals: {value: two,")
    assert problems(cli, path)[1] == ["error schema display_decimals must be a whole number — got two"]


@pytest.mark.parametrize("written, shown", [("1e400", "1e400"), (".nan", ".nan"), ("0x10", "0x10"), ("1_000", "1_000"),
                                            ('"5,0"', "5,0"), ("true", "true"), ('"5.0 "', "'5.0 '")])
def test_a_parameter_names_every_form_it_may_take(cli, tmp_path, written, shown):
    # A parameter's value is a whole number, a decimal or a percentage (the schema's oneOf): "1e400" was told it
    # "must be a whole number", the closest alternative only, while the shipped value is the decimal "5.0".
    old = 'concurrency_threshold_qps: {value: "5.0"'
    path = draft_variant(tmp_path, old, f"concurrency_threshold_qps: {{value: {written}")
    code, errors, out = problems(cli, path)
    line, col = line_col(path.read_text(), f"value: {written}", written)
    assert (code, errors) == (1, ["error schema concurrency_threshold_qps must be a whole number, a decimal number like "
                                  f"5.0 or a percentage like 99.5% — got {shown}"])
    assert out.startswith(f"{path}:{line}:{col}: ")


def test_a_parameter_above_100_percent_says_so(cli, tmp_path):
    path = draft_variant(tmp_path, 'concurrency_threshold_qps: {value: "5.0"', 'concurrency_threshold_qps: {value: "101%"')
    assert problems(cli, path)[1] == ["error schema concurrency_threshold_qps must be a percentage of at most 100% — got "
                                      "101%"]


@pytest.mark.parametrize("character, name", [("\u202e", "RIGHT-TO-LEFT OVERRIDE"), ("\u2067", "RIGHT-TO-LEFT ISOLATE")])
def test_a_character_that_reorders_the_text_shown_is_refused_at_its_place(cli, tmp_path, character, name):
    # A title holding U+202E passed validate and publish, and `diff` and `render` printed it as is: the terminal
    # showed "Cloud Contact retneC" ... reversed, so the words a reviewer saw were not those the file holds.
    title = "title: Cloud Contact Center Service Level Agreement"
    path = draft_variant(tmp_path, title, f"title: Cloud Contact {character}Center Service Level Agreement")
    line, col = line_col(path.read_text(), character)
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error bidi-control character U+{ord(character):04X} "
                                            f"({name}) is not allowed in a policy file: it changes the order in which "
                                            "the text around it is shown, so a reader would not see what the file says\n")


@pytest.mark.parametrize("escape, code, named, why", [
    ("\\e[8m", "yaml-character", "U+001B (a control character)",
     "a terminal acts on a control character (hiding, moving or clearing text) where `show`, `render` and `diff` print "
     "the value"),
    ("\\x00", "yaml-character", "U+0000 (a control character)",
     "a terminal acts on a control character (hiding, moving or clearing text) where `show`, `render` and `diff` print "
     "the value"),
    ("\\r", "yaml-character", "U+000D (a control character)",
     "a terminal acts on a control character (hiding, moving or clearing text) where `show`, `render` and `diff` print "
     "the value"),
    ("\\u202E", "bidi-control", "U+202E (RIGHT-TO-LEFT OVERRIDE)",
     "it changes the order in which the text around it is shown, so a reader would not see what the file says"),
])
def test_a_character_refused_in_the_text_is_refused_when_a_value_writes_it_as_an_escape(cli, tmp_path, escape, code,
                                                                                        named, why):
    # `title: "Cloud Contact \e[8mCenter\e[0m ..."` holds no control character in its text, only the escape: it
    # passed validate, and `show` and `render` printed ESC [8m, so a terminal hid the word after it (and "\u202E"
    # reversed what followed, which the check of the text refuses written as the character itself).
    title = "title: Cloud Contact Center Service Level Agreement"
    path = draft_variant(tmp_path, title, f'title: "Cloud Contact {escape}Center Service Level Agreement"')
    line, col = line_col(path.read_text(), 'title: "', '"')
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error {code} this value holds character {named}, "
                                            f"written as an escape in quotes: it is not allowed in a policy file: {why}\n")
    assert cli("render", path).code == 1


def test_a_tab_or_a_line_break_written_as_an_escape_is_still_a_value(cli, tmp_path):
    title = "title: Cloud Contact Center Service Level Agreement"
    path = draft_variant(tmp_path, title, 'title: "Cloud Contact\\tCenter\\nService Level Agreement"')
    assert cli("validate", path).code == 0


@pytest.mark.parametrize("old, new, written, message", [
    ('id: "5.1"\n', 'id: "5.01"\n', '"5.01"', 'id must be a clause number like "5.12" (no leading zero) — got 5.01'),
    ('id: "5.1"\n', 'id: "05.1"\n', '"05.1"', 'id must be a clause number like "5.12" (no leading zero) — got 05.1'),
    ('ref: "§5.1"', 'ref: "§5.01"', '"§5.01"', 'ref must be a clause reference like "§3.1" or "§5.11, §5.12" — got §5.01'),
    ('ref: "§5.1"', 'ref: "§3.1(02)"', '"§3.1(02)"',
     'ref must be a clause reference like "§3.1" or "§5.11, §5.12" — got §3.1(02)')])
def test_a_clause_number_with_a_leading_zero_is_refused(cli, tmp_path, old, new, written, message):
    # Clause 5.01 passed with a warning (its ref §5.1 "expected §5.01"), and §5.01 as a ref passed: a number that
    # reads as §5.1 but is not found by searching for it, and that diff would match as another clause.
    path = draft_variant(tmp_path, old, new)
    code, errors, out = problems(cli, path)
    line, col = line_col(path.read_text(), written)
    assert (code, errors[0]) == (1, f"error schema {message}")
    assert f"{path}:{line}:{col}: error schema {message}" in out.splitlines()


def test_a_tab_says_tabs_are_not_allowed(cli, tmp_path):
    path = draft_variant(tmp_path, "timezone:\n  value: Asia/Singapore", "timezone:\n\tvalue: Asia/Singapore")
    code, errors, out = problems(cli, path)
    line, _ = line_col(path.read_text(), "\tvalue: Asia/Singapore")
    assert out == (f"{path}:{line}:1: error yaml-tab a tab character: tabs are not allowed in a policy file; "
                   "indent with spaces\n")


def test_an_unknown_business_calendar_fails_validate_not_only_claim(cli, tmp_path):
    path = draft_variant(tmp_path, "value: SG", "value: XX")
    code, errors, out = problems(cli, path)
    line, col = line_col(path.read_text(), "value: XX", "XX")
    assert code == 1
    assert f"{path}:{line}:{col}: error unknown-calendar business calendar 'XX' (§3.2(1)) is not provided by any plugin" in out


def test_positions_count_from_1_in_policies_incidents_and_claims(cli, tmp_path):
    from conftest import POLICIES

    # Counted from 1: the YAML error is found at line 3, column 1 (the end of the unclosed key
    # that starts on line 2); the JSON one at line 2, column 3 (the "x").
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text("- id: a\n  [oops\n")
    notices = tmp_path / "notices.json"
    notices.write_text('[\n  x]\n')
    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\na,2019-03-01T00:00,1,0\n")
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--incidents", incidents)
    assert result.code == 1 and f"{incidents}:3:1: not valid YAML: " in result.err, result.err
    result = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--notices", notices)
    assert result.code == 1 and f"{notices}:2:3: not valid JSON: Expecting value" in result.err, result.err
    policy = tmp_path / "drafts" / "p.yaml"
    policy.parent.mkdir()
    policy.write_text("id: x\ntitle: a: b\n")  # the second colon: line 2, column 9
    assert cli("validate", policy).out == (f"{policy}:2:9: error yaml-syntax not valid YAML: mapping values are not "
                                           "allowed in this context; a value holding a colon and a space (': ') is put "
                                           "in quotes\n")


def test_every_pattern_of_the_schema_is_explained_in_words():
    from slapolicy.policy.model import _EXPECTED, _EXPECTED_BY_PATTERN, schema

    def patterns(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "pattern":
                    yield value
                else:
                    yield from patterns(value)
        elif isinstance(node, list):
            for value in node:
                yield from patterns(value)

    defs = schema()["$defs"]
    explained = set(_EXPECTED_BY_PATTERN) | {defs[name]["pattern"] for name in _EXPECTED}
    assert set(patterns(schema())) - explained == set()


# A list of values names each once. `in: [none, provider, provider]` passed validate, lock and publish: a value
# pasted twice where another was meant (here, a cause left out of §5.15's exceptions) cannot be told from a choice.
REPEATS = {
    # name: (text replaced, by, the message's words, the first's text and the repeat's, found on the line written)
    "in": ("in: [none, provider]", "in: [none, provider, provider]", "in lists provider", "provider,", "provider]"),
    # 5.0 named twice: "5" and the parameter of value "5.0" (the repeat's value as the engine reads it)
    "in, a number and the parameter naming it": (
        "- {fact: minute.concurrency_qps, at_least: {param: concurrency_threshold_qps}}",
        '- {fact: minute.concurrency_qps, in: ["5", {param: concurrency_threshold_qps}]}', "in lists 5.0", '"5"',
        "{param"),
    "not_in": ("not: {fact: incident.cause, in: [none, provider]}", "{fact: incident.cause, not_in: [none, none]}",
               "not_in lists none", "none,", "none]"),
    "a fact's values": ("values: [none, illegal_number]", "values: [none, illegal_number, none]", "values lists none",
                        "none,", "none]"),
    "a material's requires": ("requires: [unavailability, failure_records]", "requires: [unavailability, unavailability]",
                              "requires lists unavailability", "unavailability,", "unavailability]"),
    "applied_by": ("applied_by: [service_month.total_minutes]",
                   "applied_by: [service_month.total_minutes, service_month.total_minutes]",
                   "applied_by lists service_month.total_minutes", "service_month.total_minutes,",
                   "service_month.total_minutes]"),
}


@pytest.mark.parametrize("case", sorted(REPEATS))
def test_a_value_listed_twice_is_refused_at_the_repeat_naming_the_first(cli, tmp_path, case):
    old, new, said, first, repeat = REPEATS[case]
    path = draft_variant(tmp_path, old, new)
    line, first_col = line_col(path.read_text(), new, first)
    _, col = line_col(path.read_text(), new, repeat)
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error duplicate-value {said} twice (first at line "
                                            f"{line}, column {first_col}): list each value once\n")


def test_a_cause_declared_twice_is_refused_at_the_second(cli, tmp_path):
    first = '  - {id: provider, ref: "§1.4", title: "A failure of the Cloud Contact Center (counts against the provider)"}\n'
    path = draft_variant(tmp_path, first, first + '  - {id: provider, ref: "§1.4", title: "Another title"}\n')
    line, col = line_col(path.read_text(), "Another title", "provider")
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error duplicate-value causes lists provider twice "
                                            f"(first at line {line - 1}, column {col}): list each value once\n")


def test_a_provision_numbered_twice_is_refused_at_the_second(cli, tmp_path):
    # Two provisions "§4": `show --provision 4` and diff each kept one of them, the other silently left out.
    first = '  - ref: "§4"\n'
    path = draft_variant(tmp_path, first, first + '    title: "Another §4"\n' + first)
    text = path.read_text()
    line = text.splitlines().index('  - ref: "§4"', text.splitlines().index('    title: "Another §4"')) + 1
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:10: error duplicate-value provisions lists §4 twice (first "
                                            f"at line {line - 2}, column 10): list each value once\n")


@pytest.mark.slow
def test_every_loader_refuses_a_repeated_value_as_validate_does(cli, tmp_path):
    # evaluate --policy-file, replay --under and publish read a version through the same check: none takes the
    # version validate refuses, and none writes anything.
    from conftest import POLICIES, REPO

    from test_publish import snapshot

    path = draft_variant(tmp_path, "in: [none, provider]", "in: [none, provider, provider]")
    line, col = line_col(path.read_text(), "in: [none, provider, provider]", "provider]")
    _, first = line_col(path.read_text(), "in: [none, provider, provider]", "provider,")
    message = (f"{path}:{line}:{col}: error duplicate-value in lists provider twice (first at line {line}, column "
               f"{first}): list each value once\n")
    minutes = REPO / "examples" / "ccc" / "minutes.csv"
    before = snapshot(tmp_path)
    evaluated = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--policy-file", path)
    replayed = cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", path)
    assert (evaluated.code, evaluated.out, evaluated.err) == (1, "", message)
    assert (replayed.code, replayed.out, replayed.err) == (1, "", message)
    assert snapshot(tmp_path) == before


# The YAML mistakes a person editing a draft makes, each said where to look and in their terms: PyYAML's words alone
# ("did not find expected key" at a line after the mistake) named neither the line at fault nor what was wrong.
SHIPPED_STANDARD = '  standard:\n    value: "99.5%"\n    met_when: at_least\n    ref: "§2.2"\n'  # lines 72-75 of the shipped text
YAML_MISTAKES = {
    "a quote not closed": (
        ('value: "99.5%"', 'value: "99.5%'), 75, 11,
        'while parsing a block mapping (from line 73, column 5), did not find expected key; line 73 opens a quote (") '
        "it does not close, so the value runs on to the next quote"),
    "a line indented too far": (
        ('    value: "99.5%"', '      value: "99.5%"'), 74, 5,
        "while parsing a block mapping (from line 44, column 3), did not find expected key; look at the indentation "
        "of line 74 and of the lines just above it: each key of one mapping starts in the same column, and a value on "
        "its own lines is indented further than its key"),
    "a quote inside a quoted value": (
        ('text: "Unavailability due to your own network, system, software or equipment."',
         'text: "Unavailability due to your "own" network."'), 268, 40,
        "while parsing a block mapping (from line 265, column 5), did not find expected key; the quote (\") before it "
        "ended the quoted value: a quote inside a value in double quotes is written \\\", or the value is put in "
        "single quotes"),
    "a colon in a value": (
        ("title: Customer's own network, system, software or equipment", "title: Customer: own network"), 267, 20,
        "mapping values are not allowed in this context; a value holding a colon and a space (': ') is put in quotes"),
    "typographic quotes around a value holding a colon": (
        ("title: Customer's own network, system, software or equipment", "title: “Customer: own network”"), 267, 21,
        "mapping values are not allowed in this context; line 267 puts a value in typographic quotes (“ ”, as Word's "
        "AutoCorrect writes them), which YAML reads as part of the value: quote it with straight quotes (\" or ')"),
    # Word's no-break space (U+00A0), which looks like a space: in an indentation, or after a key's colon
    "a no-break space indenting a key": (
        ('    value: "99.5%"', '\u00a0   value: "99.5%"'), 74, 5,
        "while parsing a block mapping (from line 11, column 1), did not find expected key; line 73 holds a U+00A0 "
        "NO-BREAK SPACE where YAML indents or separates, as Word writes one: YAML reads only the space bar's space "
        "(U+0020) there"),
    "a no-break space after a key": (
        ('value: "99.5%"', 'value:\u00a0"99.5%"'), 74, 13,
        "mapping values are not allowed in this context; line 73 holds a U+00A0 NO-BREAK SPACE where YAML indents or "
        "separates, as Word writes one: YAML reads only the space bar's space (U+0020) there"),
    "a flow mapping not closed": (
        ("- {facts: {incident.cause: customer_network}, applies: true}",
         "- {facts: {incident.cause: customer_network}, applies: true"), 272, 9,
        "while parsing a flow mapping (from line 271, column 9), did not find expected ',' or '}'"),
}


@pytest.mark.parametrize("old, new, said", [
    ('value: "99.5%"', "value: “99.5%”", "73:12: error schema standard must be a percentage like 99.5% — got “99.5%”"),
    ('value: "99.5%"', "value: ‘99.5%’", "73:12: error schema standard must be a percentage like 99.5% — got ‘99.5%’"),
    ("value: available", "value: “available”", "schema no_traffic must be one of: available, unavailable, error — got "
                                                 "“available”"),
])
def test_a_value_in_typographic_quotes_is_said_to_be_one(cli, tmp_path, old, new, said):
    # Word's AutoCorrect turns "99.5%" into “99.5%”: YAML reads the curly quotes as the value's own characters, and the
    # message said only that “99.5%” is not a percentage, the quotes looking like quotes.
    from conftest import PUBLISHED

    text = PUBLISHED.read_text()
    assert old in text
    policy = tmp_path / "drafts" / "x.yaml"
    policy.parent.mkdir()
    policy.write_text(text.replace(old, new, 1))
    result = cli("validate", policy)
    (line,) = [line for line in result.out.splitlines() if " error " in line]
    assert result.code == 1 and line.startswith(f"{policy}:") and line.endswith(
        f"{said}; it is in typographic quotes (“ ”, as Word's AutoCorrect writes them), which YAML reads as part of "
        "the value: quote it with straight quotes (\" or ')")


@pytest.mark.parametrize("mistake", sorted(YAML_MISTAKES))
def test_a_yaml_mistake_is_said_where_it_began_and_what_was_most_likely_meant(cli, tmp_path, mistake):
    from conftest import PUBLISHED

    (old, new), line, col, message = YAML_MISTAKES[mistake]
    text = PUBLISHED.read_text()
    assert text[:text.index(SHIPPED_STANDARD)].count("\n") + 1 == 72  # the lines the messages count from
    assert old in text
    policy = tmp_path / "drafts" / "x.yaml"
    policy.parent.mkdir()
    policy.write_text(text.replace(old, new, 1))
    result = cli("validate", policy)
    assert (result.code, result.out) == (1, f"{policy}:{line}:{col}: error yaml-syntax not valid YAML: {message}\n")
    assert result.err == "1 file(s) checked: 1 error(s), 0 warning(s)\n"


def test_a_directory_of_data_given_as_the_policy_directory_is_not_told_to_start_a_lock(cli, tmp_path):
    # `slapolicy evaluate examples/ccc --month 2019-03 --minutes …`, the data's folder where the policy directory
    # belongs, said of incidents.yaml and notices.yaml "published version not recorded: there is no versions.lock in
    # examples/ccc; … start the lock of a family never locked with `slapolicy lock --new examples/ccc`", and "a policy
    # version is a mapping of keys to values": a new user was told to lock their incidents as a policy version.
    import shutil

    from conftest import REPO

    data = tmp_path / "ccc"
    data.mkdir()
    for name in ("incidents.yaml", "notices.yaml", "minutes.csv"):
        shutil.copy(REPO / "examples" / "ccc" / name, data / name)
    (data / "one.yaml").write_text("just a sentence\n")
    said = "a policy version is a mapping of keys to values (id, version, effective_from, …)"
    expected = (f"{data}/incidents.yaml:3:1: error schema {said}; this file holds a list (as incidents and notices "
                "are), so it is not a policy version\n"
                f"{data}/notices.yaml:4:1: error schema {said}; this file holds a list (as incidents and notices are), "
                "so it is not a policy version\n"
                f"{data}/one.yaml:1:1: error schema {said}; this file holds a single value (text), so it is not a "
                "policy version\n")
    result = cli("evaluate", data, "--month", "2019-03", "--minutes", data / "minutes.csv")
    assert (result.code, result.out, result.err) == (1, "", expected)
    result = cli("validate", data)
    assert (result.code, result.out) == (1, expected)
    assert sorted(p.name for p in data.iterdir()) == ["incidents.yaml", "minutes.csv", "notices.yaml", "one.yaml"]
    # A mapping that is not yet a valid version, in a family never locked, is still told how to start its lock.
    (data / "one.yaml").write_text("id: x\n")
    result = cli("validate", data)
    assert f"{data}/one.yaml:1:1: error unlocked published version not recorded: there is no versions.lock" in result.out


@pytest.mark.parametrize("text,said", [
    ("status:", "status must be one of: published, draft — got nothing (an empty value)"),
    ("status: ~", "status must be one of: published, draft — got nothing (an empty value)"),
    ('amends:', "amends must be text — got nothing (an empty value)"),
])
def test_an_empty_value_is_said_as_empty_not_as_python_s_none(cli, tmp_path, text, said):
    # `status:` left empty was 'status must be one of: published, draft — got None': Python's word, not the file's.
    draft = PUBLISHED.read_text().replace("status: published", "status: draft").replace(
        'effective_from: "2019-01-01"', 'effective_from: "2019-01-01"\namends: "2018-12-01"')
    key = text.split(":")[0]
    draft = "\n".join(text if line.startswith(f"{key}:") else line for line in draft.split("\n"))
    path = tmp_path / "draft.yaml"
    path.write_text(draft)
    result = cli("validate", path)
    line = next(n for n, row in enumerate(draft.split("\n"), 1) if row.startswith(f"{key}:"))
    value = text.split(":", 1)[1].strip()
    col = text.index(value) + 1 if value else len(key) + 2  # an empty value is placed just past its colon
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error schema {said}\n")


@pytest.mark.parametrize("text,held", [("~\n", "nothing, an empty value"), ("42\n", "a number"),
                                       ("true\n", "true or false")])
def test_a_file_of_one_value_says_what_it_holds_in_words(cli, tmp_path, text, held):
    path = tmp_path / "one.yaml"
    path.write_text(text)
    result = cli("validate", path)
    assert (result.code, result.out) == (1, (
        f"{path}:1:1: error schema a policy version is a mapping of keys to values (id, version, effective_from, …); "
        f"this file holds a single value ({held}), so it is not a policy version\n"))


@pytest.mark.parametrize("name,kind", [("billing.csv", "CSV"), ("minutes.PARQUET", "Parquet"),
                                       ("notices.jsonl", "JSON Lines")])
def test_a_data_file_given_as_a_policy_file_is_said_to_be_one(cli, tmp_path, name, kind):
    # `validate examples/ccc/billing.csv` said 'this file holds a single value (text), so it is not a policy
    # version', and a Parquet file of minutes 'file is 196397969 bytes; the policy file may be at most 2097152'.
    path = tmp_path / name
    path.write_bytes(b"account,month,monthly_fee,offset\nacme,2019-03,100.00,0.00\n")
    said = (f"{path}:1:1: error not-a-policy a data file ({kind}), not a policy version: a policy version is a YAML "
            "file (.yaml); give minutes and billing to evaluate, claim or replay (--minutes, --billing)")
    result = cli("validate", path)
    assert (result.code, result.out) == (1, said + "\n")
    from conftest import REPO

    result = cli("evaluate", REPO / "policies" / "ccc", "--policy-file", path, "--month", "2019-03", "--minutes",
                 REPO / "examples" / "ccc" / "minutes.csv")
    assert (result.code, result.out, result.err) == (1, "", said + "\n")


def test_the_characters_refused_in_a_value_are_the_bidi_controls_and_the_control_characters_but_tab_and_newline():
    # A value is searched once (load._REFUSED_IN_VALUES), not character by character with unicodedata: the set it
    # searches for is held here to the definition, over every code point up to U+2FFF (Unicode's stability policy
    # fixes the control characters, Cc, at U+0000-U+001F and U+007F-U+009F).
    import unicodedata

    from slapolicy.policy import load

    every = "".join(map(chr, range(0x3000)))
    searched = [match.group() for match in load._REFUSED_IN_VALUES.finditer(every)]
    defined = [c for c in every if load._BIDI_CONTROLS.fullmatch(c)
               or unicodedata.category(c) == "Cc" and c not in load._ALLOWED_CONTROLS]
    assert searched == defined and len(defined) == 63 + 9


def test_a_value_with_two_refused_characters_is_refused_at_the_first(cli, tmp_path):
    title = "title: Cloud Contact Center Service Level Agreement"
    path = draft_variant(tmp_path, title, 'title: "Cloud \\u2066Contact \\e[8mCenter Service Level Agreement"')
    line, col = line_col(path.read_text(), 'title: "', '"')
    result = cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:{line}:{col}: error bidi-control this value holds character "
                                            "U+2066 (LEFT-TO-RIGHT ISOLATE), written as an escape in quotes: it is not "
                                            "allowed in a policy file: it changes the order in which the text around it "
                                            "is shown, so a reader would not see what the file says\n")
