"""versions.lock: the sha256 of every published version, so that an edit to one is caught."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

from .errors import PolicyError
from .policy import LOCK_FILE


def record_published(directory) -> list[str]:
    """Add published versions missing from the lock; refuse if a recorded one changed."""
    changed = [d for d in directory.diagnostics if d.code == "published-changed"]
    if changed:
        raise PolicyError(changed)
    lock = directory.read_lock()
    added = []
    for file in sorted(directory.path.glob("*.yaml")):
        if file.name not in lock:
            lock[file.name] = hashlib.sha256(file.read_bytes()).hexdigest()
            added.append(file.name)
    if added:
        # Write beside the lock and rename: a crash never leaves half a lock file.
        fd, tmp = tempfile.mkstemp(dir=directory.path, prefix=".versions.lock.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(sorted(lock.items())), handle, indent=2)
            handle.write("\n")
        os.replace(tmp, directory.path / LOCK_FILE)
    return added
