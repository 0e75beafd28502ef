"""The ``slapolicy`` command: ``command`` (the parser, ``main`` and the policy commands) and
``data_commands`` (evaluate, claim, replay, audit, serve, demo)."""
from __future__ import annotations

import gc
import sys

from ..distributed import one_blas_thread

__all__ = ["main"]

_collector_paused = False  # by main, in a process of its own, until modules_loaded


def main(argv: list[str] | None = None) -> int:
    """The ``slapolicy`` command (the console script, and ``python -m slapolicy.cli``): its exit status. Run as a
    process of its own (``argv`` None), it first sets what only a process's owner may (``one_blas_thread``, the
    garbage collector paused while the command's modules load: ``modules_loaded``; ``command.main`` adds the
    allocator's settings); called by a program, with ``argv``, it changes nothing."""
    global _collector_paused
    if argv is None:
        one_blas_thread()
        if gc.isenabled():
            gc.disable()
            _collector_paused = True
    try:
        from .command import main as run  # after the environment is set: the command's modules import numpy
    except KeyboardInterrupt:  # Ctrl-C while they load (a second on a busy machine): as during the command
        sys.stderr.write("slapolicy: interrupted\n")
        return 130
    return run(argv)


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
