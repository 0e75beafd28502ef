"""The documentation's examples run, and every hook is documented."""
import inspect
import re
import shlex
import tempfile

import pytest

from conftest import REPO, run_cli

DOCS = REPO / "docs"


def blocks(path, language):
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


# README's examples are the first a new user runs: they run here with the pages of docs/.
PAGES = [*sorted(DOCS.glob("*.md")), REPO / "README.md"]
PYTHON = [(doc.name, i, code) for doc in PAGES for i, code in enumerate(blocks(doc, "python"))]
CONSOLE = [(doc.name, i, code) for doc in PAGES for i, code in enumerate(blocks(doc, "console"))]


@pytest.mark.parametrize("name,index,code", PYTHON, ids=[f"{n}-{i}" for n, i, _ in PYTHON])
@pytest.mark.slow
def test_python_examples_run(name, index, code, monkeypatch):
    # Each block runs as a reader would paste it, in a namespace of its own: a name it uses and does not define
    # fails (api.md's Engine example used a LEDGER that only this test gave it).
    monkeypatch.chdir(REPO)
    exec(compile(code, f"{name}[{index}]", "exec"), {"__name__": "doc"})


@pytest.mark.slow
@pytest.mark.parametrize("name,index,code", CONSOLE, ids=[f"{n}-{i}" for n, i, _ in CONSOLE])
def test_console_examples_print_what_they_say(name, index, code, monkeypatch):
    monkeypatch.chdir(REPO)
    sessions = re.split(r"^\$ ", code, flags=re.M)[1:]
    assert sessions, "a console block without a command"
    for session in sessions:
        command, *expected = session.rstrip("\n").split("\n")
        argv = shlex.split(command)
        assert argv[0] == "slapolicy"
        result = run_cli(*argv[1:])
        assert result.code == 0, result.err
        printed = result.out.splitlines()
        for line in expected:
            assert line in printed, f"{name}: `{command}` did not print:\n{line}\n---\n{result.out}"


def test_every_hook_is_documented():
    from slapolicy import hookspecs

    hooks = [name for name, value in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("slapolicy_")]
    assert len(hooks) == 5
    text = (DOCS / "plugins.md").read_text()
    missing = [hook for hook in hooks if f"### {hook}\n" not in text]
    assert missing == [], f"hooks without a section in docs/plugins.md: {missing}"


def test_every_hook_has_a_docstring():
    from slapolicy import hookspecs

    for name, value in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("slapolicy_"):
            assert value.__doc__ and len(value.__doc__) > 40, name


