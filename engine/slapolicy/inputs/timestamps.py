"""Timestamps of every input: minute columns (text with or without an offset, or Parquet timestamps) read as
UTC epoch minutes, and single timestamps (incidents, notices, claims). Timestamps without an offset are local
time of the policy's timezone (§1.5, §1.11.1), a wall time that does not exist or exists twice is refused by
name, and minute timestamps must have zero seconds (a statistics point is a whole minute)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from ..errors import InputError, lookalike_note
from .problems import MAX_REPORTED, Problems, _line, _report


_STAMP = (r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?P<hm>[0-9]{2}:[0-9]{2})"
          r"(?::(?P<sec>[0-9]{2}(?:\.[0-9]+)?))?(?P<off>Z|[+-][0-9]{2}:?[0-9]{2})?$")
# A minute given with seconds, as text or as a timestamp of any unit: said alike.
HAS_SECONDS = "has seconds; a statistics point starts at :00 (§1.5)"


def _epoch(written: str) -> str:
    """The words for a minute written as a count of seconds or milliseconds since 1970, as many exports write time
    (1709283600): it was told only that it is no ISO 8601 minute. An error path only."""
    if not written.strip().isascii() or not written.strip().isdigit() or not 9 <= len(written.strip()) <= 13:
        return ""
    return ("; a count of seconds or milliseconds since 1970 is not read: write the minute as text with its offset "
            "(2019-03-12T09:00+08:00), or as a Parquet timestamp in UTC")


def _offset(wall: dt.datetime, zone, fold: int) -> int:
    return int(wall.replace(tzinfo=zone, fold=fold).utcoffset().total_seconds()) // 60


def local_to_utc_minutes(local_minutes: np.ndarray, timezone: str):
    """Wall-clock minutes (as if UTC) of ``timezone`` → (true UTC epoch minutes, wall times that do not
    exist — clocks moved forward —, wall times that exist twice — clocks moved back).

    The offset is looked up once per distinct local hour (a month has at most 745); only an hour
    with a clock change is looked at minute by minute.
    """
    empty = np.zeros(len(local_minutes), bool)
    if len(local_minutes) == 0:
        return local_minutes, empty, empty.copy()
    zone = ZoneInfo(timezone)
    epoch = dt.datetime(1970, 1, 1)
    hours, inverse = np.unique(local_minutes // 60, return_inverse=True)
    inverse = inverse.reshape(-1)
    offsets = np.empty(len(hours), np.int64)
    changing = []
    for i, hour in enumerate(hours):
        start = epoch + dt.timedelta(hours=int(hour))
        seen = {_offset(wall, zone, fold) for wall in (start, start + dt.timedelta(minutes=59)) for fold in (0, 1)}
        if len(seen) == 1:
            offsets[i] = seen.pop()
        else:  # the clocks change within this hour
            offsets[i] = 0
            changing.append(i)
    shift = offsets[inverse]
    missing, twice = empty, empty.copy()
    if changing:
        missing = empty.copy()
        for i in changing:
            rows = np.flatnonzero(inverse == i)
            for minute in np.unique(local_minutes[rows]):
                wall = epoch + dt.timedelta(minutes=int(minute))
                first, second = _offset(wall, zone, 0), _offset(wall, zone, 1)
                at = rows[local_minutes[rows] == minute]
                shift[at] = first
                if first != second:
                    utc = wall - dt.timedelta(minutes=first)
                    back = utc + dt.timedelta(minutes=_offset_at_utc(utc, zone))
                    (missing if back != wall else twice)[at] = True
    return local_minutes - shift, missing, twice


def _offset_at_utc(utc: dt.datetime, zone) -> int:
    return int(utc.replace(tzinfo=dt.timezone.utc).astimezone(zone).utcoffset().total_seconds()) // 60


def parse_minute_column(table, name: str, timezone: str, problems: Problems, line_offset):
    """ISO 8601 minute timestamps → UTC epoch minutes; (values, how many had no offset, where each run of one
    minute begins when the column was read run by run, else None, which rows had no offset when only some had
    none, else None)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    column = table.column(name)
    if pa.types.is_timestamp(column.type):
        # Seconds and fractions of a second must be zero, whatever the unit: checked on the integers
        # of the column's own unit, never by a cast that would fail or round them away.
        per_minute = UNITS_PER_MINUTE[column.type.unit]
        ticks = _timestamp_ticks(column)
        if column.null_count:
            _report(column.is_null().to_numpy(zero_copy_only=False), problems, name, line_offset, lambda r: "missing value")
        local, partial, runs = _whole_minutes(ticks, per_minute)
        _report(partial, problems, name, line_offset,
                lambda r: f"{_tick_text(ticks[r], column.type.unit, column.type.tz is not None)} {HAS_SECONDS}")
        if column.type.tz is None:  # naive Parquet timestamps are local time of the policy
            utc, missing, twice = local_to_utc_minutes(local, timezone)
            _report_wall_times(missing, twice, local, timezone, name, problems, line_offset)
            return utc, len(local), None, None
        return local, 0, runs, None
    import pyarrow.compute as pc  # heavy (0.05 s): text only (Parquet timestamps never load it)

    text = column.cast(pa.string()).fill_null("")
    parts = pc.extract_regex(text, _STAMP)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    if not matched.all():  # only when a row is refused or blank: clean minutes pay nothing for it
        parts, matched = _trimmed_stamps(text, parts, matched)
    parts = parts.fill_null({"date": "1970-01-01", "hm": "00:00", "sec": "", "off": ""})
    local = pc.binary_join_element_wise(pc.struct_field(parts, "date"), pc.struct_field(parts, "hm"), "T")
    stamps = pc.strptime(local, format="%Y-%m-%dT%H:%M", unit="s", error_is_null=True)
    # strptime rolls 2019-02-30 over to March 2: a date is valid only if its day survives the parse (a rolled
    # date lands on a smaller day of a later month). Printing each stamp back to compare the text cost 1.4 µs a
    # row (pc.strftime), twenty times the rest of this function.
    day = pc.cast(pc.utf8_slice_codeunits(pc.struct_field(parts, "date"), 8, 10), pa.int64())
    valid_date = pc.fill_null(pc.equal(pc.day(stamps), day), False).to_numpy(zero_copy_only=False)
    local_minutes = stamps.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False) // 60
    # The seconds and offsets written take few distinct values: each is read once, from Arrow's dictionary of
    # them, and the rows keep only its index (sorting the texts of every row cost more than parsing them).
    seconds, second_texts = _distinct_texts(pc.struct_field(parts, "sec"))
    offsets, offset_texts = _distinct_texts(pc.struct_field(parts, "off"))
    raw = None
    for row in np.flatnonzero(~matched | ~valid_date)[:MAX_REPORTED]:
        raw = raw if raw is not None else text.to_numpy(zero_copy_only=False)
        written = raw[row]  # blank (or missing): named as every other column's missing value
        problems.add(int(row) + 1, name, "missing value" if not written.strip() else
                     f"{written!r} is not an ISO 8601 minute (YYYY-MM-DDTHH:MM[:00][offset]){_epoch(written)}",
                     _line(int(row) + 1, line_offset))
    problems.total += max(0, int((~matched | ~valid_date).sum()) - MAX_REPORTED)
    nonzero = np.array([bool(t) and Decimal(t) != 0 for t in second_texts] + [False], bool)[seconds]
    for row in np.flatnonzero(nonzero)[:MAX_REPORTED]:
        raw = raw if raw is not None else text.to_numpy(zero_copy_only=False)
        problems.add(int(row) + 1, name, f"{raw[row]!r} {HAS_SECONDS}",
                     _line(int(row) + 1, line_offset))
    problems.total += max(0, int(nonzero.sum()) - MAX_REPORTED)
    naive = np.array([t == "" for t in offset_texts] + [True], bool)[offsets]
    result = np.empty(len(local_minutes), np.int64)
    utc, missing, twice = local_to_utc_minutes(local_minutes[naive], timezone)
    result[naive] = utc
    rows = np.flatnonzero(naive)
    _report_wall_times(np.isin(np.arange(len(result)), rows[missing]), np.isin(np.arange(len(result)), rows[twice]),
                       local_minutes, timezone, name, problems, line_offset)
    if not naive.all():
        shift = np.array([_offset_minutes(t) if t else 0 for t in offset_texts] + [0], np.int64)
        # UTC offsets in use run from −12:00 to +14:00; +25:00 would land the row a day away.
        beyond = (np.abs(shift) > MAX_OFFSET_MINUTES)[offsets] & ~naive
        raw = text.to_numpy(zero_copy_only=False) if beyond.any() else raw
        _report(beyond & matched & valid_date, problems, name, line_offset,
                lambda r: f"{raw[r]!r} has a UTC offset beyond ±14:00")
        result[~naive] = (local_minutes - shift[offsets])[~naive]
    count = int(naive.sum())
    # Which rows had no offset, when some did and some did not: each account-month counts its own (see reduce).
    return result, count, None, (naive if 0 < count < len(naive) else None)


