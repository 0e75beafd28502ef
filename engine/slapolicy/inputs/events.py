"""Incidents (§5) and notices (maintenance, major events, high concurrency): YAML or JSON lists of
windows, each entry checked with its index and id, timestamps read in the policy's timezone."""
from __future__ import annotations

import datetime as dt
import difflib
import functools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..errors import InputError
from ..files import load_json, read_limited, wide_encoding, wide_encoding_said, yaml_syntax_diagnostic
from .problems import INPUT_FIELDS, Problems, given_as, input_of, where_given
from .tables import account_name, typed_account_problem
from .timestamps import parse_timestamp


MAX_LIST_BYTES = 64 * 1024 * 1024  # incidents / notices / claims are small documents
NOTICE_KINDS = ("maintenance", "major_event", "high_concurrency")


@dataclass(frozen=True)
class Incident:
    id: str
    start: dt.datetime
    end: dt.datetime
    cause: str
    account: str | None
    description: str | None = None


@dataclass(frozen=True)
class Notice:
    id: str
    kind: str
    published_at: dt.datetime
    start: dt.datetime
    end: dt.datetime
    account: str | None


class ByAccount:
    """Incidents or notices indexed by account: an account's evaluation sees its own and those of every account
    (no ``account``), in the order given, never another account's, which can never apply to it. Built once
    for a month of many accounts, so each account's cost does not grow with the other accounts' incidents."""

    def __init__(self, items):
        self.items = tuple(items)
        self._common = [(k, item) for k, item in enumerate(self.items) if item.account is None]
        self._common_only = tuple(item for _, item in self._common)  # what an account without its own sees
        self._own: dict = {}
        for k, item in enumerate(self.items):
            if item.account is not None:
                self._own.setdefault(item.account, []).append((k, item))

    def of(self, account: str) -> tuple:
        own = self._own.get(account)
        if not own:
            return self._common_only
        return tuple(item for _, item in sorted(self._common + own, key=lambda pair: pair[0]))


def for_account(items, account: str) -> tuple:
    """The incidents or notices (a list, or a :class:`ByAccount`) that concern ``account``."""
    if isinstance(items, ByAccount):
        return items.of(account)
    return tuple(item for item in items if item.account is None or item.account == account)


