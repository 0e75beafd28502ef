"""The CLI quotes a long value as the service does (slapolicy.errors.bounded_message): by its first 200 characters
and its length, once a message is longer than 1,000 characters. A 500,000-character account, policy value or claim
field was written whole to the terminal, a line as long as the file."""
import json

from conftest import POLICIES, REPO, run_cli

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
LONG = 500_000
CUT = f"(500000 characters; the first 200 shown)"


def test_an_account_of_half_a_megabyte_in_a_csv_row_is_quoted_by_its_first_200_characters(tmp_path):
    minutes = tmp_path / "minutes.csv"
    row = "x" * LONG + ",2019-03-12T10:00,1,0\n"
    minutes.write_text("account,minute,requests,failures\n" + row + row)
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in minutes file {minutes}:\n{minutes}: row 2 (line 3), column "
                          f"'minute': minute listed twice for account '{'x' * 200}…' {CUT} (also row 1)\n")


def test_a_claim_field_of_half_a_megabyte_is_quoted_by_its_first_200_characters_and_nothing_recorded(tmp_path):
    claim, ledger = tmp_path / "claim.json", tmp_path / "ledger.sqlite"
    claim.write_text(json.dumps(CLAIM | {"account": "x" * LONG}))
    result = run_cli("claim", POLICIES, claim, "--minutes", EXAMPLES / "minutes.csv", "--ledger", ledger)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {claim}: field 'account': unknown account '{'x' * 200}…' {CUT} (not in the "
                          "minutes or billing of 2019-03)\n")
    assert not ledger.exists()


def test_a_message_of_sensible_length_quotes_its_value_whole(tmp_path):
    # 300 characters of account: a message under 1,000 characters is as it was
    claim, ledger = tmp_path / "claim.json", tmp_path / "ledger.sqlite"
    claim.write_text(json.dumps(CLAIM | {"account": "x" * 300}))
    result = run_cli("claim", POLICIES, claim, "--minutes", EXAMPLES / "minutes.csv", "--ledger", ledger)
    assert (result.code, result.err) == (1, f"slapolicy: {claim}: field 'account': unknown account '{'x' * 300}' "
                                            "(not in the minutes or billing of 2019-03)\n")


def _policy_with(tmp_path, old: str, new: str):
    text = (POLICIES / "2019-01-01.yaml").read_text()
    assert text.count(old) == 1
    policy = tmp_path / "2019-01-01.yaml"
    policy.write_text(text.replace(old, new))
    before = text[:text.index(old)]
    return policy, before.count("\n") + 1, len(before) - before.rfind("\n")


def test_a_policy_value_of_half_a_megabyte_is_quoted_by_its_first_200_characters(tmp_path):
    # It was 'got qqq…' unquoted and whole: 500,132 characters of one line
    policy, line, col = _policy_with(tmp_path, "partial_months: {value: separate,",
                                     "partial_months: {value: " + "q" * LONG + ",")
    result = run_cli("validate", policy)
    assert result.code == 1
    assert result.out == (f"{policy}:{line}:{col + 24}: error schema partial_months must be one of: separate — got "
                          f"'{'q' * 200}…' {CUT}\n")
    assert result.err == "1 file(s) checked: 1 error(s), 0 warning(s)\n"


def test_a_timezone_of_half_a_megabyte_is_no_zone_not_an_internal_error(tmp_path):
    # ZoneInfo looked the name up as a file: 'OSError: [Errno 36] File name too long', exit 3
    policy, line, col = _policy_with(tmp_path, "  value: Asia/Singapore\n", "  value: " + "Z" * LONG + "\n")
    result = run_cli("validate", policy)
    assert (result.code, result.err) == (1, "1 file(s) checked: 1 error(s), 0 warning(s)\n")
    assert result.out == (f"{policy}:{line}:{col + 9}: error bad-timezone '{'Z' * 200}…' {CUT} is not an IANA time "
                          "zone: write a zone's name, like Asia/Singapore or UTC\n")


