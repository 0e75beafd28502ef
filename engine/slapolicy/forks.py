"""The locks of this process, as a fork leaves them: each made anew in the child.

``os.fork`` copies the process with one thread, the one that forked. A lock another thread held at that moment stays
held in the child, by a thread the child does not have, and the child's first call that takes it waits for ever: a
server that forks its workers after its engine served requests (gunicorn ``--preload``; multiprocessing's ``fork``)
hung in a worker on whichever lock a request of the parent held at the fork (docs/api.md, "Workers kept between calls").

The locks registered here guard Python state that is whole at every moment another thread can see it (a snapshot
swapped in one assignment; a cache looked up, then filled): made anew in the child, each is free, and the child does
again, at most, what the parent's thread had not finished. durable-rules' session is not such state (a fact asserted
and not yet retracted at the fork would stay in the child's session): its locks are held across the fork instead
(:mod:`slapolicy.rules.durable`).
"""
from __future__ import annotations

import os
import threading
import weakref

# owner (a module, a class or an object) -> the names of its attributes holding a lock. Weak: an engine made for one
# call is forgotten with it, so a long-lived process that makes one per request holds no list growing for ever.
_RENEWED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def renewed_in_child(owner, *names: str) -> None:
    """Make the locks ``owner.<name>`` (each a :class:`threading.Lock`, read by its users at each use) anew in the
    child of every fork of this process."""
    _RENEWED[owner] = names


def _renew() -> None:
    for owner, names in list(_RENEWED.items()):  # the child has one thread: nothing registers meanwhile
        for name in names:
            setattr(owner, name, threading.Lock())


if hasattr(os, "register_at_fork"):  # Windows has no fork
    os.register_at_fork(after_in_child=_renew)