def _trimmed_stamps(text, parts, matched) -> tuple:
    """(parts, matched) of a text minute column with the whitespace around each value removed, as around an
    account and a count (``str.strip``'s characters, pyarrow's ``utf8_trim_whitespace``): a CSV written with
    padded columns (`` acme , 2019-03-01T09:00 , 5``) read its account and counts but refused its minutes. Run
    only when some value did not read as written (docs/cli.md, "Spaces around a value"); the rows keep their
    text as written for any message."""
    import pyarrow.compute as pc  # heavy (0.05 s): text only (Parquet timestamps never load it)

    trimmed = pc.utf8_trim_whitespace(text)
    if trimmed.equals(text):
        return parts, matched
    again = pc.extract_regex(trimmed, _STAMP)
    return again, pc.is_valid(again).to_numpy(zero_copy_only=False)


def _whole_minutes(ticks: np.ndarray, per_minute: int) -> tuple:
    """(each row's minute, rows with a fraction of a minute or None when there are none, where each run of one
    timestamp begins or None) of timestamps counted in a unit ``per_minute`` to the minute.

    A file written as time goes repeats each timestamp once per account: each run of one timestamp is divided
    once and the minutes are repeated over the run (two passes over the rows, not five: dividing and
    multiplying back 64-bit integers are the dearest passes). Otherwise each row is divided, and checked by
    multiplying back (numpy divides by a constant quickly, but has no fast remainder)."""
    if len(ticks) > 16 and np.count_nonzero(ticks[1:17] == ticks[:16]) >= 8:
        starts = np.flatnonzero(ticks[1:] != ticks[:-1]) + 1
        if len(starts) * 16 < len(ticks):
            starts = np.concatenate(([0], starts))
            lengths = np.diff(np.append(starts, len(ticks)))
            values = ticks[starts]
            minutes = values // per_minute
            partial = minutes * per_minute != values
            return np.repeat(minutes, lengths), np.repeat(partial, lengths) if partial.any() else None, starts
    minutes = ticks // per_minute
    return minutes, minutes * per_minute != ticks, None


