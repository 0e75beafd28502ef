"""Arguments a new user gets wrong, read as docs/cli.md documents them: an empty value is a usage error (exit 2),
a directory holding no policy version is refused (exit 1), and nothing is written either way."""
import os

import pytest

from conftest import DRAFT, POLICIES, PUBLISHED, REPO

EXAMPLES = REPO / "examples" / "ccc"
MINUTES = EXAMPLES / "minutes.csv"
BILLING = EXAMPLES / "billing.csv"
CLAIM = EXAMPLES / "claim-globex-2019-03.json"
NOW = "2019-04-10T12:00+08:00"

PATH = "an empty path names no file or directory"
OPTION = "an empty path names no file; give one, or leave the option out"
ADDRESS = "an empty address names no Dask scheduler; give one, or leave the option out"

# Each call gives one argument as "" (a shell variable left unset: `slapolicy validate "$POLICIES"`). Before, an
# empty policy directory or file was refused in the API's words (`policy_dir must be a path (str or os.PathLike),
# not str (an empty string)`, exit 1); `validate ""` checked the working directory and passed with "0 file(s)
# checked"; `claim ... ""` and `audit ""` named "." ; `--ledger ""` recorded the decision in the default ledger, and
# `--dask ""` ran in this process: both exit 0.
EMPTY = [
    (["validate", ""], "PATH", PATH),
    (["validate", POLICIES, ""], "PATH", PATH),
    (["test", ""], "PATH", PATH),
    (["versions", ""], "POLICY_DIR", PATH),
    (["show", "", "--month", "2019-03"], "POLICY_DIR", PATH),
    (["diff", "", DRAFT], "OLD.yaml", PATH),
    (["diff", PUBLISHED, ""], "NEW.yaml", PATH),
    (["render", ""], "POLICY.yaml", PATH),
    (["lock", ""], "POLICY_DIR", PATH),
    (["publish", "", DRAFT], "POLICY_DIR", PATH),
    (["publish", POLICIES, ""], "DRAFT.yaml", PATH),
    (["evaluate", "", "--minutes", MINUTES, "--month", "2019-03"], "POLICY_DIR", PATH),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--policy-file", ""], "--policy-file", OPTION),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--dask", ""], "--dask", ADDRESS),
    (["replay", "", "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT], "POLICY_DIR", PATH),
    (["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", ""], "--under", PATH),
    (["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, "--dask", ""],
     "--dask", ADDRESS),
    (["claim", "", CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW], "POLICY_DIR", PATH),
    (["claim", POLICIES, "", "--minutes", MINUTES, "--billing", BILLING, "--now", NOW], "CLAIM.json", PATH),
    (["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--ledger", ""],
     "--ledger", OPTION),
    (["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--dask", ""],
     "--dask", ADDRESS),
    (["audit", ""], "LEDGER", PATH),
    (["audit", "LEDGER", "--policies", ""], "--policies", OPTION),
    (["serve", ""], "POLICY_DIR", PATH),
    (["serve", POLICIES, "--ledger", ""], "--ledger", OPTION),
]


@pytest.mark.parametrize("argv,name,message", EMPTY, ids=[" ".join(map(str, a[0])) for a in EMPTY])
def test_an_empty_argument_is_a_usage_error_that_writes_nothing(cli, tmp_path, monkeypatch, argv, name, message):
    monkeypatch.chdir(tmp_path)  # "" must not come to mean the working directory
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where the default ledger would be made
    ledger = tmp_path / "ledger.sqlite"
    argv = [ledger if a == "LEDGER" else a for a in argv]
    if "claim" in argv and "--ledger" not in argv:
        argv += ["--ledger", ledger]
    result = cli(*argv)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(f"slapolicy {argv[0]}: error: argument {name}: {message}\n"), result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no ledger, default or named; nothing at all


@pytest.mark.parametrize("argv", [
    ["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03"],
    ["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--ledger", "LEDGER"],
    ["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT],
    ["serve", POLICIES, "--ledger", "LEDGER", "--port", "0"]], ids=["evaluate", "claim", "replay", "serve"])
def test_workers_and_dask_together_are_a_usage_error_that_writes_nothing(cli, tmp_path, argv):
    # Both were accepted: the work went to the Dask cluster, and the processes --workers asked for were silently not
    # made (the API's Engine(workers=, dask=) likewise); each names a place to run the work, so one is meant
    argv = [tmp_path / "ledger.sqlite" if a == "LEDGER" else a for a in argv]
    result = cli(*argv, "--workers", "2", "--dask", "tcp://127.0.0.1:1")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("usage: ") and f"slapolicy {argv[0]}: error: argument --dask: " in result.err
    assert "--workers" in result.err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_validate_refuses_a_directory_that_holds_no_version(cli, tmp_path):
    # Before: exit 0 and "0 file(s) checked: 0 error(s), 0 warning(s)", so a CI step validating a mistyped or
    # emptied directory passed; `versions` and `show` refuse that directory.
    (tmp_path / "drafts").mkdir()
    result = cli("validate", tmp_path)
    assert (result.code, result.out) == (1, f"{tmp_path}:1:1: error no-versions {NO_VERSION}: {publish_into(tmp_path)}\n")
    assert result.err == "0 file(s) checked: 1 error(s), 0 warning(s)\n"


NO_VERSION = "the directory holds no policy version (*.yaml)"


def publish_into(directory) -> str:
    return f"publish a first version into it from a draft: slapolicy publish {directory} DRAFT.yaml"


@pytest.mark.parametrize("command", [["versions"], ["show", "--month", "2019-03"], ["validate"], ["lock"],
                                     ["evaluate", "--minutes", MINUTES, "--month", "2019-03"]])
def test_the_directory_above_a_family_names_the_family_to_give(cli, tmp_path, command):
    # `slapolicy versions policies` (the folder of families) said only "the directory holds no policy version":
    # a new user's first guess, and what to type instead is the family below it. Directories without a *.yaml
    # (`empty/`), and files beside them, are not families; the first family by name is named.
    for family in ("ccc", "zzz"):
        (tmp_path / family).mkdir()
        (tmp_path / family / "2019-01-01.yaml").write_bytes(PUBLISHED.read_bytes())
    (tmp_path / "empty").mkdir()
    (tmp_path / "README.txt").write_text("the families\n")
    before = sorted(tmp_path.rglob("*"))
    result = cli(command[0], tmp_path, *command[1:])
    said = f"{tmp_path}:1:1: error no-versions {NO_VERSION}: give the directory of a family, such as {tmp_path / 'ccc'}\n"
    assert result.code == 1
    assert (result.out if command[0] == "validate" else result.err).startswith(said)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("command", [["versions"], ["show", "--month", "2019-03"], ["validate"], ["lock"],
                                     ["evaluate", "--minutes", MINUTES, "--month", "2019-03"]])
def test_the_repository_s_root_names_the_family_two_levels_below_it(cli, tmp_path, monkeypatch, command):
    # A new user in a fresh clone, where README's commands run, gave the root as POLICY_DIR (`slapolicy evaluate .
    # --month 2019-03 ...`) and was told `publish a first version into it from a draft: slapolicy publish .
    # DRAFT.yaml`: the family is policies/ccc, two levels down. A family is a folder with a versions.lock, before
    # any folder that merely holds YAML (examples/ccc/incidents.yaml, docs/walkthrough's drafts, .hidden/).
    (tmp_path / "policies" / "ccc").mkdir(parents=True)
    for name in ("2019-01-01.yaml", "versions.lock"):
        (tmp_path / "policies" / "ccc" / name).write_bytes((POLICIES / name).read_bytes())
    for folder, name in (("docs/walkthrough", "2020-01-01-standard-99.9.yaml"), ("examples/ccc", "incidents.yaml"),
                         (".hidden/aaa", "versions.lock")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / name).write_text("[]\n")
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    result = cli(command[0], ".", *command[1:])
    said = f".:1:1: error no-versions {NO_VERSION}: give the directory of a family, such as policies/ccc\n"
    assert result.code == 1
    assert (result.out if command[0] == "validate" else result.err).startswith(said)
    assert sorted(tmp_path.rglob("*")) == before


def test_test_given_the_repository_s_root_names_the_family(cli, tmp_path, monkeypatch):
    (tmp_path / "policies" / "ccc").mkdir(parents=True)
    (tmp_path / "policies" / "ccc" / "versions.lock").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    result = cli("test", ".")
    assert (result.code, result.out, result.err) == (
        1, "", "slapolicy: no policy files (*.yaml) under .: give a family's directory, such as policies/ccc\n")


@pytest.mark.parametrize("command", [["versions"], ["show", "--month", "2019-03"], ["validate"], ["lock"],
                                     ["evaluate", "--minutes", MINUTES, "--month", "2019-03"],
                                     ["publish", DRAFT]])
def test_a_family_s_drafts_given_as_the_family_is_refused_naming_the_family(cli, command):
    # `slapolicy validate policies/ccc/drafts`, a draft's folder, read each draft as a published version without a
    # lock and advised `slapolicy lock --new policies/ccc/drafts`: a lock inside drafts/ (exit 1, the draft valid).
    drafts = POLICIES / "drafts"
    before = sorted(POLICIES.rglob("*"))
    result = cli(command[0], drafts, *command[1:])
    said = (f"{drafts}:1:1: error not-a-family the drafts of the family {POLICIES}, not a family: give {POLICIES} "
            f"(validate checks its drafts too); a draft is evaluated with --policy-file, replayed with --under, "
            f"published with slapolicy publish {POLICIES} DRAFT.yaml\n")
    # publish lists the reasons on standard output and says on standard error that it wrote nothing
    printed = (said, "not published: 1 problem(s); nothing was written\n") if command[0] == "publish" else ("", said)
    assert (result.code, result.out, result.err) == (1, *printed)
    assert sorted(POLICIES.rglob("*")) == before


@pytest.mark.parametrize("command", [["versions"], ["show", "--month", "2019-03"], ["validate"], ["lock"], ["lock", "--new"],
                                     ["evaluate", "--minutes", MINUTES, "--month", "2019-03"]])
def test_a_family_s_superseded_encodings_given_as_the_family_are_refused_naming_the_family(cli, command):
    # `slapolicy validate policies/ccc/superseded` read the encoding a correction replaced as an unrecorded published
    # version (and misnamed: 'if it is a draft, write status: draft') and advised `slapolicy lock --new
    # policies/ccc/superseded`, which made the superseded encodings a family that evaluate would decide months under.
    superseded = POLICIES / "superseded"
    before = sorted(POLICIES.rglob("*"))
    result = cli(command[0], superseded, *command[1:])
    said = (f"{superseded}:1:1: error not-a-family the superseded encodings of the family {POLICIES}, not a family: give "
            f"{POLICIES} (validate checks them against its lock). A superseded encoding governs no Service Month: it "
            f"is kept unchanged so that the decisions made under it can be audited (slapolicy audit LEDGER --policies "
            f"{POLICIES})\n")
    assert (result.code, result.out, result.err) == (1, "", said)
    assert sorted(POLICIES.rglob("*")) == before


def test_validate_reports_no_versions_once_with_the_directory_errors(cli, tmp_path):
    # A directory whose only version cannot be read: its error is the message, not "no versions" besides it.
    (tmp_path / "2019-01-01.yaml").write_text("id: [\n")
    result = cli("validate", tmp_path)
    assert result.code == 1
    assert "no-versions" not in result.out and f"{tmp_path}/2019-01-01.yaml:" in result.out


def test_lock_refuses_a_directory_that_holds_no_version(cli, tmp_path):
    # Before: exit 0, "nothing to lock: every published version is recorded", of a directory holding nothing.
    result = cli("lock", tmp_path)
    assert (result.code, result.out) == (1, "")
    assert result.err == f"{tmp_path}:1:1: error no-versions {NO_VERSION}: {publish_into(tmp_path)}\n"
    assert list(tmp_path.iterdir()) == []


def _subparsers():
    import argparse

    from slapolicy.cli.command import build_parser

    parser = build_parser()
    commands, = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices


def test_every_option_with_a_default_says_it_in_its_help():
    # `--format {json,text}` with no word of its default: a user piping `evaluate` to a file could not tell from
    # --help that they would get JSON (or, for `audit`, text).
    import argparse

    silent = [f"{name} {'/'.join(action.option_strings)}" for name, parser in _subparsers().items()
              for action in parser._actions
              if action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
              and "default" not in (action.help or "")]
    assert silent == []


def test_claim_help_names_every_field_of_the_claim_and_which_are_required():
    # It listed event_report and unavailability as if required and left out claim_id and contact, which
    # docs/cli.md documents and the claim file accepts.
    from slapolicy.claims.materials import CLAIM_FIELDS, OPTIONAL_CLAIM_FIELDS, REQUIRED_CLAIM_FIELDS

    text = " ".join(_subparsers()["claim"].format_help().split())
    fields = ", ".join(f if f in REQUIRED_CLAIM_FIELDS else f"{f}?" for f in CLAIM_FIELDS + OPTIONAL_CLAIM_FIELDS)
    assert fields == ("account, service_month, filed_at, channel, event_report?, unavailability?, failure_records?, "
                      "term_start?, term_end?, claim_id?, contact?")
    assert "CLAIM.json: {" + fields.replace("unavailability?", "unavailability?: [{start, end}]") + "}" in text
    # It said "without event_report or unavailability the claim is decided incomplete": the shipped policy's §3.3(2)
    # requires failure_records too, and a claim written from the help without them was decided incomplete.
    assert ("without a material the version's claims.required_materials requires (the shipped policy's: event_report, "
            "unavailability and failure_records) the claim is decided incomplete, §3.3" in text)


def test_top_level_help_example_keeps_its_line_break():
    # The replay example's continuation was a backslash inside a Python string: the two lines ran together with a
    # gap of spaces ("--to 2019-06       --under ...").
    from slapolicy.cli.guide import EPILOG

    assert "  slapolicy replay policies/ccc --from 2019-03 --to 2019-03 --format html \\\n      --under " in EPILOG


@pytest.mark.parametrize("command", ["evaluate", "claim", "replay", "serve"])
def test_minutes_and_billing_help_say_what_they_take(command):
    # claim's --minutes help said only "the provider's per-minute records", replay's "(CSV, JSON Lines, Parquet)":
    # both take a directory of Parquet files, a hive dataset and a URL, as evaluate's said and docs/cli.md
    # documents; no --billing help named service_start, the column §6.1's first month of use is read from.
    helps = {action.dest: " ".join((action.help or "").split()) for action in _subparsers()[command]._actions}
    assert "a file (CSV, JSON Lines, Parquet) or a directory of Parquet files" in helps["minutes"]
    assert "by path or URL (s3://, gs://, file://)" in helps["minutes"]
    assert "account, month, monthly_fee, offset[, service_start]" in helps["billing"]
    # serve's said "a file, a Parquet directory or dataset" and no service_start; claim's, replay's and serve's
    # incidents left out the description evaluate's named; replay's --dask said nothing of where workers read.
    assert helps["incidents"] == "list of {id, start, end, cause, account?, description?}"
    assert "its workers read the minutes by path or URL, so they must reach the same storage" in helps["dask"]
    # and nothing said the workers need slapolicy: started from an environment without it, they ended at the first
    # task and the command waited for ever (tests/test_dask_workers.py)
    assert helps["dask"].endswith(", and run where this version of slapolicy is installed (dask worker ADDRESS "
                                  "there: docs/cli.md, \"Replay\")")


def test_readme_command_list_names_every_option():
    # README's "The commands" is the list a new user reads first; it left out `versions --json`, `audit --upgrade`
    # and `--format`, and `serve --max-body`, which --help lists.
    import re

    block = re.search(r"## The commands\n\n```\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S).group(1)
    listed: dict[str, str] = {}
    for line in block.splitlines():
        if line.startswith("slapolicy "):
            name = line.split()[1]
            listed[name] = line
        elif line.startswith(" "):
            listed[name] += line
    parsers = _subparsers()
    assert sorted(listed) == sorted(parsers)
    missing = [f"{name} {option}" for name, parser in parsers.items() for action in parser._actions
               for option in action.option_strings
               if option.startswith("--") and option != "--help" and option not in listed[name].split("#")[0]]
    assert missing == []


# A name given in bytes that are not UTF-8 (a file copied from another system, `--account $'\xff'`): Python hands it
# over with lone surrogates, which pyarrow, the check record and every output refuse to encode. Before, each of
# these ended in exit 3, "internal error, please report it: UnicodeEncodeError ... surrogates not allowed".
NOT_UTF8 = "/tmp/slapolicy-\udcff"
NOT_UTF8_PATH = f"{NOT_UTF8!r} is not UTF-8: slapolicy reads only paths whose names are UTF-8 text; rename it"
NOT_UTF8_CASES = [
    (["validate", NOT_UTF8], "PATH"),
    (["versions", NOT_UTF8], "POLICY_DIR"),
    (["render", NOT_UTF8], "POLICY.yaml"),
    (["evaluate", NOT_UTF8, "--minutes", MINUTES, "--month", "2019-03"], "POLICY_DIR"),
    (["evaluate", POLICIES, "--minutes", NOT_UTF8, "--month", "2019-03"], "--minutes"),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--billing", NOT_UTF8], "--billing"),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--policy-file", NOT_UTF8], "--policy-file"),
    (["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", NOT_UTF8], "--under"),
    (["claim", POLICIES, NOT_UTF8, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW], "CLAIM.json"),
    (["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--ledger", NOT_UTF8],
     "--ledger"),
    (["audit", NOT_UTF8], "LEDGER"),
]


@pytest.mark.parametrize("argv,name", NOT_UTF8_CASES, ids=[" ".join(map(repr, a[0][:2])) + " " + a[1]
                                                             for a in NOT_UTF8_CASES])
def test_a_path_that_is_not_utf8_is_a_usage_error_not_an_internal_error(cli, tmp_path, monkeypatch, argv, name):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    ledger = tmp_path / "ledger.sqlite"
    if "claim" in argv and "--ledger" not in argv:
        argv = argv + ["--ledger", ledger]
    result = cli(*argv)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(f"slapolicy {argv[0]}: error: argument {name}: {NOT_UTF8_PATH}\n"), result.err
    assert list(tmp_path.iterdir()) == []


def test_an_account_that_is_not_utf8_is_a_usage_error(cli):
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--account", "\udcff\udcfe",
                 "--format", "text")
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith("slapolicy evaluate: error: argument --account: '\\udcff\\udcfe' is not UTF-8 text, "
                               "so no input can name that account\n"), result.err


def test_the_api_refuses_a_path_or_account_that_is_not_utf8(tmp_path):
    from slapolicy import Engine
    from slapolicy.errors import ArgumentError

    with pytest.raises(ArgumentError) as raised:
        Engine(NOT_UTF8)
    assert str(raised.value) == f"policy_dir {NOT_UTF8_PATH}"
    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    for call, message in [
            (lambda: engine.evaluate(minutes=NOT_UTF8, month="2019-03"), f"minutes {NOT_UTF8_PATH}"),
            (lambda: engine.evaluate(minutes=MINUTES, month="2019-03", billing=NOT_UTF8), f"billing {NOT_UTF8_PATH}"),
            (lambda: engine.evaluate(minutes=MINUTES, month="2019-03", policy_file=NOT_UTF8),
             f"policy_file {NOT_UTF8_PATH}"),
            (lambda: engine.evaluate(minutes=MINUTES, month="2019-03", accounts=["\udcff"]),
             "account name '\\udcff' is not UTF-8 text, so no input can name that account")]:
        with pytest.raises(ArgumentError) as raised:
            call()
        assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


def test_account_given_twice_evaluates_both_accounts(cli):
    # Before: argparse kept the last --account, so `--account acme --account globex` evaluated globex alone and
    # said nothing of acme. Each --account now adds its account, in the order of the result (by name).
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--billing", BILLING,
                 "--account", "globex", "--account", "acme")
    assert result.code == 0, result.err
    assert [(e["account"], e["compensation"]) for e in result.json()["evaluations"]] == [("acme", "0.00"),
                                                                                        ("globex", "180.00")]