@pytest.mark.slow
def test_readme_demo_excerpt_is_what_the_demo_prints(monkeypatch, tmp_path):
    # README's "What the demo shows (an excerpt)" is output a reader compares with their own: every line it shows
    # must be a line `slapolicy demo` prints (an excerpt may leave lines out, never word one otherwise). It had
    # drifted: the §5.7 condition without its causation reading, the §2.1 exact value without its fraction.
    monkeypatch.chdir(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    readme = (REPO / "README.md").read_text()
    excerpt = re.search(r"## What the demo shows \(an excerpt\)\n\n```\n(.*?)```", readme, flags=re.S).group(1)
    result = run_cli("demo")
    assert result.code == 0, result.err
    # The claims were recorded in a ledger of its own, removed when the demo ends: every run left a
    # slapolicy-demo-*/ledger.sqlite in the temporary directory.
    assert "--ledger " + str(scratch / "slapolicy-demo-") in result.out
    assert list(scratch.iterdir()) == []
    printed = result.out.splitlines()
    shown = [line for line in excerpt.splitlines() if line]
    assert len(shown) == 30
    missing = [line for line in shown if line not in printed]
    assert missing == [], "README's demo excerpt shows lines `slapolicy demo` does not print:\n" + "\n".join(missing)


def test_readme_s_speed_figures_are_the_latest_measured_in_benchmarks_readme():
    # README's table of documents gives the speed as figures of benchmarks/README.md's scale.py section: they had
    # stayed at "2.5–5×, ≤ 350 MB" three rounds after the measured 1.25–1.82×, ≤ 329 MB. The range is the
    # lowest and highest ratio of the last row of "How it moved"; the bound, the highest peak of the 500- and
    # 1,000-account tables rounded up to 10 MB.
    readme = (REPO / "README.md").read_text()
    said = re.search(r"\((\d+\.\d+)–(\d+\.\d+)× its wall time for 500 accounts in the latest round, "
                     r"peaks ≤ (\d+) MB for 500 and 1,000 accounts\)", readme)
    assert said, "README.md's speed line no longer gives the ratio and the peak where this test reads them"
    scale = (REPO / "benchmarks" / "README.md").read_text().split("## `scale.py`", 1)[1].split("\n## ", 1)[0]
    moved = re.search(r"How it moved[^|]*\n((?:\|[^\n]*\n)+)", scale).group(1).strip().splitlines()
    latest = [float(x) for x in re.findall(r"(\d+\.\d+)(?=(?:–\d+\.\d+)?×)", moved[-1])]
    peaks = [int(x) for table in re.findall(r"\n(\| [\d,]+ accounts \|[^\n]*peak memory[^\n]*\n(?:\|[^\n]*\n)+)", scale)
             for row in table.splitlines()[2:] for x in re.findall(r"\d+", row.rsplit("|", 2)[1])]
    assert len(latest) >= 6 and len(peaks) >= 12, (latest, peaks)  # three commands by two layouts; 2 tables × 6
    measured = (f"{min(latest):.2f}", f"{max(latest):.2f}", str(-(-max(peaks) // 10) * 10))
    assert said.groups() == measured, (f"README.md says {said.group(0)}; benchmarks/README.md's latest figures give "
                                       f"{measured[0]}–{measured[1]}× and ≤ {measured[2]} MB: update README.md")


def test_every_module_of_the_engine_is_named_where_the_docs_say_what_is_where():
    # docs/api.md's table of the packages and README's "What is where" list the modules by name; four modules had
    # been added without a word in either (inputs/csv_lines, minutes/shapes, minutes/within, arrays).
    package = REPO / "engine" / "slapolicy"
    api = (DOCS / "api.md").read_text()
    readme_row = re.search(r"\n\| `engine/slapolicy/` \|(.*)\|\n", (REPO / "README.md").read_text()).group(1)
    unnamed = []
    for folder in sorted(p for p in package.iterdir() if (p / "__init__.py").exists()):
        api_row = re.search(rf"\n\| `slapolicy\.{folder.name}` \|(.*)\|\n", api)
        for module in sorted(m.stem for m in folder.glob("*.py") if m.stem not in ("__init__", "__main__")):
            if not (api_row and f"`{module}`" in api_row.group(1)):
                unnamed.append(f"docs/api.md: {folder.name}/{module}")
            if f"`{module}`" not in readme_row:
                unnamed.append(f"README.md: {folder.name}/{module}")
    unnamed += [f"README.md: {m.stem}" for m in sorted(package.glob("*.py"))
                if m.stem not in ("__init__", "__main__") and f"`{m.stem}`" not in readme_row]
    assert unnamed == []


# Every fenced block of docs/, by its language, and what runs or checks it. A block in a language missing here (a
# ```bash, a ```py), or outside the page its test reads, would be run by nothing without a word: it fails below.
CHECKED_BY = {
    "python": ("*", "test_python_examples_run, above"),
    "console": ("*", "test_console_examples_print_what_they_say, above: each command's exit 0 and the lines shown"),
    "session": ("policy-format.md", "tests/test_walkthrough.py: the walk-through's commands, run in order"),
    "sh": ("service.md", "tests/test_service.py: each curl against a running `slapolicy serve`"),
    "yaml": ("policy-format.md", "test_the_yaml_policy_format_md_shows_is_in_the_shipped_policy, below; the "
                                 "walk-through's, tests/test_walkthrough.py against its drafts"),
    "toml": ("plugins.md", "test_the_entry_point_plugins_md_shows_is_of_the_group_the_engine_reads, below"),
    "": ("*", "not run: a command's synopsis, a message, a file tree, a formula"),
}


def fenced(doc):
    """(language, the line it opens on, its text) of every fenced block of a page."""
    found, lines = [], doc.read_text().splitlines()
    opened = None
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            if opened is None:
                opened = (line[3:].strip(), number)
            else:
                found.append((*opened, "\n".join(lines[opened[1]:number - 1]) + "\n"))
                opened = None
    assert opened is None, f"{doc.name}:{opened[1]}: a block that is never closed"
    return found


def walk_through_lines() -> range:
    """The lines of policy-format.md's walk-through, the section tests/test_walkthrough.py reads."""
    text = (DOCS / "policy-format.md").read_text()
    start = text.index("### Walk-through: an amendment")
    return range(text[:start].count("\n") + 1, text[:text.index("\n### ", start + 10)].count("\n") + 2)


def test_every_block_of_the_docs_is_run_or_checked_by_a_test():
    unchecked = [f"{doc.name}:{line}: ```{language}" for doc in PAGES
                 for language, line, _ in fenced(doc)
                 if CHECKED_BY.get(language, (None,))[0] not in ("*", doc.name)]
    assert unchecked == []
    sessions = [line for language, line, _ in fenced(DOCS / "policy-format.md") if language == "session"]
    assert len(sessions) == 2 and all(line in walk_through_lines() for line in sessions)


def excerpt_of(shown, real) -> bool:
    """Whether a value a page shows is the real one or a part of it: some keys of a mapping, some items of a list
    (each an excerpt of one of the real items), a text cut short with '...' (each piece, white space folded)."""
    if isinstance(shown, dict):
        return isinstance(real, dict) and all(key in real and excerpt_of(value, real[key])
                                              for key, value in shown.items())
    if isinstance(shown, list):
        return isinstance(real, list) and all(any(excerpt_of(item, candidate) for candidate in real) for item in shown)
    if isinstance(shown, str) and isinstance(real, str) and ("..." in shown or "…" in shown):
        folded = " ".join(real.split())
        return all(" ".join(piece.split()) in folded for piece in re.split(r"\.\.\.|…", shown) if piece.strip())
    return shown == real


def found_in(shown, tree) -> bool:
    """Whether ``shown`` is an excerpt of ``tree`` or of a mapping or list anywhere inside it."""
    children = tree.values() if isinstance(tree, dict) else tree if isinstance(tree, list) else []
    return excerpt_of(shown, tree) or any(found_in(shown, child) for child in children)


def test_the_yaml_policy_format_md_shows_is_in_the_shipped_policy():
    # Its header, settings, tiers, facts, clause and provision are shown as legal will find them in
    # policies/ccc/2019-01-01.yaml (shortened, never different); the walk-through's blocks are its drafts'.
    import textwrap

    import yaml

    policy = yaml.safe_load((REPO / "policies" / "ccc" / "2019-01-01.yaml").read_text())
    shown = [(line, yaml.safe_load(textwrap.dedent(block)))
             for language, line, block in fenced(DOCS / "policy-format.md")
             if language == "yaml" and line not in walk_through_lines()]
    assert len(shown) == 6
    assert [line for line, value in shown if not found_in(value, policy)] == []
    # The check sees a difference: the standard shown at another value is not the policy's.
    assert not found_in({"availability": {"standard": {"value": "99.6%"}}}, policy)
    assert not found_in({"timezone": {"value": "Asia/Singapore", "ref": "§1.11"}}, policy)


def test_the_entry_point_plugins_md_shows_is_of_the_group_the_engine_reads():
    import tomllib

    from slapolicy.plugins import GROUP

    (toml,) = [block for language, _, block in fenced(DOCS / "plugins.md") if language == "toml"]
    assert tomllib.loads(toml)["project"]["entry-points"] == {GROUP: {"carrier_windows": "acme_slapolicy.carrier"}}


def test_cli_md_names_every_field_of_an_evaluation():
    # The JSON of `evaluate` was documented nowhere: an analyst met `raw_unavailable_minutes` and `availability_exact`
    # with nothing to say what they were. docs/cli.md's "Reading an evaluation" names each field of a real one.
    page = (DOCS / "cli.md").read_text().split("### Reading an evaluation", 1)[1].split("\n#", 1)[0]
    named = {name for row in re.findall(r"\n\| (`[^|]*`) \|", page) for name in re.findall(r"`(\w+)`", row)}
    result = run_cli("evaluate", REPO / "policies" / "ccc", "--month", "2019-03", "--account", "globex", "--minutes",
                     REPO / "examples" / "ccc" / "minutes.csv", "--billing", REPO / "examples" / "ccc" / "billing.csv")
    evaluation, = result.json()["evaluations"]
    assert named == set(evaluation)

