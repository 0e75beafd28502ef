"""Plan (from metadata only): the input -- a file (CSV, JSON Lines, Parquet), a directory of Parquet files,
or a hive-partitioned directory (``month=2024-03/``, ``account=acme/``) -- becomes a list of :class:`Part` s: a
Parquet file's row groups, or a text file. Directories whose ``month=`` or ``account=`` key lies outside the
:class:`Request`, and row groups whose statistics (``minute`` min/max, ``account`` min/max) do, are left out:
never opened."""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from functools import cached_property
from operator import attrgetter
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import numpy as np

from . import storage
from ..calendar import WIDEN_MINUTES, calendar_month, minute_bounds, month_written, written_as_month
from ..errors import InputError
from ..files import FileProblem, regular_file_size
from ..forks import renewed_in_child
from ..inputs.problems import column_names, missing_columns, where_given
from ..inputs.tables import (IN_MEMORY, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS, _format, account_forms, account_name,
                             refuse_binary, floating_accounts, refuse_floating_accounts, check_input_size,
                             check_minute_types, check_size, in_memory_table)
from ..inputs.timestamps import UNITS_PER_MINUTE
from ..limits import exhausted
from ..parquet_footer import footer_bytes


PART_ROWS = 1 << 21  # row groups are grouped into parts of about this many rows (one task each)


@dataclass(frozen=True)
class Reading:
    """One way of reading a minute as unavailable (§1.5), in integers: c1·(r − f) < c2·r, r > 0."""

    c1: int
    c2: int
    removes_illegal: bool  # §5.10 failures removed from requests and failures first


def below_threshold(c1: int, c2: int, requests: np.ndarray, failures: np.ndarray) -> np.ndarray:
    """§1.5 per minute: a success rate below the threshold, c1·(r − f) < c2·r with r > 0, in integers (the
    policy's ``unavailable_coefficients``). The minutes path and the evaluation both ask this."""
    if len(requests) and int(requests.max()) * c1 >= 2 ** 62:  # beyond int64: exact Python integers
        return np.array([c1 * (int(r) - int(f)) < c2 * int(r) for r, f in zip(requests, failures)], bool) & (requests > 0)
    return (c1 * (requests - failures) < c2 * requests) & (requests > 0)


@dataclass(frozen=True)
class Request:
    """What every part's task needs to know (small and picklable)."""

    timezone: str
    bounds: tuple  # epoch minutes: the first minute of each Service Month, then the end of the last
    readings: tuple | None  # None: every row is a candidate (a version counts quiet minutes as unavailable)
    accounts: frozenset | None = None  # only these (trimmed) account names; None: every account
    # Sorted, disjoint [start, end) epoch minutes inside which every row is kept, not only the candidates
    # (the provider incidents of every account: evaluate warns when one covers minutes without data).
    within: tuple = ()
    # (account, windows as ``within``) sorted by account: the provider incidents of one account, inside which
    # only that account's rows are kept (another account's incident never applies to it, §1.4).
    own_within: tuple = ()
    # One Service Month: each provider incident's window inside it, as (account, start, end) sorted, the account
    # "" for every account. Then the rows inside ``within`` and ``own_within`` are not kept but counted: per
    # account and window, the minutes with requests (the §1.4 warning's count), so that memory does not grow
    # with the minutes the incidents cover. Several months (replay shows no warnings): the rows are kept.
    incident_windows: tuple = ()

    @property
    def span(self) -> tuple[int, int]:
        return self.bounds[0], self.bounds[-1]

    def __reduce__(self):
        # Pickled with its accounts sorted, so that a copy pickles to the same bytes: a frozenset's pickle follows its
        # iteration order, which the copy made from it need not keep (names whose hashes collide sit where they were
        # put in), and the early helper's plan, made from the request pickled to it, is checked against this
        # process's by the digest of their pickles (distributed._plan_digest): 41 accounts asked about gave other
        # digests under most hash seeds, and `evaluate` stopped with an internal error. (Pickled without a memo, as
        # the digest does, a frozenset shared by fifty tasks or more also raised: "can't pickle cyclic objects".)
        values = _request_values(self)
        return _unpickled_request, values[:_ACCOUNTS] + (self._sorted_accounts,) + values[_ACCOUNTS + 1:]

    @cached_property
    def _sorted_accounts(self) -> tuple | None:  # once: the digest pickles the request again with each task
        return None if self.accounts is None else tuple(sorted(self.accounts))