@pytest.mark.parametrize("given", ["html", "text"])
def test_diff_json_with_another_format_is_a_usage_error(cli, given):
    # Before: `diff --json --format html` printed JSON, silently not the redline asked for.
    result = cli("diff", PUBLISHED, DRAFT, "--json", "--format", given)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"slapolicy diff: --json and --format {given} ask for two outputs: give one\n"


def test_diff_json_alone_or_with_format_json_prints_json(cli):
    both = cli("diff", PUBLISHED, DRAFT, "--json", "--format", "json")
    alone = cli("diff", PUBLISHED, DRAFT, "--json")
    assert both.code == alone.code == 0 and both.out == alone.out
    assert both.json()["new"]["version"] == "2027-01-01"


def test_a_relative_xdg_data_home_is_ignored_so_the_default_ledger_does_not_follow_the_working_directory(
        cli, tmp_path, monkeypatch):
    # XDG_DATA_HOME=data (relative) put the default ledger under the working directory: the same account's claims
    # filed from two directories went to two ledgers, each blind to the other's grants (§6.1's cap, one grant a
    # month). The XDG specification says a relative value is ignored, as the cache's directory already did.
    from slapolicy.ledger import default_ledger_path

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", "data")
    monkeypatch.chdir(work)
    assert default_ledger_path() == home / ".local" / "share" / "slapolicy" / "ledger.sqlite"
    result = cli("claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW)
    assert result.code == 0, result.err
    assert list(work.iterdir()) == []
    assert (home / ".local" / "share" / "slapolicy" / "ledger.sqlite").is_file()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "absolute"))
    assert default_ledger_path() == tmp_path / "absolute" / "slapolicy" / "ledger.sqlite"