def read_document(path: Path, what: str) -> str:
    """The text of a small document (incidents, notices, a claim): size-checked, UTF-8 (a BOM is dropped)."""
    raw = read_limited(path, what, MAX_LIST_BYTES)
    if encoding := wide_encoding(raw):  # with a byte order mark or without one
        raise InputError(f"{path}: {wide_encoding_said(encoding, what)}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None


def read_list(path: str | Path, kind: str) -> tuple[list, list | None]:
    """A YAML or JSON list of objects (incidents, notices), and for YAML where each entry is: (its first line,
    {key: the line of that key}) per entry, so that a problem names the line as a CSV row's does; None for JSON."""
    path = Path(path)
    places = None
    text = read_document(path, f"{kind} file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        # An empty file lists none, as an empty YAML file does (and an empty minutes or billing file holds no row).
        data = load_json(text, path, parse_float=Decimal) if text.strip() else None
    elif suffix in (".yaml", ".yml"):
        import yaml  # PyYAML (0.015 s): only for YAML inputs and policies not yet recorded

        try:
            data, places = _load_placed(text, _string_dates_loader())
        except yaml.YAMLError as exc:
            found = yaml_syntax_diagnostic(str(path), exc, text, f"the {kind} file")
            raise InputError(f"{path}:{found.line}:{found.col}: {found.message}") from None
        except ValueError as exc:
            raise InputError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        except RecursionError:
            raise InputError(f"{path}: nested too deeply") from None
    else:
        raise InputError(f"{path}: unknown format {suffix or '(no extension)'}; use .yaml, .yml or .json")
    if data is None:
        return [], None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of {kind}, found {type(data).__name__}")
    return data, places


def _load_placed(text: str, loader_class) -> tuple:
    """``yaml.load`` of ``text`` (as it does it: compose the node tree, then construct it), with the lines of a
    top-level list's entries and of their keys read from the nodes' marks (numbered from 1)."""
    import yaml  # PyYAML (0.015 s): only for YAML inputs and policies not yet recorded

    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    if not isinstance(node, yaml.SequenceNode):
        return data, None
    return data, [(item.start_mark.line + 1,
                   {key.value: key.start_mark.line + 1 for key, _ in item.value if isinstance(key, yaml.ScalarNode)}
                   if isinstance(item, yaml.MappingNode) else {}) for item in node.value]


class _EntryProblems(Problems):
    """The problems of a list's entries, each named by its row (the entry's number) and, in YAML, its line: the
    line of the field named, else the entry's first line (a YAML entry spans several lines; a row was hard to find
    in a long file)."""

    def __init__(self, file: str, kind: str, places: list | None):
        super().__init__(file, kind)
        self.entry_places = places

    def add(self, row: int | None, column: str | None, message: str, line: int | None = None) -> None:
        if line is None and self.entry_places is not None and row is not None and row <= len(self.entry_places):
            first, keys = self.entry_places[row - 1]
            line = keys.get(column, first)
        super().add(row, column, message, line)

    def row(self, row: int) -> str:
        """An entry as a message names another: ``row 1`` (``row 1 (line 2)`` in YAML)."""
        if self.entry_places is None or row > len(self.entry_places):
            return super().row(row)
        return f"row {row} (line {self.entry_places[row - 1][0]})"


@functools.cache
def _string_dates_loader():
    """SafeLoader that leaves timestamps as strings, so offsets and naive times are ours to read,
    and refuses a key given twice in one mapping (PyYAML would keep the last one silently). Made at the first
    YAML input: a command reading JSON inputs never imports PyYAML."""
    import yaml  # PyYAML (0.015 s): only for YAML inputs and policies not yet recorded

    class StringDatesLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: SafeLoader reports it
                        break
                    if duplicate:
                        raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping",
                                                                key_node.start_mark)
            return super().construct_mapping(node, deep)

    StringDatesLoader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return StringDatesLoader


def _check_keys(entry, required: tuple, optional: tuple, where: str, problems: Problems, index: int) -> bool:
    if not isinstance(entry, dict):
        problems.add(index, None, f"expected an object with {', '.join(required)}, found {type(entry).__name__}")
        return False
    ok = True
    for key in required:
        if entry.get(key) in (None, ""):
            problems.add(index, key, "missing")
            ok = False
    for key in entry:
        if key not in required + optional:
            problems.add(index, str(key), f"unknown field (expected: {', '.join(required + optional)})")
            ok = False
    return ok


def _window(entry, timezone: str, problems: Problems, index: int):
    """The [start, end) of an incident or notice, or None with the problem recorded."""
    stamps = {}
    for key in ("start", "end"):
        try:
            stamps[key], _ = parse_timestamp(entry[key], timezone)
        except InputError as error:
            problems.add(index, key, str(error))
    if len(stamps) < 2:
        return None
    # By the instants: Python compares two times of one zone by the wall clock, and 01:10 EST comes after 01:50 EDT.
    if stamps["end"].timestamp() <= stamps["start"].timestamp():
        problems.add(index, "end", f"end {entry['end']} is not after start {entry['start']}")
        return None
    return stamps["start"], stamps["end"]


def _ids(entries, problems: _EntryProblems) -> None:
    seen = {}
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, dict) and "id" in entry:
            key = str(entry["id"])
            if key in seen:
                problems.add(index, "id", f"id {key!r} also used in {problems.row(seen[key])}")
            seen.setdefault(key, index)


def _entries(source, kind: str) -> tuple[list, _EntryProblems]:
    """The entries of a YAML/JSON list file, or a list handed in by the API, and the Problems that names them."""
    if isinstance(source, (str, Path)):
        entries, places = read_list(source, kind)
        return entries, _EntryProblems(str(source), kind, places)
    if not isinstance(source, (list, tuple)):
        raise InputError(f"{where_given(source, kind)}: {kind} must be a file path or a list of objects, not "
                         f"{type(source).__name__}")
    return list(source), _EntryProblems(where_given(source, kind), kind, None)