def consecutive_minutes(column, runs: list) -> np.ndarray | None:
    """The UTC epoch minutes of a timestamp column with a zone and no missing value whose rows come as ``runs``
    (the rows of each account in turn) that each hold consecutive whole minutes, one a row, in order: the row
    groups of a file written account by account, minute by minute. Proven by one pass (each row one minute after
    the row before it, but where a run begins; each run's first and last row a whole minute, the last as many
    minutes after the first as the run has rows), which spares each row's division and its check by
    :func:`parse_minute_column`, and the caller's search for a minute listed twice: such runs list none, in order.
    None when the rows are not so (a gap, a minute listed twice, seconds, another column): the caller then reads
    and checks them as any other, and names what is wrong. benchmarks/README.md, "The fourteenth round"."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    kind = column.type
    if not pa.types.is_timestamp(kind) or kind.tz is None or column.null_count or not runs or min(runs) < 1 or \
            sum(runs) != len(column):
        return None
    per_minute = UNITS_PER_MINUTE[kind.unit]
    ticks = _timestamp_ticks(column)
    starts = np.cumsum([0] + runs[:-1])
    steps = np.subtract(ticks[1:], ticks[:-1])  # wraps around where the ticks are far apart: see the last rows below
    steps[starts[1:] - 1] = per_minute  # a run's first row follows another account's last
    if not (steps == per_minute).all():
        return None
    firsts, lasts = ticks[starts].tolist(), ticks[starts + np.array(runs) - 1].tolist()
    # In Python's integers: a run whose steps wrapped around 64 bits does not end where its first row and its rows say.
    if any(first % per_minute or last != first + per_minute * (rows - 1)
           for first, last, rows in zip(firsts, lasts, runs)):
        return None
    minutes = np.empty(len(ticks), np.int64)
    counting = _counting(max(runs))
    for start, rows, first in zip(starts.tolist(), runs, firsts):
        np.add(counting[:rows], first // per_minute, out=minutes[start:start + rows])
    return minutes


_COUNTING = [np.arange(0, dtype=np.int64)]


def _counting(rows: int) -> np.ndarray:
    """0, 1, ... at least ``rows`` long, made once for the longest asked (a batch's run of one account: at most
    twice ``minutes.readers.BATCH_ROWS``, 8 MiB)."""
    kept = _COUNTING[0]
    if len(kept) < rows:
        kept = _COUNTING[0] = np.arange(rows, dtype=np.int64)
    return kept


def _distinct_texts(column) -> tuple[np.ndarray, list]:
    """(each row's index into the distinct texts, the distinct texts); a missing text has the last index."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    encoded = column.dictionary_encode()
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    texts = encoded.dictionary.to_pylist()
    return encoded.indices.fill_null(len(texts)).to_numpy(zero_copy_only=False).astype(np.intp), texts


# Why a wall time without an offset cannot be placed: what every input that has one is told.
SKIPPED, REPEATED = "does not exist (the clocks moved forward)", "happens twice (the clocks moved back)"


def _report_wall_times(missing, twice, local_minutes, timezone, name, problems, line_offset) -> None:
    """Local times the clock skipped or showed twice cannot be placed without an offset."""
    for mask, why in ((missing, SKIPPED), (twice, REPEATED)):
        for row in np.flatnonzero(mask)[:MAX_REPORTED]:
            wall = dt.datetime(1970, 1, 1) + dt.timedelta(minutes=int(local_minutes[row]))
            problems.add(int(row) + 1, name, f"{wall:%Y-%m-%dT%H:%M} {why} in {timezone}: give it a UTC offset",
                         _line(int(row) + 1, line_offset))
        problems.total += max(0, int(np.sum(mask)) - MAX_REPORTED)


MAX_OFFSET_MINUTES = 14 * 60


def _offset_minutes(text: str) -> int:
    """'Z', '+08:00', '-0530' → minutes east of UTC (an offset whose minutes exceed 59 reads as beyond ±14:00)."""
    if text == "Z":
        return 0
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4])
    if minutes > 59:
        return 10 ** 6
    return (-1 if text[0] == "-" else 1) * (hours * 60 + minutes)


