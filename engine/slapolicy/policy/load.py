"""Reading policy YAML safely, keeping the line and column of every node.

PyYAML's defaults are wrong for a legal document: it keeps the last of two duplicate
keys silently, expands anchors/aliases (an alias bomb grows exponentially when the
tree is serialised), and turns ``NO`` into False, ``2024-05-01`` into a date and
``99.95`` into a binary float. This loader resolves only ``true``/``false``, decimal
integers and null; every other scalar stays the string legal wrote, and the schema
decides what it must look like.

A document whose check passed is recorded with it (:mod:`.check_record`) in the form :meth:`YamlDocument.record`
gives, and read back by :meth:`YamlDocument.from_record`: the same data and positions, without PyYAML (importing
and parsing were 0.025 s of every command's start).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from itertools import chain

from ..errors import Diagnostic, code_point
from ..files import in_windows_1252, too_large, wide_encoding, wide_encoding_said, yaml_syntax_diagnostic

MAX_POLICY_BYTES = 2 * 1024 * 1024  # a policy is a few hundred lines; anything larger is not one
# The values a version may hold (keys, scalars, mappings, lists): the whole Cloud Contact Center SLA, each of its
# eighteen disclaimers with words, condition and examples, is 1,863; ten times that is still an agreement. The bytes
# allow far more (40,000 parameters fit in 2 MiB), and each value costs the schema check (jsonschema) ~50 µs: such a
# file took 10 s of CPU to be refused or passed, 80 s on a busy machine. Refused while parsing, it takes ~0.1 s.
MAX_POLICY_NODES = 20_000

_MAX_REPORTED = 5  # anchors/aliases listed before the rest are counted

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_BOOL = {"true": True, "false": False}
_NULL = {"", "~", "null"}
_PLAIN_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "!"}

Path = tuple  # a path of mapping keys and sequence indexes from the document root
# What a recorded position's parts may be (see YamlDocument.from_record)
_LISTS, _THREE, _PARTS, _INTS = {list}, {3}, {str, int}, {int}


class _Positions(dict):
    """Path -> (line, col), 1-based; keys of mappings are stored under path + ("<key>",)."""

    def at(self, path: Path) -> tuple[int, int]:
        path = tuple(path)
        while path not in self and path:
            path = path[:-1]
        return self.get(path, (1, 1))

    def key_at(self, path: Path) -> tuple[int, int]:
        return self.get(tuple(path) + ("<key>",), self.at(path))


class YamlDocument:
    def __init__(self, data, positions: _Positions, filename: str):
        self.data = data
        self.positions = positions
        self.filename = filename

    def record(self) -> dict:
        """The document as JSON: its data (mappings, lists, strings, integers, booleans and nulls only) and each
        position as [path, line, col]."""
        return {"data": self.data, "positions": [[list(path), line, col] for path, (line, col) in self.positions.items()]}

    @classmethod
    def from_record(cls, content, filename: str) -> "YamlDocument | None":
        """The document :meth:`record` gave, or None when ``content`` is not one."""
        if not (isinstance(content, dict) and isinstance(content.get("data"), dict)
                and isinstance(content.get("positions"), list)):
            return None
        items = content["positions"]
        # Each item [path, line, col]: a path a list of keys and indexes, line and col ints (not booleans); checked
        # by the types found in each column (a version has ~1,900 items: 2.2 ms one item at a time, 1.2 so).
        if not (set(map(type, items)) <= _LISTS and set(map(len, items)) <= _THREE):
            return None
        paths, lines, cols = zip(*items) if items else ((), (), ())
        if not (set(map(type, paths)) <= _LISTS and set(map(type, chain.from_iterable(paths))) <= _PARTS
                and set(map(type, lines)) <= _INTS and set(map(type, cols)) <= _INTS):
            return None
        return cls(content["data"], _Positions(zip(map(tuple, paths), zip(lines, cols))), filename)

    def diagnostic(self, path: Path, code: str, message: str, severity: str = "error", key: bool = False) -> Diagnostic:
        line, col = self.positions.key_at(path) if key else self.positions.at(path)
        return Diagnostic(self.filename, line, col, severity, code, message)

    def repeated(self, name: str, items) -> list[Diagnostic]:
        """A ``duplicate-value`` error at each item of a list that repeats an earlier one, naming where that one is.

        ``items``: (path, value) in the list's order, each value as the engine reads it (``provider``; the number
        5.0, written "5" or "5.0" or named as a parameter); None (a value already reported as bad) is skipped. A
        list of values names each once: a repeat changes nothing the engine decides, so it is a slip (a value
        pasted twice where another was meant) that a reader cannot tell from a deliberate choice."""
        first: dict = {}
        found = []
        for path, value in items:
            if value is None:
                continue
            key = (type(value).__name__, repr(value) if isinstance(value, (dict, list)) else value)
            if key not in first:
                first[key] = self.positions.at(path)
                continue
            line, col = first[key]
            shown = ("true" if value else "false") if isinstance(value, bool) else value
            found.append(self.diagnostic(path, "duplicate-value", f"{name} lists {shown} twice (first at line {line}, "
                                                                  f"column {col}): list each value once"))
        return found


def _mark(node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _scalar(node):
    if node.style:  # quoted or block scalar: always a string (plain is None, or "" with the C parser)
        return node.value
    value = node.value
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        return int(value)
    return value


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.positions = _Positions()
        self.problems: list[Diagnostic] = []

    def problem(self, node, code: str, message: str) -> None:
        line, col = _mark(node)
        self.problems.append(Diagnostic(self.filename, line, col, "error", code, message))

    def build(self, node, path: Path):
        self.positions[path] = _mark(node)
        if node.tag not in _PLAIN_TAGS:
            self.problem(node, "yaml-tag", f"tag {node.tag!r} is not allowed in a policy file")
            return None
        if node.id == "scalar":  # PyYAML's ScalarNode, SequenceNode, MappingNode
            return _scalar(node)
        if node.id == "sequence":
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        result = {}
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                self.problem(key_node, "yaml-key", "a mapping key must be a plain scalar")
                continue
            key = key_node.value
            if key == "<<":
                self.problem(key_node, "yaml-merge", "merge keys (<<) are not allowed in a policy file: write out in this "
                                                      "mapping each key the merge would bring in, so that it reads whole "
                                                      "where it stands")
                continue
            if key in result:
                first = self.positions[path + (key, "<key>")]
                self.problem(key_node, "duplicate-key",
                             f"duplicate key {key!r} (first at line {first[0]}, column {first[1]}); "
                             "YAML would silently keep only the last")
                continue
            self.positions[path + (key, "<key>")] = _mark(key_node)
            result[key] = self.build(value_node, path + (key,))
        return result


# Unicode's bidirectional embeddings, overrides and isolates: YAML allows them (they are printable), and each makes a
# terminal or a browser show the text around it in another order than it is written, so that `diff`, `render` and
# a review would show legal words the file does not hold (CVE-2021-42574, "Trojan Source").
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def bidi_controls(text: str, filename: str) -> list[Diagnostic]:
    """A ``bidi-control`` error at each character of text that reorders how the text around it is shown."""
    found = []
    for match in _BIDI_CONTROLS.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        name = unicodedata.name(match.group())
        found.append(Diagnostic(filename, line, col, "error", "bidi-control",
                                f"character U+{ord(match.group()):04X} ({name}) is not allowed in a policy file: it "
                                "changes the order in which the text around it is shown, so a reader would not see "
                                "what the file says"))
    return found


# Control characters a value may hold: a tab, and the line breaks YAML itself gives a value (a block's lines).
_ALLOWED_CONTROLS = frozenset("\t\n")
# The characters a value may not hold, found by one search of each value: the bidirectional controls, and the control
# characters (Unicode's category Cc, U+0000-U+001F and U+007F-U+009F: a set Unicode's stability policy fixes) other
# than the allowed ones. Asked character by character (a regular expression and unicodedata.category for each), this
# was ~40 % of reading a policy's YAML, and ~6 ms of every check of a version not yet recorded (tests/test_policy_messages.py
# holds it to that definition).
_REFUSED_IN_VALUES = re.compile("[" + "".join(re.escape(chr(c)) for c in [*range(0x20), *range(0x7f, 0xa0)]
                                              if chr(c) not in _ALLOWED_CONTROLS) + _BIDI_CONTROLS.pattern[1:])


def escaped_character(event, filename: str) -> Diagnostic | None:
    """A character the file may not hold (:func:`bidi_controls`, or a control character YAML refuses in the text)
    that a value holds all the same, written in double quotes as an escape (``"\\e[8m"``, ``"\\u202E"``, ``"\\x00"``):
    the checks of the file's text never see it, and `show`, `render` and `diff` printed it as is, so a terminal hid
    the words after ``\\e[8m``, or showed them reversed. Refused at the value (at its first such character), with the
    code the character has in the text. None for a value without one."""
    found = _REFUSED_IN_VALUES.search(event.value)
    if found is None:
        return None
    char = found.group()
    if _BIDI_CONTROLS.fullmatch(char):
        code, why = "bidi-control", ("it changes the order in which the text around it is shown, so a reader would "
                                     "not see what the file says")
    else:
        code, why = "yaml-character", ("a terminal acts on a control character (hiding, moving or clearing text) "
                                       "where `show`, `render` and `diff` print the value")
    return Diagnostic(filename, event.start_mark.line + 1, event.start_mark.column + 1, "error", code,
                      f"this value holds character U+{ord(char):04X} ({unicodedata.name(char, 'a control character')}), "
                      f"written as an escape in quotes: it is not allowed in a policy file: {why}")


def invisible(char: str) -> bool:
    """A character that shows nothing, or nothing but space: format characters (zero-width space and joiners, the
    soft hyphen, a byte order mark), controls, and spaces other than the space bar's."""
    return unicodedata.category(char) in ("Cf", "Cc", "Zl", "Zp") or (unicodedata.category(char) == "Zs" and char != " ")


# Scripts written together in one word: Japanese mixes kanji and kana, Korean hangul and hanja.
_ONE_WRITING = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "HALFWIDTH": "CJK"}


