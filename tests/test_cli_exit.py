"""A command run as its own process ends at once after its output is flushed (cli.command.end_process), skipping
Python's own ending; main() called by a program returns its status as it always did."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from slapolicy.cli import command

REPO = Path(__file__).resolve().parent.parent
EVALUATE = ["evaluate", str(REPO / "policies" / "ccc"), "--minutes", str(REPO / "examples" / "ccc" / "minutes.csv"),
            "--month", "2019-03", "--billing", str(REPO / "examples" / "ccc" / "billing.csv")]


def test_a_process_of_its_own_is_ended_with_the_commands_status(monkeypatch, capsys):
    ended = []

    def end(code):
        ended.append(code)
        raise SystemExit(code)  # what os._exit would do, without ending the test's process

    monkeypatch.setattr(command, "end_process", end)
    monkeypatch.setattr(command, "keep_freed_memory", lambda: True)
    monkeypatch.setattr(sys, "argv", ["slapolicy", "versions", str(REPO / "policies" / "ccc")])
    try:
        command.main()
    except SystemExit as exc:
        assert exc.code == 0
    monkeypatch.setattr(sys, "argv", ["slapolicy", "show", str(REPO / "policies" / "ccc"), "--month", "2018-12"])
    try:
        command.main()
    except SystemExit as exc:
        assert exc.code == 1  # no version in force for the month: a bad input
    assert ended == [0, 1]
    ended.clear()
    assert command.main(["versions", str(REPO / "policies" / "ccc")]) == 0  # called by a program: it returns
    assert ended == []


@pytest.mark.slow
def test_the_whole_output_is_written_before_the_process_ends():
    """Into a pipe, every byte of evaluate's JSON (the one main() gives in this process), exit 0; a bad input:
    its message, exit 1, nothing on stdout."""
    done = subprocess.run([sys.executable, "-m", "slapolicy.cli", *EVALUATE], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == run_cli(*EVALUATE).out
    bad = subprocess.run([sys.executable, "-m", "slapolicy.cli", *EVALUATE[:-2], "--billing", str(REPO / "nowhere.csv")],
                         capture_output=True, text=True)
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr.startswith("slapolicy: ") and "nowhere.csv" in bad.stderr


def test_a_process_that_started_workers_ends_as_python_does(monkeypatch, capsys):
    """With multiprocessing loaded (--workers, Dask), end_process returns the status for Python's own ending, whose
    finalizers release the pool's semaphores (else its resource tracker warns of leaked ones); without, it ends
    the process there."""
    import types

    exits = []
    monkeypatch.setattr(command.os, "_exit", exits.append)
    monkeypatch.setitem(sys.modules, "multiprocessing", sys.modules.get("multiprocessing", types.ModuleType("mp")))
    assert command.end_process(3) == 3 and exits == []
    monkeypatch.delitem(sys.modules, "multiprocessing")
    command.end_process(3)
    assert exits == [3]


@pytest.mark.slow
def test_a_closed_stream_is_not_flushed_at_the_end():
    """A process started with stderr (or stdout) closed has None for sys.stderr (sys.stdout): the status is still
    the command's own, not 1 from an AttributeError (and its traceback) in the flush at the end. months of March
    2024 written to /dev/null with stderr closed: 0, as before the process ended itself. With stdout closed the
    command is refused in one line, exit 1 (below)."""
    months = [sys.executable, "-m", "slapolicy.cli", "months", "--start", "2024-03-01", "--end", "2024-03-31"]
    quiet = subprocess.run(months, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: os.close(2))
    assert quiet.returncode == 0
    closed = subprocess.run(months, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1))
    assert (closed.returncode, closed.stderr) == (1, "slapolicy: cannot write the output: standard output is closed "
                                                     "(to discard it, redirect it to /dev/null)\n")


@pytest.mark.slow
def test_a_command_started_with_its_output_closed_is_refused_before_it_does_anything(tmp_path):
    # `slapolicy claim ... >&-` (a cron line that closes what it does not want): Python starts with sys.stdout None.
    # The claim is refused at once, exit 1, and its ledger is not created (it was decided and recorded, then failed
    # to print: exit 3, "internal error ... 'NoneType' object has no attribute 'write'").
    examples, ledger = REPO / "examples" / "ccc", tmp_path / "ledger.sqlite"
    done = subprocess.run([sys.executable, "-m", "slapolicy.cli", "claim", str(REPO / "policies" / "ccc"),
                           str(examples / "claim-globex-2019-03.json"), "--minutes", str(examples / "minutes.csv"),
                           "--ledger", str(ledger), "--now", "2019-04-20T10:00+08:00"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, "slapolicy: cannot write the output: standard output is closed (to "
                                                 "discard it, redirect it to /dev/null)\n")
    assert not ledger.exists()


@pytest.mark.slow
@pytest.mark.parametrize("environment", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                                         {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}])
def test_the_output_is_utf_8_whatever_the_locale_says(environment):
    """A locale or PYTHONIOENCODING that is not UTF-8 (a C locale with Python's UTF-8 mode off, a server's latin-1):
    the text's em dash was 'internal error, please report it: UnicodeEncodeError: 'ascii' codec can't encode
    character', exit 3, nothing printed. The output is UTF-8, as JSON must be and as --output writes it."""
    command = [sys.executable, "-m", "slapolicy", "months", "--start", "2019-01-01", "--end", "2019-02-28"]
    done = subprocess.run(command, capture_output=True, timeout=60, env={**os.environ, **environment})
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout == ("2019-01-01 – 2019-01-31  31 days   44640 minutes\n"
                           "2019-02-01 – 2019-02-28  28 days   40320 minutes\n").encode("utf-8")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_main_called_by_a_program_whose_output_cannot_write_the_text_says_what_to_do(encoding):
    """main() called by a program writes to the program's standard output as the program set it (the command's own
    process makes it UTF-8, a program's is left alone): one that cannot write the months' en dash was 'internal
    error, please report it: UnicodeEncodeError', exit 3. It is the output's encoding: exit 1, saying how to fix it."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from slapolicy.cli import main

    written = io.BytesIO()
    out, err = io.TextIOWrapper(written, encoding=encoding), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["months", "--start", "2019-01-01", "--end", "2019-02-28"])
    out.flush()
    assert (code, err.getvalue()) == (1, f"slapolicy: cannot write the output: standard output is encoded as "
                                         f"{encoding}, which cannot write '–' (U+2013): make it UTF-8 (sys.stdout."
                                         "reconfigure(encoding='utf-8'), or PYTHONIOENCODING=utf-8)\n")
    assert written.getvalue() == b""
    assert out.encoding == encoding  # the program's stream is left as the program set it


def test_main_called_by_a_program_with_a_utf_8_output_writes_the_text():
    """The other side: the same command, the program's output UTF-8, exit 0 and the months."""
    result = run_cli("months", "--start", "2019-01-01", "--end", "2019-02-28")
    assert (result.code, result.err) == (0, "")
    assert result.out == ("2019-01-01 – 2019-01-31  31 days   44640 minutes\n"
                          "2019-02-01 – 2019-02-28  28 days   40320 minutes\n")