UNITS_PER_MINUTE = {"s": 60, "ms": 60_000, "us": 60_000_000, "ns": 60_000_000_000}


def _one_array(column):
    """A column as one Arrow array: its only chunk when it has one, so that ``to_numpy`` is a view of the
    buffer (a chunked column's ``to_numpy`` always copies)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def _timestamp_ticks(column) -> np.ndarray:
    """A timestamp column as int64 counts of its own unit (nulls as 0: the caller reports them)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    ticks = _one_array(column).view(pa.int64())
    return np.asarray((ticks.fill_null(0) if ticks.null_count else ticks).to_numpy(zero_copy_only=False), np.int64)


def _tick_text(value, unit: str, aware: bool) -> str:
    """A timestamp of the column's unit as ISO 8601 text, with its fraction of a second when there is one."""
    seconds, rest = divmod(int(value), UNITS_PER_MINUTE[unit] // 60)
    text = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)).isoformat()
    digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
    return text + (f".{rest:0{digits}d}".rstrip("0") if rest else "") + ("Z" if aware else "")


def parse_timestamp(value, timezone: str, where: str = "") -> tuple[dt.datetime, bool]:
    """One ISO 8601 timestamp → (aware datetime, whether the policy timezone was assumed).

    The message of the InputError names ``where`` when given, else only the value and what is wrong with it."""
    def refuse(why: str):
        raise InputError(f"{where}: {value!r} {why}" if where else f"{value!r} {why}")

    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            # a character that looks like a digit, a hyphen or a colon (U+2011, U+2236: a word processor's) is named,
            # as a month's or a date's is (calendar.month_problem): the text shown looks like a timestamp
            refuse(f"is not an ISO 8601 timestamp{lookalike_note(value)}")
    else:
        refuse("is not an ISO 8601 timestamp")
    if stamp.tzinfo is None:
        zone = ZoneInfo(timezone)
        placed = stamp.replace(tzinfo=zone)
        if placed.utcoffset() != stamp.replace(tzinfo=zone, fold=1).utcoffset():  # the clocks change at it
            skipped = placed.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None) != stamp
            refuse(f"{SKIPPED if skipped else REPEATED} in {timezone}: give it a UTC offset")
        return placed, True
    check_offset(stamp.utcoffset(), refuse)
    return stamp, False


def check_offset(offset: dt.timedelta | None, refuse) -> None:
    """UTC offsets in use run from −12:00 to +14:00; Python accepts up to ±23:59, which lands a time a day away."""
    if offset is not None and abs(offset) > dt.timedelta(minutes=MAX_OFFSET_MINUTES):
        refuse("has a UTC offset beyond ±14:00")