_request_values = attrgetter(*(f.name for f in fields(Request)))  # the fields' values, in their order
_ACCOUNTS = [f.name for f in fields(Request)].index("accounts")


def _unpickled_request(*values) -> Request:
    accounts = values[_ACCOUNTS]
    return Request(*values[:_ACCOUNTS], None if accounts is None else frozenset(accounts), *values[_ACCOUNTS + 1:])


@dataclass(frozen=True)
class Part:
    """One unit of work: a Parquet file's row groups, or a whole text file (read in batches)."""

    path: str  # absolute, or the file's URL: a worker's working directory (or machine) may differ
    kind: str  # "parquet", "csv", "jsonl" or "memory"
    name: str = ""  # as the user gave it, for messages
    row_groups: tuple = ()  # Parquet: the row groups to read
    row_bases: tuple = ()  # rows of the file before each of them (for messages)
    proven: tuple = ()  # per row group: the one (trimmed) account its statistics prove, or None
    account: str | None = None  # the account of an account= directory, for files without the column
    month: str | None = None  # the Service Month of a month= directory
    rows: int = 0  # rows it holds, from metadata
    # A JSON Lines file read in pieces (``readers.text_pieces``): the [start, end) bytes whose lines start in this
    # piece; () for the whole file. ``size``: the file's bytes, from the plan (text files; -1 when unknown).
    byte_range: tuple = ()
    size: int = -1
    table: object = field(default=None, compare=False, repr=False)  # kind "memory" only: never shipped


def readings_of(policies) -> tuple | None:
    """The distinct ways the versions read a minute, as integers; None when one of them counts quiet
    minutes as unavailable (then every row is a candidate)."""
    if any(p.setting("availability", "no_traffic") == "unavailable" for p in policies):
        return None
    return tuple(dict.fromkeys(Reading(*p.unavailable_coefficients, p.illegal_number_clause is not None) for p in policies))


def request_for(months: list, timezone: str, policies: list, accounts=None, incidents=()) -> Request:
    bounds = [m.epoch_minutes(timezone)[0] for m in months] + [months[-1].epoch_minutes(timezone)[1]]
    # Each account's other Unicode forms too: their rows, found, are refused (tables.refuse_two_forms).
    wanted = None if accounts is None else frozenset(
        form for a in accounts for form in account_forms(account_name(a) or ""))
    windows: dict = {}  # account (None: every account) -> its provider incidents' windows
    for incident in incidents:
        if incident.cause == "provider" and (wanted is None or incident.account is None or incident.account in wanted):
            windows.setdefault(incident.account, []).append(minute_bounds(incident.start, incident.end, "outward"))
    own = tuple((account, _merged(windows[account])) for account in sorted(a for a in windows if a is not None))
    counted = () if len(months) != 1 else tuple(sorted({
        (account or "", max(lo, bounds[0]), min(hi, bounds[1])) for account, found in windows.items()
        for lo, hi in found if max(lo, bounds[0]) < min(hi, bounds[1])}))
    return Request(timezone, tuple(int(b) for b in bounds), readings_of(policies), wanted,
                   _merged(windows.get(None, ())), own, tuple((a, int(lo), int(hi)) for a, lo, hi in counted))


def _merged(windows) -> tuple:
    """Windows ([start, end) minutes) as sorted, disjoint ones covering the same minutes."""
    merged: list = []
    for lo, hi in sorted(windows):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def held_in_memory(source) -> bool:
    """Whether minutes are handed in as data (rows, a table, a DataFrame) rather than named by a path or URL: such
    minutes are read in the process that holds them, never by workers."""
    return not isinstance(source, (str, Path))


