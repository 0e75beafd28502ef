"""The parts' summaries merged per account and Service Month (``merge``), a minute listed twice across
batches found by comparing each account's minute ranges, and the whole path (``read_minutes``: plan, map
``read_part`` over the parts where the runner runs tasks, merge). Account-months whose rows are all read
(``Settled``) are handed over while the rest are read, so that their evaluation uses a core the reading
leaves idle."""
from __future__ import annotations

import collections
import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..arrays import distinct_sorted
from ..calendar import calendar_month
from ..distributed import (BACKLOG, Background, Cancellation, Cancelled, Runner, end_early_helper, kill_early_helper,
                           plan_in_early_helper)
from ..errors import InputError, SlapolicyError
from ..forks import renewed_in_child
from ..inputs import json_lines
from ..inputs.problems import MAX_REPORTED
from ..inputs.tables import account_forms
from . import storage
from .planning import WIDEN_MINUTES, Request, footer_bytes, plan, request_for
from .readers import batch_parts, digest_input, problems_of, read_digest, text_pieces
from .reduce import (READ_PART_IMPORTS, TOTALS, checked_batches, joined, picked_batches, read_part, ready_to_fork,
                     repeats_in_batch, widened)


@dataclass
class AccountMonth:
    """What the evaluation of one account's Service Month needs: its counts and its candidate rows."""

    account: str
    month: str
    totals: object  # MonthTotals
    rows: object  # MonthMinutes


@dataclass
class MinuteAggregates:
    """The minutes of a request, reduced: per account and Service Month, counts and candidate rows."""

    months: list  # ServiceMonth, in order
    cells: dict = field(default_factory=dict)  # (account, month label) -> AccountMonth
    # Every account with rows in the months asked about: the same whatever the layout (an account seen only in
    # rows of other months was listed or not as the batch holding them was read or pruned).
    accounts: set = field(default_factory=set)
    rows_read: int = 0
    # The first and last minute (epoch minutes) of the rows read, in the months asked about or not (reduce.PartSummary)
    seen: tuple = ()
    parts: int = 0
    within_incidents: bool = False  # every row inside the provider incidents is kept (MonthMinutes says so too)
    plan: list = field(default_factory=list, repr=False)  # the Parts read
    digest: object = field(default=None, repr=False)  # read_minutes(digest=True): a call giving read_digest's value
    # read_minutes(settled=...): every cell here was handed over, as is, in one of the pieces settled (else those
    # pieces are to be dropped: a problem, or what they could not know before the end, made the result anew).
    settled: bool = False


class _Unsettled(Exception):
    """Pieces merged apart would not give what one merge gives (two batches' minute ranges of an account overlap)."""