@pytest.mark.parametrize("home, xdg, why", [
    (None, None, "XDG_DATA_HOME is not set, and HOME is not set"),
    ("", None, "XDG_DATA_HOME is not set, and HOME is empty"),
    ("", "data", "XDG_DATA_HOME is the relative path 'data', which the XDG specification says to ignore, and HOME "
                 "is empty"),
    ("home", "", "XDG_DATA_HOME is not set, and HOME is the relative path 'home'"),
])
def test_without_a_home_directory_a_claim_without_ledger_is_a_usage_error(cli, tmp_path, monkeypatch, home, xdg, why):
    # HOME="" put the default ledger in /.local/share/slapolicy (Python's expanduser takes an empty HOME for /), and
    # HOME unset in the password entry's home: a ledger nobody looks for, blind to the grants of the one they do.
    for name, value in (("HOME", home), ("XDG_DATA_HOME", xdg)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    root_before = os.path.lexists("/.local/share/slapolicy")
    result = cli("claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW)
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"slapolicy claim: no ledger given, and no directory for the default one "
                          f"($XDG_DATA_HOME/slapolicy, else $HOME/.local/share/slapolicy): {why}; give one (--ledger "
                          "DB), or set XDG_DATA_HOME or HOME to an absolute path\n")
    assert list(tmp_path.iterdir()) == [] and os.path.lexists("/.local/share/slapolicy") == root_before
    served = cli("serve", POLICIES, "--port", "0")  # refused before it listens, not at its first claim
    assert (served.code, served.out, served.err) == (2, "", result.err.replace("slapolicy claim:", "slapolicy serve:"))
    # An absolute XDG_DATA_HOME alone is enough: the specification's own variable.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cli("claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW).code == 0
    assert (tmp_path / "data" / "slapolicy" / "ledger.sqlite").is_file()


@pytest.mark.slow
def test_a_draft_or_edited_copy_outside_a_family_is_evaluated_and_replayed_under(cli, tmp_path):
    # docs/cli.md: `--policy-file F` evaluates under "that file (a draft, an edited copy)", `--under F` replays
    # under "a published version or a draft". A draft saved anywhere but a drafts/ folder was refused, "a draft
    # belongs under drafts/, not among the published versions", and an edited copy not named by its date, "file is
    # named ...": where a file sits says nothing of what it says, as render, diff and publish already judged it.
    import shutil

    draft, edited = tmp_path / "my-draft.yaml", tmp_path / "edited copy.yaml"
    shutil.copy(DRAFT, draft)
    shutil.copy(PUBLISHED, edited)
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--billing", BILLING,
                 "--account", "acme", "--policy-file", draft)
    assert result.code == 0, result.err
    # acme: 45 unavailable minutes of 44640 → 99.899 %, below the draft's 99.95 % standard: tier 1, 10 % of 2500.00.
    assert [(e["account"], e["compensation"]) for e in result.json()["evaluations"]] == [("acme", "250.00")]
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--billing", BILLING,
                 "--account", "acme", "--policy-file", edited)
    assert result.code == 0, result.err
    assert [(e["account"], e["compensation"]) for e in result.json()["evaluations"]] == [("acme", "0.00")]
    result = cli("replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--billing", BILLING,
                 "--under", draft)
    assert result.code == 0, result.err
    assert result.json()["totals"]["overall"]["delta"] == "250.00"