def plan(source, request: Request) -> list[Part]:
    """The parts of ``source`` that can hold rows of the request, from metadata only."""
    if held_in_memory(source):
        table, _ = in_memory_table(source, MINUTE_COLUMNS, OPTIONAL_MINUTE_COLUMNS)
        return [Part(IN_MEMORY, "memory", name=where_given(source, "minutes"), rows=table.num_rows, table=table)]
    if storage.is_url(source):
        return _plan_url(source, request)
    path = Path(source)
    relative = storage.relative_file_url(source)
    if relative and not os.path.lexists(path):
        raise FileProblem(source, "missing", "no such file or directory" + relative)
    if path.is_dir():
        return _plan_directory(path, request)
    try:
        kind = _format(path)
    except InputError:
        if not os.path.lexists(path):  # 'minutes/' or 'minutes' missing: a directory meant, not an unknown format
            raise FileProblem(source, "missing", "no such file or directory") from None
        raise
    size = regular_file_size(path, f"{kind.upper()} file")  # says what a FIFO, a device or a looping link is
    check_input_size(path)
    if kind == "parquet":
        return _plan_parquet(str(path), request, str(path))
    refuse_binary(path, kind)
    return [Part(str(path.resolve()), kind, name=str(path), rows=-1, size=size)]


def _plan_url(url: str, request: Request) -> list[Part]:
    """The parts of minutes named by a URL: planned from the store's listing and Parquet footers; each part
    carries its file's URL, which the process that reads it opens itself."""
    import pyarrow.fs as pafs  # heavy (0.2 s): loaded by the commands that read inputs

    store = storage.Store.of(url)
    info = store.info()
    if info.type == pafs.FileType.Directory:
        return _plan_directory(Path(store.root), request, store)
    try:
        kind = _format(Path(store.root))
    except InputError as exc:  # named by the URL, not by the path inside its filesystem
        raise InputError(f"{url}: {str(exc)[len(str(Path(store.root))) + 2:]}") from None
    check_size(url, info.size)
    if kind == "parquet":
        return _plan_parquet(store.root, request, url, store=store)
    return [Part(url, kind, name=url, rows=-1, size=-1 if info.size is None else info.size)]


HIVE_KEYS = ("month", "account")  # the directory keys that prune a dataset (docs/cli.md, "Replay")


def _directory_keys(path: Path, root: Path, where: str) -> dict:
    """The hive keys (``month=2024-03``) of the directories between ``root`` and ``path``. A key given twice with
    two values is refused: the file would be pruned by one and checked against the other."""
    keys = {}
    for segment in path.relative_to(root).parts[:-1]:
        if "=" in segment:
            key, value = segment.split("=", 1)
            if key != key.lower() and key.lower() in HIVE_KEYS:  # ACCOUNT=acme pruned nothing, silently
                raise InputError(f"{where}: directory key {key}= is not the key {key.lower()}= (directory keys are "
                                 f"read as written, in lower case): rename the directory {segment} to "
                                 f"{key.lower()}={value}")
            value = unquote(value)
            if keys.get(key, value) != value:
                raise InputError(f"{where}: directory key {key}= is given twice, {key}={keys[key]} and {key}={value}")
            keys[key] = value
    return keys


def directory_months(source, most: int = 10_000) -> list[str]:
    """The months the ``month=`` directories of a local dataset name (sorted; [] for a file, a URL, data in memory,
    or a dataset without such keys), looking at no more than ``most`` directories: what an evaluation of a month
    with no account says the minutes hold, since directories of other months are never opened. Names only: a
    month= key that is not a month is listed as written (the reading refuses it)."""
    if not isinstance(source, (str, Path)) or storage.is_url(source) or not os.path.isdir(source):
        return []
    months, seen = set(), 0
    for _, directories, _ in os.walk(source):
        directories[:] = [d for d in directories if not d.startswith((".", "_"))]
        for directory in directories:
            key, _, value = directory.partition("=")
            if key == "month" and value.strip():
                months.add(unquote(value).strip())
        seen += len(directories)
        if seen >= most:
            break
    return sorted(months)


def held_months_note(source, month: str) -> str:
    """'; the minutes' month= directories hold 2019-01 to 2019-03 (3 months)' (:func:`directory_months`), or "" when
    they name none, or name ``month``: what a message about a month or an account the minutes do not hold adds."""
    held = directory_months(source)
    return "" if not held or month in held else _directories_hold(held)


