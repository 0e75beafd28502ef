"""``python -m slapolicy.cli``: the ``slapolicy`` command."""
import sys

from . import main

sys.exit(main())
