"""CLI commands over operations data: months, evaluate, claim, replay, audit, serve, demo."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from json.encoder import encode_basestring  # json's C escaping of a string (ensure_ascii=False)
from urllib.parse import unquote

from ..calendar import (MINUTES_PER_DAY, OUTSIDE_YEARS, WIDEN_MINUTES, calendar_month, in_supported_years,
                        month_problem, service_months, supported_date, written_as_month)
from ..distributed import (HELPER_TASKS, NOT_A_SCHEDULER, allow_forked_helper, end_early_helper, fork_helper_early,
                           forked_helper_allowed, is_web_address, too_many_workers)  # too_many_workers: the bound's one home (the API's workers= has it too)
from ..errors import ArgumentError, SlapolicyError, UsageError, lookalike_note, missing_extra
from ..files import OUTPUT_FULL, not_utf8, not_utf8_account, not_utf8_path, typed_number
from ..parquet_footer import accounts_in_span, one_account_each
from ..reports.text import nothing_to_evaluate, render_claim, render_evaluations, render_replay
from ..rules.durable import check_backend
from . import modules_loaded


def _date(value: str) -> dt.date:
    """A date option (``--start``, ``--term-start``, ...) written YYYY-MM-DD in the years 0002-9998; else a usage
    error, exit 2, naming the option (argparse's words), as a malformed ``--now`` or ``--workers`` is."""
    try:
        return supported_date(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def month_option(value: str) -> str:
    """A month option (``--month``, ``--from``, ``--to``) written YYYY-MM in the years 0002-9998; else a usage error,
    exit 2, naming the option (argparse's words): ``--month 2019-3`` was exit 1, as if an input were wrong."""
    problem = month_problem(value, "")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _timestamp(value: str) -> dt.datetime:
    """``--now``: an ISO 8601 timestamp with its UTC offset (argparse reports a bad one as a usage error, exit 2)."""
    try:
        now = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2024-04-08T10:00+08:00)"
                                         f"{lookalike_note(value)}") from None
    if now.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a UTC offset (e.g. 2024-04-08T10:00+08:00)")

    def refuse(why: str):
        raise argparse.ArgumentTypeError(f"{value!r} {why}")
    from ..inputs.timestamps import check_offset  # numpy with it: parsed only when --now is given (see cmd_claim)

    check_offset(now.utcoffset(), refuse)
    if not in_supported_years(now):  # 9999-12-31T23:59-14:00 overflowed in UTC: exit 3
        refuse(OUTSIDE_YEARS)
    return now


# What --minutes takes, said alike by every command that reads minutes (docs/cli.md, "Replay").
MINUTES_TAKES = ("a file (CSV, JSON Lines, Parquet) or a directory of Parquet files (hive month=/account= keys prune it), "
                 "by path or URL (s3://, gs://, file://)")
# What POLICY_DIR names, said alike by every command that takes one.
POLICY_DIR_IS = ("a policy family's directory (e.g. policies/ccc): its versions, YYYY-MM-DD.yaml, their versions.lock, "
                 "and drafts/")
# What each input holds, said alike by every command that reads it (docs/cli.md, "Evaluate a Service Month").
MINUTE_COLUMNS = "account, minute, requests, failures[, illegal_number_failures, peak_qps]"
INCIDENTS_HOLD = "list of {id, start, end, cause, account?, description?}"
NOTICES_HOLD = "list of {id, kind, published_at, start, end, account?, description?}"
BILLING_COLUMNS = "account, month, monthly_fee, offset[, service_start]"
# What --workers and --dask do for evaluate and replay: the workers read the parts and evaluate the account-months
# (docs/cli.md, "Replay"); a claim's one account-month is evaluated in the calling process.
READ_AND_EVALUATE = "read the minutes' partitions and evaluate the account-months"


def add_policy_dir(p) -> None:
    """POLICY_DIR: the family that versions, show, lock, publish, evaluate, claim, replay and serve read."""
    p.add_argument("policy_dir", type=required_path, metavar="POLICY_DIR", help=POLICY_DIR_IS)


def _add_input_options(p, minutes: str, billing: str, required: bool = True) -> None:
    """--minutes, --incidents, --notices and --billing, each saying what it holds: ``minutes`` and ``billing`` say
    what the command reads them as, or needs them for."""
    p.add_argument("--minutes", type=_named, required=required, metavar="PATH",
                   help=f"{minutes}{MINUTES_TAKES}: {MINUTE_COLUMNS}")
    p.add_argument("--incidents", type=_named, metavar="FILE", help=INCIDENTS_HOLD)
    p.add_argument("--notices", type=_named, metavar="FILE", help=NOTICES_HOLD)
    p.add_argument("--billing", type=_named, metavar="FILE", help=BILLING_COLUMNS + billing)


