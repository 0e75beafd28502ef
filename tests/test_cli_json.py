"""The CLI's JSON is json.dumps(indent=2, ensure_ascii=False) byte for byte, written without json's
pure-Python indenting encoder (cli.data_commands.indented_json)."""
import json
from collections import OrderedDict
from enum import IntEnum

import pytest
from hypothesis import given, settings, strategies as st

from slapolicy.cli.data_commands import indented_json


def as_json(data):
    return json.dumps(data, indent=2, ensure_ascii=False)


scalars = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=30)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(data=values)
def test_any_json_value_is_written_as_json_writes_it(data):
    assert indented_json(data) == as_json(data)


class Level(IntEnum):
    HIGH = 3


def test_what_json_writes_its_own_way_is_written_the_same():
    """NaN and infinities, keys that are not text, subclasses of int and dict, empty containers, escapes."""
    data = {"nan": float("nan"), "inf": [float("inf"), -float("inf")], 1: "one", None: 2, 2.5: True}
    assert indented_json(data) == as_json(data)
    data = OrderedDict(level=Level.HIGH, empty=[{}, [], ""], text='tab\t"quote" \\ ✓ \u2028 \x00', big=10 ** 30)
    assert indented_json(data) == as_json(data)
    assert indented_json(data) == '{\n  "level": 3,\n  "empty": [\n    {},\n    [],\n    ""\n  ],\n  "text": ' \
        '"tab\\t\\"quote\\" \\\\ ✓ \u2028 \\u0000",\n  "big": 1000000000000000000000000000000\n}'


def test_values_json_cannot_write_are_refused_as_json_refuses_them():
    for bad in ({"when": object()}, [1, {2}]):
        try:
            as_json(bad)
        except TypeError as expected:
            message = str(expected)
        try:
            indented_json(bad)
        except TypeError as refused:
            assert str(refused) == message
        else:
            raise AssertionError("not refused")
    loop = []
    loop.append(loop)
    try:
        indented_json(loop)
    except ValueError as refused:
        assert str(refused) == "Circular reference detected"
    else:
        raise AssertionError("not refused")


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(items=st.lists(st.dictionaries(st.text(max_size=5), values, max_size=4), max_size=5), data=st.data())
def test_dicts_written_ahead_are_written_as_json_writes_them_in_their_place(items, data):
    """Some of the results' dicts written ahead (evaluate writes each account's as it is worked out, two levels
    deep): the whole is json.dumps' text, whichever were written ahead."""
    from slapolicy.cli.data_commands import Encoded

    known = Encoded("\n    ")
    for item in items:
        if data.draw(st.booleans()):
            known(item)
    result = {"evaluations": items}
    assert indented_json(result, known) == as_json(result)


def test_a_dict_written_ahead_is_used_at_its_depth_only_and_by_identity():
    """The text kept is written in place of the dict itself (changed since, it shows the text written ahead: the
    CLI writes a result ahead only once the engine is done with it), never for an equal dict or at another depth."""
    from slapolicy.cli.data_commands import Encoded

    known, ahead = Encoded("\n    "), {"account": "acme", "minutes": 3}
    known(ahead)
    ahead["minutes"] = 4
    equal = {"account": "acme", "minutes": 4}
    assert indented_json({"evaluations": [ahead, equal]}, known) == \
        '{\n  "evaluations": [\n    {\n      "account": "acme",\n      "minutes": 3\n    },\n' \
        '    {\n      "account": "acme",\n      "minutes": 4\n    }\n  ]\n}'
    assert indented_json([ahead], known) == as_json([ahead])  # one level deep: not the text kept for two
    known({"nan": float("nan")})  # json writes NaN its own way: nothing kept
    assert len(known.texts) == 1
