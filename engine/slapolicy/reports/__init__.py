"""Reports of evaluations, claims and replays: ``text`` (the terminal) and ``html`` (one page)."""