def _refuse_another_list(entries: list, problems: Problems, kind: str) -> None:
    """Entries that are all exactly another list's (notices given as --incidents) are refused in one line saying
    what the file is, not field by field."""
    others = {other: fields for other, fields in INPUT_FIELDS.items() if other != kind}
    meant = input_of([entry for entry in entries if isinstance(entry, dict)], others)
    if meant is not None and all(isinstance(entry, dict) for entry in entries):
        raise InputError(f"{problems.file}: these are {given_as(problems.file, meant, INPUT_FIELDS, 'entries')}")


def _meant(written, known) -> str:
    """'did you mean 'provider'? ' for a cause or notice kind misspelt or in other capitals ('provder', 'Provider'):
    the word it most likely meant, said before the list of every word allowed (fifteen causes, where the one meant was
    left to be found by eye); "" when none is near."""
    if not isinstance(written, str):
        return ""
    near = difflib.get_close_matches(written, list(known), n=1, cutoff=0.75) or [
        word for word in known if word.casefold() == written.strip().casefold()][:1]
    return f"did you mean {near[0]!r}? " if near else ""


def read_incidents(path, policy, causes=None) -> list[Incident]:
    """Incidents whose causes are those the policy declares (or ``causes``, for several versions at once)."""
    causes = tuple(causes or policy.causes)
    entries, problems = _entries(path, "incidents")
    _refuse_another_list(entries, problems, "incidents")
    path = problems.file
    incidents = []
    for index, entry in enumerate(entries, start=1):
        if not _check_keys(entry, *INPUT_FIELDS["incidents"][:2], str(path), problems, index):
            continue
        if entry["cause"] not in causes:
            problems.add(index, "cause", f"unknown cause {entry['cause']!r}; {_meant(entry['cause'], causes)}"
                                         f"policy {policy.version} declares: {', '.join(causes)}")
            continue
        window = _window(entry, policy.timezone, problems, index)
        if window and _event_account(entry, problems, index):
            account = account_name(entry.get("account"))
            incidents.append(Incident(str(entry["id"]), *window, entry["cause"], account, entry.get("description")))
    _ids(entries, problems)
    problems.raise_if_any()
    return incidents


def _event_account(entry, problems: Problems, index: int) -> bool:
    """An incident or notice without ``account`` concerns every account; a blank one is refused, not read as all.
    A typed name is read by the one rule of every input (:func:`.tables.typed_account_problem`)."""
    if "account" not in entry:
        return True
    given = entry["account"]
    problem = typed_account_problem(given)
    if problem:
        problems.add(index, "account", problem)
        return False
    if account_name(given) is None:
        shown = "null" if given is None else repr(given)
        problems.add(index, "account", f"{shown} is blank; leave the key out to mean every account")
        return False
    return True


def read_notices(path, timezone: str) -> list[Notice]:
    entries, problems = _entries(path, "notices")
    _refuse_another_list(entries, problems, "notices")
    notices = []
    for index, entry in enumerate(entries, start=1):
        if not _check_keys(entry, *INPUT_FIELDS["notices"][:2], str(path), problems, index):
            continue
        if entry["kind"] not in NOTICE_KINDS:
            problems.add(index, "kind", f"unknown kind {entry['kind']!r} ({_meant(entry['kind'], NOTICE_KINDS)}"
                                        f"one of: {', '.join(NOTICE_KINDS)})")
            continue
        try:
            published, _ = parse_timestamp(entry["published_at"], timezone)
        except InputError as error:
            problems.add(index, "published_at", str(error))
            continue
        window = _window(entry, timezone, problems, index)
        if window and _event_account(entry, problems, index):
            notices.append(Notice(str(entry["id"]), entry["kind"], published, *window, account_name(entry.get("account"))))
    _ids(entries, problems)
    problems.raise_if_any()
    return notices
