"""The ``slapolicy`` command: ``command`` (the parser, ``main`` and the policy commands) and
``data_commands`` (evaluate, claim, replay, audit, serve, demo)."""
from __future__ import annotations

import sys

from ..distributed import one_blas_thread

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """The ``slapolicy`` command (the console script, and ``python -m slapolicy.cli``): its exit status. Run as a
    process of its own (``argv`` None), it first sets what only a process's owner may (``one_blas_thread``;
    ``command.main`` adds the allocator's settings); called by a program, with ``argv``, it changes nothing."""
    if argv is None:
        one_blas_thread()
    try:
        from .command import main as run  # after the environment is set: the command's modules import numpy
    except KeyboardInterrupt:  # Ctrl-C while they load (a second on a busy machine): as during the command
        sys.stderr.write("slapolicy: interrupted\n")
        return 130
    return run(argv)
