"""The plugin manager: built-in plugins without entry points, plugins blamed by name, facts no plugin supplies."""
import json
import sys

import pytest

from conftest import POLICIES, PUBLISHED, run_cli
from helpers import minute_rows, with_carrier_clause, write_csv, write_yaml

BUILTINS = {"incidents": "slapolicy_builtins.incidents", "notices": "slapolicy_builtins.notices",
            "concurrency": "slapolicy_builtins.concurrency", "calendars": "slapolicy_builtins.calendars"}


@pytest.fixture
def no_process_manager(monkeypatch):
    """The CLI builds its manager afresh in this test (and the process-wide one is restored after it)."""
    import slapolicy.plugins

    monkeypatch.setattr(slapolicy.plugins, "_MANAGER", None)


def _names(manager) -> dict:
    return {name: plugin.__name__ for name, plugin in manager.list_name_plugin() if hasattr(plugin, "__name__")}


def test_the_builtins_are_registered_once_beside_their_entry_points():
    from importlib import metadata

    from slapolicy.plugins import make_manager

    listed = {e.name: e.value for e in metadata.entry_points(group="slapolicy")}
    assert {name: listed.get(name) for name in BUILTINS} == BUILTINS  # the install has the entry points too
    names = _names(make_manager())
    assert {name: names[name] for name in BUILTINS} == BUILTINS
    assert sorted(names.values()).count("slapolicy_builtins.incidents") == 1


def test_an_install_without_entry_points_still_reads_incidents(tmp_path, monkeypatch):
    import slapolicy.plugins
    from slapolicy.api import evaluate

    monkeypatch.setattr(slapolicy.plugins, "entry_points", lambda: [])
    manager = slapolicy.plugins.make_manager()
    assert set(_names(manager)) == set(BUILTINS)
    # 30 minutes with half the calls failing, 10:00-10:29; an incident of the customer's network (§5.1) covers
    # 10:10-10:19: 10 minutes excluded, 20 unavailable.
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 30, 100, 50))
    incidents = write_yaml(tmp_path / "i.yaml", [{"id": "I-1", "start": "2019-03-12T10:10", "end": "2019-03-12T10:20",
                                                  "cause": "customer_network"}])
    (e,) = evaluate(POLICIES, minutes=minutes, month="2019-03", incidents=incidents, manager=manager)["evaluations"]
    assert (e["unavailable_minutes"], e["excluded_minutes"]) == (20, {"5.1": 10})


def test_a_builtin_module_that_is_missing_stops_the_start(monkeypatch):
    import slapolicy.plugins
    from slapolicy.errors import PluginError

    monkeypatch.setitem(slapolicy.plugins.DEFAULT_PLUGINS, "incidents", "slapolicy_builtins.lost")
    with pytest.raises(PluginError, match=r"^the built-in plugin 'incidents' \(slapolicy_builtins.lost\) cannot be "
                                          r"imported: No module named 'slapolicy_builtins.lost'. The installation is "
                                          r"incomplete; reinstall slapolicy"):
        slapolicy.plugins.make_manager()


def _install(tmp_path, monkeypatch, source: str, module: str = "carrier_plugin"):
    """A third-party distribution 'carrier-plugin 1.0' with the entry point carrier = MODULE, on sys.path."""
    site = tmp_path / "site"
    info = site / "carrier_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(source)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: carrier-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[slapolicy]\ncarrier = {module}\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, module, raising=False)
    # Whatever the test imports under that name leaves with it (another test installs its own carrier_plugin).
    monkeypatch.setitem(sys.modules, module, None)
    del sys.modules[module]


MISSPELT = '''
from slapolicy.hookspecs import hookimpl

@hookimpl
def slapolicy_windw_facts(policy, context):
    return []
'''


def test_a_third_party_plugin_with_a_misspelt_hook_is_blamed_by_name(tmp_path, monkeypatch, no_process_manager):
    _install(tmp_path, monkeypatch, MISSPELT)
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 1, 100, 2))
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 1, result.err
    assert result.err == ("slapolicy: plugin 'carrier' (carrier_plugin, from carrier-plugin 1.0) implements "
                          "slapolicy_windw_facts, which is not a slapolicy hook; did you mean slapolicy_window_facts?\n")
    assert result.out == ""


