"""Minutes as careless analysts hand them over (a month's files misfiled, keys given twice, ...): each is refused
with the file and what is wrong, exit 1 and nothing on stdout, or read exactly as the same rows laid out plainly."""
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DRAFT, POLICIES, REPO, assert_refused, evaluate_march

EXAMPLES = REPO / "examples" / "ccc"


def one_row_table(account="acme", minute="2019-03-01T00:00Z", requests=100, failures=2):
    """One minute of an account, 2 failures of 100 requests (98 % < 99 %: unavailable)."""
    import pyarrow as pa

    moment = dt.datetime.fromisoformat(minute.replace("Z", "+00:00"))
    return pa.table({"account": [account], "minute": pa.array([moment], pa.timestamp("s", tz="UTC")),
                     "requests": [requests], "failures": [failures]})


def test_a_directory_key_given_twice_with_two_values_is_refused(tmp_path):
    import pyarrow.parquet as pq

    # 2019-03-01T00:00Z is 08:00 on March 1 in Singapore: a March row, filed under month=2019-03 and, inside it,
    # month=2019-04. The inner key pruned the file out of March: evaluate listed nobody, exit 0.
    folder = tmp_path / "hive" / "month=2019-03" / "month=2019-04"
    folder.mkdir(parents=True)
    pq.write_table(one_row_table(), folder / "part-0.parquet")
    assert_refused(evaluate_march(tmp_path / "hive"),
                   f"{folder / 'part-0.parquet'}: directory key month= is given twice, month=2019-03 and month=2019-04")


def test_a_directory_key_given_twice_alike_is_read(tmp_path):
    import pyarrow.parquet as pq

    folder = tmp_path / "hive" / "account=acme" / "month=2019-03" / "account=acme"
    folder.mkdir(parents=True)
    pq.write_table(one_row_table(), folder / "part-0.parquet")
    result = evaluate_march(tmp_path / "hive")
    assert result.code == 0, result.err
    (evaluation,) = result.json()["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("acme", 1, 1)


FORGED = "evil\noverall: 0 account-month(s), 0 changed, compensation 0.00 → 0.00 (0.00)\nx"
RED = "\x1b[31mred\x1b[0m"


def test_an_account_name_cannot_forge_a_line_or_drive_the_terminal_in_text_reports(tmp_path, cli):
    # One minute each, 5 failures of 100 requests (unavailable): 1 of 44640 minutes, 100.00 %, nothing owed.
    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\n"
                       + "".join('"' + name + '",2019-03-01T10:00,100,5\n' for name in (FORGED, RED)))
    replay = cli("replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT,
                 "--format", "text")
    assert replay.code == 0, replay.err
    lines = replay.out.splitlines()
    assert lines[3:] == [
        # the account column as wide as it grows (40); the longer name keeps two spaces before its month
        "\\x1b[31mred\\x1b[0m".ljust(40) + "  2019-03        100.00%              0% -              0% -          -  -",
        "evil\\noverall: 0 account-month(s), 0 changed, compensation 0.00 → 0.00 (0.00)\\nx"
        "  2019-03        100.00%              0% -              0% -          -  -",
        "",
        "2019-03: 2 account-month(s), 0 changed, compensation 0.00 → 0.00 (0.00); 2 account-month(s) without billing: "
        "their compensation is not in this total (no Monthly Service Fee; give --billing)",
        "overall: 2 account-month(s), 0 changed, compensation 0.00 → 0.00 (0.00); 2 account-month(s) without billing: "
        "their compensation is not in this total (no Monthly Service Fee; give --billing)"]
    evaluate = cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--account", RED, "--format", "text")
    assert evaluate.code == 0, evaluate.err
    assert evaluate.out.splitlines()[0] == ("Account \\x1b[31mred\\x1b[0m — Service Month 2019-03-01 to 2019-03-31 "
                                            "(44640 minutes), policy ccc-sla 2019-01-01")
    # The JSON keeps the names as they are.
    assert [e["account"] for e in evaluate_march(minutes).json()["evaluations"]] == [RED, FORGED]


def test_ctrl_c_while_the_command_s_modules_load_exits_130_without_a_traceback(monkeypatch, capsys):
    # On a busy machine the command's modules (numpy, the policy package) take a second or more to load; Ctrl-C then
    # printed a KeyboardInterrupt traceback and the process died of the signal, not with 130.
    import sys

    from slapolicy.cli import main

    class Interrupted:
        def find_spec(self, name, path=None, target=None):
            if name == "slapolicy.cli.command":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "slapolicy.cli.command")
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    assert main(["versions", str(POLICIES)]) == 130
    assert capsys.readouterr() == ("", "slapolicy: interrupted\n")


@pytest.fixture
def acme_folder(tmp_path):
    """A directory of minutes holding acme's one minute as a.parquet, beside which a test puts another file."""
    import pyarrow.parquet as pq

    folder = tmp_path / "minutes"
    folder.mkdir()
    pq.write_table(one_row_table("acme"), folder / "a.parquet")
    return folder


