"""The plugin manager: hook specifications, then every plugin of the ``slapolicy`` entry-point group."""
from __future__ import annotations

import threading

import pluggy

from . import hookspecs

_MANAGER = None
_LOCK = threading.Lock()


def make_manager(load_entrypoints: bool = True, extra=()) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("slapolicy")
    manager.add_hookspecs(hookspecs)
    if load_entrypoints:
        manager.load_setuptools_entrypoints("slapolicy")
    for plugin in extra:
        manager.register(plugin)
    # A misspelt hook implementation (slapolicy_windw_facts) fails here, not silently.
    manager.check_pending()
    return manager


def get_manager() -> pluggy.PluginManager:
    """The process-wide manager, built once."""
    global _MANAGER
    with _LOCK:
        if _MANAGER is None:
            _MANAGER = make_manager()
        return _MANAGER
