"""Errors and diagnostics: every problem names its place (file, line, column or row)."""
from __future__ import annotations

import contextlib
import re
import shlex
import signal
import sys
from dataclasses import dataclass

# A message quotes what the user gave (a field's value, an account, a policy's value): quoted whole, a value as long
# as its file or request (megabytes) made the message as long, a terminal full of one line and every log line that
# records it. A long message has each value quoted in it beyond QUOTED_CHARS cut to that many, saying how long it
# was, and is itself cut at DETAIL_CHARS (a value not quoted, an account name in a list, say); one of LONG_DETAIL
# or less is never touched. The CLI bounds each line it writes so, and the service each problem's detail.
QUOTED_CHARS = 200
LONG_DETAIL = 1_000
DETAIL_CHARS = 16_384
# A quoted value opens after a space or a bracket, not after a letter (the closing quote of the value before it) and
# closes before one: "'a' and 'b'" holds two values, never "' and '". A value already cut (followed by its length) is
# not cut again: a message bounded where it is raised (every SlapolicyError) is bounded again where it is written
# (the CLI's lines, the service's detail), and must read the same. A value cut once is known by its own shape too
# (its first QUOTED_CHARS characters and "…"): a whole detail cut at DETAIL_CHARS may have cut its length off.
_QUOTED = (r"(?<![\w…])(?!{q}[^{q}\n]{{%d}}…{q}){q}[^{q}\n]{{%d,}}{q}(?!\w)(?! \(\d+ characters; the first \d+ shown\))"
           % (QUOTED_CHARS, QUOTED_CHARS + 1))
_LONG_QUOTED = re.compile(_QUOTED.format(q="'") + "|" + _QUOTED.format(q='"'))
_WHOLE_CUT = re.compile(r"… \(a detail of \d+ characters; the first %d shown\)\Z" % DETAIL_CHARS)


def bounded_message(detail: str) -> str:
    """``detail`` with each value quoted in it longer than QUOTED_CHARS cut to its first QUOTED_CHARS (``'xxx…'
    (500000 characters; the first 200 shown)``), and then the whole cut at DETAIL_CHARS, when it is longer than
    LONG_DETAIL (docs/cli.md, "Exit status"; docs/service.md, "Errors")."""
    if len(detail) <= LONG_DETAIL:  # quoting values of a sensible length: said as it is
        return detail

    def cut(match: re.Match) -> str:
        quoted = match.group()
        return f"{quoted[:QUOTED_CHARS + 1]}…{quoted[-1]}{_shown_of(len(quoted) - 2)}"

    detail = _LONG_QUOTED.sub(cut, detail)
    was_cut = _WHOLE_CUT.search(detail, DETAIL_CHARS)
    if len(detail) > DETAIL_CHARS and not (was_cut and was_cut.start() == DETAIL_CHARS):
        detail = f"{detail[:DETAIL_CHARS]}… (a detail of {len(detail)} characters; the first {DETAIL_CHARS} shown)"
    return detail


def _shown_of(length: int) -> str:
    return f" ({length} characters; the first {QUOTED_CHARS} shown)"


def shown_name(name: str) -> str:
    """A name listed unquoted in a message (``account(s) acme, globex have ...``) as :func:`bounded_message` shows
    a value quoted: whole up to QUOTED_CHARS, else its first QUOTED_CHARS and its length. Unquoted, a long one was
    never cut, and twenty names of a thousand characters pushed the point of the message after them (what is wrong,
    the names meant) past DETAIL_CHARS. A name holding a character that is not printable (a zero-width space, a
    right-to-left override, a control) is quoted, its escapes shown (:func:`quoted_name`): listed as written, 'acme'
    with a zero-width space read "account(s) acme have no minutes" of an account the minutes hold, and an override
    turned the rest of the message around on a terminal."""
    if not name.isprintable():
        return quoted_name(name)
    return name if len(name) <= QUOTED_CHARS else f"{name[:QUOTED_CHARS]}…{_shown_of(len(name))}"