def test_a_third_party_plugin_that_fails_to_import_is_blamed_by_name(tmp_path, monkeypatch, no_process_manager):
    _install(tmp_path, monkeypatch, "RATE = 1 / 0\n")
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 1, 100, 2))
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert result.code == 1, result.err
    assert result.err == ("slapolicy: plugin 'carrier' (carrier_plugin, from carrier-plugin 1.0) cannot be loaded: "
                          "ZeroDivisionError: division by zero\n")


def test_a_plugin_that_names_its_facts_as_one_string(tmp_path):
    from slapolicy.api import evaluate
    from slapolicy.errors import PluginError
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    class Careless:
        @hookimpl
        def slapolicy_supplied_facts(self):
            return "carrier.planned_window"

    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 1, 100, 2))
    with pytest.raises(PluginError, match="slapolicy_supplied_facts returned the string 'carrier.planned_window'; "
                                          "return a list of fact names"):
        evaluate(POLICIES, minutes=minutes, month="2019-03", manager=make_manager(extra=[Careless()]))


def _carrier_draft(tmp_path):
    draft = tmp_path / "drafts" / "carrier.yaml"
    draft.parent.mkdir(exist_ok=True)
    draft.write_text(with_carrier_clause(PUBLISHED.read_text().replace("status: published", "status: draft")))
    return draft


def test_a_fact_no_plugin_supplies_is_refused_before_the_policy_is_applied(tmp_path, no_process_manager):
    draft = _carrier_draft(tmp_path)
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2024-03-03T02:50", 30, 100, 50))
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2024-03", "--policy-file", draft)
    assert result.code == 1, result.err
    assert result.err.startswith(
        f"slapolicy: {draft}: policy ccc-sla 2019-01-01 cannot be applied: fact 'carrier.planned_window' (tested by "
        "§5.13) is supplied by no installed plugin. Installed plugins: incidents, notices, concurrency, calendars. "
        "Install the plugin that supplies it")
    assert result.out == ""
    replay = run_cli("replay", POLICIES, "--minutes", minutes, "--from", "2024-03", "--to", "2024-03", "--under", draft)
    assert replay.code == 1 and "fact 'carrier.planned_window' (tested by §5.13) is supplied by no installed plugin" in replay.err


def test_the_same_fact_once_a_plugin_names_it(tmp_path):
    from slapolicy.api import evaluate
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    class Carrier:
        @hookimpl
        def slapolicy_supplied_facts(self):
            return ["carrier.planned_window"]

    draft = _carrier_draft(tmp_path)
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2024-03-03T02:50", 30, 100, 50))
    (e,) = evaluate(POLICIES, minutes=minutes, month="2024-03", policy_file=draft,
                    manager=make_manager(extra=[Carrier()]))["evaluations"]
    assert e["unavailable_minutes"] == 30  # named but no window given this month: the default (false) holds


@pytest.mark.slow
def test_a_published_version_testing_a_fact_no_plugin_supplies(tmp_path, no_process_manager):
    import hashlib
    import json
    import shutil

    from slapolicy import Engine
    from slapolicy.errors import PluginError

    family = tmp_path / "ccc"
    shutil.copytree(POLICIES, family)
    version = family / "2019-01-01.yaml"
    version.write_text(with_carrier_clause(version.read_text()))
    (family / "versions.lock").write_text(json.dumps({"2019-01-01.yaml": hashlib.sha256(version.read_bytes()).hexdigest()}))
    with pytest.raises(PluginError, match="fact 'carrier.planned_window' \\(tested by §5.13\\) is supplied by no installed plugin"):
        Engine(family)
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
                                 "channel": "work_order", "event_report": "x", "failure_records": ["c"],
                                 "unavailability": [{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T11:00+08:00"}]}))
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 60, 100, 50))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", family, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-04-10T12:00+08:00")
    assert result.code == 1, result.err
    assert "fact 'carrier.planned_window' (tested by §5.13) is supplied by no installed plugin" in result.err
    assert not ledger.exists()


