"""The ``slapolicy`` command: ``command`` (the parser, ``main`` and the policy commands),
``data_commands`` (evaluate, claim, replay, audit, serve, demo) and ``guide`` (each command's examples and exit
statuses, shown by its ``--help``)."""
from __future__ import annotations

import functools
import gc
import io
import opcode  # loaded already, with dis (dataclasses' inspect): see _entered_by_call
import os
import signal
import sys
import time

from ..distributed import own_process
from ..errors import Terminated, interruption, stopped
from ..limits import limit_message

__all__ = ["main"]

_collector_paused = False  # by main, in a process of its own, until modules_loaded


def main(argv: list[str] | None = None) -> int:
    """The ``slapolicy`` command (the console script, and ``python -m slapolicy.cli``): its exit status. Run as a
    process of its own (``argv`` None), it first sets what only a process's owner may (``own_process``, Ctrl-C
    and SIGTERM raised where it is safe to: ``handle_stops``, the garbage collector paused while the command's modules
    load: ``modules_loaded``; ``command.main`` adds the allocator's settings); called by a program, with ``argv``,
    it changes nothing."""
    global _collector_paused
    try:
        if argv is None:
            own_process()
            handle_stops()
            whole_output()
            if gc.isenabled():
                gc.disable()
                _collector_paused = True
        try:
            from .command import main as run  # after the environment is set: the command's modules import numpy
        except (MemoryError, ImportError) as exc:  # a limit of the machine reached while they load (ulimit -v of 100
            if limit_message(exc) is None:         # MiB: numpy's libraries cannot be mapped), said as in the command
                raise
            sys.stderr.write(f"slapolicy: {limit_message(exc)}\n")
            return 1
        return run(argv)
    except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C outside the command's run (its modules loading, a
        if interruption(exc) is None:                 # second on a busy machine; its arguments parsed): as in it
            raise
        return stopped(interruption(exc))


