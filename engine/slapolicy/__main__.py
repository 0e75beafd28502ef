"""``python -m slapolicy``: the ``slapolicy`` command, as the console script and ``python -m slapolicy.cli`` run it
(where the script's folder is not on ``PATH``, or to pick the interpreter)."""
import sys

from .console import main

sys.exit(main())