def test_a_draft_among_a_family_s_versions_is_still_reported_by_validate(cli, tmp_path):
    # validate checks a family's layout: there the misplaced draft stays an error.
    import shutil

    shutil.copy(DRAFT, tmp_path / "my-draft.yaml")
    (tmp_path / "versions.lock").write_text("{}\n")
    result = cli("validate", tmp_path / "my-draft.yaml")
    assert result.code == 1
    assert "error draft-published a draft belongs under drafts/, not among the published versions" in result.out


def test_a_draft_kept_in_a_folder_of_its_own_is_validated_by_what_it_says(cli, tmp_path):
    # Before: exit 1, "a draft belongs under drafts/, not among the published versions", for a draft saved on a
    # desktop, among no versions; the recipe's `slapolicy validate DRAFT.yaml` checks what the draft says.
    import shutil

    shutil.copy(DRAFT, tmp_path / "my-draft.yaml")
    result = cli("validate", tmp_path / "my-draft.yaml")
    assert (result.code, result.err) == (0, "1 file(s) checked: 0 error(s), 0 warning(s)\n")
    assert result.out == ""
    # The folder made a family since: the pass recorded for the draft where it stood no longer stands for it.
    (tmp_path / "versions.lock").write_text("{}\n")
    result = cli("validate", tmp_path / "my-draft.yaml")
    assert result.code == 1
    assert "error draft-published a draft belongs under drafts/, not among the published versions" in result.out