def _add_runner_options(p, what: str) -> None:
    # One or the other: given both, the work went to Dask and the processes asked for were silently not made
    p = p.add_mutually_exclusive_group()
    p.add_argument("--workers", type=_workers, metavar="N", help=f"{what} in N local processes (at most 4 per core)")
    p.add_argument("--dask", type=_address, metavar="ADDRESS", help=f"{what} on the Dask cluster at ADDRESS (tcp://host:8786); "
                                                    "its workers read the minutes by path or URL, so they must "
                                                    "reach the same storage, and run where this version of "
                                                    "slapolicy is installed (dask worker ADDRESS there: docs/cli.md, "
                                                    '"Replay")')


def _add_output_option(p) -> None:
    p.add_argument("--output", type=_named, metavar="FILE",
                   help="write the output to FILE instead of standard output, whole or not at all: on a problem, "
                        "Ctrl-C or a full disk FILE is left as it was")


# The format an --output file's name asks for, when --format is not given: `replay --output report.html` wrote JSON
# into report.html, which a browser shows as text.
FORMAT_OF_SUFFIX = {".html": "html", ".htm": "html", ".txt": "text", ".json": "json"}


def _add_format_option(p, choices: tuple, default: str) -> None:
    """``--format`` of a data command: ``default``, or what ``--output``'s name asks for among ``choices``
    (:func:`chosen_format`, once the arguments are parsed)."""
    named = ", ".join(f"{suffix} {fmt}" for suffix, fmt in FORMAT_OF_SUFFIX.items() if fmt in choices)
    p.add_argument("--format", choices=choices, default=None,
                   help=f"(default: {default}; with --output FILE, as its name ends: {named})")
    p.set_defaults(format_default=(default, choices))


def chosen_format(args) -> None:
    """Sets ``args.format`` of a command whose --format was left out: the format --output's name ends with, among
    the command's, else the command's default. A --format given is never overridden (--format json --output x.html)."""
    default = getattr(args, "format_default", None)
    if default is None or args.format is not None:
        return
    fmt, choices = default
    output = getattr(args, "output", None)
    if output:
        fmt = next((f for suffix, f in FORMAT_OF_SUFFIX.items()
                    if f in choices and output.lower().endswith(suffix)), fmt)
    args.format = fmt


def _workers(value: str) -> int:
    """``--workers``: a whole number of processes, at least 1 and at most 4 per core (else a usage error, exit 2)."""
    count = _whole_number(value)
    if count < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1: give at least one process")
    beyond = too_many_workers(count)
    if beyond:
        raise argparse.ArgumentTypeError(beyond)
    return count


def _checkpoint(value: str) -> dict:
    """``audit --checkpoint``: ENTRIES:HASH, else a usage error (exit 2) before the ledger is opened."""
    from ..ledger import checkpoint_argument  # sqlite3 with it: parsed only when audit is given a checkpoint

    try:
        return checkpoint_argument(value)
    except ArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("checkpoint ")) from None