def _script(letter: str) -> str:
    """A letter's script, as the first word of its Unicode name says it (LATIN, CYRILLIC, GREEK, ...)."""
    word = unicodedata.name(letter, "UNNAMED").split()[0]
    return _ONE_WRITING.get(word, word)


def unseen_problem(value: str) -> str | None:
    """Why ``value``, a name compared with what the inputs supply (a fact's value), could look like another one, or
    None: it holds a character that shows nothing, or letters of two scripts (``maintenanсe`` with a Cyrillic с
    reads as maintenance, and never matched a notice of kind maintenance). The identifiers of a policy are ASCII
    (the schema's patterns); a value may be of any one script."""
    hidden = [c for c in value if invisible(c)]
    if hidden:
        return f"holds {code_point(hidden[0])}, which shows nothing"
    letters = [c for c in value if c.isalpha()]
    scripts = list(dict.fromkeys(_script(c) for c in letters))
    if len(scripts) > 1:
        odd = next(c for c in letters if _script(c) == scripts[1])
        return (f"mixes letters of two scripts ({code_point(odd)} among {scripts[0].title()} letters), so it looks like "
                "a value it is not")
    return None


@functools.cache
def compose_only():
    """A loader that composes nodes; implicit resolution is done by _scalar, not by PyYAML."""
    import yaml  # PyYAML (0.015 s): only for YAML inputs and policies not yet recorded

    class ComposeOnly(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        yaml_implicit_resolvers: dict = {}

    return ComposeOnly


def load_yaml(text: str | bytes, filename: str) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML document; return it with positions, or None and every problem found."""
    if len(text) > MAX_POLICY_BYTES:  # bytes read from a file are checked as they are read (files.read_limited)
        return None, [Diagnostic(filename, 1, 1, "error", "too-large", too_large(
            len(text), "policy file", MAX_POLICY_BYTES, "bytes" if isinstance(text, bytes) else "characters"))]
    if isinstance(text, bytes):
        if encoding := wide_encoding(text):
            return None, [Diagnostic(filename, 1, 1, "error", "encoding", wide_encoding_said(encoding))]
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = text[: exc.start].count(b"\n") + 1
            col = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
            return None, [Diagnostic(filename, line, col, "error", "encoding", f"not UTF-8: byte 0x{text[exc.start]:02x} "
                                     f"cannot be decoded{in_windows_1252(text[exc.start])}")]
    reordering = bidi_controls(text, filename)
    if reordering:
        return None, reordering
    import yaml  # PyYAML (0.015 s): only for YAML inputs and policies not yet recorded

    problems: list[Diagnostic] = []
    try:
        # First pass over events: refuse anchors and aliases before anything is built.
        documents = nodes = 0
        node_events = (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)
        for event in yaml.parse(text, Loader=compose_only()):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
            elif isinstance(event, node_events):
                nodes += 1
                if isinstance(event, yaml.ScalarEvent) and (escaped := escaped_character(event, filename)):
                    problems.append(escaped)
                if nodes > MAX_POLICY_NODES:
                    return None, [Diagnostic(filename, event.start_mark.line + 1, event.start_mark.column + 1, "error",
                                             "too-large", f"the document holds more than {MAX_POLICY_NODES:,} values "
                                             "(keys, scalars, mappings and lists), the most a policy version may hold "
                                             "(the whole Cloud Contact Center SLA holds 1,863); this is value "
                                             f"{MAX_POLICY_NODES + 1:,}")]
            if isinstance(event, yaml.AliasEvent):
                problems.append(Diagnostic(filename, event.start_mark.line + 1, event.start_mark.column + 1, "error",
                                           "yaml-alias", f"alias *{event.anchor} refused: policy files may not use anchors or aliases; "
                                           f"write out here the value &{event.anchor} names, so that each value reads "
                                           "where it applies"))
            elif getattr(event, "anchor", None):
                problems.append(Diagnostic(filename, event.start_mark.line + 1, event.start_mark.column + 1, "error",
                                           "yaml-anchor", f"anchor &{event.anchor} refused: policy files may not use anchors or aliases; "
                                           f"remove &{event.anchor} and write its value out wherever *{event.anchor} "
                                           "stands"))
        if len(problems) > _MAX_REPORTED:
            more = len(problems) - _MAX_REPORTED
            problems = problems[:_MAX_REPORTED] + [Diagnostic(filename, problems[_MAX_REPORTED].line, problems[_MAX_REPORTED].col,
                                                              "error", "yaml-alias", f"and {more} more anchors or aliases")]
        if documents > 1:
            problems.append(Diagnostic(filename, 1, 1, "error", "yaml-documents",
                                       f"{documents} YAML documents in one file; a policy version is one document"))
        if problems:
            return None, problems
        node = yaml.compose(text, Loader=compose_only())
        if node is None:
            return None, [Diagnostic(filename, 1, 1, "error", "empty", "the file is empty")]
        builder = _Builder(filename)
        data = builder.build(node, ())
    except yaml.YAMLError as error:
        return None, [yaml_syntax_diagnostic(filename, error, text)]
    except RecursionError:  # composed by PyYAML's parser, or built here
        return None, [Diagnostic(filename, 1, 1, "error", "yaml-depth", "the document is nested too deeply")]
    if builder.problems:
        return None, builder.problems
    return YamlDocument(data, builder.positions, filename), []