@pytest.mark.parametrize("body,message", [
    ("        raise ZeroDivisionError('division by zero')\n",
     "plugin 'Broken': slapolicy_window_facts raised ZeroDivisionError: division by zero"),
    ("        yield {'start': 1}\n", "plugin 'Broken': slapolicy_window_facts gave a dict, not a FactWindow"),
])
def test_a_plugin_that_fails_inside_a_fact_hook_is_named(tmp_path, body, message):
    from slapolicy.api import evaluate
    from slapolicy.errors import PluginError
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    namespace = {"hookimpl": hookimpl}
    exec("class Broken:\n    @hookimpl\n    def slapolicy_window_facts(self, policy, context):\n" + body, namespace)
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 3, 100, 50))
    with pytest.raises(PluginError) as caught:
        evaluate(POLICIES, minutes=minutes, month="2019-03", manager=make_manager(extra=[namespace["Broken"]()]))
    assert str(caught.value) == message


def test_a_plugin_that_supplies_too_few_values_is_named(tmp_path):
    import numpy as np

    from slapolicy.api import evaluate
    from slapolicy.errors import PluginError
    from slapolicy.hookspecs import MinuteFact, hookimpl
    from slapolicy.plugins import make_manager

    class Short:
        @hookimpl(trylast=True)  # called after the built-in concurrency plugin, so its value is the one kept
        def slapolicy_minute_facts(self, policy, context, minutes):
            return {"minute.concurrency_qps": MinuteFact(np.zeros(1))}

    # 3 unavailable minutes (50 of 100 calls failed in each), one value given.
    minutes = write_csv(tmp_path / "m.csv", minute_rows("a", "2019-03-12T10:00", 3, 100, 50))
    with pytest.raises(PluginError, match="^plugin 'Short' supplied 1 values of minute.concurrency_qps for 3 minutes$"):
        evaluate(POLICIES, minutes=minutes, month="2019-03", manager=make_manager(extra=[Short()]))


def test_a_plugin_sees_the_incidents_and_notices_of_its_account_and_of_every_account(tmp_path):
    """context.incidents (and notices): the account's own and those with no account, in the order given; another
    account's never (they cannot apply to it, and a month of many accounts would pay for all of them)."""
    from slapolicy.api import evaluate
    from slapolicy.hookspecs import hookimpl
    from slapolicy.plugins import make_manager

    seen = {}

    class Spy:
        @hookimpl
        def slapolicy_window_facts(self, policy, context):
            seen[context.account] = ([i.id for i in context.incidents], [n.id for n in context.notices])
            return []

    rows = [*minute_rows("a", "2019-03-12T10:00", 2, 100, 5), *minute_rows("b", "2019-03-12T10:00", 2, 100, 5)]
    minutes = write_csv(tmp_path / "m.csv", rows)
    window = {"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T10:05+08:00"}
    incidents = tmp_path / "incidents.json"
    incidents.write_text(json.dumps([dict(window, id="B-1", cause="customer_network", account="b"),
                                     dict(window, id="ALL-1", cause="provider"),
                                     dict(window, id="A-1", cause="customer_network", account="a"),
                                     dict(window, id="ALL-2", cause="force_majeure")]))
    notices = tmp_path / "notices.json"
    notices.write_text(json.dumps([dict(window, id="N-B", kind="maintenance", published_at="2019-03-01T00:00+08:00",
                                        account="b")]))
    evaluate(POLICIES, minutes=minutes, month="2019-03", incidents=incidents, notices=notices,
             manager=make_manager(extra=[Spy()]))
    assert seen == {"a": (["ALL-1", "A-1", "ALL-2"], []), "b": (["B-1", "ALL-1", "ALL-2"], ["N-B"])}


# ---------------------------------------------------------------------------- the entry points' record

def _listed(entries) -> list:
    return [(e.name, e.value, e.dist, e.version) for e in entries]


def _truth() -> list:
    from importlib import metadata

    return [(e.name, e.value, e.dist.name, e.dist.version) for e in metadata.entry_points(group="slapolicy")]


