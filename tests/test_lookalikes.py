"""A value refused where an ASCII one is asked (an id, a status, a key, a version label, what a draft amends, a zone, a
calendar, a fact or parameter named) may look exactly like the one the message names beside it: `amends '2019‐01‐01',
but the latest published version is '2019-01-01'` (U+2010 HYPHENs) told legal nothing they could act on. Each such
message now names the characters that are not ASCII by their code points (errors.lookalike_note)."""
import pytest

from conftest import PUBLISHED
from test_publish import amendment, family, snapshot  # noqa: F401 (family: a fixture)

NOTE = ", not ASCII, which may look like the character meant: type it again"


def at(text: str, found: str, skip: int = 0) -> str:
    """LINE:COL (from 1) of ``found`` in ``text``, ``skip`` characters into it."""
    before = text[:text.index(found) + skip]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


def checked(cli, path) -> list[str]:
    """validate's lines for ``path`` that are not the shipped text's own warnings."""
    result = cli("validate", path)
    return [line for line in result.out.splitlines() if "tier-unreachable" not in line and "untested-" not in line]


@pytest.mark.parametrize("old,new,where,message", [
    ("status: draft", "status: dr\u0430ft", ("status: ", 8),
     "error schema status must be one of: published, draft — got dr\u0430ft; it holds U+0430 CYRILLIC SMALL LETTER A"),
    ("{id: customer_network,", "{id: customer_netw\u043erk,", ("{id: customer_netw", 5),
     "error schema id must be lowercase letters, digits and underscores, like customer_network — got customer_netw\u043erk; "
     "it holds U+043E CYRILLIC SMALL LETTER O"),
    ('- id: "5.1"\n', '- id: "5\u20241"\n', ('- id: "5', 6),
     'error schema id must be a clause number like "5.12" (no leading zero) — got 5\u20241; it holds U+2024 ONE DOT LEADER'),
    # § is a reference's own sign: only the no-break space is named
    ('ref: "§5.1", title', 'ref: "§\u00a05.1", title', ('ref: "§\u00a0', 5),
     "error schema ref must be a clause reference like \"§3.1\" or \"§5.11, §5.12\" — got '§\\xa05.1'; it holds U+00A0 "
     "NO-BREAK SPACE"),
    ("value: Asia/Singapore", "value: Asia/Singap\u043ere", ("value: Asia", 7),
     "error bad-timezone 'Asia/Singap\u043ere' is not an IANA time zone: write a zone's name, like Asia/Singapore or UTC; "
     "it holds U+043E CYRILLIC SMALL LETTER O"),
    ("value: SG", "value: \u0405G", ("value: \u0405G", 7),
     "error unknown-calendar business calendar '\u0405G' (§3.2(1)) is not provided by any plugin; the built-in calendars "
     "plugin knows ISO country codes of the holidays package (SG, CN, US-CA, ...) and 'weekdays'; it holds U+0405 "
     "CYRILLIC CAPITAL LETTER DZE"),
    ("{fact: notice.kind, equals: major_event}", "{fact: n\u043etice.kind, equals: major_event}", ("{fact: n\u043etice", 7),
     "error undeclared-fact condition tests fact 'n\u043etice.kind', which the policy does not declare under facts; did "
     "you mean 'notice.kind'? It holds U+043E CYRILLIC SMALL LETTER O"),
    ("{param: concurrency_threshold_qps}", "{param: concurrency_thresh\u043eld_qps}", ("{param: concurrency_thresh", 8),
     "error unknown-param condition names parameter 'concurrency_thresh\u043eld_qps', which the policy does not declare "
     "under parameters; it holds U+043E CYRILLIC SMALL LETTER O"),
])
def test_a_value_that_looks_like_the_one_asked_names_its_characters(cli, family, old, new, where, message):
    draft = amendment(family, effective="2099-01-01", edits=[(old, new)])
    text = draft.read_text()
    found, skip = where
    before = snapshot(family)
    assert checked(cli, draft) == [f"{draft}:{at(text, found, skip)}: {message}{NOTE}"]
    assert snapshot(family) == before


def test_a_key_that_looks_like_one_allowed_names_its_characters(cli, family):
    draft = amendment(family, effective="2099-01-01", edits=[("status: draft", "stat\u200bus: draft")])
    (line,) = checked(cli, draft)
    place = at(draft.read_text(), "stat\u200bus")
    assert line.startswith(f"{draft}:{place}: error schema unknown key 'stat\\u200bus'; did you "
                           "mean 'status'? (allowed here: ")
    assert line.endswith(f"; it holds U+200B ZERO WIDTH SPACE{NOTE}")


def test_an_ascii_mistake_is_said_as_before(cli, family):
    draft = amendment(family, effective="2099-01-01", edits=[("status: draft", "status: Draft")])
    assert checked(cli, draft) == [f"{draft}:{at(draft.read_text(), 'status: ', 8)}: error schema status must be one of: "
                                   "published, draft — got Draft"]


def test_an_amends_that_looks_like_the_latest_version_is_refused_naming_its_characters(cli, family):
    draft = amendment(family, effective="2099-01-01", amends="2019\u201001\u201001")
    text = draft.read_text()
    place = at(text, 'amends: ', 8)
    said = (f"amends '2019\u201001\u201001', but the latest published version is '2019-01-01': start from that text "
            f"(`slapolicy diff` shows what it changed) and write amends: \"2019-01-01\"; it holds U+2010 HYPHEN{NOTE}")
    assert checked(cli, draft) == [f"{draft}:{place}: warning amends-not-latest `slapolicy publish` refuses this draft: "
                                   f"{said}"]
    before = snapshot(family)
    result = cli("publish", family, draft)
    assert result.code == 1 and result.out.splitlines() == [f"{draft}:{place}: error amends-not-latest {said}"]
    assert snapshot(family) == before


def test_a_version_label_in_full_width_digits_is_refused_naming_them(cli, family):
    draft = amendment(family, effective="2099-01-01", version="\uff12\uff10\uff19\uff19-01-01")
    place = at(draft.read_text(), 'version: ', 9)
    before = snapshot(family)
    result = cli("publish", family, draft)
    assert result.code == 1 and result.out.splitlines() == [
        f"{draft}:{place}: error version-label version is '\uff12\uff10\uff19\uff19-01-01'; a published version is "
        "labelled by its effective_from: write version: \"2099-01-01\"; it holds U+FF12 FULLWIDTH DIGIT TWO, U+FF10 "
        f"FULLWIDTH DIGIT ZERO, U+FF19 FULLWIDTH DIGIT NINE{NOTE}"]
    assert snapshot(family) == before


def test_the_note_names_three_characters_and_counts_the_rest():
    from slapolicy.errors import lookalike_note

    assert lookalike_note("plain") == lookalike_note(42) == lookalike_note("§3.1") == ""
    assert lookalike_note("\u0430\u0431\u0432\u0433\u0430") == (
        "; it holds U+0430 CYRILLIC SMALL LETTER A, U+0431 CYRILLIC SMALL LETTER BE, U+0432 CYRILLIC SMALL LETTER VE "
        f"and 1 more{NOTE}")
