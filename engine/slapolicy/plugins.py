"""The plugin manager: hook specifications, the built-in plugins, then every plugin of the ``slapolicy``
entry-point group.

The built-in plugins are registered by module name first, as datasette registers its
``DEFAULT_PLUGINS``: an install that lost its entry points (a copied site-packages, a zipapp,
a broken ``pip install``) would otherwise evaluate without the incident and notice facts,
excluding nothing, and pay too much without a word. Their entry points, when present, are
skipped as duplicates.

Every problem with a plugin names it: one that fails to import, or whose hook implementation
matches no hook (a misspelt ``slapolicy_windw_facts``), stops the program at start with a
:class:`~slapolicy.errors.PluginError` instead of being silently ignored (tox does the same
with ``check_pending``). A policy whose clauses test a fact that no plugin supplies is refused
before it is applied (:func:`check_facts_supplied`).

The entry points found are recorded in the user's cache (:mod:`slapolicy.cache`, folder ``plugins``), named by
every distribution's metadata folder on ``sys.path`` and its ``entry_points.txt``: a process whose installation
is unchanged loads the plugins without ``importlib.metadata`` (0.03 s of every start); installing, upgrading or
removing any distribution names the record afresh.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import json
import os
import re
import sys
import threading
import weakref
from typing import NamedTuple

import pluggy

from . import hookspecs
from .cache import distribution_folders, file_digest, read_record, write_record
from .errors import PluginError
from .forks import renewed_in_child

# Entry-point name -> module of each built-in plugin (the same pairs as pyproject.toml's entry points).
DEFAULT_PLUGINS = {
    "incidents": "slapolicy_builtins.incidents",
    "notices": "slapolicy_builtins.notices",
    "concurrency": "slapolicy_builtins.concurrency",
    "calendars": "slapolicy_builtins.calendars",
}

# Facts the engine computes itself from the minutes, not through a plugin: §5.10's failure reason.
ENGINE_FACTS = frozenset({"request.failure_reason"})

_MANAGER = None
_LOCK = threading.Lock()
renewed_in_child(sys.modules[__name__], "_LOCK")  # held while the manager is made (plugins imported)
_HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("slapolicy_"))


def _validate(manager: pluggy.PluginManager, plugin, described: str) -> None:
    """Refuse, naming the plugin, an implementation of a hook that does not exist."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        manager.unregister(plugin)
        found = re.search(r"unknown hook '([^']+)'", str(exc))
        hook = found.group(1) if found else str(exc)
        close = difflib.get_close_matches(hook, _HOOKS, n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (the hooks: {', '.join(_HOOKS)})"
        raise PluginError(f"{described} implements {hook}, which is not a slapolicy hook{hint}") from None


def _register(manager: pluggy.PluginManager, plugin, name: str, described: str) -> None:
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # a hook implementation whose arguments the hook does not have
        raise PluginError(f"{described} cannot be used: {exc}") from None
    except ValueError as exc:  # pluggy: the name or the object is registered already
        raise PluginError(f"{described} cannot be registered: {exc}") from None
    _validate(manager, plugin, described)


def _register_defaults(manager: pluggy.PluginManager) -> None:
    for name, module in DEFAULT_PLUGINS.items():
        try:
            plugin = importlib.import_module(module)
        except ImportError as exc:
            raise PluginError(f"the built-in plugin {name!r} ({module}) cannot be imported: {exc}. The installation "
                              "is incomplete; reinstall slapolicy (pip install --force-reinstall slapolicy)") from None
        _register(manager, plugin, name, f"the built-in plugin {name!r} ({module})")


GROUP = "slapolicy"
FOLDER = "plugins"  # in the user's cache: the entry points of an installation
_FORMAT = 1
# importlib.metadata's EntryPoint.pattern: a record holds only values it reads this way.
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


class EntryPoint(NamedTuple):  # a NamedTuple: a tenth of a dataclass's making at every start
    """An entry point of the ``slapolicy`` group: its name, ``module[:attribute]``, and the distribution it
    comes from (for messages)."""

    name: str
    value: str
    dist: str | None = None
    version: str | None = None

    def load(self):
        """The module or object named, as ``importlib.metadata.EntryPoint.load`` finds it."""
        found = _VALUE.match(self.value)
        module = importlib.import_module(found.group("module"))
        return functools.reduce(getattr, filter(None, (found.group("attr") or "").split(".")), module)


def _entry_points_key() -> str | None:
    """The name of the record of this installation's entry points, or None when no record may be used."""
    folders = distribution_folders()
    if folders is None:
        return None
    named = [_FORMAT, sys.version, sys.path]
    for folder in folders:
        entry_points = os.path.join(folder, "entry_points.txt")
        digest = file_digest(entry_points)
        named.append([folder, digest])
        if digest is not None and _mentions_group(entry_points):  # its name and version are in messages
            named.append([file_digest(os.path.join(folder, "METADATA")), file_digest(os.path.join(folder, "PKG-INFO"))])
    return hashlib.sha256(json.dumps(named).encode("utf-8")).hexdigest()


def _mentions_group(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return GROUP.encode() in file.read()
    except OSError:
        return True


def _recorded(content) -> list[EntryPoint] | None:
    if not (isinstance(content, list) and all(isinstance(item, list) and len(item) == 4 for item in content)):
        return None
    if not all(isinstance(name, str) and isinstance(value, str) and _VALUE.match(value)
               and all(part is None or isinstance(part, str) for part in (dist, version))
               for name, value, dist, version in content):
        return None
    return [EntryPoint(*item) for item in content]


def entry_points() -> list[EntryPoint]:
    """The entry points of the ``slapolicy`` group, in ``importlib.metadata``'s order: recorded in the user's cache
    for an unchanged installation, else found by ``importlib.metadata`` (and recorded when every value is one
    :meth:`EntryPoint.load` reads as it does)."""
    key = _entry_points_key()
    recorded = _recorded(read_record(FOLDER, key))
    if recorded is not None:
        return recorded
    from importlib import metadata  # 0.03 s with what it imports: only when the installation changed

    found = []
    for entry in metadata.entry_points(group=GROUP):
        dist = getattr(entry, "dist", None)
        found.append(EntryPoint(entry.name, entry.value, dist.name if dist else None, dist.version if dist else None))
    if all(_VALUE.match(entry.value) for entry in found):
        write_record(FOLDER, key, [[e.name, e.value, e.dist, e.version] for e in found])
    return found


def _register_entry_points(manager: pluggy.PluginManager) -> None:
    builtin = set(DEFAULT_PLUGINS.values())
    for entry in entry_points():
        if entry.value in builtin:
            continue  # registered above, by name
        described = f"plugin {entry.name!r} ({entry.value}" + (f", from {entry.dist} {entry.version})" if entry.dist else ")")
        if manager.get_plugin(entry.name) is not None:
            raise PluginError(f"{described} has the name of another plugin; rename its entry point")
        try:
            plugin = entry.load()
        except Exception as exc:  # noqa: BLE001 — whatever a third-party import raises, blame the plugin
            raise PluginError(f"{described} cannot be loaded: {type(exc).__name__}: {exc}") from None
        _register(manager, plugin, entry.name, described)


def make_manager(load_entrypoints: bool = True, extra=()) -> pluggy.PluginManager:
    """A manager with the built-in plugins, the entry points' plugins (unless ``load_entrypoints`` is False)
    and ``extra`` plugin objects or modules (for tests and services that register their own)."""
    manager = pluggy.PluginManager("slapolicy")
    manager.add_hookspecs(hookspecs)
    _register_defaults(manager)
    if load_entrypoints:
        _register_entry_points(manager)
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        # Named after its class or module, so that messages can blame it; pluggy picks a name on a clash.
        _register(manager, plugin, name if manager.get_plugin(name) is None else None, f"plugin {name!r}")
    return manager


def get_manager() -> pluggy.PluginManager:
    """The process-wide manager, built once."""
    global _MANAGER
    with _LOCK:
        if _MANAGER is None:
            _MANAGER = make_manager()
        return _MANAGER


# ---------------------------------------------------------------------------- calling the fact hooks

def fact_hook_results(manager: pluggy.PluginManager, hook: str, **kwargs) -> list[tuple[str, object]]:
    """(plugin name, result) of every implementation of a fact hook, in pluggy's calling order.

    Called one plugin at a time so that a plugin that raises, or returns what the hook does not
    allow, is named in the :class:`PluginError` instead of ending in an internal error. A window
    hook's generator is consumed here, where its exceptions happen.
    """
    caller, implementations = _implementations(manager, hook)
    if implementations is None:
        return [("(a hook wrapper)", result) for result in caller(**kwargs)]  # wrappers need pluggy's own calling
    windows = hook == "slapolicy_window_facts"
    results = []
    for function, argnames, plugin_name in implementations:
        try:
            result = function(*map(kwargs.__getitem__, argnames))
            if result is not None and windows:
                result = list(result)
        except Exception as exc:  # noqa: BLE001 — whatever a plugin raises, name the plugin
            raise PluginError(f"plugin {plugin_name!r}: {hook} raised {type(exc).__name__}: {exc}") from exc
        if windows and result is not None:
            odd = [item for item in result if not isinstance(item, hookspecs.FactWindow)]
            if odd:
                raise PluginError(f"plugin {plugin_name!r}: slapolicy_window_facts gave a {type(odd[0]).__name__}, "
                                  "not a FactWindow")
        if result is not None:
            results.append((plugin_name, result))
    return results


# manager -> {hook: (its hookimpls, resolved)}: forgotten with the manager, which a test or service may make per
# engine (docs/plugins.md); an entry holds its hookimpls, and so their plugin objects.
_RESOLVED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _implementations(manager: pluggy.PluginManager, hook: str) -> tuple:
    """The hook's caller and its implementations in calling order as (function, argument names, plugin name),
    or None when one is a wrapper. Worked out again only when the registered implementations change: the fact
    hooks are called for every account of a month."""
    caller = getattr(manager.hook, hook)
    impls = caller.get_hookimpls()
    hooks = _RESOLVED.get(manager)
    if hooks is None:
        with _LOCK:
            hooks = _RESOLVED.setdefault(manager, {})
    known = hooks.get(hook)
    if known is not None and known[0] == impls:
        return caller, known[1]
    if any(getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False) for impl in impls):
        resolved = None
    else:
        resolved = tuple((impl.function, tuple(impl.argnames), impl.plugin_name) for impl in reversed(impls))
    hooks[hook] = (impls, resolved)
    return caller, resolved


# ---------------------------------------------------------------------------- facts no plugin supplies

_CHECKED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # manager -> sha256s of the policies checked
_LAST_CHECKED: tuple = (None, None)  # the manager and sha256 checked last


def supplied_facts(manager: pluggy.PluginManager) -> dict[str, str]:
    """Fact name -> the plugin that says it supplies it (hook ``slapolicy_supplied_facts``)."""
    found = {}
    for impl in reversed(manager.hook.slapolicy_supplied_facts.get_hookimpls()):
        names = impl.function() or ()
        if isinstance(names, (str, bytes)):  # iterating it would give its letters
            raise PluginError(f"plugin {impl.plugin_name!r}: slapolicy_supplied_facts returned the string {names!r}; "
                              "return a list of fact names")
        for name in names:
            found.setdefault(str(name), impl.plugin_name)
    return found


def check_facts_supplied(policy, manager: pluggy.PluginManager) -> None:
    """Refuse a policy whose clauses test a fact that neither the engine nor any plugin supplies.

    Such a fact would take its declared default in every minute, so its clauses would always or
    never apply whatever the incidents and notices say: the money would be wrong without a word.
    Checked once per policy and manager.
    """
    global _LAST_CHECKED
    last = _LAST_CHECKED  # one read: another thread may replace it
    if last[0] is manager and last[1] == policy.sha256:  # every account of a month asks again
        return
    if policy.sha256 in _CHECKED.get(manager, ()):
        _LAST_CHECKED = (manager, policy.sha256)
        return
    from .rules.conditions import condition_facts

    supplied = set(supplied_facts(manager)) | ENGINE_FACTS
    missing: dict[str, list[str]] = {}
    for clause in policy.clauses:
        for name in sorted(condition_facts(clause.condition) - supplied):
            missing.setdefault(name, []).append(clause.ref)
    if missing:
        plugins = ", ".join(name for name, _ in manager.list_name_plugin() if name) or "none"
        lines = [f"fact {name!r} (tested by {', '.join(dict.fromkeys(refs))}) is supplied by no installed plugin"
                 for name, refs in sorted(missing.items())]
        raise PluginError(f"{policy.path}: policy {policy.id} {policy.version} cannot be applied: " + "; ".join(lines)
                          + f". Installed plugins: {plugins}. Install the plugin that supplies it: until then every "
                          "minute would take the fact's default and the clause would apply always or never")
    with _LOCK:
        _CHECKED.setdefault(manager, set()).add(policy.sha256)
    _LAST_CHECKED = (manager, policy.sha256)