def _whole_number(value: str) -> int:
    """A whole number typed as an option's value (``--workers``, ``--port``, ``--max-body``, ``--max-connections``), in the digits 0-9 only:
    ``--workers ٢`` ran two processes (Python's int() reads other scripts' digits). Else a usage error, exit 2."""
    try:
        return typed_number(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number written in the digits 0-9") from None


def _seconds(value: str) -> float:
    """``--request-timeout``, ``--answer-timeout``: a number of seconds in the digits 0-9 (float() reads other scripts' digits too)."""
    try:
        return typed_number(value, float)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds written in the digits 0-9") from None


def _named(value: str) -> str:
    """A file or directory option (``--minutes``, ``--billing``, ...): an empty value is a usage error, exit 2. An
    unset shell variable (``--billing "$BILLING"``) left billing, incidents or notices out silently, and made
    ``--minutes`` read the working directory."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path names no file; give one, or leave the option out")
    return _utf8_path(value)


named_path = _named  # a file option of a policy command (publish --ledger): the same rule


def required_path(value: str) -> str:
    """A file or directory every call needs (``POLICY_DIR``, ``CLAIM.json``, ``--under``): an empty value is a usage
    error, exit 2, never the working directory (``Path("")`` is ``.``) nor an API's words about its argument."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path names no file or directory")
    return _utf8_path(value)


def _utf8_path(value: str) -> str:
    """A path given in bytes that are not UTF-8 is a usage error, exit 2: pyarrow cannot open it, and it ended in
    exit 3 (UnicodeEncodeError) wherever it was first encoded."""
    if not_utf8(value):
        raise argparse.ArgumentTypeError(not_utf8_path(value))
    return value


def _account(value: str) -> str:
    """``--account``: a name given in bytes that are not UTF-8 is a usage error, exit 2 (it was exit 3)."""
    if not_utf8(value):
        raise argparse.ArgumentTypeError(not_utf8_account(value))
    return value


def _address(value: str) -> str:
    """``--dask``: an empty value (``--dask "$SCHEDULER"``, the variable unset) is a usage error, exit 2; it ran the
    work in this process instead, silently."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty address names no Dask scheduler; give one, or leave the option out")
    if is_web_address(value):
        raise argparse.ArgumentTypeError(f"{value} {NOT_A_SCHEDULER}")
    return value


def cmd_months(args) -> int:
    months = service_months(*_in_order(args.start, args.end, "--start", "--end"))
    if args.json:
        sys.stdout.write(json.dumps({"service_months": [m.as_dict() for m in months]}, indent=2) + "\n")
        return 0
    for month in months:
        sys.stdout.write(f"{month.start} – {month.end}  {month.days:>2} days  {month.total_minutes:>6} minutes\n")
    return 0


def _print_json(data, known: "Encoded | None" = None) -> None:
    sys.stdout.write(indented_json(data, known) + "\n")


def indented_json(data, known: "Encoded | None" = None) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=False)``, byte for byte, in half the time: json's indented
    output is written by its pure-Python encoder, a chain of generators per level (evaluate's megabyte of JSON
    took 0.04 s). Strings go through json's own C escaping; what json would write differently or refuse (NaN,
    keys that are not text, other types, cycles) is left to json itself. ``known``: the text of some of its
    dicts, written before (:class:`Encoded`)."""
    parts: list = []
    try:
        _json_value(data, parts, "\n", {} if known is None else known.keys, known)
    except (_LeftToJson, RecursionError):
        return json.dumps(data, indent=2, ensure_ascii=False)
    return "".join(parts)


class Encoded:
    """The indented JSON text of dicts that will be written inside a result at one depth (``newline``: a line
    break and the spaces of that depth), worked out before the result is whole: evaluate's accounts settled
    while the minutes are read, whose text is then written while the threads read the others. Kept by the
    dict's identity (with the dict itself, so the identity stays its own), used by :func:`indented_json` in its
    place; a dict json would write differently is not kept."""

    def __init__(self, newline: str):
        self.newline, self.texts, self.keys = newline, {}, {}

    def __call__(self, value: dict) -> None:
        parts: list = []
        try:
            _json_value(value, parts, self.newline, self.keys, None)
        except (_LeftToJson, RecursionError):
            return
        self.texts[id(value)] = (value, "".join(parts))


class _LeftToJson(Exception):
    """A value that ``indented_json`` leaves to json."""


_INFINITY = float("inf")


def _json_value(value, parts: list, newline: str, keys: dict, known: Encoded | None = None) -> None:
    """Append the JSON text of ``value``, its inner lines starting with ``newline`` and two more spaces. ``keys``:
    each key's JSON text and ": ", made once (the results repeat the same few keys thousands of times);
    ``known``: dicts whose text was written before."""
    append = parts.append
    if isinstance(value, str):
        append(encode_basestring(value))
    elif value is None:
        append("null")
    elif value is True:
        append("true")
    elif value is False:
        append("false")
    elif isinstance(value, int):
        append(int.__repr__(value))
    elif isinstance(value, float):
        if value != value or value in (_INFINITY, -_INFINITY):
            raise _LeftToJson
        append(float.__repr__(value))
    elif isinstance(value, dict):
        if not value:
            append("{}")
            return
        if known is not None and newline == known.newline:
            text = known.texts.get(id(value))
            if text is not None and text[0] is value:
                append(text[1])
                return
        inner = newline + "  "
        opening, separator = "{" + inner, "," + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _LeftToJson
            named = keys.get(key)
            if named is None:
                named = keys[key] = encode_basestring(key) + ": "
            if type(item) is str:  # most values: no call
                append(opening + named + encode_basestring(item))
            else:
                append(opening + named)
                _json_value(item, parts, inner, keys, known)
            opening = separator
        append(newline + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            append("[]")
            return
        inner = newline + "  "
        opening, separator = "[" + inner, "," + inner
        for item in value:
            append(opening)
            _json_value(item, parts, inner, keys, known)
            opening = separator
        append(newline + "]")
    else:
        raise _LeftToJson


def _emit(result, fmt: str, render_text) -> None:
    """Print a result as JSON, or as text for a person."""
    if fmt == "json":
        _print_json(result)
    else:
        sys.stdout.write(render_text(result) + "\n")


def _term(args):
    if (args.term_start is None) != (args.term_end is None):
        raise UsageError("--term-start and --term-end go together: give both or neither")
    return _in_order(args.term_start, args.term_end, "--term-start", "--term-end")


def _in_order(start: dt.date | None, end: dt.date | None, first: str, last: str) -> tuple:
    """A term's two dates, when the second is not before the first; else a usage error, exit 2, as replay's
    ``--to`` before its ``--from`` is."""
    if start is not None and end < start:
        raise UsageError(f"{last} {end} is before {first} {start}")
    return start, end


# Data commands that say when their modules are loaded (slapolicy.cli.modules_loaded): after the engine's.
LOADS_ENGINE_ITSELF = frozenset({"evaluate", "claim", "replay"})


# The modules the helper of evaluate's and replay's reading loads for itself, forked as the command begins
# (fork_reader_early): the minutes' (with numpy, loaded first here) and pyarrow's Parquet reader.
READER_MODULES = ("slapolicy.minutes.aggregates", "pyarrow._parquet")


def fork_reader_early(args) -> None:
    """Fork the helper of the command's reading of minutes as it begins (distributed.fork_helper_early): in a process
    of its own, reading a local path in this process (no --workers or --dask). numpy is loaded first, and shared with
    the helper (either side would load it, ~0.045 s); pyarrow (~0.025 s) and the minutes' modules are the helper's
    own, while this process loads the engine's modules, the policy and the incidents (benchmarks/README.md)."""
    if args.dask or (args.workers or 1) > 1 or not _parquet_here(args.minutes):
        return
    allow_forked_helper()  # one call in a process of its own: its reading may fork a helper (distributed.py)
    if not forked_helper_allowed():  # a program calling main(), or one core
        return
    months = (args.month, args.month) if args.command == "evaluate" else (args.start, args.end)
    if not _helper_may_be_used(args.minutes, *months):
        return
    import numpy  # noqa: F401 -- before the fork: see above

    fork_helper_early(READER_MODULES, ("slapolicy.minutes.aggregates", "helper_may_share", (args.minutes, *months)))


EPOCH = dt.date(1970, 1, 1)  # the day epoch minutes count from, in UTC


def _helper_may_be_used(minutes: str, first: str, last: str) -> bool:
    """Whether the early helper of a reading of the Service Months ``first`` to ``last`` may be used, as far as a
    local Parquet file's footer tells before the fork (parquet_footer.one_account_each, pure Python, ~0.3 ms): not
    for a file of fewer row groups than a reading shares (distributed.HELPER_TASKS), nor for one written as time goes
    (a row group of the months holding several accounts), whose reading is on threads; there the helper loaded
    pyarrow and planned the file for nothing, 0.04-0.09 CPU-s and ~0.01 s of the command's wall time
    (benchmarks/README.md, the thirteenth round); a directory's files are looked at alike
    (:func:`_directory_helper_may_be_used`). What the footer does not say here (bytes not understood, a file without
    the account column) is left to the helper, which plans the whole reading (minutes.aggregates.helper_may_share)."""
    try:  # in UTC, widened for the policy's zone, not known yet (as helper_may_share widens them)
        days = (calendar_month(first).start - EPOCH).days, (calendar_month(last).end - EPOCH).days + 1
    except SlapolicyError:  # said by the command itself
        return True
    span = (days[0] * MINUTES_PER_DAY - WIDEN_MINUTES, days[1] * MINUTES_PER_DAY + WIDEN_MINUTES)
    if os.path.isdir(minutes):
        return _directory_helper_may_be_used(minutes, first, last, span)
    told = one_account_each(minutes, span)
    return told is None or (told[0] >= HELPER_TASKS and told[1])


# The Parquet files of a directory whose footers the look before the fork reads at most (~0.1-0.3 ms each).
DIRECTORY_LOOK_FILES = 64


def _directory_helper_may_be_used(root: str, first: str, last: str, span: tuple) -> bool:
    """:func:`_helper_may_be_used` for a directory of Parquet files: not when a file's row groups of the months hold
    several accounts (a reading shares its tasks only when each proves its one account), nor when its files hold
    fewer row groups of the months than a reading shares. Its files as the plan lists them (names starting with `.`
    or `_` left out, `month=` directories of other months not entered), their footers read until one says no or one
    does not say (a file of an `account=` directory, without the column: the helper plans it); beyond
    DIRECTORY_LOOK_FILES files the helper plans the rest. The helper forked for a directory of 12 small files written
    as time goes loaded pyarrow and planned them for nothing (benchmarks/README.md). Read on past enough row groups
    proven: a look that stopped there forked the helper for a directory of files account by account with one written
    as time goes after them, for nothing too (0.41 against 0.30 CPU-s of evaluate), where reading 64 footers of one
    account each cost nothing measured (0.500 CPU-s either way, benchmarks/README.md)."""
    groups = looked = 0
    for here, directories, files in os.walk(root):
        directories[:] = sorted(d for d in directories if not d.startswith((".", "_")) and _month_entered(d, first, last))
        for name in sorted(files):
            if name.startswith((".", "_")) or not name.lower().endswith((".parquet", ".pq")):
                continue
            if looked == DIRECTORY_LOOK_FILES:
                return True
            looked += 1
            told = accounts_in_span(os.path.join(here, name), span)
            if told is None:
                return True
            total, proven, several = told
            if several:
                return False
            groups += total if proven else 0
    return groups >= HELPER_TASKS


def _month_entered(directory: str, first: str, last: str) -> bool:
    """Whether the plan enters ``directory``: any but a `month=` directory of a month outside ``first`` to ``last``
    (a key not written YYYY-MM is entered: the plan refuses it)."""
    key, _, value = directory.partition("=")
    value = unquote(value).strip()
    if key != "month" or not written_as_month(value):
        return True
    return first <= value <= last


def _parquet_here(minutes: str) -> bool:
    """Whether --minutes names a local directory (of Parquet files, the reading finds out) or a local Parquet file
    (named so, or starting as one): those the helper shares the reading of. A CSV or JSON Lines file is read on
    threads (the helper forked for it would only load pyarrow for nothing), a URL by workers or this process."""
    if os.path.isdir(minutes):
        return True
    if not os.path.isfile(minutes):
        return False
    if minutes.lower().endswith((".parquet", ".pq")):
        return True
    try:
        with open(minutes, "rb") as file:
            return file.read(4) == b"PAR1"
    except OSError:
        return False


def cmd_evaluate(args) -> int:
    fork_reader_early(args)
    try:
        return _evaluate(args)
    finally:
        end_early_helper()


def _evaluate(args) -> int:
    from ..engine import Engine  # loads what every data command needs: see cmd_claim

    modules_loaded()
    allow_forked_helper()  # one call in a process of its own: its reading may fork a helper (distributed.py)

    term_start, term_end = _term(args)
    # Each account's JSON is written as it is worked out while the minutes are read ({"evaluations": [...]}: an
    # account's result is two levels deep), not all of it after the reading.
    known = Encoded("\n    ") if args.format == "json" else None
    # No account: the months the minutes' month= directories name, which a --month outside them never opened, or
    # where the rows lie (those read, of every format, and a Parquet file's row groups by their minute statistics),
    # in the version's timezone.
    nothing = []
    result = Engine.for_one_call(args.policy_dir).evaluate(
        minutes=args.minutes, month=args.month, incidents=args.incidents, notices=args.notices,
        billing=args.billing, accounts=args.account, term_start=term_start,
        term_end=term_end, policy_file=args.policy_file, workers=args.workers, dask=args.dask, on_settled=known,
        on_nothing=nothing.append)
    held = "".join(nothing)
    if known is not None:
        _print_json(result, known)
        if not result["evaluations"]:  # `[]` alone left a reader of the JSON to guess why
            sys.stderr.write(f"slapolicy: {nothing_to_evaluate(args.month, held)}\n")
    else:
        _emit(result, args.format, lambda evaluated: render_evaluations(evaluated, args.policy_file, args.month, held))
    return 0


# Data commands that check the rules backend themselves (cli.command.main checks it for the others at start).
CHECKS_RULES_ITSELF = frozenset({"claim"})


def cmd_claim(args) -> int:
    from ..claims.materials import load_claim_document  # numpy with it (~0.05 s): not the parser's (--help, months)

    if os.path.isdir(args.claim) and os.path.isfile(args.policy_dir):  # the two swapped: said as publish says it
        raise SlapolicyError(f"{args.claim} is a directory and {args.policy_dir} a file: the policy family's directory "
                             f"comes first, then the claim (slapolicy claim {args.claim} {args.policy_dir})")
    try:
        claim = load_claim_document(args.claim)
    except SlapolicyError:
        check_backend()  # a durable-rules to rebuild is named first, as at every other command's start
        raise
    # One call in a process of its own: its reading ahead may share its batches with a forked copy of this process
    # (distributed.py), whose GIL is not the one this thread needs to load the engine and the policy meanwhile.
    allow_forked_helper()
    with _read_ahead(claim, args) as ahead:
        if ahead is not None:  # its digest first, while the helper reads (ReadAhead.hash_first)
            ahead.hash_first()
        # After the reading ahead starts: loading durable-rules (~0.01 s) need not come before the first row.
        check_backend()
        # The engine's modules (the policy, the plugins, the evaluation, the decision, the ledger) load while the
        # claimant's minutes are read: loaded first, they were ~0.05 s of a claim before its first row.
        from ..engine import Engine  # noqa: E402 — after the reading ahead starts (see above)

        modules_loaded()

        result = Engine.for_one_call(args.policy_dir).decide_claim(
            claim, minutes=args.minutes, incidents=args.incidents, notices=args.notices, billing=args.billing,
            ledger=args.ledger, now=args.now, where=args.claim, workers=args.workers, dask=args.dask)
    try:
        _emit(result, args.format, render_claim)
        sys.stdout.flush()  # here, not as the process ends, to say what became of the decision
    except OSError as exc:
        if exc.errno not in OUTPUT_FULL:
            raise
        raise SlapolicyError(f"cannot write the output: {exc.strerror}; the decision {result['decision_id']} is "
                             "recorded in the ledger all the same: decide the claim again to print it (the same "
                             "decision, marked repeated)") from None
    return 0


def _read_ahead(claim: dict, args):
    """The claimant's minutes read before the engine's modules and the policy load (the reading takes them when
    it finds them: :class:`~slapolicy.minutes.aggregates.ReadAhead`), when the claim names its account and Service
    Month as text and the reading runs in this process; otherwise nothing is read ahead."""
    from ..inputs.tables import account_name  # loaded by cmd_claim already (claims.materials)

    account, month = claim.get("account"), claim.get("service_month")
    if args.dask or (args.workers or 1) > 1 or not isinstance(account, str) or account_name(account) is None or \
            not isinstance(month, str):
        return contextlib.nullcontext()
    from ..minutes.aggregates import ReadAhead  # pyarrow's reader with it: the commands that read minutes

    return ReadAhead(args.minutes, [account_name(account)], month)


def cmd_replay(args) -> int:
    fork_reader_early(args)  # before replay's module, which loads most of the engine's
    try:
        return _replay(args)
    finally:
        end_early_helper()


def _replay(args) -> int:
    from ..replay import month_range  # replay's module: loaded by the replay anyway

    month_range(args.start, args.end, ("--from", "--to"), UsageError)
    from ..engine import Engine  # loads what every data command needs: see cmd_claim

    modules_loaded()
    allow_forked_helper()  # one call in a process of its own: its reading may fork a helper (distributed.py)

    def show_progress(rows):
        sys.stderr.write(f"\r\033[Kread {rows:,} minute rows")  # clear the line: a slower scan may start over
        sys.stderr.flush()

    progress = show_progress if sys.stderr.isatty() else None
    known = Encoded("\n    ") if args.format == "json" else None  # each row's JSON as it is made: see cmd_evaluate
    result = Engine.for_one_call(args.policy_dir).replay(
        minutes=args.minutes, start=args.start, end=args.end, under=args.under,
        incidents=args.incidents, notices=args.notices, billing=args.billing, workers=args.workers, dask=args.dask,
        strips=args.format == "html", progress=progress, on_settled=known)
    if progress:
        sys.stderr.write("\n")
    if args.format == "json":
        _print_json(result, known)
        if "not_replayed_note" in result:  # the JSON's "changed": 0 alone read as the amendment changing nothing
            sys.stderr.write(f"slapolicy: {result['not_replayed_note']}\n")
        if "nothing_to_replay" in result:  # as evaluate says it: the JSON's zeros left a reader to guess why
            sys.stderr.write(f"slapolicy: {result['nothing_to_replay']}\n")
    elif args.format == "html":
        from ..reports.html import render_html  # replay's page (2.3 ms with html's entities): --format html only

        sys.stdout.write(render_html(result))
    else:
        sys.stdout.write(render_replay(result) + "\n")
    return 0


def cmd_audit(args) -> int:
    from ..claims.audit import audit_failed, audit_ledger, render_audit  # audit's own module: a claim never loads it
    from ..ledger import checkpoint_text, upgrade_ledger  # sqlite3 with it: a claim loads it while its minutes are read

    if args.upgrade:
        head = upgrade_ledger(args.ledger)
        sys.stderr.write(f"{args.ledger}: upgraded to a chained ledger of {head['entries']} entries; head "
                         f"{checkpoint_text(head)}\n")
    result = audit_ledger(args.ledger, args.policies, args.checkpoint)
    _emit(result, args.format, render_audit)
    return 1 if audit_failed(result) else 0


def cmd_serve(args) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port (0 to 65535; 0 picks a free one)")
    if args.max_body < 1:
        raise UsageError(f"--max-body {args.max_body} must be at least 1 byte")
    for option, seconds in (("--request-timeout", args.request_timeout), ("--answer-timeout", args.answer_timeout)):
        if not seconds > 0:  # NaN too
            # :g, as the 408 says it: "0", not Python's "0.0" for the 0 typed
            raise UsageError(f"{option} {seconds:g} must be more than 0 seconds")
        if seconds == float("inf"):  # "inf", or a number beyond a float (1e999): no deadline at all
            raise UsageError(f"{option} {seconds:g} is no limit: give a number of seconds (a day is 86400)")
    if args.max_connections < 1:
        raise UsageError(f"--max-connections {args.max_connections} must be at least 1")
    if args.max_concurrent < 1:
        raise UsageError(f"--max-concurrent {args.max_concurrent} must be at least 1")
    try:
        from ..service import MAX_CONCURRENT, Sources, serve  # starlette and uvicorn: the serve extra, maybe not installed
    except ImportError as exc:
        raise SlapolicyError(missing_extra("serve", "serve", exc.name)) from None
    if args.max_concurrent > MAX_CONCURRENT:
        raise UsageError(f"--max-concurrent {args.max_concurrent} is more than {MAX_CONCURRENT}, the engine calls the "
                         "service runs at once at most (each holds a thread, and up to three open files of the ledger): "
                         f"{MAX_CONCURRENT} already keep a Dask cluster busy, as each call spreads its work over all of it")
    if args.ledger is None:  # said at start, not as a failed POST /v1/claims once the service is up
        from ..ledger import default_ledger_path  # sqlite3's (cmd_audit): a data command without a ledger never loads it

        default_ledger_path()
    sources = Sources(minutes=args.minutes, incidents=args.incidents, notices=args.notices, billing=args.billing)
    return serve(args.policy_dir, host=args.host, port=args.port, ledger=args.ledger, sources=sources,
                 max_body=args.max_body, request_timeout=args.request_timeout, max_connections=args.max_connections,
                 max_concurrent=args.max_concurrent, workers=args.workers, dask=args.dask,
                 answer_timeout=args.answer_timeout)


def cmd_demo(args) -> int:
    from ..demo import run_demo  # the demo's own module: no other command loads it

    return run_demo()


def add_commands(command) -> None:
    p = command("months", cmd_months, "the Service Months of a service term (§1.2) and their total minutes (§1.6)",
                "Each natural month inside the term is its own Service Month; a term starting or ending\n"
                "inside a month gives a partial first or last one. Total minutes = days × 1440.")
    p.add_argument("--start", type=_date, required=True, metavar="YYYY-MM-DD", help="first day of the service term")
    p.add_argument("--end", type=_date, required=True, metavar="YYYY-MM-DD", help="last day of the service term (inclusive)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = command("evaluate", cmd_evaluate, "evaluate a Service Month: availability, exclusions, compensation",
                "For each account: unavailable minutes (§1.5), exclusions by clause (§5), availability (§2.1),\n"
                "the standard (§2.2), the tier and the compensation (§3), with a trace citing each clause.\n"
                "Inputs: CSV, JSON Lines or Parquet (minutes, billing); YAML or JSON lists (incidents, notices).\n"
                "Timestamps without an offset are read in the policy's timezone.")
    add_policy_dir(p)
    p.add_argument("--month", type=month_option, required=True, metavar="YYYY-MM", help="the Service Month")
    _add_input_options(p, "", " (amounts need it)")
    p.add_argument("--account", type=_account, action="append", metavar="ID",
                   help="evaluate only this account; repeat it for several (default: every account)")
    p.add_argument("--term-start", type=_date, metavar="YYYY-MM-DD", help="first day of the service term (partial first month)")
    p.add_argument("--term-end", type=_date, metavar="YYYY-MM-DD", help="last day of the service term (partial last month)")
    p.add_argument("--policy-file", type=_named, metavar="F", help="evaluate under this version instead of the one in force")
    _add_runner_options(p, READ_AND_EVALUATE)
    _add_format_option(p, ("json", "text"), "json")
    _add_output_option(p)

    p = command("claim", cmd_claim, "decide a compensation claim (§3.2, §3.3, §6.1) and record it in the ledger",
                "Checks the filing window the version in force sets (claims.window_opens, window_closes, §3.2; the\n"
                "shipped policy's: after the 5th business day of the following month, until the 60th calendar day\n"
                "after the month), the channel and the materials; evaluates the month from the\n"
                "provider's records (which prevail) and lists every disagreement with the claim; applies the\n"
                "aggregate cap of §6.1 from the ledger. Deciding the same claim again returns the same decision.\n"
                "CLAIM.json: {account, service_month, filed_at, channel, event_report?, unavailability?: [{start, end}],\n"
                "failure_records?, term_start?, term_end?, claim_id?, contact?} (a field marked ? may be left out or null;\n"
                "without a material the version's claims.required_materials requires (the shipped policy's:\n"
                "event_report, unavailability and failure_records) the claim is decided incomplete, §3.3).")
    add_policy_dir(p)
    p.add_argument("claim", type=required_path, metavar="CLAIM.json", help="the claim, as above")
    _add_input_options(p, "the provider's per-minute records (they prevail): ",
                       ": needed to compute an amount (and the §6.1 cap)")
    p.add_argument("--ledger", type=_named, metavar="DB", help="SQLite ledger (default: $XDG_DATA_HOME/slapolicy/ledger.sqlite, else "
                                                        "~/.local/share/slapolicy/ledger.sqlite)")
    p.add_argument("--now", type=_timestamp, metavar="TIMESTAMP", help="the time of the decision, with offset (default: now)")
    _add_runner_options(p, "read the minutes' partitions")
    _add_format_option(p, ("json", "text"), "json")
    _add_output_option(p)

    p = command("replay", cmd_replay, "replay past Service Months under amended terms",
                "Evaluates every account and Service Month from --from to --to twice: under the version that\n"
                "was in force (baseline) and under --under (a published version or a draft), and reports per\n"
                "account and month the difference and the clauses whose change caused it, with totals.\n"
                "The minutes are read once. --format html writes one self-contained report.")
    add_policy_dir(p)
    p.add_argument("--from", dest="start", type=month_option, required=True, metavar="YYYY-MM", help="first Service Month")
    p.add_argument("--to", dest="end", type=month_option, required=True, metavar="YYYY-MM",
                   help="last Service Month (at most 1,200 months, 100 years, from --from)")
    p.add_argument("--under", type=required_path, required=True, metavar="F", help="the amended version (policy file)")
    _add_input_options(p, "minutes of every account: ", " (amounts need it)")
    _add_runner_options(p, READ_AND_EVALUATE)
    _add_format_option(p, ("json", "text", "html"), "json")
    _add_output_option(p)

    p = command("audit", cmd_audit, "check a ledger's hash chain and re-check every decision in it",
                "Checks the ledger's hash chain (every entry's hash, the sequence numbers, each grant against its\n"
                "decision, the head) and names the first broken entry; then decides every recorded claim again, in\n"
                "commit order, from the recorded claim, input files and policy directory, and reports each decision\n"
                "that would now differ (an edited published file, a changed input, a changed engine). Prints the\n"
                "head: record ENTRIES:HASH elsewhere (a ticket, another system) and give it later as\n"
                "--checkpoint, which checks that the ledger still extends it (a cut tail, a rewritten prefix or\n"
                "another ledger fails). Exit 1 when the chain is broken, the checkpoint fails, or a decision differs\n"
                "or cannot be re-checked; exit 1 with a message for a file that is not a ledger. A keyed ledger\n"
                "needs $SLAPOLICY_LEDGER_KEY (set but empty is a usage error).")
    p.add_argument("ledger", type=required_path, metavar="LEDGER",
                   help="a ledger written by claim or serve (SQLite; their default: ~/.local/share/slapolicy/"
                        "ledger.sqlite, or under $XDG_DATA_HOME)")
    p.add_argument("--policies", type=_named, metavar="POLICY_DIR", help="re-check against this directory instead of the recorded one")
    p.add_argument("--upgrade", action="store_true",
                   help="first chain a ledger of an earlier slapolicy (format 1) in place, in commit order")
    p.add_argument("--checkpoint", type=_checkpoint, metavar="ENTRIES:HASH",
                   help="a head recorded earlier (the entries and head audit printed): fail unless the ledger still "
                        "holds entry #ENTRIES and entries #1 to #ENTRIES hash to HASH")
    p.add_argument("--format", choices=("json", "text"), default="text", help="(default: text)")

    p = command("serve", cmd_serve, "answer over HTTP (/v1): evaluate, claims, replay, versions, policy",
                "Serves the policy directory over HTTP for services in any language (docs/service.md):\n"
                "GET /v1/health, /v1/versions, /v1/policy?month=; POST /v1/evaluate, /v1/claims, /v1/replay;\n"
                "GET /v1/claims/{decision_id}; GET /openapi.json. A version published into POLICY_DIR is\n"
                "loaded at the next request, without a restart. Needs the serve extra: pip install 'slapolicy[serve]'.")
    add_policy_dir(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_whole_number, default=8000, help="port (default 8000; 0 picks a free one, printed at start)")
    p.add_argument("--ledger", type=_named, metavar="DB", help="SQLite ledger of claim decisions (default as for claim)")
    _add_input_options(p, "the provider's minutes, read at each request for the accounts and month asked: ", "",
                       required=False)
    p.add_argument("--max-body", type=_whole_number, default=1 << 20, metavar="BYTES",
                   help="largest request body accepted (default 1048576)")
    p.add_argument("--request-timeout", type=_seconds, default=30, metavar="SECONDS",
                   help="time a client has to send a whole request, head and body (default 30; else 408 and closed)")
    p.add_argument("--answer-timeout", type=_seconds, default=60, metavar="SECONDS",
                   help="time a client has to take a whole answer once it waits for the client (default 60; else the "
                        "connection is dropped)")
    p.add_argument("--max-connections", type=_whole_number, default=256, metavar="N",
                   help="connections open at once (default 256); one more is answered 503 and closed")
    p.add_argument("--max-concurrent", type=_whole_number, default=4, metavar="N",
                   help="engine calls (evaluations, claims, replays) run at once, 1 to 40 (default 4: under one GIL "
                        "more add no speed in this process; with --dask or --workers, where the work runs elsewhere, "
                        "more keep them busy); the others wait their turn")
    _add_runner_options(p, READ_AND_EVALUATE + ", for every request,")

    command("demo", cmd_demo, "run the main jobs on the shipped policy and example data",
            "Runs, on the policy and example data shipped with slapolicy (March 2019, three accounts), each main\n"
            "command in turn, printing it before its output: validate, test, versions, evaluate, diff, evaluate\n"
            "under the example draft, replay, and two claims recorded in a ledger of its own in a temporary\n"
            "directory. It writes nothing else.")