def _directories_hold(held: list) -> str:
    """The words of :func:`held_months_note` and :func:`held_minutes_note` for the months ``held`` that the minutes'
    ``month=`` directories name: written once, so that the two messages cannot drift apart."""
    months = ", ".join(held) if len(held) <= 3 else f"{held[0]} to {held[-1]} ({len(held)} months)"
    return f"; the minutes' month= directories hold {months}"


def held_minutes_note(source, labels: list, seen: tuple, rows_read: int, timezone: str) -> str:
    """What a reading of the Service Months ``labels`` that found none of the minutes' rows says they hold: the
    months their ``month=`` directories name (:func:`held_months_note`), else where their rows lie ('; the minutes'
    rows run from 2019-03-01 00:00 to 2019-03-31 23:59 (Asia/Singapore): Service Month 2019-03'): the first and last
    minute of the rows read (``seen``, epoch minutes: ``MinuteAggregates.seen``) and of the row groups of a local
    Parquet file or directory that their statistics left unread, in the policy's ``timezone``; '; the minutes hold no
    row' when a local file holds none; "" when nothing is known (a URL's unread row groups). An error path only:
    footers are read again (at most 1,000 files)."""
    held = directory_months(source)
    if held and not set(held) & set(labels):
        return _directories_hold(held)
    zone = ZoneInfo(timezone)
    try:
        ends = [dt.datetime.fromtimestamp(minute * 60, zone).replace(tzinfo=None) for minute in seen]
    except (OverflowError, OSError, ValueError):  # a minute no datetime holds: said as unknown
        return ""
    local = isinstance(source, (str, Path)) and not storage.is_url(source)
    unread = _unread_span(source, zone) if local else None
    if unread:
        ends = [min(ends[0], unread[0]), max(ends[1], unread[1])] if ends else list(unread)
    if not ends:
        return "; the minutes hold no row" if local and not rows_read and unread is not None else ""
    first, last = (f"{end.year:04d}-{end.month:02d}" for end in ends)
    months = f"Service Month {first}" if first == last else f"Service Months {first} to {last}"
    return (f"; the minutes' rows run from {ends[0]:%Y-%m-%d %H:%M} to {ends[1]:%Y-%m-%d %H:%M} ({timezone}): "
            f"{months}")


def _unread_span(source, zone) -> tuple | None:
    """(first, last) wall times in ``zone`` of the row groups of a local Parquet file or directory (at most 1,000
    files) whose ``minute`` statistics are timestamps: () when they give none, None when the files cannot all be
    looked at (too many, unreadable)."""
    import pyarrow as pa  # loaded by the reading already

    path = Path(source)
    if path.is_dir():
        files = []
        for folder, directories, names in os.walk(path):
            directories[:] = sorted(d for d in directories if not d.startswith((".", "_")))
            files += [os.path.join(folder, n) for n in sorted(names)
                      if n.lower().endswith((".parquet", ".pq")) and not n.startswith((".", "_"))]
            if len(files) > 1000:
                return None
    elif path.suffix.lower() in (".parquet", ".pq"):
        files = [str(path)]
    else:
        return ()
    found: list = []
    epoch = dt.datetime(1970, 1, 1)
    try:
        for name in files:
            metadata = parquet_footer(str(Path(name).resolve())) or local_metadata(name)
            schema = metadata.schema.to_arrow_schema()
            if "minute" not in schema.names or not pa.types.is_timestamp(schema.field("minute").type):
                continue
            minute_type, at = schema.field("minute").type, schema.names.index("minute")
            for index in range(metadata.num_row_groups):
                statistics = _statistics(metadata.row_group(index), at)
                if statistics is None or statistics.physical_type != "INT64":
                    continue
                for raw in (statistics.min_raw, statistics.max_raw):
                    minute = raw // UNITS_PER_MINUTE[minute_type.unit]
                    wall = epoch + dt.timedelta(minutes=minute)  # naive: the wall time itself
                    if minute_type.tz is not None:
                        wall = wall.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
                    found.append(wall)
    except (pa.ArrowException, OSError, OverflowError, ValueError):
        return None
    return (min(found), max(found)) if found else ()


