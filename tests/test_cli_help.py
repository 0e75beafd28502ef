"""Each command's --help teaches a new user: what the command does, every argument's value, examples that run as
written, and its exit statuses; a command or option mistyped is named with the one probably meant."""
import argparse
import json
import re
import shlex
import shutil

import pytest

from conftest import REPO, run_cli


def parsers() -> dict[str, argparse.ArgumentParser]:
    from slapolicy.cli.command import build_parser

    return build_parser().command_parsers


def help_of(name: str | None) -> str:
    result = run_cli(*[name] if name else [], "--help")
    assert (result.code, result.err) == (0, "")
    return result.out


def examples(name: str | None) -> list[str]:
    """The commands of ``name``'s --help (None: slapolicy's own), as a reader pastes them: lines ending in a
    backslash go on; what a line says of its command, after two spaces, is left out."""
    text = help_of(name).split("\nexamples (", 1)[1].split("\nexit status:", 1)[0]
    return [re.split(r"\s{2,}", line.strip())[0] for line in re.sub(r" \\\n\s+", " ", text).splitlines()
            if line.startswith("  slapolicy ")]


def test_every_command_s_help_has_examples_and_its_exit_statuses():
    for name in parsers():
        text = help_of(name)
        assert "examples (from the repository's root" in text and examples(name), name
        statuses = text.split("\nexit status:\n", 1)[1].splitlines()
        assert [line.split()[0] for line in statuses[:-1]] in (["0", "1", "2", "3", "130"], ["0", "2", "3", "130"]), name
        assert statuses[-1] == 'Every status in detail: docs/cli.md, "Exit status, command by command".'


def test_every_argument_of_every_command_says_what_it_expects():
    # `versions --help` listed "POLICY_DIR" alone, `show --help` "--month YYYY-MM" alone: a new user had to guess.
    silent = [f"{name} {action.dest}" for name, parser in parsers().items() for action in parser._actions
              if not action.help]
    assert silent == []


def test_lock_s_retroactive_records_rather_than_publishes():
    helps = {name: {a.dest: a.help for a in p._actions} for name, p in parsers().items()}
    assert helps["lock"]["retroactive"].startswith("record a version taking effect before today")
    assert helps["publish"]["retroactive"].startswith("publish a version taking effect before today")


# The examples that cannot run here as written: they name a draft of the reader's own, or run until stopped.
NOT_RUN = {"publish": "a draft of the reader's (my-amendment.yaml)", "serve": "listens until stopped"}


