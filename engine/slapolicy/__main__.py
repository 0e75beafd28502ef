"""``python -m slapolicy``: the ``slapolicy`` command, as the console script and ``python -m slapolicy.cli`` run it
(where the script's folder is not on ``PATH``, or to pick the interpreter)."""
import sys

try:
    from .cli import main
except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C before the command handles it: as it says it (cli.stopped)
    if not isinstance(exc, KeyboardInterrupt) and not isinstance(exc.__cause__, KeyboardInterrupt):
        raise  # Python 3.11 wraps a Ctrl-C that lands in a __set_name__ (cli.interruption); anything else is a bug
    sys.stderr.write("slapolicy: interrupted\n")
    sys.exit(130)

sys.exit(main())