# The directory Hive and Spark write the rows whose partition value is missing (null) into.
HIVE_MISSING = "__HIVE_DEFAULT_PARTITION__"


def _directory_account(keys: dict, where: str) -> str | None:
    """The account of an ``account=`` directory (None without one). A blank key, or Spark's directory of rows
    without an account, is refused: the one made the file's own column required ("missing column(s) account"),
    the other was read as an account named __HIVE_DEFAULT_PARTITION__."""
    if "account" not in keys:
        return None
    written = keys["account"]
    if written == HIVE_MISSING:
        raise InputError(f"{where}: the directory account={HIVE_MISSING} holds rows without an account (Hive's and "
                         "Spark's name for a missing value); every minute row needs its account")
    account = account_name(written)
    if account is None:
        raise InputError(f"{where}: the directory key account={written} names no account (it is blank)")
    return account


def _plan_directory(root: Path, request: Request, store=None) -> list[Part]:
    """A directory of Parquet files, hive-partitioned or not; ``store``: the URL it was named by, if any."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs
    import pyarrow.dataset as ds  # heavy (0.2 s): loaded by the commands that read inputs

    shown = (lambda name: store.url_of(name)) if store is not None else str
    try:  # pyarrow.dataset lists the files, leaving out hidden ones and _SUCCESS markers; given a schema, it
        # opens none of them (files outside the request are never opened)
        files = sorted(ds.dataset(str(root), format="parquet", schema=pa.schema([]),
                                  filesystem=None if store is None else store.fs).files)
    except (OSError, ValueError) as exc:
        if store is not None:
            raise storage.failure(store.url, exc) from None
        raise InputError(f"{root}: cannot list the Parquet files of the directory: {exc}") from None
    others = [f for f in files if f.lower().endswith((".csv", ".jsonl", ".ndjson", ".json"))]
    if others:  # minutes beside the Parquet files that would silently not be read (or be read twice, if copies)
        raise InputError(f"{shown(others[0])}: a directory of minutes is read as Parquet files only; this file would not "
                         "be read: move it out of the directory, or give it as --minutes on its own")
    unnamed = [f for f in files if not f.lower().endswith((".parquet", ".pq")) and _starts_as_parquet(f, store)]
    if unnamed:  # a Hive table's 000000_0, say: minutes that would silently not be read
        raise InputError(f"{shown(unnamed[0])}: a Parquet file whose name does not end in .parquet, which would not be "
                         "read: rename it (a directory of minutes reads its *.parquet and *.pq files)")
    files = [f for f in files if f.lower().endswith((".parquet", ".pq"))]
    if not files:
        raise InputError(f"{shown(str(root))}: no Parquet files (*.parquet, *.pq) in the directory")
    if store is None:
        _refuse_a_file_twice(files)
    parts = []
    for name in files:
        keys = _directory_keys(Path(name), root, shown(name))
        if "account" in keys and request.accounts is not None and account_name(keys["account"]) not in request.accounts:
            continue  # an account= directory of another account (or of none): never opened
        account = _directory_account(keys, shown(name))
        month = _directory_month(keys, shown(name))
        if month is not None:
            start, end = _month_span(month, request.timezone, shown(name))
            if end <= request.span[0] or start >= request.span[1]:
                continue  # a month= directory outside the months asked about
        if store is None:
            check_input_size(name)
        else:
            check_size(shown(name), store.sizes().get(name))
        parts.extend(_plan_parquet(name, request, shown(name), account, month, store))
    return parts


def _refuse_a_file_twice(files: list) -> None:
    """A file of the directory reached twice, by a symbolic link to it (or to a directory above it, as a link back
    to the root) or a hard link: its minutes would be read twice, and refused as minutes listed twice "in an
    earlier row" with no word of the link. One stat a file, at planning (its size is read there anyway)."""
    seen = {}
    for name in files:
        try:
            status = os.stat(name)
        except OSError:  # gone, or a link to nothing: named by the size check that follows
            continue
        first = seen.setdefault((status.st_dev, status.st_ino), name)
        if first != name:
            raise InputError(f"{name}: the same file as {first} (reached again by a link): its minutes would be read "
                             "twice; remove the link from the directory")