def test_a_parquet_file_not_named_parquet_in_a_directory_is_refused_and_other_files_are_left_alone(acme_folder):
    import pyarrow.parquet as pq

    # A Hive table's files are named 000000_0: globex's minute was silently not read beside acme's a.parquet.
    (acme_folder / "README.txt").write_text("exported 2019-04-02\n")
    result = evaluate_march(acme_folder)
    assert result.code == 0, result.err
    assert [e["account"] for e in result.json()["evaluations"]] == ["acme"]
    pq.write_table(one_row_table("globex"), acme_folder / "000000_0")
    assert_refused(evaluate_march(acme_folder),
                   f"{acme_folder / '000000_0'}: a Parquet file whose name does not end in .parquet, which would not "
                   "be read: rename it (a directory of minutes reads its *.parquet and *.pq files)")


def test_json_lines_named_ndjson_beside_parquet_files_is_refused(acme_folder):
    (acme_folder / "b.ndjson").write_text('{"account": "globex", "minute": "2019-03-01T10:00", "requests": 100, '
                                          '"failures": 2}\n')
    assert_refused(evaluate_march(acme_folder),
                   f"{acme_folder / 'b.ndjson'}: a directory of minutes is read as Parquet files only; this file would "
                   "not be read: move it out of the directory, or give it as --minutes on its own")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full, a device that is always full")
@pytest.mark.parametrize("command", [["versions", str(POLICIES)],
                                     ["replay", str(POLICIES), "--minutes", str(EXAMPLES / "minutes.csv"), "--from",
                                      "2019-03", "--to", "2019-03", "--under", str(DRAFT), "--format", "html"]])
@pytest.mark.slow
def test_a_report_redirected_to_a_full_disk_is_exit_1_not_an_internal_error(command):
    # It was "slapolicy: internal error, please report it: OSError: [Errno 28] No space left on device", exit 3.
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "slapolicy.cli", *command], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert (done.returncode, done.stderr) == (1, "slapolicy: cannot write the output: No space left on device\n")


def test_output_that_cannot_be_flushed_at_the_end_is_said_and_the_status_is_1(monkeypatch, capsys):
    import errno

    from slapolicy.cli import command

    class Full:
        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    ended = []
    monkeypatch.setattr(command.os, "_exit", ended.append)
    monkeypatch.setattr(command.sys, "stdout", Full())
    monkeypatch.delitem(sys.modules, "multiprocessing", raising=False)  # as a command without workers: os._exit
    command.end_process(0)
    assert ended == [1] and capsys.readouterr().err == "slapolicy: cannot write the output: No space left on device\n"


@pytest.mark.parametrize("option", ["--minutes", "--billing", "--incidents", "--notices"])
@pytest.mark.parametrize("command", ["evaluate", "replay", "claim"])
def test_an_empty_path_from_an_unset_variable_is_a_usage_error(cli, tmp_path, command, option):
    # --billing "$BILLING" with the variable unset: billing, incidents or notices were left out silently (no money, no
    # exclusions) and --minutes "" read the working directory.
    claim = tmp_path / "claim.json"
    claim.write_text('{"account": "acme", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", '
                     '"channel": "work_order"}')
    ledger = tmp_path / "ledger.sqlite"
    inputs = {"--minutes": EXAMPLES / "minutes.csv", "--billing": EXAMPLES / "billing.csv",
              "--incidents": EXAMPLES / "incidents.yaml", "--notices": EXAMPLES / "notices.yaml"}
    inputs[option] = ""
    given = [x for name, value in inputs.items() for x in (name, value)]
    arguments = {"evaluate": ["--month", "2019-03"], "replay": ["--from", "2019-03", "--to", "2019-03", "--under", DRAFT],
                 "claim": [claim, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00"]}[command]
    result = cli(command, POLICIES, *arguments, *given)
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith(f"slapolicy {command}: error: argument {option}: an empty path names no file; give one, "
                               "or leave the option out\n")
    assert not ledger.exists()


@pytest.mark.parametrize("name", ["minutes", "billing", "incidents", "notices"])
def test_an_empty_path_handed_to_the_engine_is_an_argument_error(tmp_path, name):
    from slapolicy import Engine
    from slapolicy.errors import ArgumentError

    inputs = {"minutes": str(EXAMPLES / "minutes.csv"), "billing": str(EXAMPLES / "billing.csv")} | {name: "  "}
    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    claim = {"account": "acme", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order"}
    message = f"{name} is an empty string: give a path, or None to go without"
    for call in (lambda: engine.evaluate(month="2019-03", **inputs),
                 lambda: engine.replay(start="2019-03", end="2019-03", under=DRAFT, **inputs),
                 lambda: engine.decide_claim(claim, **inputs)):
        with pytest.raises(ArgumentError) as raised:
            call()
        assert str(raised.value) == message
    assert not (tmp_path / "ledger.sqlite").exists()
