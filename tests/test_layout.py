"""The package's layout (docs/api.md, "The package"): data flows one way, so no module imports, at import
time, a module that imports it back; and no import inside a function hides such a cycle. A cycle would
make the import order decide which names exist, and a function-local import is where one hides."""
import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"
PACKAGE = ENGINE / "slapolicy"

# The packages whose function-local imports are checked; the flat modules beside them (engine, replay,
# distributed, service, ...) are not yet.
CHECKED = ("policy", "rules", "reports", "cli", "inputs", "minutes", "evaluation", "claims")

# What a function may import: each is heavy or optional, so importing it only when needed keeps
# `import slapolicy` and the commands that never need it fast, or working without the extra.
LAZY_ALLOWED = {
    "jsonschema": "0.1 s to import; only validation and messages need it",
    "durable": "the durable-rules C extension: only commands that match conditions load it (and it may need a rebuild)",
    "pyarrow": "the columnar readers: only commands that read inputs",
    "holidays": "250 countries' calendars: only the §3.2 claim window",
    "yaml": "PyYAML (0.015 s): a policy whose check passed is read from its record; only YAML inputs need it",
    "distributed": "the Dask extra (pip install slapolicy[dask])",
    "dask": "the Dask extra (pip install slapolicy[dask])",
    "starlette": "the serve extra (pip install slapolicy[serve])",
    "uvicorn": "the serve extra (pip install slapolicy[serve])",
    "slapolicy.service": "imports starlette at its top: the serve extra (pip install slapolicy[serve])",
    "fsspec": "object stores pyarrow cannot open itself (gs://, az://, ...): optional, with their own packages",
    # The module-level functions are thin wrappers over Engine, which builds on claims and replay; the names
    # earlier docs gave them there (slapolicy.claims.decide_claim, slapolicy.replay.replay) resolve on first use.
    "slapolicy.api": "the wrappers over Engine, above claims and replay: their old names resolve on first use",
    # The command's modules import numpy, whose OpenBLAS reads its environment once, as it loads: the CLI's main
    # sets that environment first (distributed.one_blas_thread).
    "slapolicy.cli.command": "imports numpy: the CLI's process sets its environment before it",
    # evaluate's and replay's reading helper is forked as the command begins, numpy loaded first so that both
    # processes share it (cli.data_commands.fork_reader_early; benchmarks/README.md, the twelfth round).
    "numpy": "loaded before the early helper's fork, to be shared; --help, --version, show and diff never load it",
    # The policy commands' own modules, loaded by the command that prints or writes with them (4 ms of every
    # data command's start when cli.command imported them all).
    "slapolicy.policy.publish": "publish and lock only", "slapolicy.policy.redline": "diff --format html only",
    "slapolicy.policy.render": "render only", "slapolicy.policy.terms": "show only",
    "slapolicy.reports.html": "replay --format html only",
    # Error paths' own: an account asked about and not found (the billing's name nearest in spelling, 1 ms to
    # import), an evaluation of no account (the months of the minutes' month= directories; loaded by the reading).
    "difflib": "an account asked about and not found: the name nearest in spelling",
    "slapolicy.minutes.planning": "an evaluation of no account: the months its month= directories name",
    # A claim's document is read before its reading ahead starts; the policy's package (its checks, the plugins,
    # pluggy: ~17 ms) comes after, with the engine (benchmarks/README.md, the fourteenth round's claim by time).
    "slapolicy.policy.load": "a claim's materials (§3.3) read before the policy's package loads, for what shows nothing",
    # Other commands' modules a claim never needs (with numpy.ma, 0.015 s and 3 dataclasses of its start):
    "slapolicy.policy.examples": "test, and a lint that runs the examples", "slapolicy.policy.diff": "diff only",
    "slapolicy.claims.audit": "audit only", "slapolicy.demo": "demo only",
    "slapolicy.inputs.csv_lines": "a CSV parse error's line, found on the error path only (csv, re)",
    "slapolicy.replay": "Engine.replay, and evaluate's chunks for workers",
    "importlib.resources": "the JSON Schema's file: only a policy check not yet recorded, and `slapolicy schema`",
    # A claim starts reading its minutes once its document is read; the modules its reading does not need (the
    # Engine's, the policy's, the decision's, the ledger's) load on the main thread while the minutes are read
    # (cli/data_commands.py cmd_claim): ~0.05 s of its start that no longer comes before its first row.
    "slapolicy.engine": "the data commands' orchestrator: loaded while a claim's minutes are read",
    "slapolicy.policy.directory": "a policy command's, or the Engine's: loaded while a claim's minutes are read",
    "slapolicy.policy.lint": "a policy command's, or the Engine's: loaded while a claim's minutes are read",
    "slapolicy.policy.model": "a policy command's, or the Engine's: loaded while a claim's minutes are read",
    "slapolicy.ledger": "sqlite3's: loaded while a claim's minutes are read",
    "slapolicy.minutes.aggregates": "the minutes' reading, started ahead by a claim once its document is read",
    "slapolicy.minutes.shapes": "what a merge makes: loaded while a claim's minutes are read (by the engine's modules)",
    "slapolicy.claims.window": "the package's names resolve on first use: loaded while a claim's minutes are read",
    "slapolicy.claims.decision": "the package's names resolve on first use: loaded while a claim's minutes are read",
    # numpy comes with them (~0.05 s): the parser's module loads them where a claim or --now needs them, so that
    # --help, --version and `months` start without numpy (benchmarks/README.md, the eleventh round).
    "slapolicy.claims.materials": "a claim's document: cmd_claim only, not the parser's module",
    "slapolicy.inputs.tables": "an account's name as a claim gives it: cmd_claim's reading ahead only",
    "slapolicy.inputs.timestamps": "--now's offset: parsed only where --now is given",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def imported(module: str, node) -> list[str]:
    """The slapolicy modules an import statement in ``module`` loads (a name imported from a package may be
    one of its modules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "slapolicy"]
    if node.level:
        base = package_of(module)
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        base = f"{base}.{node.module}" if node.module else base
    elif (node.module or "").split(".")[0] == "slapolicy":
        base = node.module
    else:
        return []
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def loaded(module: str, target: str) -> list[str]:
    """``target`` and the packages above it that importing it runs, leaving out the packages above ``module``
    (already being imported when ``module`` runs)."""
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)} | {module}
    if MODULES[module].name == "__init__.py":
        ancestors.add(module)
    return [name for name in chain if name in MODULES and name not in ancestors]


def top_level_imports(tree):
    """Import statements run when the module is imported: module level, class bodies, if/try blocks;
    not function bodies, and not ``if TYPE_CHECKING:`` blocks."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
        elif isinstance(node, (ast.ClassDef, ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)


def function_imports(tree):
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {name for node in top_level_imports(tree) for target in imported(module, node)
                         for name in loaded(module, target)}
    return graph


def find_cycle(graph) -> list[str] | None:
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


@pytest.mark.slow
def test_the_graph_sees_the_imports_that_make_a_cycle():
    # The walk itself, on a made-up graph and on real edges: a test of acyclicity that saw no edges would pass.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    graph = import_graph()
    assert "slapolicy.policy.model" in graph["slapolicy.policy"]          # from .model import Policy
    assert "slapolicy.rules" in graph["slapolicy.policy.model"]           # importing rules.conditions runs rules/
    assert "slapolicy.rules.conditions" in graph["slapolicy.policy.model"]
    assert "slapolicy.cli.data_commands" in graph["slapolicy.cli.command"]  # from . import data_commands
    assert "slapolicy" not in graph["slapolicy.errors"]                   # the package being imported is no edge
    assert "slapolicy.inputs.json_lines" in graph["slapolicy.inputs.tables"]  # read_table checks JSON Lines first
    assert "slapolicy.minutes.shapes" in graph["slapolicy.evaluation.month"]  # from ..minutes.shapes import ...
    assert "slapolicy.minutes" in graph["slapolicy.evaluation.classify"]  # importing minutes.shapes runs minutes/


@pytest.mark.slow
def test_no_module_level_import_cycle():
    assert find_cycle(import_graph()) is None


@pytest.mark.slow
def test_function_local_imports_are_only_of_heavy_or_optional_libraries():
    hidden = []
    for module, path in sorted(MODULES.items()):
        if module.split(".")[1:2] and module.split(".")[1] not in CHECKED:
            continue
        if module == "slapolicy":
            continue
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in function_imports(ast.parse(source)):
            names = imported(module, node) if (isinstance(node, ast.ImportFrom) and node.level) else \
                [node.module] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
            place = f"{path.relative_to(ENGINE)}:{node.lineno}"
            for name in names:
                if not any(name == allowed or name.startswith(allowed + ".") for allowed in LAZY_ALLOWED):
                    hidden.append(f"{place}: {name}")
            if "#" not in lines[node.end_lineno - 1]:  # the reader of the function is told why it imports late
                hidden.append(f"{place}: no comment says why")
    assert hidden == []


# Read top to bottom, data flows one way (docs/api.md, "The package"): each layer hands its shapes upward and
# imports nothing from the layers above it, even inside a function.
LAYERS = ["inputs", "minutes", "evaluation", "claims"]
ABOVE_ALL = {"replay", "engine", "api", "cli", "reports", "service", "service_openapi", "demo"}


# The two places a module of a layer reaches above it, and why.
UPWARD_ALLOWED = {
    ("slapolicy.claims", "slapolicy.api"): "the old name slapolicy.claims.decide_claim, resolved on first use",
    ("slapolicy.claims.audit", "slapolicy.engine"): "the audit decides every claim again through the Engine, as the "
                                                    "CLI does: it is a door, beside the CLI, not below the Engine",
}


@pytest.mark.slow
def test_no_layer_imports_a_layer_above_it():
    upward = []
    for module, path in sorted(MODULES.items()):
        layer = module.split(".")[1] if module.count(".") else None
        if layer not in LAYERS:
            continue
        above = set(LAYERS[LAYERS.index(layer) + 1:]) | ABOVE_ALL
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in nodes:
            for target in imported(module, node):
                if target.split(".")[1:2] and target.split(".")[1] in above and (module, target) not in UPWARD_ALLOWED:
                    upward.append(f"{path.relative_to(ENGINE)}:{node.lineno}: {module} imports {target}")
    assert upward == []


@pytest.mark.slow
def test_the_engine_names_the_built_in_plugins_only_in_the_manager_s_list():
    # The core never imports plugins/ in its code (plugins/slapolicy_builtins/__init__.py): the one place that
    # names them is slapolicy.plugins.DEFAULT_PLUGINS, the modules the manager registers by name before the entry
    # points (docs/plugins.md). An `import slapolicy_builtins...` anywhere in engine/ would tie the core to them.
    imports, named = [], []
    for module, path in sorted(MODULES.items()):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            targets = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            imports += [f"{module}:{node.lineno}" for name in targets if name.split(".")[0] == "slapolicy_builtins"]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith("slapolicy_builtins."):
                named.append((module, node.value))
    assert imports == []
    assert named == [("slapolicy.plugins", f"slapolicy_builtins.{name}")
                     for name in ("incidents", "notices", "concurrency", "calendars")]


# A private name (one leading underscore) belongs to its module; one that another module needs is that module's
# API, public under a name that says what it gives (calendar.month_problem, classify.trace_step,
# data_commands.required_path). The crossings left, each with why it is still private.
PRIVATE_ALLOWED = {
    ("slapolicy.inputs.problems", "_line"): "a row's line in its file, the readers' own arithmetic (inputs/, minutes/)",
    ("slapolicy.inputs.problems", "_report"): "the row checks' reporting loop, shared by the readers of inputs/ "
                                              "and minutes/",
    ("slapolicy.inputs.tables", "_format"): "a file's format by its suffix, read by the minutes' planning",
    ("slapolicy.inputs.tables", "_strings"): "a column as text, shared by the billing's reader",
    ("slapolicy.inputs.tables", "_refuse_nested"): "a column of objects refused, shared by the billing's reader",
    ("slapolicy.inputs.timestamps", "_one_array"): "an Arrow column as one array, for the readers' numpy views",
    ("slapolicy.minutes.planning", "_month_span"): "a month= directory's minutes, checked again by the reduction",
    ("slapolicy.minutes.readers", "_batches"): "a part's batches, which the reduction consumes",
    ("slapolicy.policy.model", "_build"): "the model built from a checked YAML tree, by the directory's loader",
    ("slapolicy.policy.model", "_place"): "a YAML path as the messages write it, shared by lint",
}


@pytest.mark.slow
def test_no_module_uses_a_private_name_of_another_but_those_listed():
    crossings = set()
    for module, path in sorted(MODULES.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules_named = {}  # local name -> slapolicy module, for `module._name`
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for alias, target in zip(node.names, imported(module, node)):
                    if target.endswith("." + alias.name):
                        modules_named[alias.asname or alias.name] = target
                    elif alias.name.startswith("_") and not alias.name.startswith("__") and target != module:
                        crossings.add((target, alias.name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in modules_named and node.attr.startswith("_") and not node.attr.startswith("__"):
                crossings.add((modules_named[node.value.id], node.attr))
    assert sorted(crossings - set(PRIVATE_ALLOWED)) == []
    assert sorted(set(PRIVATE_ALLOWED) - crossings) == []  # a crossing gone is struck from the list
