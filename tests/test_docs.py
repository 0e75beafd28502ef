"""The documentation's examples run, and every hook is documented."""
import inspect
import re
import shlex

import pytest

from conftest import REPO, run_cli

DOCS = REPO / "docs"


def blocks(path, language):
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


PYTHON = [(doc.name, i, code) for doc in sorted(DOCS.glob("*.md")) for i, code in enumerate(blocks(doc, "python"))]
CONSOLE = [(doc.name, i, code) for doc in sorted(DOCS.glob("*.md")) for i, code in enumerate(blocks(doc, "console"))]


@pytest.mark.parametrize("name,index,code", PYTHON, ids=[f"{n}-{i}" for n, i, _ in PYTHON])
@pytest.mark.slow
def test_python_examples_run(name, index, code, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    exec(compile(code, f"{name}[{index}]", "exec"), {"LEDGER": str(tmp_path / "ledger.sqlite"), "__name__": "doc"})


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
    readme = (REPO / "README.md").read_text()
    excerpt = re.search(r"## What the demo shows \(an excerpt\)\n\n```\n(.*?)```", readme, flags=re.S).group(1)
    result = run_cli("demo")
    assert result.code == 0, result.err
    printed = result.out.splitlines()
    shown = [line for line in excerpt.splitlines() if line]
    assert len(shown) == 30
    missing = [line for line in shown if line not in printed]
    assert missing == [], "README's demo excerpt shows lines `slapolicy demo` does not print:\n" + "\n".join(missing)