def quoted_name(name: str) -> str:
    """``repr(name)``, cut as :func:`bounded_message` cuts a quoted value, and left alone by it: whatever quotes the
    name holds (which the pattern of a quoted value does not see through), a long one is cut where it is written."""
    return repr(name) if len(name) <= QUOTED_CHARS else f"{name[:QUOTED_CHARS] + '…'!r}{_shown_of(len(name))}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a file, printed as ``FILE:LINE:COL: severity CODE message``."""

    file: str
    line: int
    col: int
    severity: str  # "error" or "warning"
    code: str
    message: str

    def __post_init__(self):  # a policy's value as long as its file is quoted as every message's is
        object.__setattr__(self, "message", bounded_message(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity} {self.code} {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col, "severity": self.severity,
                "code": self.code, "message": self.message}


def bounded_lines(message: str) -> str:
    """``message`` with each of its lines bounded (:func:`bounded_message`): a message of several problems, one a
    line, keeps every line, as the CLI writes them."""
    if len(message) <= LONG_DETAIL:
        return message
    return "\n".join(bounded_message(line) for line in message.split("\n"))


def shell_word(path) -> str:
    """``path`` as a command a message gives to copy (``mv``, ``cp``, ``git checkout --``, ``slapolicy lock``) must
    write it for a shell to read it back: quoted where the name holds a space, a quote or a character the shell reads
    (``'policies/ccc/drafts/merge key.yaml'``), as it is elsewhere. `slapolicy validate drafts/merge key.yaml`,
    pasted, validated drafts/merge and key.yaml."""
    return shlex.quote(str(path))


def missing_extra(needs: str, extra: str, missing: str) -> str:
    """What to run when ``needs`` (a command, an option) needs one of slapolicy's extras whose module ``missing`` is
    not installed. The Python that runs slapolicy is named by its path: a bare `pip` is whichever is first on PATH
    (README.md installs into .venv, not activated), and the extra went into another Python."""
    python = shlex.quote(sys.executable)
    return (f"{needs} needs the {extra} extra ({missing} is missing), in the Python that runs slapolicy: {python} -m "
            f"pip install 'slapolicy[{extra}]' (from the repository's root: {python} -m pip install '.[{extra}]')")


class SlapolicyError(Exception):
    """A problem with the user's input or policy: the CLI prints it and exits 1.

    Its message is bounded line by line where it is made (:func:`bounded_lines`), so that a program calling the API
    gets what the CLI writes and the service answers: a value of half a megabyte (an account, a claim's field) was
    quoted whole in ``str(exc)``, and so in every log line and traceback of the program that records it."""

    def __init__(self, *args):
        if len(args) == 1 and isinstance(args[0], str):
            args = (bounded_lines(args[0]),)
        super().__init__(*args)


class PolicyError(SlapolicyError):
    """A policy file that cannot be used; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class InputError(SlapolicyError):
    """Operations data (minutes, incidents, notices, billing, claims) that cannot be used."""


class BillingNeeded(InputError):
    """A claim whose month is owed compensation, decided without the billing that gives its Monthly Service Fee
    (§1.3): nothing is decided or recorded. ``given``: whether any billing was given (then it lacks the row), so
    that `slapolicy serve`, whose client cannot give it, says how its operator does (409, not the client's 422)."""

    def __init__(self, account: str, month: str, given: bool):
        self.account, self.month = account, month
        self.needed = f"billing for account {account!r}, {month} is needed to compute the compensation"
        self.given = given
        super().__init__(f"{self.needed}: " + ("the billing given has no row for this account and month" if given
                                               else "give --billing FILE (in Python, billing=)"))

    def __reduce__(self):  # pickled (another process's error) as it was made, not from its message
        return type(self), (self.account, self.month, self.given)


class NoVersionInForce(SlapolicyError):
    """No policy version is in force for the Service Month asked about."""


class LedgerError(SlapolicyError):
    """A ledger that cannot be used: missing, not a slapolicy ledger, damaged, read-only, or keyed differently."""


class LedgerIntegrityError(LedgerError):
    """A ledger whose hash chain does not hold: an entry was edited, deleted or inserted."""


class UsageError(SlapolicyError):
    """The command line or the environment is wrong (options that go together given alone, a bad
    ``--now``, a bad ``SLAPOLICY_MAX_INPUT_BYTES``): the CLI prints it and exits 2."""


class ArgumentError(SlapolicyError, TypeError, ValueError):
    """An API call with an argument of the wrong type or form (``decide_claim(None)``, ``now`` as a
    string or without an offset, ``accounts="acme"``, ``workers="2"`` or ``0``). Also a ``TypeError``
    and a ``ValueError``, so handlers written for Python's own errors still catch it."""


class PluginError(SlapolicyError):
    """An installed plugin that cannot be used (it fails to import, implements a hook that does not
    exist, or a policy tests a fact no plugin supplies). The message names the plugin or the fact."""


class RulesBackendUnavailable(SlapolicyError):
    """durable-rules cannot be imported (on Python 3.13+: built without the one compiler flag it needs)."""


class SchedulerUnavailable(SlapolicyError):
    """The Dask scheduler named by ``--dask`` cannot be reached, no worker joins it, a worker cannot run this
    slapolicy's tasks (not installed, or another version), or the scheduler was lost during a call: the CLI exits 1 with
    it, and ``slapolicy serve`` answers 503 (the service's state, not the request's fault; try again later)."""


class WorkersLost(SlapolicyError):
    """The processes running the work ended abruptly under it: a ``workers=`` process killed (the kernel's
    out-of-memory killer picks the largest process) and one of the new processes that ran the tasks again too, or
    every Dask worker that took a task dying as it ran it (Dask's ``KilledWorker``). The machine's or the cluster's
    state, not the input's nor a bug: the CLI exits 1, ``slapolicy serve`` answers 503."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler's stop, ``timeout``, ``kill``) in a process slapolicy owns: raised where Ctrl-C's
    KeyboardInterrupt is, so that the work is given up the same way (readings cancelled, worker processes ended,
    nothing written), then said as its own (exit 143, ``slapolicy: terminated``). ``signum``: the signal, SIGTERM
    or SIGHUP (the terminal closed, ``kill -HUP``: exit 129, ``slapolicy: hung up``)."""

    def __init__(self, signum: int = 15):
        super().__init__()
        self.signum = signum


def interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that ``exc`` is, or was raised from: Python 3.11 wraps what a descriptor's
    ``__set_name__`` raises in a RuntimeError, so a Ctrl-C landing while a module defines its classes (a
    ``cached_property``) came out as one, and was reported as an internal error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__
    return None


def stopped(exc: KeyboardInterrupt) -> int:
    """Say why the command stopped before its end, and its exit status: as a shell reports a process ended by the
    signal (128 + its number), so that a script or scheduler sees which, but after the work was given up cleanly."""
    signum = getattr(exc, "signum", signal.SIGTERM) if isinstance(exc, Terminated) else signal.SIGINT
    with contextlib.suppress(OSError):  # a terminal closed (SIGHUP) takes standard error with it
        sys.stderr.write(f"slapolicy: {STOPPED_WORDS.get(signum, 'terminated')}\n")
    return 128 + signum


STOPPED_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


# ---------------------------------------------------------------------------- characters a reader cannot tell apart

def lookalike_note(value, lead: str = "; it") -> str:
    """For a value refused where an ASCII one is asked (an id, a status, a clause number, a version label, what a
    draft amends): the characters it holds that are not ASCII, each by its code point, to end the message with; ""
    for an ASCII value. Such a value looks like the one expected where the message shows both
    (``amends '2019‐01‐01', but the latest published version is '2019-01-01'``, with U+2010 HYPHENs): nothing else
    tells the reader which character to type again. ``lead``: the words before "holds"."""
    # § is a clause reference's own sign (ref: "§3.1"), the one character not ASCII that such a value holds
    odd = [char for char in dict.fromkeys(value) if not char.isascii() and char != "§"] if isinstance(value, str) else []
    if not odd:
        return ""
    more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
    return (f"{lead} holds {', '.join(map(code_point, odd[:3]))}{more}, not ASCII, which may look like the character "
            "meant: type it again")


def code_point(char: str) -> str:
    """A character as a message names it: ``U+0430 CYRILLIC SMALL LETTER A``."""
    import unicodedata  # only a message naming a character loads it

    return f"U+{ord(char):04X} {unicodedata.name(char, 'an unnamed character')}"