def test_each_line_of_a_message_is_bounded_on_its_own():
    from slapolicy.cli.command import shown

    long_line = "a '" + "v" * 1_000 + "'"
    assert shown("first\n" + long_line + "\nlast") == \
        "first\na '" + "v" * 200 + "…' (1000 characters; the first 200 shown)\nlast"
    assert shown("w" * 20_000) == "w" * 16_384 + "… (a detail of 20000 characters; the first 16384 shown)"
    assert shown("q" * 1_000) == "q" * 1_000


def test_the_api_raises_a_long_value_quoted_by_its_first_200_characters(tmp_path):
    # str(exc) of the Python API quoted the 500,000-character account whole: a program that logs its exceptions
    # wrote half a megabyte a line, where the CLI and the service quote 200 characters
    import pytest

    import slapolicy

    claim = CLAIM | {"account": "x" * LONG}
    ledger = tmp_path / "ledger.sqlite"
    with pytest.raises(slapolicy.InputError) as raised:
        slapolicy.decide_claim(POLICIES, claim, minutes=EXAMPLES / "minutes.csv", ledger=ledger)
    assert str(raised.value) == (f"claim: field 'account': unknown account '{'x' * 200}…' {CUT} (not in the minutes "
                                 "or billing of 2019-03)")
    assert not ledger.exists()


def test_an_api_argument_of_half_a_megabyte_is_quoted_by_its_first_200_characters():
    import pytest

    import slapolicy

    with pytest.raises(slapolicy.ArgumentError) as raised:
        slapolicy.evaluate(POLICIES, minutes=EXAMPLES / "minutes.csv", month="2019-03", accounts="y" * LONG)
    assert str(raised.value) == (f"accounts must be a list of account names (e.g. ['{'y' * 200}…' {CUT}]), not str")


def test_an_error_of_several_lines_keeps_every_line_each_bounded():
    from slapolicy.errors import InputError

    lines = [f"row {n}: account '{'z' * 2_000}' unknown" for n in range(1, 4)]
    assert str(InputError("\n".join(lines))) == "\n".join(
        f"row {n}: account '{'z' * 200}…' (2000 characters; the first 200 shown) unknown" for n in range(1, 4))
    assert str(InputError("a short one 'kept'")) == "a short one 'kept'"


def test_a_message_bounded_once_reads_the_same_when_bounded_again():
    # The API bounds a message where it is raised and the CLI (each line) or the service (the detail) again where
    # it is written: a value cut once was cut again ("'xxx…' (201 characters; …) (500000 characters; …)"), and a
    # detail cut whole was cut again, saying it had the length of the first cut's result
    from hypothesis import given, settings, strategies as st

    from slapolicy.cli.command import shown
    from slapolicy.errors import bounded_lines, bounded_message

    pieces = st.one_of(st.text(alphabet="ab \n", max_size=50), st.integers(150, 30_000).map(lambda n: "'" + "c" * n + "'"),
                       st.integers(150, 30_000).map(lambda n: '"' + "d" * n + '"'), st.integers(0, 40_000).map(lambda n: "e" * n))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(pieces, max_size=6))
    def holds(parts):
        text = " and ".join(parts)  # values quoted as repr quotes them, between words
        once = bounded_message(text)
        assert bounded_message(once) == once
        lines = bounded_lines(text)
        assert bounded_lines(lines) == lines
        assert shown(lines) == shown(text)
        assert bounded_message(lines) == bounded_message(bounded_message(lines))

    holds()
    # A whole cut at 16,384 characters landing inside a cut value's length: the value was cut again (hypothesis)
    text = " and ".join(["", "e" * 16_134, "'" + "c" * 201 + "'"])
    once = bounded_message(text)
    values_cut = " and " + "e" * 16_134 + " and '" + "c" * 200 + "…' (201 characters; the first 200 shown)"
    assert len(values_cut) == 16_385  # 5 + 16,134 + 6 + 200 + 40: one over, so the whole cut takes the last ")"
    assert once == values_cut[:16_384] + "… (a detail of 16385 characters; the first 16384 shown)"
    assert bounded_message(once) == once
    cut = bounded_message("f" * 20_000)
    assert cut == "f" * 16_384 + "… (a detail of 20000 characters; the first 16384 shown)"
    assert bounded_message(cut) == cut