def _starts_as_parquet(name: str, store) -> bool:
    """Whether a file of a directory begins as a Parquet file does (only the few files not named *.parquet)."""
    try:
        with (open(name, "rb") if store is None else store.fs.open_input_stream(name)) as file:
            return file.read(4) == b"PAR1"
    except OSError:
        return False


def _directory_month(keys: dict, where: str) -> str | None:
    """The month of a ``month=`` directory (None without one), without whitespace around it as an account= key's
    value is read. A ``year=2019/month=03`` layout is refused by what it is: its month=03 was "not a month written
    YYYY-MM", with no word of the year beside it."""
    month = keys.get("month")
    if month is None:
        return None
    month = month.strip()
    year = keys.get("year", "").strip()
    if re.fullmatch(r"[0-9]{4}", year) and re.fullmatch(r"[0-9]{1,2}", month) and 1 <= int(month) <= 12:
        raise InputError(f"{where}: directory keys year={year} and month={month}: a month= key is written YYYY-MM, "
                         f"its year with it (month={year}-{int(month):02d}); rename the directories")
    return month


def _month_span(label: str, timezone: str, where: str) -> tuple[int, int]:
    """[first, end) epoch minutes of the Service Month a ``month=YYYY-MM`` directory holds (policy's timezone)."""
    if not written_as_month(label):
        meant = month_written(label, days=False)  # month=2019-3, a spreadsheet's month: told the name to give it
        raise InputError(f"{where}: directory key month={label} is not a month written YYYY-MM"
                         + (f"; rename the directory month={label} to month={meant}" if meant else ""))
    return calendar_month(label).epoch_minutes(timezone)


def _empty(path: str, store=None) -> bool:
    """Whether the file at ``path`` (inside ``store``'s filesystem, for a URL) holds no byte."""
    try:
        return (os.path.getsize(path) if store is None else store.fs.get_file_info(path).size) == 0
    except (OSError, ValueError):
        return False


