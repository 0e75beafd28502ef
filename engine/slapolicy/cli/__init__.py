"""The ``slapolicy`` command: ``command`` (the parser, ``main`` and the policy commands),
``data_commands`` (evaluate, claim, replay, audit, serve, demo) and ``guide`` (each command's examples and exit
statuses, shown by its ``--help``)."""
from __future__ import annotations

import gc
import signal
import sys

from ..distributed import own_process
from ..errors import Terminated

__all__ = ["main"]

_collector_paused = False  # by main, in a process of its own, until modules_loaded


def main(argv: list[str] | None = None) -> int:
    """The ``slapolicy`` command (the console script, and ``python -m slapolicy.cli``): its exit status. Run as a
    process of its own (``argv`` None), it first sets what only a process's owner may (``own_process``, SIGTERM
    handled as Ctrl-C is: ``terminate_as_interrupted``, the garbage collector paused while the command's modules
    load: ``modules_loaded``; ``command.main`` adds the allocator's settings); called by a program, with ``argv``,
    it changes nothing."""
    global _collector_paused
    if argv is None:
        own_process()
        terminate_as_interrupted()
        if gc.isenabled():
            gc.disable()
            _collector_paused = True
    try:
        from .command import main as run  # after the environment is set: the command's modules import numpy
    except KeyboardInterrupt as exc:  # Ctrl-C while they load (a second on a busy machine): as during the command
        return stopped(exc)
    return run(argv)


def stopped(exc: KeyboardInterrupt) -> int:
    """Say why the command stopped before its end, and its exit status: as a shell reports a process ended by the
    signal (128 + its number), so that a script or scheduler sees which, but after the work was given up cleanly."""
    if isinstance(exc, Terminated):
        sys.stderr.write("slapolicy: terminated\n")
        return 128 + signal.SIGTERM
    sys.stderr.write("slapolicy: interrupted\n")
    return 128 + signal.SIGINT


def _terminated(signum, frame):
    # A second SIGTERM ends the process at once, as without this handler: the way out if giving the work up hangs.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated()


def terminate_as_interrupted() -> None:
    """SIGTERM, what a job scheduler, ``timeout`` or ``kill`` sends, raised as :class:`Terminated`, which is a
    KeyboardInterrupt: the command gives its work up as on Ctrl-C (the minutes' reading cancelled, worker processes
    ended, no output, no ledger entry) rather than die at once, with its worker processes running on and its
    temporary files left behind. A second SIGTERM kills it as before. A SIGTERM the process was started ignoring
    stays ignored."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)


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