@pytest.mark.slow
def test_every_example_of_every_help_runs_as_written(tmp_path, monkeypatch):
    # From a copy of the repository's policies and examples, in the order of the commands (audit reads the ledger
    # claim's example wrote); a redirection (`> report.html`) writes the file the shell would.
    for folder in ("policies", "examples"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    ran = []
    every = [(name, line) for name in parsers() for line in examples(name)]
    top = [(line.split()[1], line) for line in examples(None)]
    assert [name for name, _ in top] == ["validate", "test", "show", "diff", "publish", "evaluate", "claim", "replay",
                                         "demo"]
    for name, line in every + [(name, line) for name, line in top if name != "demo"]:  # demo --help's ran it
        command, _, into = line.partition(" > ")
        argv = shlex.split(command)[1:]
        if name in NOT_RUN:
            assert vars(parsers()[name].parse_args(argv[1:]))["func"].__name__ == f"cmd_{name}"
            continue
        result = run_cli(*argv)
        assert result.code == 0, (line, result.err)  # validate says on stderr what it checked
        assert result.out or result.err, line  # a file without a problem: validate prints its count alone
        if into:
            (tmp_path / into).write_text(result.out)
        ran.append(name)
    assert len(ran) == 21 + 7  # 23 examples, publish and serve not run; 7 of slapolicy --help's 9
    written = {"claims.sqlite", "policy.html", "report.html", "policy.schema.json", "redline.html", "replay.html"}
    assert written <= {p.name for p in tmp_path.iterdir()}


def test_a_command_mistyped_is_named_with_the_nearest_one(cli):
    # Before: "argument COMMAND: invalid choice: 'evalute' (choose from 'validate', 'test', ...)", the one meant
    # left to find in a list of sixteen.
    listed = ("the commands: validate, test, versions, show, diff, schema, lock, publish, render, months, evaluate, "
              "claim, replay, audit, serve, demo (slapolicy --help says what each does)")
    for typed, said in [("evalute", "'evalute' is not a command (did you mean evaluate?)"),
                        ("clam", "'clam' is not a command (did you mean claim?)"),
                        ("frobnicate", "'frobnicate' is not a command"),
                        # The docs speak of "the linter"; its command is validate, a name no typo of "lint" is near.
                        ("lint", "'lint' is not a command (validate runs the linter with the schema)")]:
        result = cli(typed, "policies/ccc")
        assert (result.code, result.out) == (2, "")
        assert result.err == f"usage: slapolicy [-h] [--version] COMMAND ...\nslapolicy: error: argument COMMAND: " \
                             f"{said}; {listed}\n"


def test_an_option_a_command_does_not_take_is_refused_by_that_command_naming_the_nearest(cli, tmp_path):
    # Before: the top level's usage ("usage: slapolicy [-h] [--version] COMMAND ...") and "slapolicy: error:
    # unrecognized arguments: --acount x", as if the command were wrong, and nothing of --account.
    # A required option misspelled was worse: `--minute m.csv` said "the following arguments are required: --minutes"
    # and nothing of --minute. Each word written as an option the command does not take is named, before the rest.
    evaluate = ["evaluate", "policies/ccc", "--minutes", "m.csv", "--month", "2019-03"]
    for argv, said in [(evaluate + ["--acount", "x"], "--acount (did you mean --account?)"),
                       (evaluate + ["--acount=x"], "--acount=x (did you mean --account?)"),
                       (["evaluate", "policies/ccc", "--minute", "m.csv", "--month", "2019-03"],
                        "--minute (did you mean --minutes?)"),
                       (["evaluate", "policies/ccc", "--minute", "m.csv", "--mnth", "2019-03"],
                        "--minute --mnth (did you mean --minutes?)"),
                       (evaluate + ["--quiet"], "--quiet"),
                       (evaluate + ["--", "--quiet"], "-- --quiet"),  # after --, a word is no option: argparse's words
                       (["demo", "now"], "now")]:
        result = cli(*argv)
        assert (result.code, result.out) == (2, "")
        assert result.err.startswith(f"usage: slapolicy {argv[0]} [-h]")
        assert result.err.endswith(f"\nslapolicy {argv[0]}: error: unrecognized arguments: {said}\n")


def test_slapolicy_alone_says_to_give_a_command_and_where_to_start(cli):
    # A new user's first command said "the following arguments are required: COMMAND", and nothing of which.
    result = cli()
    assert (result.code, result.out) == (2, "")
    assert result.err == ("usage: slapolicy [-h] [--version] COMMAND ...\nslapolicy: error: give a command: validate, "
                          "test, versions, show, diff, schema, lock, publish, render, months, evaluate, claim, replay, "
                          "audit, serve, demo (slapolicy --help says what each does; slapolicy demo runs the main ones "
                          "on example data)\n")



def test_claim_s_help_says_the_filing_window_is_the_version_s(cli):
    # It said "Checks the filing window (after the 5th business day of the following month, until the 60th calendar
    # day after the month)": legal's first amendment (90 days) left the help saying 60, as though it were the
    # engine's. The window is the version's setting; the shipped policy's is the example.
    said = " ".join(cli("claim", "--help").out.split())
    assert ("Checks the filing window the version in force sets (claims.window_opens, window_closes, §3.2; the shipped "
            "policy's: after the 5th business day of the following month, until the 60th calendar day after the "
            "month), the channel and the materials;") in said


def test_the_fields_of_incidents_and_notices_are_said_as_the_reader_takes_them():
    # A notice's description, which the reader takes and the shipped examples/ccc/notices.yaml gives, was named
    # neither by --notices' help, docs/cli.md, nor the OpenAPI document: each says the fields that make each input
    # (inputs.problems.INPUT_FIELDS, where the reader takes them from), required ones first, optional ones with '?'.
    from slapolicy.cli import data_commands
    from slapolicy.inputs.problems import INPUT_FIELDS
    from slapolicy.service_openapi import document

    said = {name: "{" + ", ".join([*required, *(f"{field}?" for field in optional)]) + "}"
            for name, (required, optional, _) in INPUT_FIELDS.items()}
    assert said == {"incidents": "{id, start, end, cause, account?, description?}",
                    "notices": "{id, kind, published_at, start, end, account?, description?}"}
    assert (data_commands.INCIDENTS_HOLD, data_commands.NOTICES_HOLD) == (f"list of {said['incidents']}",
                                                                          f"list of {said['notices']}")
    cli_md = (REPO / "docs" / "cli.md").read_text()
    assert f"incidents (`{said['incidents']}`) and notices\n(`{said['notices']}`)" in cli_md
    openapi = json.dumps(document())
    assert all(f'"description": "{fields};' in openapi for fields in said.values())