@pytest.fixture
def plugin_records(tmp_path, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "plugins"


def test_the_importlib_metadata_backports_finder_leaves_the_record_in_use(plugin_records):
    # Dask's distributed imports the importlib_metadata backport, which puts its own finder of sys.path's
    # distributions on sys.meta_path (and leaves it there: the tests after this one run with it, as a process that
    # has used Dask does): the same distributions, found after the import system's own.
    pytest.importorskip("importlib_metadata")
    from slapolicy.plugins import entry_points

    assert any(type(f).__module__ == "importlib_metadata" for f in sys.meta_path)
    found = _listed(entry_points())
    assert found == _truth() == _listed(entry_points())
    assert len(list(plugin_records.iterdir())) == 1


def test_a_finder_offering_distributions_of_its_own_is_never_recorded_for(plugin_records, monkeypatch):
    from slapolicy.plugins import entry_points

    class Elsewhere:  # distributions from somewhere the record's name cannot see
        @staticmethod
        def find_distributions(context=None):
            return iter(())

        @staticmethod
        def find_spec(*args, **kwargs):
            return None

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Elsewhere()])
    assert _listed(entry_points()) == _truth()
    assert not plugin_records.exists()


def test_the_entry_points_recorded_are_those_importlib_metadata_finds(plugin_records):
    from slapolicy.plugins import entry_points

    assert not plugin_records.exists()
    found = _listed(entry_points())
    assert found == _truth()
    assert {(name, value) for name, value, _, _ in found} >= set(BUILTINS.items())
    (record,) = plugin_records.iterdir()
    assert json.loads(record.read_text())["content"] == [list(item) for item in found]
    assert _listed(entry_points()) == found  # read back from the record


def test_a_plugin_installed_changed_or_removed_after_the_record_is_seen(tmp_path, monkeypatch, plugin_records):
    import shutil

    from slapolicy.plugins import entry_points

    before = _listed(entry_points())
    _install(tmp_path, monkeypatch, "RATE = 1\n")
    assert _listed(entry_points()) == [("carrier", "carrier_plugin", "carrier-plugin", "1.0"), *before] == _truth()
    info = tmp_path / "site" / "carrier_plugin-1.0.dist-info"
    (info / "entry_points.txt").write_text("[slapolicy]\ncarrier = carrier_plugin:RATE\n")  # rewritten in place
    assert _listed(entry_points())[0] == ("carrier", "carrier_plugin:RATE", "carrier-plugin", "1.0")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: carrier-plugin\nVersion: 1.1\n")
    assert _listed(entry_points())[0] == ("carrier", "carrier_plugin:RATE", "carrier-plugin", "1.1")
    assert entry_points()[0].load() == 1
    shutil.rmtree(info)
    assert _listed(entry_points()) == before == _truth()
    # One record per installation seen: before, installed, entry point rewritten, version 1.1, removed (with the
    # emptied site still on sys.path, another installation than before's).
    assert len(list(plugin_records.iterdir())) == 5


def test_a_corrupt_entry_points_record_is_ignored_and_replaced(plugin_records):
    from slapolicy.plugins import entry_points

    found = _listed(entry_points())
    (record,) = plugin_records.iterdir()
    key = json.loads(record.read_text())["key"]
    for content in ([["carrier", "carrier_plugin", None]], [["carrier", "not a module!", None, None]], {"a": 1}):
        record.write_text(json.dumps({"key": key, "content": content}))
        assert _listed(entry_points()) == found
        assert json.loads(record.read_text())["content"] == [list(item) for item in found]


@pytest.mark.slow
def test_a_second_process_loads_the_plugins_without_importlib_metadata(tmp_path):
    from helpers import second_process

    script = ("import sys\nfrom slapolicy.plugins import get_manager\n"
              "names = sorted(name for name, _ in get_manager().list_name_plugin())\n"
              "print(names, 'importlib.metadata' in sys.modules)")

    names = sorted(BUILTINS)
    assert second_process(script, tmp_path) == f"{names} True\n"
    assert second_process(script, tmp_path) == f"{names} False\n"


class _Lead:
    """A policy as the notices plugin reads it: only exclusions.notice_lead_minutes."""

    def __init__(self, minutes: int):
        self.minutes = minutes

    def setting(self, *path):
        assert path == ("exclusions", "notice_lead_minutes")
        return self.minutes