@pytest.mark.parametrize("now", ["9999-12-31T23:59-14:00", "0001-01-01T00:00+14:00"])
def test_now_outside_the_years_slapolicy_evaluates_is_a_usage_error(cli, tmp_path, now):
    # 9999-12-31T23:59-14:00 is 10000-01-01 in UTC: exit 3, "internal error ... OverflowError: date value out of
    # range". docs/cli.md: dates lie in the years 0002 to 9998.
    ledger = tmp_path / "ledger.sqlite"
    result = cli("claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--ledger", ledger, "--now", now)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(f"slapolicy claim: error: argument --now: {now!r} is outside the years 0002 to 9998 "
                               "that slapolicy can evaluate\n"), result.err
    assert not ledger.exists()


def test_the_api_refuses_now_outside_the_years_slapolicy_evaluates(tmp_path):
    import datetime as dt
    import json

    from slapolicy import Engine
    from slapolicy.errors import ArgumentError

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    now = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=14)))
    with pytest.raises(ArgumentError) as raised:
        engine.decide_claim(json.loads(CLAIM.read_text()), minutes=str(MINUTES), billing=str(BILLING), now=now)
    assert str(raised.value) == "now 9999-12-31T23:59:00-14:00 is outside the years 0002 to 9998 that slapolicy can evaluate"
    assert list(tmp_path.iterdir()) == []


