"""``python -m slapolicy``: the ``slapolicy`` command, as the console script and ``python -m slapolicy.cli`` run it
(where the script's folder is not on ``PATH``, or to pick the interpreter)."""
import sys

from .errors import interruption, stopped

try:
    from .cli import main
except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C while the command's modules load, before it handles it
    if interruption(exc) is None:
        raise  # anything but a Ctrl-C (wrapped by Python 3.11 when it lands in a __set_name__) is a bug
    sys.exit(stopped(interruption(exc)))

sys.exit(main())
