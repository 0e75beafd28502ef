"""The CLI's JSON is json.dumps(indent=2, ensure_ascii=False) byte for byte, written without json's
pure-Python indenting encoder (cli.data_commands.indented_json)."""
import json
from collections import OrderedDict
from enum import IntEnum

from hypothesis import given, settings, strategies as st

from slapolicy.cli.data_commands import indented_json


def as_json(data):
    return json.dumps(data, indent=2, ensure_ascii=False)


scalars = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=30)


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