def test_version_prints_the_engines_version_and_exits_0(cli):
    # `slapolicy --version` answered "the following arguments are required: COMMAND" (exit 2).
    from slapolicy import __version__

    result = cli("--version")
    assert (result.code, result.out, result.err) == (0, f"slapolicy {__version__}\n", "")
    assert __version__ == "0.3.0"  # the version pyproject.toml declares, recorded in each decision


def test_a_message_quoting_what_the_user_typed_shows_its_terminal_escapes_escaped(cli):
    # `--account $'\e[2J'` of no account was echoed raw in "account(s) ... have no minutes or billing": the terminal
    # cleared its screen. The message's characters that are not printable are now written as their escapes (and the
    # name holding them quoted, as the Python API and the service say it: errors.shown_name).
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--account", "\x1b[2Jzed\u202e")
    assert result.code == 1
    assert result.err == ("slapolicy: account(s) '\\x1b[2Jzed\\u202e' have no minutes or billing for 2019-03\n")
    assert "\x1b" not in result.err and "\u202e" not in result.err
    assert result.out == ""


@pytest.mark.parametrize("argv", [["diff", POLICIES, DRAFT], ["render", POLICIES],
                                  ["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03",
                                   "--under", POLICIES],
                                  ["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03",
                                   "--policy-file", POLICIES]])
def test_a_family_given_where_a_policy_file_is_asked_for_names_a_file_of_it(cli, argv):
    # Before: "is a directory, not a regular file (the policy file must be one)", and which file to give was left
    # to guess; the latest version by name is named.
    result = cli(*argv)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"{POLICIES}:1:1: error not-a-file is a directory, not a regular file (the policy file must be "
                          f"one): give one of its files, such as {PUBLISHED}\n")


def test_test_given_the_folder_of_the_families_names_a_family(cli, tmp_path):
    (tmp_path / "ccc").mkdir()
    (tmp_path / "ccc" / "2019-01-01.yaml").write_bytes(PUBLISHED.read_bytes())
    result = cli("test", tmp_path)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: no policy files (*.yaml) under {tmp_path}: give a family's directory, such as "
                          f"{tmp_path / 'ccc'}\n")
    assert cli("test", tmp_path / "ccc").code == 0
    (tmp_path / "empty").mkdir()  # nothing below it to name
    assert cli("test", tmp_path / "empty").err == f"slapolicy: no policy files (*.yaml) under {tmp_path / 'empty'}\n"


NOTHING = ("no account has minutes or billing in the Service Month 2019-04: nothing to evaluate (check --month, and "
           "that --minutes and --billing name the files meant)")


