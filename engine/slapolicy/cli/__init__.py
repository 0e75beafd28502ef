"""The ``slapolicy`` command: ``command`` (the parser, ``main`` and the policy commands) and
``data_commands`` (evaluate, claim, replay, audit, serve, demo)."""
from .command import main

__all__ = ["main"]