class _WholeWrites(io.RawIOBase):
    """A file descriptor each write of which is written whole, or raises: a disk that fills as it is written (a
    full filesystem, a quota, RLIMIT_FSIZE) takes what fits and says so by the count write(2) returns, and Python's
    buffered writer took that short count as the whole (the command exited 0, its report cut at the 4,096th byte);
    here the rest is written again, and the error that then comes (No space left on device) is raised. Once one
    was raised (and said), or Ctrl-C stopped a write, what the buffer still holds is dropped, rather than raise it
    a second time, or wait for a reader that is not reading, as the process ends."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd, self.failed = fd, False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view) and not self.failed:
            try:
                done += os.write(self.fd, view[done:])
            except BaseException:  # a full disk, a reader gone, or Ctrl-C as the write waited for a slow reader
                self.failed = True
                raise
        return len(view)


def whole_output(stream=None):
    """Standard output (or ``stream``, a file opened for writing) remade to write every byte or raise (see
    :class:`_WholeWrites`), in UTF-8 whatever the locale says: JSON must be UTF-8 (RFC 8259), and the text's em
    dashes and § signs could not be written in a C locale with Python's UTF-8 mode off, nor under a
    PYTHONIOENCODING of ascii or latin-1 (an internal error, exit 3, nothing printed). Standard error keeps its
    encoding: Python writes what it cannot encode there as escapes. Returns the new stream (for standard output,
    also made ``sys.stdout``)."""
    own = stream is None
    stream = sys.stdout if own else stream
    if stream is None or not hasattr(stream, "fileno"):
        return stream
    stream.flush()
    made = io.TextIOWrapper(io.BufferedWriter(_WholeWrites(stream.fileno())), encoding="utf-8",
                            line_buffering=getattr(stream, "line_buffering", False))
    if own:
        sys.stdout = made
    return made


# Python 3.11's import machinery is Python code that takes the global import lock, then enters the block that gives
# it back: a KeyboardInterrupt raised between the two leaves it held by the main thread for ever, and every other
# thread that imports (a claim's reading of the minutes, while the engine's modules load) waits for it: the command
# hung on Ctrl-C (tests/test_interrupt.py). Raised in a module lock's weakref callback, it was lost.
IMPORT_MACHINERY = "<frozen importlib._bootstrap"  # and _bootstrap_external
PUT_OFF_AT_MOST = 5.0  # seconds a stop waits for the main thread to leave that machinery; then another is raised there
_put_off_since: float | None = None


def _machinery(frame) -> bool:
    return frame is not None and frame.f_code.co_filename.startswith(IMPORT_MACHINERY)


def _safe_to_raise(signum, frame) -> bool:
    """Whether a stop may be raised where the main thread runs (``frame``); if not, it is raised as soon as the main
    thread leaves Python's import machinery or runs other code from it (a module's own, a finder's), by a profile
    function of the main thread (:func:`_put_off`): a stop sent again later (a signal, or Python's interrupt_main)
    landed in the machinery's stat or read each time, the system call it interrupts. A stop that lands inside an import
    a call started (:func:`_inside_called_import`), in the machinery or in a finder it runs, is put off too, until that
    import has returned. A stop that comes when one has been put off for more than PUT_OFF_AT_MOST is raised where
    the thread is (the machinery never left: a hang)."""
    global _put_off_since
    if not _machinery(frame) and not _inside_called_import(frame):
        _put_off_since = None
        return True
    now = time.monotonic()
    _put_off_since = _put_off_since or now
    if now - _put_off_since > PUT_OFF_AT_MOST:
        _put_off_since = None
        return True
    if not _pending():  # a stop already put off is raised first, in a moment: this one adds nothing to it
        sys.setprofile(functools.partial(_put_off, signum, sys.getprofile()))
    return False


def _pending() -> bool:
    profile = sys.getprofile()
    return isinstance(profile, functools.partial) and profile.func is _put_off


def _put_off(signum, before, frame, event, arg):
    """The main thread's profile function while a stop is put off: the stop is raised on the first event (a call, a
    return, a call of a C function or its return) of code outside the machinery and outside any import a call
    started, or on the return from the machinery to an import statement (raised there, as the import's error).
    The call of a signal handler of this module is none: it runs where the main thread was, in the machinery (a
    second stop)."""
    if frame.f_code in _STOPPING:
        return
    if event == "return" and _machinery(frame):
        back = frame.f_back
        leaving = back is not None and not _machinery(back) and not _entered_by_call(frame) and \
            not _inside_called_import(back)
    else:
        leaving = not _machinery(frame) and not _inside_called_import(frame)
    if leaving:
        _raise_stop(signum)


def _raise_stop(signum):
    global _put_off_since
    if _pending():  # raised now, by the profile function or after PUT_OFF_AT_MOST: never a second time
        sys.setprofile(sys.getprofile().args[1])
    _put_off_since = None  # a stop that comes later is put off for PUT_OFF_AT_MOST again, not raised in the machinery
    # A second one ends the process at once, as without this handler: the way out if giving the work up hangs.
    signal.signal(signum, signal.SIG_DFL)
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)


# The machinery's functions that the interpreter's import, in C, calls (PyImport_ImportModuleLevelObject): for an
# import statement (`import x`, `from x import y`: what they raise is raised in the statement's frame), or for C code
# (PyImport_ImportModule), which may take what they raised for the module missing and drop it.
_ENTERED_FROM_C = frozenset({"_find_and_load", "_handle_fromlist", "_lock_unlock_module"})
_IMPORT_STATEMENT = frozenset(opcode.opmap[name] for name in ("IMPORT_NAME", "IMPORT_FROM") if name in opcode.opmap)


def _entered_by_call(frame) -> bool:
    """Whether ``frame``, of the machinery, was entered by a call (of C code, or ``__import__``) from the Python
    frame below it, not by an import statement there."""
    back = frame.f_back
    if back is None or frame.f_code.co_name not in _ENTERED_FROM_C or _machinery(back):
        return False
    code = back.f_code.co_code
    return not (0 <= back.f_lasti < len(code) and code[back.f_lasti] in _IMPORT_STATEMENT)


def _inside_called_import(frame) -> bool:
    """Whether ``frame`` runs inside an import that a call started (:func:`_entered_by_call`): pyarrow's C++ looks for
    pandas (PyImport_ImportModule, once a process, at the first array it turns into numpy's: a billing's column) and
    takes any exception for pandas missing. A Ctrl-C raised anywhere inside that import (in the machinery, in a
    finder on sys.meta_path, or as the machinery returned to pyarrow) was dropped with it, the SIGINT handler
    already set back to the default: the command read on and exited 0 with its whole report (tests/test_interrupt.py;
    tests/test_orchestrator.py's Ctrl-C test at nice 19 beside a CPU hog). Put off, it is raised once the import has
    returned, in the Python code that made the call."""
    while frame is not None:
        if _machinery(frame) and _entered_by_call(frame):
            return True
        frame = frame.f_back
    return False


def _interrupted(signum, frame):
    if _safe_to_raise(signum, frame):
        _raise_stop(signum)


_terminated = _interrupted  # SIGTERM and SIGHUP: Terminated
_STOPPING = frozenset(f.__code__ for f in (_interrupted, _safe_to_raise, _machinery, _pending, _raise_stop,
                                          _inside_called_import, _entered_by_call))


def handle_stops() -> None:
    """Ctrl-C raised as KeyboardInterrupt and SIGTERM as :class:`Terminated` (``terminate_as_interrupted``), each
    as soon as the main thread runs outside Python's import machinery, never inside it (see IMPORT_MACHINERY); a
    second one ends the process at once. A signal the process was started ignoring stays ignored (a command
    started in the background by a shell ignores Ctrl-C)."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
    terminate_as_interrupted()


def terminate_as_interrupted() -> None:
    """SIGTERM, what a job scheduler, ``timeout`` or ``kill`` sends, raised as :class:`Terminated`, which is a
    KeyboardInterrupt: the command gives its work up as on Ctrl-C (the minutes' reading cancelled, worker processes
    ended, no output, no ledger entry) rather than die at once, with its worker processes running on and its
    temporary files left behind. A second SIGTERM kills it as before. A SIGTERM the process was started ignoring
    stays ignored. SIGHUP (the terminal closed, ``kill -HUP``; ``nohup`` ignores it) likewise: it killed the command
    on the spot, its --output's or new ledger's scratch file left behind and its worker processes reading on."""
    for stop in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(stop) is signal.SIG_DFL:
            signal.signal(stop, _terminated)


def modules_loaded() -> None:
    """Run the garbage collector again, once the command's modules are loaded, if ``main`` paused it. What loading
    makes (modules, classes, functions, the tables they build) lives as long as the process: the ~80 collections
    that walked it as it was made freed nothing, yet cost a claim ~10 ms of CPU, most of it before its first row
    was read, with the other core idle (benchmarks/README.md). It is frozen first (``gc.freeze``), so that no
    later collection walks it again."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()