def test_a_month_without_a_row_or_bill_says_why_nothing_was_evaluated(cli):
    # examples/ccc holds March 2019 only. Before: `{"evaluations": []}` (or "no accounts to evaluate") and exit 0,
    # the same words whether --month or the file was wrong. Still exit 0: a month nobody used is no error. The rows
    # read say where they lie instead.
    nothing = NOTHING[:-1] + ("; the minutes' rows run from 2019-03-01 09:00 to 2019-03-29 17:59 (Asia/Singapore): "
                              "Service Month 2019-03)")
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--billing", BILLING, "--month", "2019-04")
    assert (result.code, result.out, result.err) == (0, '{\n  "evaluations": []\n}\n', f"slapolicy: {nothing}\n")
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--billing", BILLING, "--month", "2019-04", "--format", "text")
    assert (result.code, result.out, result.err) == (0, f"{nothing}\n", "")
    result = cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--account", "acme")
    assert (result.code, result.err) == (0, "")


def test_a_month_outside_a_month_partitioned_dataset_names_the_months_it_holds(cli, tmp_path):
    # --month 2019-04 over month=2019-01/ to month=2019-03/ directories said only "check --month": the directories
    # of other months are never opened, so their names are what the minutes are known to hold.
    import pyarrow as pa
    import pyarrow.parquet as pq

    for months, said in ((["2019-03"], "2019-03"), (["2019-01", "2019-02", "2019-03"], "2019-01, 2019-02, 2019-03"),
                         (["2018-12", "2019-01", "2019-02", "2019-03"], "2018-12 to 2019-03 (4 months)")):
        dataset = tmp_path / "-".join(months)
        for month in months:
            (dataset / f"month={month}").mkdir(parents=True)
            pq.write_table(pa.table({"account": ["acme"], "minute": [f"{month}-05T10:00"], "requests": [100],
                                     "failures": [5]}), dataset / f"month={month}" / "part.parquet")
        (dataset / "_SUCCESS").mkdir()  # left out, as the reading leaves it out
        nothing = NOTHING[:-1] + f"; the minutes' month= directories hold {said})"
        result = cli("evaluate", POLICIES, "--minutes", dataset, "--month", "2019-04")
        assert (result.code, result.out, result.err) == (0, '{\n  "evaluations": []\n}\n', f"slapolicy: {nothing}\n")
        result = cli("evaluate", POLICIES, "--minutes", dataset, "--month", "2019-04", "--format", "text")
        assert (result.code, result.out, result.err) == (0, f"{nothing}\n", "")


def test_a_relative_policy_directory_that_is_not_there_names_the_working_directory(cli, tmp_path, monkeypatch):
    # README's commands name policies/ccc from the repository's root; run from elsewhere, "no such policy directory"
    # left the user to wonder where it was looked for. An absolute path needs no such word.
    monkeypatch.chdir(tmp_path)
    relative = f"policies/ccc:1:1: error not-a-directory no such policy directory (a relative path, read from the " \
               f"working directory {tmp_path})\n"
    for argv in (["versions", "policies/ccc"], ["show", "policies/ccc", "--month", "2019-03"],
                 ["evaluate", "policies/ccc", "--minutes", MINUTES, "--month", "2019-03"]):
        assert (cli(*argv).code, cli(*argv).err) == (1, relative)
    result = cli("publish", "policies/ccc", DRAFT)
    assert (result.code, result.out) == (1, relative)
    absent = tmp_path / "policies" / "ccc"
    assert cli("versions", absent).err == f"{absent}:1:1: error not-a-directory no such policy directory\n"
    # publish named a file given as the family "no such policy directory", as if nothing were there
    result = cli("publish", PUBLISHED, DRAFT)
    assert (result.code, result.out) == (1, f"{PUBLISHED}:1:1: error not-a-directory a file, not a policy directory "
                                            "(give the directory that holds it)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["evaluate", "--month", "2019-03", "--minutes", MINUTES],
                                     ["replay", "--from", "2019-03", "--to", "2019-03", "--under", DRAFT,
                                      "--minutes", MINUTES],
                                     ["versions"], ["show", "--month", "2019-03"]])
def test_a_data_file_given_as_the_policy_directory_says_which_comes_first(cli, tmp_path, command):
    # A new user's `slapolicy evaluate examples/ccc/minutes.csv --month 2019-03 ...` was told "a file, not a policy
    # directory (give the directory that holds it)": examples/ccc, which holds no version, as the next try.
    for data in (MINUTES, BILLING):
        result = cli(command[0], data, *command[1:])
        assert (result.code, result.out) == (1, "")
        assert result.err == (f"{data}:1:1: error not-a-directory a data file (CSV), not a policy directory: the policy "
                              "family's directory comes first (e.g. policies/ccc), and the minutes and billing after "
                              "their options (--minutes, --billing)\n")
    assert list(tmp_path.iterdir()) == []


def test_a_claim_given_before_the_policy_directory_says_which_comes_first(cli, tmp_path):
    # `slapolicy claim claim.json policies/ccc ...` was told "policies/ccc: is a directory, not a regular file (the
    # claim must be one)", which names neither order; publish says it for a draft given first.
    ledger = tmp_path / "ledger.sqlite"
    result = cli("claim", CLAIM, POLICIES, "--minutes", MINUTES, "--ledger", ledger, "--now", NOW)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {POLICIES} is a directory and {CLAIM} a file: the policy family's directory "
                          f"comes first, then the claim (slapolicy claim {POLICIES} {CLAIM})\n")
    assert list(tmp_path.iterdir()) == []