def test_the_window_plugins_answer_each_account_month_and_lead_though_they_remember_windows():
    """The incident and notice plugins make a window once per incident or notice and month (every account of a
    month is handed them all again): each month, account and lead still gets its own answer."""
    import datetime as dt

    from slapolicy.calendar import calendar_month
    from slapolicy.hookspecs import EvaluationContext
    from slapolicy.inputs import Incident, Notice
    from slapolicy_builtins import incidents, notices

    sgt = dt.timezone(dt.timedelta(hours=8))
    at = lambda day, hour: dt.datetime(2019, 3, day, hour, tzinfo=sgt)  # noqa: E731
    # Across the February/March boundary (Singapore time), and one of account b's own.
    shared = Incident("I-1", dt.datetime(2019, 2, 28, 23, tzinfo=sgt), at(1, 1), "provider", None)
    own = Incident("I-2", at(5, 10), at(5, 11), "customer_network", "b")
    # Published 30 minutes before it begins: prior with no lead, not with a lead of 60 minutes.
    notice = Notice("N-1", "maintenance", at(9, 9), at(9, 9).replace(minute=30), at(9, 11), None)

    bounds = {}  # one pair of bound objects per month, as the engine hands every account of a month

    def context(account, label):
        month = calendar_month(label)
        start, end = bounds.setdefault(label, month.bounds("Asia/Singapore"))
        return EvaluationContext(account, month, start, end, (shared, own), (notice,))

    def windows(account, label, lead=0):
        found = [*incidents.slapolicy_window_facts(_Lead(lead), context(account, label)),
                 *notices.slapolicy_window_facts(_Lead(lead), context(account, label))]
        return [(w.id, w.facts) for w in found]

    maintenance = {"notice.kind": "maintenance", "notice.published_before_start": True}
    assert windows("b", "2019-03") == [("I-1", {"incident.cause": "provider"}),
                                       ("I-2", {"incident.cause": "customer_network"}), ("N-1", maintenance)]
    assert windows("a", "2019-03") == [("I-1", {"incident.cause": "provider"}), ("N-1", maintenance)]
    assert windows("a", "2019-02") == [("I-1", {"incident.cause": "provider"})]  # 23:00 to midnight of Feb 28
    assert windows("a", "2019-04") == []
    assert windows("a", "2019-03", lead=60) == [("I-1", {"incident.cause": "provider"}),
                                                ("N-1", maintenance | {"notice.published_before_start": False})]
    assert windows("a", "2019-03", lead=30) == [("I-1", {"incident.cause": "provider"}), ("N-1", maintenance)]


def test_a_plugin_registered_on_a_manager_of_ones_own_is_freed_with_the_manager():
    """The hook implementations worked out for calling a manager's fact hooks once per account are forgotten
    with the manager: a test or service that makes a manager per engine (docs/plugins.md) does not keep every
    plugin object it ever registered. The window hook answers the recorder's window (the built-in plugins none: no incident, no notice), then
    both are freed."""
    import datetime as dt
    import gc
    import types
    import weakref

    from slapolicy.hookspecs import FactWindow, hookimpl
    from slapolicy.plugins import fact_hook_results, make_manager

    start, end = dt.datetime(2019, 3, 1, tzinfo=dt.timezone.utc), dt.datetime(2019, 3, 2, tzinfo=dt.timezone.utc)
    window = FactWindow("recorder", "R-1", start, end, None, {})

    class Recorder:
        @hookimpl
        def slapolicy_window_facts(self, policy, context):
            return [window]

    recorder = Recorder()
    freed = weakref.ref(recorder)
    manager = make_manager(load_entrypoints=False, extra=[recorder])
    context = types.SimpleNamespace(incidents=(), notices=(), account="a", month_start=start, month_end=end)
    assert fact_hook_results(manager, "slapolicy_window_facts", policy=None, context=context) == [
        ("Recorder", [window]), ("notices", []), ("incidents", [])]
    del manager, recorder
    gc.collect()
    assert freed() is None
