"""`--output FILE` (evaluate, claim, replay): the output written whole or not at all, an existing file left as it was
on any problem, Ctrl-C or a full disk; and what a claim says when its output cannot be written (docs/cli.md,
"Output")."""
import os
import resource
import subprocess
import sys

import pytest

from conftest import DRAFT, POLICIES, run_cli

EXAMPLES = POLICIES.parent.parent / "examples" / "ccc"
MARCH = ["--month", "2019-03", "--minutes", EXAMPLES / "minutes.csv", "--billing", EXAMPLES / "billing.csv"]
OLD = "the report of yesterday\n"


def claim_of(tmp_path, *options):
    return ["claim", POLICIES, EXAMPLES / "claim-globex-2019-03.json", "--minutes", EXAMPLES / "minutes.csv",
            "--billing", EXAMPLES / "billing.csv", "--ledger", tmp_path / "ledger.sqlite",
            "--now", "2019-04-10T12:00+00:00", *options]


@pytest.mark.parametrize("command", [["evaluate", POLICIES, *MARCH, "--format", "text"],
                                     ["replay", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--from", "2019-03",
                                      "--to", "2019-03", "--under", DRAFT, "--format", "html"]])
def test_the_output_file_holds_what_standard_output_would(tmp_path, command):
    printed = run_cli(*command)
    report = tmp_path / "reports" / "report"
    report.parent.mkdir()
    report.write_text(OLD)
    written = run_cli(*command, "--output", report)
    assert (written.code, written.out, written.err) == (0, "", printed.err)
    assert report.read_text(encoding="utf-8") == printed.out and len(printed.out) > 1000
    assert os.listdir(report.parent) == ["report"]  # no temporary file left beside it
    assert oct(report.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # as `>` makes a file


REPLAY = ["replay", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--from", "2019-03", "--to", "2019-03",
          "--under", DRAFT]


@pytest.mark.slow
@pytest.mark.parametrize("command,name,fmt", [
    (REPLAY, "report.html", "html"), (REPLAY, "Report.HTM", "html"), (REPLAY, "report.txt", "text"),
    (["evaluate", POLICIES, *MARCH], "march.txt", "text"),
    # A format the command does not have, or a name that asks for none, is the default's (evaluate has no page).
    (["evaluate", POLICIES, *MARCH], "march.html", "json"), (REPLAY, "report", "json"), (REPLAY, "r.html.json", "json")])
def test_without_format_the_output_file_s_name_chooses_it(tmp_path, command, name, fmt):
    # An analyst's `slapolicy replay ... --output report.html` wrote the JSON into report.html (--format json, the
    # default), which a browser shows as a wall of text: the page needed --format html too.
    report = tmp_path / name
    written = run_cli(*command, "--output", report)
    assert (written.code, written.out) == (0, "")
    assert report.read_text(encoding="utf-8") == run_cli(*command, "--format", fmt).out


@pytest.mark.slow
def test_a_format_given_is_written_whatever_the_output_file_s_name(tmp_path):
    report = tmp_path / "report.html"
    assert run_cli(*REPLAY, "--format", "json", "--output", report).code == 0
    assert report.read_text(encoding="utf-8") == run_cli(*REPLAY).out
    claim = tmp_path / "decision.txt"
    assert run_cli(*claim_of(tmp_path), "--output", claim).code == 0
    assert claim.read_text(encoding="utf-8").startswith("Claim D-e67e91136ec38743702c — account globex")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_claim_with_its_output_in_a_file_prints_nothing_and_records_the_decision(tmp_path):
    report = tmp_path / "decision.json"
    result = run_cli(*claim_of(tmp_path, "--output", report))
    assert (result.code, result.out, result.err) == (0, "", "")
    again = run_cli(*claim_of(tmp_path))
    assert again.json() | {"repeated": False} == __import__("json").loads(report.read_text()) | {"repeated": False}
    assert again.json()["repeated"] is True


def test_a_bad_input_leaves_the_existing_output_file_as_it_was(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(OLD)
    result = run_cli("evaluate", POLICIES, "--month", "2019-03", "--minutes", tmp_path / "missing.csv",
                     "--output", report)
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {tmp_path / 'missing.csv'}: no such file\n")
    assert report.read_text() == OLD and os.listdir(tmp_path) == ["report.json"]


def test_ctrl_c_while_the_output_is_written_leaves_the_existing_file_as_it_was(tmp_path, monkeypatch):
    """Half the output written when Ctrl-C lands: the file named keeps yesterday's report, whole, and nothing else is
    left beside it (with `>` it would hold the half written)."""
    from slapolicy.cli import data_commands

    def half_then_ctrl_c(*args):
        sys.stdout.write("x" * 100_000)  # more than a buffer: written to the file before Ctrl-C
        raise KeyboardInterrupt
    monkeypatch.setattr(data_commands, "_emit", half_then_ctrl_c)
    report = tmp_path / "report.txt"
    report.write_text(OLD)
    result = run_cli("evaluate", POLICIES, *MARCH, "--format", "text", "--output", report)
    assert (result.code, result.out, result.err) == (130, "", "slapolicy: interrupted\n")
    assert report.read_text() == OLD and os.listdir(tmp_path) == ["report.txt"]


def test_an_output_file_that_cannot_be_made_is_refused_before_the_claim_is_recorded(tmp_path):
    result = run_cli(*claim_of(tmp_path, "--output", tmp_path / "missing" / "decision.json"))
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: --output {tmp_path / 'missing' / 'decision.json'}: cannot write in "
                          f"{tmp_path / 'missing'}: No such file or directory\n")
    assert os.listdir(tmp_path) == []  # no ledger
    result = run_cli(*claim_of(tmp_path, "--output", tmp_path))
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: --output {tmp_path}: is a directory; name a file\n")
    assert os.listdir(tmp_path) == []


def test_an_output_file_through_a_symbolic_link_replaces_the_file_it_names(tmp_path):
    (tmp_path / "latest.json").symlink_to("report.json")
    result = run_cli("evaluate", POLICIES, *MARCH, "--output", tmp_path / "latest.json")
    assert (result.code, result.out) == (0, "")
    assert (tmp_path / "latest.json").is_symlink() and (tmp_path / "report.json").read_text().startswith("{")


@pytest.mark.slow
def test_an_output_file_beyond_the_file_size_limit_is_exit_1_and_leaves_the_old_file(tmp_path):
    """A full disk, as RLIMIT_FSIZE gives it (EFBIG; Python ignores SIGXFSZ): the evaluation's 9 KB do not fit in
    4 KB. Exit 1 with what happened, no traceback; the old report whole and nothing beside it."""
    report = tmp_path / "report.json"
    report.write_text(OLD)
    done = subprocess.run([sys.executable, "-m", "slapolicy", "evaluate", POLICIES, *MARCH, "--output", report],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)))
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "slapolicy: cannot write the output: File too large\n")
    assert report.read_text() == OLD and os.listdir(tmp_path) == ["report.json"]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full, a device that is always full")