def test_an_account_or_a_claim_of_a_month_outside_a_month_partitioned_dataset_names_the_months_it_holds(cli, tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "d" / "month=2019-03").mkdir(parents=True)
    pq.write_table(pa.table({"account": ["acme"], "minute": ["2019-03-05T10:00"], "requests": [100], "failures": [5]}),
                   tmp_path / "d" / "month=2019-03" / "part.parquet")
    held = "; the minutes' month= directories hold 2019-03"
    result = cli("evaluate", POLICIES, "--minutes", tmp_path / "d", "--month", "2019-05", "--account", "acme")
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: account(s) acme have no minutes or billing "
                                                            f"for 2019-05{held}\n")
    result = cli("evaluate", POLICIES, "--minutes", tmp_path / "d", "--month", "2019-03", "--account", "nobody")
    assert result.err == "slapolicy: account(s) nobody have no minutes or billing for 2019-03\n"  # 2019-03 is held
    claim = {"account": "acme", "service_month": "2019-05", "filed_at": "2019-06-03T09:00+08:00",
             "channel": "work_order", "event_report": "calls failed",
             "unavailability": [{"start": "2019-05-12T10:00+08:00", "end": "2019-05-12T10:30+08:00"}]}
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    result = cli("claim", POLICIES, tmp_path / "claim.json", "--minutes", tmp_path / "d", "--ledger",
                 tmp_path / "ledger.sqlite", "--now", "2019-06-05T10:00+08:00")
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {tmp_path / 'claim.json'}: field 'account': unknown account 'acme' (not in the minutes or billing "
        f"of 2019-05){held}\n"))
    assert not (tmp_path / "ledger.sqlite").exists()


DASHBOARD = ("is a web address, as the Dask dashboard's (http://HOST:8787); the scheduler's address is tcp://HOST:8786, "
             "as `dask scheduler` prints it (Scheduler at: tcp://…)")


@pytest.mark.parametrize("argv", [
    ["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03"],
    ["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--ledger", "LEDGER"],
    ["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT],
    ["serve", POLICIES, "--ledger", "LEDGER", "--port", "0"]], ids=["evaluate", "claim", "replay", "serve"])
@pytest.mark.parametrize("address", ["http://127.0.0.1:8787", "HTTPS://dask.example.com/status"])
def test_a_web_address_given_as_the_scheduler_s_is_a_usage_error(cli, tmp_path, argv, address):
    # A new user gave the dashboard's address (the one a browser shows): "internal error, please report it:
    # ValueError: unknown address scheme 'http' (known schemes: …)", exit 3, and a traceback of Client.__del__ after it
    argv = [tmp_path / "ledger.sqlite" if a == "LEDGER" else a for a in argv]
    result = cli(*argv, "--dask", address)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(f"slapolicy {argv[0]}: error: argument --dask: {address} {DASHBOARD}\n"), result.err
    assert list(tmp_path.iterdir()) == []


def test_the_api_refuses_a_web_address_as_the_scheduler_s(tmp_path):
    from slapolicy import ArgumentError, Engine

    with pytest.raises(ArgumentError) as raised:
        Engine(POLICIES, dask="http://127.0.0.1:8787")
    assert str(raised.value) == f"dask='http://127.0.0.1:8787' {DASHBOARD}"
    with pytest.raises(ArgumentError) as raised:
        Engine(POLICIES).evaluate(minutes=MINUTES, month="2019-03", dask="https://h:8787/status")
    assert str(raised.value) == f"dask='https://h:8787/status' {DASHBOARD}"


NOT_USABLE = "give it as `dask scheduler` prints it (Scheduler at: tcp://HOST:8786)"


@pytest.mark.slow  # loads distributed
@pytest.mark.parametrize("address, why", [
    ("tcp://127.0.0.1:abc", "ValueError: invalid literal for int() with base 10: 'abc'"),
    ("foo://127.0.0.1:8786", "ValueError: unknown address scheme 'foo'"),
    ("127.0.0.1", "ValueError: missing port number in address '127.0.0.1'")])
@pytest.mark.parametrize("argv", [
    ["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03"],
    ["claim", POLICIES, CLAIM, "--minutes", MINUTES, "--billing", BILLING, "--now", NOW, "--ledger", "LEDGER"]],
    ids=["evaluate", "claim"])
def test_an_address_distributed_cannot_use_is_said_at_once(cli, tmp_path, argv, address, why):
    # 'internal error, please report it: ValueError: …', exit 3, after ~40 s of the half-made client closing itself
    # at exit (Client.__del__), and its 'IO loop' thread left running in the process meanwhile
    import threading

    argv = [tmp_path / "ledger.sqlite" if a == "LEDGER" else a for a in argv]
    result = cli(*argv, "--dask", address)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"slapolicy: the Dask scheduler's address {address!r} is not one a Dask client can "
                                 f"use ({why}"), result.err
    assert result.err.endswith(f"): {NOT_USABLE}\n"), result.err
    assert list(tmp_path.iterdir()) == []
    assert [t.name for t in threading.enumerate() if t.name == "IO loop"] == []