def merge(summaries: list, months: list, parts: list, request: Request, reread: bool = True) -> MinuteAggregates:
    """The parts' summaries as one result; raises with every problem found (in file order). ``reread``: False
    raises _Unsettled where minute ranges overlap, instead of reading the parts again to name the rows."""
    # Loaded here, not with this module: a claim starts its reading ahead without them (two dataclasses, ~1.5 ms
    # before its first row); by the time anything is merged, the engine has loaded them (evaluation uses them).
    from .shapes import MonthMinutes, MonthTotals  # noqa: E402 — see above

    _raise_problems([s.problems for s in summaries])
    result = MinuteAggregates(months, parts=len(parts))
    count = len(months)
    names = distinct_sorted(np.concatenate([s.names for s in summaries] + [np.zeros(0, str)]))
    totals = np.zeros((len(names), count, TOTALS), np.int64)
    spans, candidates = [], []
    for summary in summaries:
        result.rows_read += summary.rows_read
        result.seen = widened(result.seen, summary.seen)
        if summary.totals is not None:
            totals[np.searchsorted(names, summary.names)] += summary.totals
        spans += [(np.searchsorted(names, batch), low, high) for batch, low, high in summary.spans]
        for batch, cell, *columns in summary.candidates:  # cells renamed from the batch's accounts to all of them
            at = np.searchsorted(names, batch)[cell // count] * count + cell % count
            candidates.append((at, *columns))
    if spans and _overlap(*(np.concatenate(column) for column in zip(*spans))):
        if not reread:
            raise _Unsettled()
        _repeats_across_batches(parts, request)  # raises with the rows, or finds the ranges only interleave
    has_peak = any(s.has_peak for s in summaries)
    result.within_incidents = bool(request.within or request.own_within) and not request.incident_windows
    traffic = _incident_traffic(summaries) if request.incident_windows else None
    pieces = _group_candidates(candidates)
    labels = [month.label for month in months]
    counts = totals.reshape(-1, TOTALS).tolist()  # Python ints, converted at once rather than one numpy scalar at a time
    for cell in np.flatnonzero(totals[:, :, 0].reshape(-1)).tolist():
        name, index = str(names[cell // count]), cell % count
        columns = pieces.get(cell)
        rows = MonthMinutes(*columns, has_peak, result.within_incidents) if columns else \
            MonthMinutes.empty(result.within_incidents)
        if traffic is not None:  # one month: its provider incidents' minutes with requests, counted
            rows.incident_traffic = traffic.get(name, {})
        label = labels[index]
        result.cells[(name, label)] = AccountMonth(name, label, MonthTotals(*counts[cell]), rows)
        result.accounts.add(name)
    return result


def _incident_traffic(summaries: list) -> dict:
    """account -> {(window start, end): (minutes with requests, with normal requests)}, summed over batches."""
    found: dict = {}
    for summary in summaries:
        for names, lo, hi, every, normal in summary.incident_traffic:
            windows, pairs = zip(lo.tolist(), hi.tolist()), zip(every.tolist(), normal.tolist())
            for name, window, pair in zip(names.tolist(), windows, pairs):
                counts = found.setdefault(str(name), {})
                seen = counts.get(window)
                counts[window] = pair if seen is None else (seen[0] + pair[0], seen[1] + pair[1])
    return found


def _group_candidates(candidates: list) -> dict:
    """cell -> [minute, requests, failures, illegal, peak], each in minute order."""
    if not candidates:
        return {}
    cell, *columns = (np.concatenate(column) for column in zip(*candidates))
    order = np.lexsort((columns[0], cell))
    cell, columns = cell[order], [column[order] for column in columns]
    starts = np.concatenate(([0], np.flatnonzero(cell[1:] != cell[:-1]) + 1))
    ends = np.concatenate((starts[1:], [len(cell)]))
    return {int(cell[a]): [column[a:b] for column in columns] for a, b in zip(starts, ends)}


def _overlap(account: np.ndarray, low: np.ndarray, high: np.ndarray) -> bool:
    """Whether two batches' minute ranges of one account overlap (sorted by account then first minute, any
    overlap shows between neighbours)."""
    order = np.lexsort((low, account))
    account, low, high = account[order], low[order], high[order]
    return bool(((account[1:] == account[:-1]) & (low[1:] <= high[:-1])).any())


def _raise_problems(all_problems: list) -> None:
    found = [p for p in all_problems if p is not None and p.total]
    if not found:
        return
    if len(found) == 1:
        found[0].raise_if_any()
    messages = []
    for problems in found:
        try:
            problems.raise_if_any()
        except InputError as exc:
            messages.append(str(exc))
    raise InputError("\n".join(messages))


def _repeats_across_batches(parts: list, request: Request) -> None:
    """Read the parts again, in order, marking each account's minutes: name every minute listed twice, and the row
    (and file) that listed it first.

    Only needed when two batches' minute ranges of one account overlap (rows in no order at all). A file read in
    pieces (``text_pieces``) is read here in batches that are not its pieces: a minute listed twice within one of
    them, in two pieces, was found by neither reading (and counted twice); it is looked for here, and named as one
    reading names it (``read_part``: those of every batch, else the ones across batches).
    """
    first, end = request.span
    listed: dict[str, np.ndarray] = {}
    for index, part in enumerate(parts):
        problems, within = problems_of(part), problems_of(part) if len(text_pieces(part)) > 1 else None
        found = []  # (file row, line or None, account, minute) of the repeats named, in file order
        for _, c, line_offset in checked_batches(part, request, problems):
            if c is None:
                continue
            if within is not None and not c.keys_refused:
                within.row_base, within.positions = problems.row_base, problems.positions
                repeats_in_batch(c, within, line_offset)
            inside = (c.minute >= first) & (c.minute < end)
            for code in distinct_sorted(c.account_index[inside]):
                name = str(c.accounts[code])
                rows = np.flatnonzero(inside & (c.account_index == code))
                seen = listed.setdefault(name, np.zeros(end - first, bool))
                offsets = c.minute[rows] - first
                before = np.flatnonzero(seen[offsets])
                room = max(0, MAX_REPORTED - len(found))
                for row in before[:room]:
                    at = problems.file_row(int(rows[row]) + 1)
                    found.append((at, None if line_offset is None else at + line_offset, name, int(c.minute[rows[row]])))
                problems.total += max(0, len(before) - room)  # those not named; each named is counted as it is added
                seen[offsets] = True
        if within is not None:
            within.raise_if_any()
        if found:
            earlier = _first_listed(parts[:index + 1], request, {(name, minute) for _, _, name, minute in found})
            for at, line, name, minute in found:
                file, row = earlier.get((name, minute), (None, None))
                also = "an earlier row" if row is None else problems.row(row) if file == part.name else \
                    f"row {row} of {file}"
                problems.add(at, "minute", f"minute listed twice for account {name!r} (also {also})", line)
        problems.raise_if_any()


def _first_listed(parts: list, request: Request, wanted: set) -> dict:
    """{(account, minute): (file, row)} of the first row, in file order, listing each of ``wanted`` (an error path:
    the parts are read once more, for the few repeats named, up to the batch that lists the last of them)."""
    earlier: dict = {}
    for part in parts:
        problems = problems_of(part)
        with contextlib.closing(checked_batches(part, request, problems)) as batches:  # its file closed on return
            for _, c, _ in batches:
                if c is None:
                    continue
                for name, minute in wanted - earlier.keys():
                    codes = np.flatnonzero(c.accounts == name)
                    rows = np.flatnonzero((c.minute == minute) & (c.account_index == codes[0])) if len(codes) else ()
                    if len(rows):
                        earlier[(name, minute)] = (part.name, problems.file_row(int(rows[0]) + 1))
                if len(earlier) == len(wanted):
                    return earlier
    return earlier


def read_minutes(source, months: list, policies: list, *, accounts=None, incidents=(), runner=None,
                 progress=None, digest: bool = False, cancel=None, settled: "Settled | None" = None) -> MinuteAggregates:
    """Plan, read, check and reduce the minutes of ``months`` (and ``accounts``) for ``policies``.

    In this process the parts run on every core (pyarrow and numpy release the GIL); a
    :class:`~slapolicy.distributed.Runner` with workers or a Dask address runs them there, and the
    workers read the files themselves: this process then holds only metadata and the reduced result.
    ``digest``: also hash the bytes the reading depends on (:func:`~slapolicy.minutes.readers.read_digest`, a
    claim's record), on a thread of its own while the parts are read (a claim on a file written as time goes
    reads, and hashes, all of it): ``digest`` of the result is then a call that returns it. ``cancel``: a
    :class:`~slapolicy.distributed.Cancellation` that stops the reading between its tasks (:class:`Background`).
    ``settled``: given the account-months whose rows are all read while the rest are read (:class:`Settled`), and
    closed when the reading ends, whatever the outcome; ``settled`` of the result says whether they make it up.
    """
    early = contextlib.ExitStack()
    try:
        request = request_for(months, policies[0].timezone, policies, accounts, incidents)
        runner = runner or Runner()
        ahead = ReadAhead.taken(source, request.accounts) if not runner.remote else None
        # The helper forked as the command began (the CLI's evaluate and replay), if any, plans the same tasks and
        # starts on them while this process plans (distributed.fork_helper_early); stopped if the reading is
        # cancelled before it takes it.
        if ahead is None and not runner.remote and plan_in_early_helper(helper_tasks, source, request) and cancel:
            early.enter_context(cancel.on_cancel(kill_early_helper))
        parts = plan(source, request)
        hashing = None
        if digest and isinstance(source, (str, Path)):
            # Hashed by the reading ahead since its plan, when it planned the same bytes; else here, beside the reading.
            hashing = (ahead.hashing(parts) if ahead else None) or Background(read_digest, source, parts, Cancellation())
        with hashing or contextlib.nullcontext(), \
                cancel.on_cancel(hashing.cancel) if cancel and hashing else contextlib.nullcontext():
            picked, reduced = ahead.picked(cancel, request) if ahead else (None, None)
            tasks = _tasks(parts, runner, picked)
            settling = _Settling(tasks, months, parts, request, settled) if settled is not None else None
            # A part's pieces are joined only when the settled pieces do not make the result: joined at once, the
            # 53 batches of the 500-account month by account cost ~0.03 s after the reading's last batch.
            summaries = map_parts(parts, request, runner, progress, cancel, tasks=tasks,
                                  arrived=settling.arrived if settling and settling.on else None, picked=picked,
                                  reduced=reduced, join=settling is None, pending=settled.waiting if settling else None)
        if cancel is not None:
            cancel.check()  # a second reading may follow, to name minutes listed twice across batches
        result = settling.result([s for own in summaries for s in (own if isinstance(own, list) else [own])]) \
            if settling else None
        if result is None:
            summaries = [joined(own) if isinstance(own, list) else own for own in summaries]
            result = merge(summaries, months, parts, request)
        result.plan, result.digest = parts, hashing.result if hashing else None
        return result
    finally:
        early.close()
        end_early_helper()  # one the reading did not adopt (its tasks read on threads, say), or a reading that failed
        if settled is not None:
            settled.close()


def helper_may_share(source, first: str, last: str) -> bool:
    """Whether a reading of ``source`` in the Service Months ``first`` to ``last`` (YYYY-MM) may share its tasks with
    a helper (:func:`helper_tasks`), known before the policy is: planned in UTC, the months widened by the ±14:00 an
    offset can move them (as :class:`ReadAhead` plans), each batch's row groups prove their one account. What a
    helper forked before the policy asks first (distributed.fork_helper_early): a file written as time goes is read
    on threads, and the helper ends before this process plans."""
    try:
        start, end = calendar_month(first).epoch_minutes("UTC")[0], calendar_month(last).epoch_minutes("UTC")[1]
        parts = plan(source, Request("UTC", (start - WIDEN_MINUTES, end + WIDEN_MINUTES), None))
    except SlapolicyError:  # said by the command's own reading
        return False
    return accounts_proven([piece for part in parts for piece in batch_parts(part, ())])


def helper_tasks(source, request: Request) -> tuple | None:
    """(read_part, its arguments) as :func:`read_minutes` in this process gives them to ``Runner.map`` with a helper
    (:func:`map_parts`: one task per batch, nothing read ahead), or None when it would read on threads (row groups
    that prove no one account each): what a helper forked before the plan plans itself
    (:func:`~slapolicy.distributed.plan_in_early_helper`)."""
    tasks = [piece for part in plan(source, request) for piece in batch_parts(part, ())]
    return (read_part, [(task, request) for task in tasks]) if accounts_proven(tasks) else None


def _tasks(parts: list, runner: Runner, picked: dict | None = None) -> list:
    """The parts as the tasks ``map_parts`` runs, per part: a large JSON Lines file's pieces (``text_pieces``); in
    this process also a Parquet part's batches each (those ``picked`` already, by a :class:`ReadAhead`, among
    them)."""
    return [text_pieces(part) for part in parts] if runner.remote else [batch_parts(part, picked or ()) for part in parts]


def map_parts(parts: list, request: Request, runner: Runner | None = None, progress=None, cancel=None, *,
              tasks: list | None = None, arrived=None, picked: dict | None = None, reduced: dict | None = None,
              join: bool = True, pending=None) -> list:
    """Each part read, checked and reduced where the runner runs tasks (parts held in memory stay here): a
    summary per part, in order.

    In this process each batch of a Parquet part is a task of its own (``batch_parts``), as is each piece of a
    large JSON Lines file on any runner (``text_pieces``), and a part's summary is joined from theirs: with parts
    of ~2 M rows, a thread that found no part left idled while the other read its last one (the 500-account month
    by account: 11 parts on two cores). A part with a problem in any of its batches or pieces is read again whole, so that its messages are those one reading in file order gives. ``tasks``: the
    parts' tasks as ``_tasks`` makes them; ``arrived``: called with each task's summary, in the tasks' order.
    ``picked``: {batch part: its batches} already read by a :class:`ReadAhead` (the others are read here);
    ``reduced``: {batch part: its summary} already reduced from them (the others are reduced here). ``join``: False
    leaves a part read in several pieces as the list of their summaries, for the caller to join if it needs them.
    ``pending``: how many results handed on (``arrived``) wait for work here (``Runner.map``)."""
    runner = runner or Runner()
    if runner.remote and any(part.kind == "memory" for part in parts):
        raise SlapolicyError("minutes handed in as data are read in this process: give a file path to use "
                             "workers or Dask")
    seen = [0]

    def show(summary):
        if progress:
            seen[0] += summary.rows_read
            progress(seen[0])
        if arrived:
            arrived(summary)

    pieces = tasks if tasks is not None else _tasks(parts, runner, picked)
    known = reduced or {}
    tasks = [piece for part_pieces in pieces for piece in part_pieces if piece not in known]
    early = [picked.get(task) for task in tasks] if picked else []
    arguments = (tasks, [request] * len(tasks)) + ((early,) if any(batches is not None for batches in early) else ())
    # Summaries known already are shown with the others in the tasks' order, once these are read.
    # Batches read ahead are checked here (their tables are not to be pickled): the others may be shared with a
    # forked helper (Runner.map), where the command allows one, when each row group holds one account. That reading
    # is the one the GIL held up: many small row groups, whose `minute` column slapolicy's pages decode with Python
    # between each decompression. A file written as time goes is read by pyarrow in 1 M-row groups, holding the GIL
    # seldom: it gained nothing measurable (evaluate 0.479 against 0.484 s, 8 runs), and a second process held its
    # own copy of them (the processes' resident memory summed 336-339 MB against ~220; benchmarks/README.md).
    done = iter(runner.map(read_part, *arguments, threads=True,
                           progress=show if (progress or arrived) and not known else None, cancel=cancel,
                           helper=len(arguments) == 2 and accounts_proven(tasks), pending=pending,
                           imports=READ_PART_IMPORTS, ready=ready_to_fork))
    summaries = []
    for part, part_pieces in zip(parts, pieces):
        own = [known[piece] if piece in known else next(done) for piece in part_pieces]
        if known and (progress or arrived):
            for summary in own:
                show(summary)
        if len(own) == 1:
            summaries.append(own[0])
        elif any(summary.problems.total for summary in own) or \
                not json_lines.kinds_agree([summary.kinds for summary in own]):  # a value changing kind from a piece
            # to a later one: refused as one reading refuses it, by its line
            if cancel is not None:
                cancel.check()
            # Where the tasks run: a worker's file may be one this process reaches by another path.
            summaries.append(runner.map(read_part, [part], [request], cancel=cancel)[0] if runner.remote else
                             read_part(part, request))
        else:
            summaries.append(joined(own) if join else own)
    return summaries


def accounts_proven(tasks: list) -> bool:
    """Whether every one of the tasks (Parquet batch parts) is row groups whose statistics prove their one account
    each (a file written account by account)."""
    return bool(tasks) and all(task.kind == "parquet" and task.proven and None not in task.proven for task in tasks)


class Settled:
    """The account-months of a reading whose rows are all read, handed over in pieces (each a
    :class:`MinuteAggregates` of a few accounts) while the rest are read: an account whose row groups' statistics
    prove it alone (a file written account by account) is settled once its row groups are reduced. The reading's
    thread puts, the thread that evaluates iterates until the reading ends (a wait that Ctrl-C interrupts).
    Whether the pieces make up the result is known only then: :attr:`MinuteAggregates.settled`. ``relay``: the
    reading's calls to run on the iterating thread (:class:`~slapolicy.distributed.Relay`), run while it waits."""

    def __init__(self, relay=None):
        self._ready = threading.Condition()
        self._pieces: collections.deque = collections.deque()
        self._closed = False
        self.relay = relay
        if relay is not None:
            relay.wakes(self._wake)

    def _wake(self) -> None:
        with self._ready:
            self._ready.notify()

    def waiting(self) -> int:
        """Pieces put and not yet taken by the thread that evaluates them."""
        return len(self._pieces)

    def put(self, piece: MinuteAggregates) -> None:
        with self._ready:
            self._pieces.append(piece)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()

    def __iter__(self):
        while True:
            if self.relay is not None:
                self.relay.run_posted()
            with self._ready:
                while not self._pieces and not self._closed and not (self.relay and self.relay.pending):
                    self._ready.wait()
                if not self._pieces:
                    if self._closed:
                        return
                    continue  # woken by the relay
                piece = self._pieces.popleft()
            yield piece


class _Settling:
    """Merges the tasks' summaries, as they arrive in order, into pieces of settled accounts (:class:`Settled`):
    a piece once every account of the summaries gathered has no task left to read. Only when every task's row
    groups prove their accounts (else any later task may hold any account)."""

    def __init__(self, tasks: list, months: list, parts: list, request: Request, settled: Settled):
        self.months, self.parts, self.request, self.settled = months, parts, request, settled
        self.last: dict = {}  # account -> the index of the last task that may hold it
        flat = [task for part_tasks in tasks for task in part_tasks]
        self.on = accounts_proven(flat)
        self.accounts = [set(task.proven) for task in flat] if self.on else []
        for index, names in enumerate(self.accounts):
            for name in names:
                self.last[name] = index
        self.arrivals = 0
        self.gathered: list = []  # summaries of accounts not yet settled
        self.pending: set = set()  # their accounts
        self.pieces: list = []  # (the piece, whether a summary of it had peak_qps)

    def arrived(self, summary) -> None:
        index, self.arrivals = self.arrivals, self.arrivals + 1
        if not self.on:
            return
        if summary.problems is not None and summary.problems.total:
            self.on = False  # the result will raise, or name rows read again: nothing settles
            return
        self.gathered.append(summary)
        self.pending |= self.accounts[index]
        if any(self.last[name] > index for name in self.pending):
            return
        try:
            piece = merge(self.gathered, self.months, self.parts, self.request, reread=False)
        except (_Unsettled, SlapolicyError):
            self.on = False
            return
        self.pieces.append((piece, any(s.has_peak for s in self.gathered)))
        self.gathered, self.pending = [], set()
        self.settled.put(piece)

    def result(self, summaries: list) -> MinuteAggregates | None:
        """The pieces as the reading's result (what one merge of ``summaries`` gives), or None when they are not:
        the caller merges."""
        if not self.on or self.gathered or self.arrivals != len(self.accounts):
            return None
        has_peak = any(s.has_peak for s in summaries)
        if any(peak != has_peak and any(len(cell.rows.minute) for cell in piece.cells.values())
               for piece, peak in self.pieces):
            return None  # a piece's candidate rows would say peak_qps differently than one merge does
        result = MinuteAggregates(self.months, parts=len(self.parts), settled=True)
        result.within_incidents = bool(self.request.within or self.request.own_within) and \
            not self.request.incident_windows
        for piece, _ in self.pieces:
            result.cells.update(piece.cells)
            result.accounts |= piece.accounts
            result.rows_read += piece.rows_read
            result.seen = widened(result.seen, piece.seen)
        result.cells = dict(sorted(result.cells.items()))  # in one merge's order: by account, then month
        return result


class ReadAhead:
    """The rows of some accounts read out of a local file of minutes before the policy that classifies them is
    loaded: a claim knows its account and Service Month from its document, and the decoding of every row group
    (all of them, in a file written as time goes) need not wait for the engine's modules, the policy, the
    plugins and the rules backend to load; it runs on the threads while they do (pyarrow releases the GIL).

    Started in a ``with`` block (the CLI's claim), a reading of ``source`` for the same accounts in this process
    takes it (:meth:`taken`, once): each batch it planned alike (the same row groups, read for the same accounts)
    is checked and reduced from the rows read ahead, any other batch is read as ever. The plan here is made
    without the policy's timezone, so it widens the calendar month by the ±14:00 an offset can move it: a batch
    the policy's plan leaves out is read for nothing, never used. Anything that goes wrong here (a file that is
    not Parquet, a bad row) is left to the reading that takes it, which meets it again where it always did, in
    the order of every other problem. Leaving the block cancels a reading not taken (a claim answered from the
    ledger, an error, Ctrl-C) and waits for the batches being decoded, so that none outlives the command.

    Once planned, it also hashes the bytes it reads (:func:`~slapolicy.minutes.readers.read_digest`, a claim's record), on a
    thread of its own beside the decoding: hashed once the reading that takes it had planned (as before), the 24 MB of
    a claim on the 500-account month written as time goes were ~20 ms of wall time after the last batch
    (benchmarks/README.md). The reading that takes it uses that digest when it plans the same bytes
    (:meth:`hashing`)."""

    _started: list = []  # ReadAheads inside their block, not yet taken
    _lock = threading.Lock()

    def __init__(self, source, accounts: list, month: str):
        # Loaded here, before the thread starts: loaded there, it would share the GIL with the modules this thread
        # loads next, and the decoding would start that much later.
        # (pyarrow's Parquet reader itself: a local file is read without pyarrow.parquet, planning.LocalParquet)
        import pyarrow._parquet  # noqa: F401 — heavy (0.04 s with numpy's part): the commands that read inputs

        # The accounts as the reading that takes this one asks for them (planning.request_for).
        self.source, self.accounts = source, frozenset(form for a in accounts for form in account_forms(a))
        self._cancel = Cancellation()
        # Once the reading that takes this one gives its request (picked), each batch picked is also checked and
        # reduced (read_part) as it comes, beside the decoding of the others: done after the last batch, as the
        # reading did before, the 23 of a claim by time cost ~7 ms on one core (a few rows each, in Python).
        self._request, self._unreduced, self._reduced = None, [], {}
        self._kinds: dict = {}  # piece -> the JSON kinds of its columns, filled in as it is read (reduce.read_part)
        self._reducing = threading.Lock()
        # The digest of the plan's bytes (a Background of read_digest), what it hashes (digest_input) and each file
        # as it was when planned (_file_as_read): set, or left None, before _planned is.
        self._hashing = self._hashed = self._files = None
        self._planned = threading.Event()
        self._asked = False  # whether the reading that takes this one has asked for its rows (picked): _waiting
        self._hashing_cancel = Cancellation()
        self._reading = Background(self._read, source, self.accounts, month, self._cancel)

    def _read(self, source, accounts: frozenset, month: str, cancel: Cancellation) -> dict:
        try:
            if not isinstance(source, (str, Path)) or storage.is_url(source):
                return {}, {}  # data in memory is read as it is; a URL's reading is left as it was
            try:
                first, end = calendar_month(month).epoch_minutes("UTC")
                parts = plan(source, Request("UTC", (first - WIDEN_MINUTES, end + WIDEN_MINUTES), None, accounts))
            except SlapolicyError:
                return {}, {}  # met again, and reported, by the reading that takes this one
            files = self._files = {part.path: (part.kind, _file_as_read(part.path, part.kind)) for part in parts}
            if not cancel.cancelled and not self._hashing_cancel.cancelled:
                self._hashed = digest_input(parts)
                self._hashing = Background(read_digest, source, parts, self._hashing_cancel)
        finally:
            self._planned.set()
        pieces = [piece for part in parts for piece in batch_parts(part)]
        arrivals = iter(pieces)  # the results come in the pieces' order
        self._kinds = {piece: {} for piece in pieces}
        # The batches of Parquet row groups are shared with a forked copy of this process where the command allows one
        # (the CLI's claim: Runner.map): the reading's thread here shares this process's GIL with the command's own,
        # which loads the engine's modules and the policy meanwhile. A JSON Lines file's pieces fill in ``kinds`` as
        # they are read, here: they are read on threads.
        helper = all(piece.kind == "parquet" for piece in pieces)
        if helper:
            _look_for_pandas()
        return dict(zip(pieces, Runner().map(_picked_or_none, pieces, [accounts] * len(pieces), [cancel] * len(pieces),
                                             [self._kinds[piece] for piece in pieces], threads=True, progress=lambda batches: self._arrived(next(arrivals), batches),
                                             cancel=cancel, helper=helper, pending=self._waiting, imports=READ_PART_IMPORTS,
                                             ready=ready_to_fork))), files

    def _waiting(self) -> int:
        """The results handed on that wait for work in this process, as ``Runner.map`` counts them (its ``pending``):
        every batch until the reading that takes this one asks for its rows (:meth:`picked`), so that this process's
        thread leaves them to the helper while the command's thread loads the engine's modules and the policy, with
        which it shares the GIL. Taken as they came, the batches of a claim by time (23 of 1 M rows) kept the policy
        from loading until the last of them was read, and were then reduced after it: ~0.015 s of a 0.31 s claim
        (benchmarks/README.md)."""
        return 0 if self._asked else BACKLOG

    def _arrived(self, piece, batches: list | None) -> None:
        """A piece's batches as they are picked (on the reading's thread): reduced now if the request is known."""
        if batches is None or self._cancel.cancelled:  # cancelled: its summary will not be used
            return
        with self._reducing:
            request = self._request
            if request is None:
                self._unreduced.append((piece, batches))
                return
        self._reduced[piece] = read_part(piece, request, batches, self._kinds[piece])

    @classmethod
    def taken(cls, source, accounts: frozenset | None) -> "ReadAhead | None":
        """The reading started ahead of ``source`` for exactly ``accounts``, if any; once."""
        with cls._lock:
            for ahead in cls._started:
                if ahead.source is source and ahead.accounts == accounts:
                    cls._started.remove(ahead)
                    return ahead
        return None

    def hashing(self, parts: list) -> "Background | None":
        """The digest (:func:`~slapolicy.minutes.readers.read_digest`, a Background) of ``parts``' bytes hashed here since the
        plan, when this reading planned the same bytes (:func:`~slapolicy.minutes.readers.digest_input`) of files not replaced
        since; else None (the caller hashes them, and this digest is given up: a plan in the policy's timezone may
        leave out a row group at either end of the month that this one, widened by ±14:00, reads)."""
        self._planned.wait()
        if self._hashing is None or digest_input(parts) != self._hashed or \
                any(seen is None or _file_as_read(path, kind) != seen for path, (kind, seen) in self._files.items()):
            self._hashing_cancel.cancel()
            return None
        return self._hashing

    def hash_first(self) -> None:
        """Wait, where this reading has several Parquet row groups, until their bytes are hashed (its digest, which
        the claim's record names): the command's thread calls it before it loads the engine's modules and the policy.
        Hashed beside them, the digest's thread shared the GIL with that thread, and the two cores with it and the
        helper: in 4 of 6 timelines of a claim on the 500-account month by time (23 row groups, 24 MB) it got neither
        and ended 17-22 ms after the last batch, one core idle meanwhile (benchmarks/README.md, the fifteenth round);
        hashed first (~25 ms, while the helper reads), it never did. One row group (a claim by account, no helper)
        is not waited for: its bytes are hashed in a millisecond, and its command's thread is the claim's longest
        path. A digest that fails is met again by the reading that takes this one (:meth:`hashing`)."""
        self._planned.wait()
        planned = self._hashed or []
        if self._hashing is None or any(kind != "parquet" for _, kind, _ in planned) or \
                sum(len(groups) for _, _, groups in planned) < 2:
            return
        try:
            self._hashing.result()
        except Exception:  # noqa: BLE001 -- see above
            pass

    def picked(self, cancel: Cancellation | None = None, request: Request | None = None) -> tuple[dict, dict]:
        """({batch part: its batches (see reduce.picked_batches)}, {batch part: its summary (read_part) under
        ``request``}), once every batch was read; cancelled with ``cancel``. The batches picked before the call
        are reduced here, those picked after it as they come (a summary depends on nothing but the batch part,
        its rows and the request)."""
        self._asked = True  # this process's thread now takes batches too (_waiting)
        if request is not None:
            with self._reducing:
                self._request = request
                waiting, self._unreduced = self._unreduced, []
            for piece, batches in waiting:
                if cancel is not None:
                    cancel.check()  # Ctrl-C, or another input's problem: no further piece is reduced
                self._reduced[piece] = read_part(piece, request, batches, self._kinds[piece])
        try:
            with cancel.on_cancel(self._cancel.cancel) if cancel else contextlib.nullcontext():
                found, files = self._reading.result()
        except Cancelled:
            raise
        except Exception:  # noqa: BLE001 — whatever failed here, the reading that took this one meets it again
            found, files = {}, {}
        if cancel is not None:
            cancel.check()
        # A file replaced since it was read ahead is read again: its rows read ahead are of the file it replaced.
        unchanged = {path for path, (kind, seen) in files.items()
                     if seen is not None and _file_as_read(path, kind) == seen}
        found = {piece: batches for piece, batches in found.items() if batches is not None and piece.path in unchanged}
        return found, {piece: summary for piece, summary in self._reduced.items() if piece in found}

    def __enter__(self) -> "ReadAhead":
        with self._lock:
            self._started.append(self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            if self in self._started:
                self._started.remove(self)
        # Nothing left to stop once the reading that took it has its batches, and its digest (read_minutes waits for
        # it): else (a claim answered from the ledger, an error, Ctrl-C) neither outlives the command.
        self._hashing_cancel.cancel()
        self._reading.cancel()
        if self._hashing is not None:
            # The reading's bound: each waited CANCELLED_WAIT of its own, the digest's after the reading's (60 s, both hung).
            self._hashing.cancel(by=self._reading.given_up_at)


renewed_in_child(ReadAhead, "_lock")  # taken by every reading in this process (read_minutes)


def _file_as_read(path: str, kind: str) -> object:
    """What tells a file read ahead from one that replaced it: a Parquet file's footer (its statistics and the
    places and sizes of its pages; 0.05 ms to read), a text file's inode, size and modification time."""
    if kind == "parquet":
        return footer_bytes(path)
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def _look_for_pandas() -> None:
    """pyarrow looks for pandas once a process, at its first array made from Python values and its first array
    turned into numpy's (a picked batch's rows do both): looked for before a helper is forked, so that the helper does
    not look again, and, where pandas is installed, import it a second time (as the reading's thread here does)."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    pa.array([0], pa.int64()).to_numpy()


def _picked_or_none(part, accounts: frozenset, cancel: Cancellation, kinds: dict) -> list | None:
    """A part's batches as picked_batches gives them (filling in ``kinds``); None when reading them fails (the reading
    that takes the ReadAhead reads the part again, and reports the problem where it always did) or when the ReadAhead
    is cancelled, which a text file's part (one task, however long) sees between its blocks."""
    batches = []
    try:
        for batch in picked_batches(part, accounts, kinds):
            if cancel.cancelled:
                return None
            batches.append(batch)
    except Exception:  # noqa: BLE001 — see above
        return None
    return batches