def test_a_claim_whose_output_cannot_be_written_says_its_decision_is_recorded(tmp_path):
    """The decision is recorded before it is printed: to a full disk, the message says so and how to see it again
    (exit 1, no traceback); deciding the claim again prints the same decision, marked repeated."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "slapolicy", *map(str, claim_of(tmp_path))], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (1, "slapolicy: cannot write the output: No space left on device; the "
                                                 "decision D-e67e91136ec38743702c is recorded in the ledger all the "
                                                 "same: decide the claim again to print it (the same decision, marked "
                                                 "repeated)\n")
    again = run_cli(*claim_of(tmp_path))
    assert (again.code, again.json()["decision_id"], again.json()["repeated"]) == (0, "D-e67e91136ec38743702c", True)


@pytest.mark.slow
def test_ctrl_c_while_a_reader_of_the_pipe_is_slow_leaves_it_a_beginning_and_status_130(tmp_path):
    """The output (270 KB of JSON: 100 accounts) is whole before it is written; the reader has read none of it, so
    the write waits with the pipe full (64 KiB) when Ctrl-C comes. The command ends at once: 130 and one line; the
    reader then finds a beginning of the output, never more nor other bytes (docs/cli.md, "Interrupted")."""
    import signal
    import time

    minutes = tmp_path / "minutes.csv"
    minutes.write_text("account,minute,requests,failures\n" +
                       "".join(f"acct{k:03d},2019-03-05T10:00,100,90\n" for k in range(100)))
    command = [sys.executable, "-m", "slapolicy", "evaluate", POLICIES, "--month", "2019-03", "--minutes", minutes]
    whole = subprocess.run(command, capture_output=True, timeout=120).stdout
    told, tell = os.pipe()
    process = subprocess.Popen(command, stdout=tell, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(tell)
    try:
        deadline = time.monotonic() + 60
        while _pipe_bytes(told) < 65536 and time.monotonic() < deadline:  # the pipe full: the write waits
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        assert process.stderr.read() == b"slapolicy: interrupted\n"
        with os.fdopen(told, "rb") as reader:
            seen = reader.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert len(whole) > 250_000 and 0 < len(seen) < len(whole) and whole.startswith(seen)


def _pipe_bytes(fd: int) -> int:
    """The bytes waiting in a pipe to be read (FIONREAD)."""
    import array
    import fcntl
    import termios

    count = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, count)
    return count[0]


@pytest.mark.slow
def test_a_claim_whose_reader_went_away_is_recorded_and_exits_0(tmp_path):
    """`slapolicy claim ... | head -c 10`, the reader gone before the decision is printed: exit 0 and no message (the
    reader chose to stop), no traceback; the decision is recorded, and deciding again prints it whole."""
    told, tell = os.pipe()
    os.close(told)
    done = subprocess.run([sys.executable, "-m", "slapolicy", *map(str, claim_of(tmp_path))], stdout=tell,
                          stderr=subprocess.PIPE, timeout=120)
    os.close(tell)
    assert (done.returncode, done.stderr) == (0, b"")
    again = run_cli(*claim_of(tmp_path))
    assert (again.code, again.json()["decision_id"], again.json()["repeated"]) == (0, "D-e67e91136ec38743702c", True)


@pytest.mark.parametrize("kept", ["ledger", "minutes", "claim"])
def test_an_output_file_that_is_the_ledger_or_an_input_is_a_usage_error(tmp_path, kept):
    """--output naming the ledger replaced it with the decision's JSON once the claim was recorded: every decision
    and grant lost. An input (the minutes, the claim) would be replaced too. Refused before any work, exit 2."""
    import shutil

    minutes = shutil.copy(EXAMPLES / "minutes.csv", tmp_path / "minutes.csv")
    claim = shutil.copy(EXAMPLES / "claim-globex-2019-03.json", tmp_path / "claim.json")
    ledger = tmp_path / "ledger.sqlite"
    from slapolicy.ledger import Ledger

    Ledger(ledger).close()
    named = {"ledger": ledger, "minutes": minutes, "claim": claim}[kept]
    before = named.read_bytes()
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--billing", EXAMPLES / "billing.csv",
                     "--ledger", ledger, "--now", "2019-04-10T12:00+00:00", "--output", named)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"slapolicy claim: --output {named} is the {kept} too: it would be replaced by the output; name another file\n"
    assert named.read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("command", [["evaluate", POLICIES, *MARCH], ["months", "--start", "2019-01-01", "--end",
                                                                       "2030-12-31", "--json"]])
def test_standard_output_to_a_full_disk_is_exit_1_never_a_silent_cut(tmp_path, command):
    """A report redirected (`>`) to a disk that fills as it is written (RLIMIT_FSIZE of 4 KiB; a full tmpfs alike):
    the system writes what fits and says so by the count it returns, and Python's buffered file took that short
    write as the whole, so the command exited 0 with the report cut at 4,096 bytes. Every byte is written, or the
    command says it could not: exit 1."""
    with open(tmp_path / "report.json", "w") as report:
        done = subprocess.run([sys.executable, "-m", "slapolicy", *map(str, command)], stdout=report,
                              stderr=subprocess.PIPE, text=True, timeout=120,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)))
    assert (done.returncode, done.stderr) == (1, "slapolicy: cannot write the output: File too large\n")
