"""``python -m slapolicy.cli``: the ``slapolicy`` command."""
import sys

from .command import main

sys.exit(main())