def _plan_parquet(path: str, request: Request, shown: str, account: str | None = None,
                  month: str | None = None, store=None) -> list[Part]:
    """The parts of one Parquet file (``path`` inside ``store``'s filesystem when the minutes are a URL)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    resolved = str(Path(path).resolve()) if store is None else None  # once: ~0.02 ms a file
    try:
        if store is None:
            metadata = parquet_footer(resolved) or local_metadata(path)
        else:
            import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

            with store.fs.open_input_file(path) as footer:
                metadata = pq.read_metadata(footer)
        schema = metadata.schema.to_arrow_schema()
    except FileNotFoundError as exc:
        raise storage.failure(shown, exc) from None
    except (pa.ArrowException, OSError) as exc:
        if exhausted(exc):  # memory or open files ran out: not the file's fault, said as such (slapolicy.limits)
            raise
        if store is not None and not isinstance(exc, pa.ArrowException):
            raise storage.failure(shown, exc) from None
        if _empty(path, store):  # a file being written, or a failed job's: pyarrow said 'Parquet file size is 0 bytes'
            raise InputError(f"{shown}: an empty file (0 bytes), not a Parquet file: one still being written, or left "
                             "by a job that failed; remove it, or read the minutes once it is written") from None
        raise InputError(f"{shown}: cannot be read as PARQUET: {str(exc).splitlines()[0]}") from None
    names = column_names(schema, shown)
    if "account" in names and floating_accounts(schema.field("account").type):
        _refuse_floating_accounts(path, shown, store)
    check_minute_types(schema, shown)  # before any row group is read (a struct's columns have other names)
    required = [n for n in MINUTE_COLUMNS if not (n == "account" and account is not None)]
    missing = [n for n in required if n not in names]
    if missing:
        raise InputError(missing_columns(shown, missing, names))
    minute_at = names.index("minute")
    account_at = names.index("account") if "account" in names else None
    minute_type = schema.field("minute").type
    chosen, bases, proven, base, sizes = [], [], [], 0, []
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        # In a month= directory asked about, a row group whose minutes lie outside the request lies outside its
        # directory's month too: read, so that its rows are refused as disagreeing with it, not left unread.
        if group.num_rows and _group_may_hold(group, minute_at, minute_type, account_at, request,
                                              by_minute=month is None):
            chosen.append(index)
            bases.append(base)
            # A file with its own account column is judged by it, so that a row that disagrees with its
            # account= directory is refused rather than counted for the directory's account.
            proven.append(_proven_account(group, account_at) if account_at is not None else account)
            sizes.append(group.num_rows)
        base += group.num_rows
    parts, start, rows = [], 0, 0
    for k in range(len(chosen)):  # consecutive row groups of about PART_ROWS rows make one part
        rows += sizes[k]
        if rows >= PART_ROWS or k == len(chosen) - 1:
            parts.append(Part(resolved if store is None else shown, "parquet", shown, tuple(chosen[start:k + 1]),
                              tuple(bases[start:k + 1]), tuple(proven[start:k + 1]), account, month, rows))
            start, rows = k + 1, 0
    return parts


def _refuse_floating_accounts(path: str, shown: str, store) -> None:
    """Refuse a Parquet file whose account column is of floating-point numbers, naming its rows
    (``tables.refuse_floating_accounts``): the column is read, on this error path only."""
    import pyarrow.parquet as pq  # heavy (0.2 s): loaded by the commands that read inputs

    with (open(path, "rb") if store is None else store.fs.open_input_file(path)) as handle:
        column = pq.read_table(handle, columns=["account"]).column("account")
    refuse_floating_accounts(column, shown, lambda i: f"row {i + 1}")


# The Parquet footers kept by parquet_footer, by their bytes: 16 of a 500-row-group file (~0.5 MB each), or the ~1 KB
# footers of some 8,000 small files. Kept by count (16), a directory of 1,000 small files had each footer parsed
# twice, by its plan and again by its reading, which found the plan's long gone (~0.06 ms a file).
FOOTER_BYTES_KEPT = 8 << 20
_footers: OrderedDict = OrderedDict()  # (path, footer length) -> (footer, metadata), oldest first
_footers_kept = [0]  # the bytes of the footers in _footers
_FOOTERS_LOCK = threading.Lock()  # held while _footers and its size change (the reading's threads fill it too)
renewed_in_child(sys.modules[__name__], "_FOOTERS_LOCK")


def parquet_footer(path: str):
    """The metadata of a local Parquet file, parsed once per process while its footer's bytes are unchanged: the
    plan and every part read from the file share it. Parsing a 500-row-group footer costs 3 ms, and a part's
    reader parsed it again; reading its 0.3 MB to compare them, 0.05 ms. Not its size and modification
    time: a file rewritten in place within one tick of the clock that stamps it, or with its time set back
    (``cp -p``), keeps both, and a stale footer's statistics would be trusted for the new rows. None when the
    file cannot be examined (the reader then names the problem as it always did)."""
    footer = footer_bytes(path)
    if footer is None:
        return None
    key = (path, len(footer))
    kept = _footers.get(key)
    if kept is not None and kept[0] == footer:
        return kept[1]
    metadata = local_metadata(path)
    if footer_bytes(path) == footer:  # not rewritten while it was parsed
        with _FOOTERS_LOCK:
            replaced = _footers.pop(key, None)
            _footers[key] = (footer, metadata)
            _footers_kept[0] += len(footer) - (len(replaced[0]) if replaced else 0)
            while _footers_kept[0] > FOOTER_BYTES_KEPT and len(_footers) > 1:
                _, (dropped, _) = _footers.popitem(last=False)
                _footers_kept[0] -= len(dropped)
    return metadata


class LocalParquet:
    """A local Parquet file as ``pyarrow.parquet.ParquetFile(path, ...)`` reads it, for what the readers of minutes ask
    of one (its metadata and Arrow schema, row groups read whole or in batches), without importing
    ``pyarrow.parquet``: that module loads pyarrow's file systems (``pyarrow.fs``: SSL, sockets, S3, GCS, Azure, HDFS),
    ~12 ms of the start of every command reading a local file, which never uses them (benchmarks/README.md, "A
    claim's start without pyarrow's file systems"). Opened with ParquetFile's settings (its Arrow extension types, no
    pre-buffering, as the readers ask for a local file); its columns named as ParquetFile names them (a nested
    column's prefix, its leaves)."""

    def __init__(self, path: str, metadata=None, read_dictionary=None):
        from pyarrow._parquet import ParquetReader  # pyarrow's own reader, whose module ParquetFile wraps

        self.reader = ParquetReader()
        self.reader.open(path, read_dictionary=read_dictionary, metadata=metadata, pre_buffer=False,
                         arrow_extensions_enabled=True)
        self._schema = None  # the Arrow schema, made once: each ask made it anew (~7 µs, nine times a file read)
        self._leaves: dict = {}  # a column's name or path prefix -> its leaves, as ParquetFile._build_nested_paths
        for leaf, names in enumerate(self.reader.column_paths):
            for end in range(1, len(names) + 1):
                self._leaves.setdefault(".".join(names[:end]), []).append(leaf)

    @property
    def metadata(self):
        return self.reader.metadata

    @property
    def schema_arrow(self):
        if self._schema is None:
            self._schema = self.reader.schema_arrow
        return self._schema

    def _indices(self, columns):
        return None if columns is None else [leaf for name in columns for leaf in self._leaves.get(name, ())]

    def read_row_groups(self, row_groups, columns=None, use_threads=True):
        return self.reader.read_row_groups(row_groups, column_indices=self._indices(columns), use_threads=use_threads)

    def iter_batches(self, batch_size=65536, row_groups=None, columns=None, use_threads=True):
        if row_groups is None:
            row_groups = range(self.metadata.num_row_groups)
        return self.reader.iter_batches(batch_size, row_groups=row_groups, column_indices=self._indices(columns),
                                        use_threads=use_threads)

    def close(self) -> None:
        self.reader.close()


def local_metadata(path: str):
    """``pyarrow.parquet.read_metadata(path)`` of a local file, without importing ``pyarrow.parquet`` (see
    :class:`LocalParquet`)."""
    source = LocalParquet(path)
    try:
        return source.metadata
    finally:
        source.close()


def _statistics(group, column):
    if column is None:
        return None
    statistics = group.column(column).statistics
    if statistics is None or not statistics.has_min_max:
        return None
    return statistics


def _group_may_hold(group, minute_at: int, minute_type, account_at, request: Request, by_minute: bool = True) -> bool:
    """Whether a row group's statistics allow rows of the requested span (unless not ``by_minute``) and accounts."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    statistics = _statistics(group, minute_at) if by_minute else None
    if statistics is not None and pa.types.is_timestamp(minute_type) and statistics.physical_type == "INT64":
        per_minute = UNITS_PER_MINUTE[minute_type.unit]
        lo, hi = statistics.min_raw // per_minute, statistics.max_raw // per_minute
        widen = WIDEN_MINUTES if minute_type.tz is None else 0  # naive: local wall times
        first, end = request.span
        if hi + widen < first or lo - widen >= end:
            return False
    if request.accounts is not None:
        statistics = _statistics(group, account_at)
        if statistics is not None and isinstance(statistics.min, str) and isinstance(statistics.max, str):
            low, high = statistics.min, statistics.max
            # A name trims to itself or shorter: with no leading blank in min, every value v of the row group
            # has v.strip() within [min.rstrip(), max].
            if low[:1] > " " and not any(low.rstrip() <= name <= high for name in request.accounts):
                return False
    return True


def _proven_account(group, column) -> str | None:
    """The one account of a row group whose statistics say min = max and no nulls (its column is not read)."""
    statistics = _statistics(group, column)
    if statistics is None or not statistics.has_null_count or statistics.null_count:
        return None
    if statistics.min != statistics.max or not isinstance(statistics.min, str):
        return None
    return account_name(statistics.min)  # None for a blank name: decoded then, and refused row by row
