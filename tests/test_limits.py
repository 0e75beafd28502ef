"""The machine's limits reached (memory, threads, open files): exit 1 with which limit and what to do, never an
internal error (exit 3) or a file said to be unreadable (docs/cli.md, "The machine's limits")."""
import errno
import json
import os
import resource
import subprocess
import sys

import pytest

from conftest import POLICIES, run_cli
from slapolicy.limits import exhausted, limit_message

EXAMPLES = POLICIES.parent.parent / "examples" / "ccc"
MARCH = ["evaluate", POLICIES, "--month", "2019-03", "--minutes", EXAMPLES / "minutes.csv", "--billing",
         EXAMPLES / "billing.csv"]
DO = ("give the command more memory (address space counts what pyarrow's threads reserve as well as what they use), "
      "or run fewer --workers processes")


def test_what_each_limit_says(monkeypatch):
    import pyarrow as pa

    monkeypatch.setattr(resource, "getrlimit", lambda which: {resource.RLIMIT_AS: (400 << 20, -1),
                                                              resource.RLIMIT_NOFILE: (16, 4096)}[which])
    assert limit_message(pa.ArrowMemoryError("malloc of size 16777216 failed")) == (
        "out of memory (ArrowMemoryError: malloc of size 16777216 failed): this process may use 400 MiB of address "
        f"space (ulimit -v); {DO}")
    assert limit_message(loader_error("libarrow.so.2600: failed to map segment from shared object")) == (
        "out of memory (ImportError: libarrow.so.2600: failed to map segment from shared object): this process may "
        f"use 400 MiB of address space (ulimit -v); {DO}")
    assert limit_message(OSError(errno.EMFILE, "Too many open files")) == (
        "too many open files (OSError: [Errno 24] Too many open files): this process may open 16 files; raise the "
        "limit (ulimit -n), or run fewer --workers processes (each holds files and pipes of its own)")
    assert limit_message(RuntimeError("can't start new thread")) == (
        "cannot start a thread (RuntimeError: can't start new thread): the memory this process may use, or the number "
        "of processes and threads, is reached; raise the limit (ulimit -v, ulimit -u, or the container's), or run "
        "fewer --workers processes")
    for other in (RuntimeError("dictionary changed size during iteration"), ImportError("No module named 'x'"),
                  OSError(errno.EAGAIN, "Resource temporarily unavailable"), pa.ArrowInvalid("CSV parse error"),
                  # an error whose text quotes a name or a value holding a limit's words
                  FileNotFoundError(errno.ENOENT, "No such file or directory", "Too many open files.csv"),
                  PermissionError(errno.EACCES, "Permission denied", "can't start new thread"),
                  pa.ArrowInvalid("CSV parse error: Expected 4 columns, got 2: acme,Too many open files")):
        assert (limit_message(other), exhausted(other)) == (None, False)


def test_without_a_limit_set_the_memory_used_up_is_the_machine_s(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert limit_message(MemoryError()) == (
        f"out of memory (MemoryError: no detail): the machine's or the container's memory is used up; {DO}")


def test_pyarrow_out_of_memory_while_a_parquet_footer_is_read_is_not_the_file_s_fault(tmp_path, monkeypatch):
    """It was 'cannot be read as PARQUET: malloc of size 16777216 failed' (exit 1, the file blamed), and the same
    error while reading rows was exit 3, 'internal error'."""
    import pyarrow as pa

    from helpers import many_batches_parquet
    from slapolicy.minutes import planning

    minutes = many_batches_parquet(tmp_path / "minutes.parquet", groups=1)

    def no_memory(*args, **kwargs):
        raise pa.ArrowMemoryError("malloc of size 16777216 failed")
    monkeypatch.setattr(planning, "local_metadata", no_memory)  # a local file's footer (planning.LocalParquet)
    monkeypatch.setattr(planning, "parquet_footer", lambda path: None)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    result = run_cli("evaluate", POLICIES, "--month", "2019-03", "--minutes", minutes)
    assert (result.code, result.out) == (1, "")
    assert result.err == ("slapolicy: out of memory (ArrowMemoryError: malloc of size 16777216 failed): the machine's "
                          f"or the container's memory is used up; {DO}\n")


def test_too_many_open_files_while_the_billing_is_read_is_not_the_file_s_fault(monkeypatch):
    """'billing.csv: cannot be read as CSV: [Errno 24] Too many open files' blamed the file."""
    import pyarrow.csv as pacsv

    def no_file(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")
    monkeypatch.setattr(pacsv, "read_csv", no_file)
    monkeypatch.setattr(resource, "getrlimit", lambda which: (64, 4096))
    result = run_cli(*MARCH)
    assert (result.code, result.out) == (1, "")
    assert result.err == ("slapolicy: too many open files (OSError: [Errno 24] Too many open files): this process may "
                          "open 64 files; raise the limit (ulimit -n), or run fewer --workers processes (each holds "
                          "files and pipes of its own)\n")


def limited(kind, value, *command):
    return subprocess.run([sys.executable, "-m", "slapolicy", *map(str, command)], capture_output=True, text=True,
                          timeout=120, preexec_fn=lambda: resource.setrlimit(kind, (value, value)))


@pytest.mark.slow
def test_an_address_space_too_small_for_pyarrow_is_exit_1_with_what_to_do():
    """RLIMIT_AS (ulimit -v) of 150 MiB: pyarrow's libraries or threads cannot be mapped. Whichever fails first (the
    limit at which each does depends on the machine), it is exit 1 and one line saying which limit, not exit 3."""
    done = limited(resource.RLIMIT_AS, 150 << 20, *MARCH)
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (1, "", 1), done.stderr
    assert done.stderr.startswith(("slapolicy: out of memory (", "slapolicy: cannot start a thread (")), done.stderr
    assert done.stderr.endswith("or run fewer --workers processes\n")


@pytest.mark.slow
def test_too_few_file_descriptors_for_the_worker_processes_is_exit_1_with_what_to_do():
    """RLIMIT_NOFILE (ulimit -n) of 10 and --workers 2: the pool's pipes run out. It was exit 3."""
    done = limited(resource.RLIMIT_NOFILE, 10, *MARCH, "--workers", "2")
    assert (done.returncode, done.stdout, done.stderr.count("\n")) == (1, "", 1), done.stderr
    # Where the files run out (a pipe, a module's file) depends on the machine: the error names it.
    assert done.stderr.startswith("slapolicy: too many open files (OSError: [Errno 24] Too many open files"), done.stderr
    assert done.stderr.endswith("): this process may open 10 files; raise the limit (ulimit -n), or run fewer --workers "
                                "processes (each holds files and pipes of its own)\n"), done.stderr


@pytest.mark.slow
def test_a_cancelled_reading_that_never_ends_is_given_up(monkeypatch):
    """Memory run out, pyarrow's CSV reader waits for ever for a worker thread it could not start; the command, whose
    billing failed the same way, cancelled the reading of the minutes and waited for it for ever (ulimit -v 320000:
    the command hung). A cancelled call is waited for CANCELLED_WAIT seconds (30), then given up."""
    import threading
    import time

    from slapolicy import distributed

    monkeypatch.setattr(distributed, "CANCELLED_WAIT", 0.3)
    never, ended, raised = threading.Event(), threading.Event(), []

    def command():
        try:
            with distributed.Background(never.wait):
                raise MemoryError("the billing's reading")
        except MemoryError as exc:
            raised.append(str(exc))
        ended.set()
    started = time.monotonic()
    threading.Thread(target=command, daemon=True).start()
    assert ended.wait(10)
    took = time.monotonic() - started
    never.set()
    assert raised == ["the billing's reading"] and 0.3 <= took < 5


# A cancelled call that never ends is waited for GIVEN_UP seconds in all, however many times it is cancelled: the tests
# below took twice as long (2 * GIVEN_UP or more) before. The margin above GIVEN_UP is for a loaded host.
GIVEN_UP = 2.0


@pytest.mark.slow
def test_ctrl_c_while_a_hung_reading_is_waited_for_gives_it_up_once(monkeypatch):
    """Ctrl-C while the command waits for its reading's result (Background.result, inside the with block, as
    Engine.claim waits): the wait cancelled the reading and waited CANCELLED_WAIT for it, then the block's end
    cancelled it again and waited as long again: 60 s of a hung reading before the command ended, not 30."""
    import signal
    import threading
    import time

    from slapolicy import distributed

    monkeypatch.setattr(distributed, "CANCELLED_WAIT", GIVEN_UP)
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with distributed.Background(lambda cancel: never.wait(), distributed.Cancellation()) as reading:
            # Ctrl-C as the terminal sends it: SIGINT, to the main thread (which runs this test) while it waits.
            threading.Timer(0.1, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()
            reading.result()
    took = time.monotonic() - started
    never.set()
    assert GIVEN_UP <= took < 1.75 * GIVEN_UP


@pytest.mark.slow
def test_a_hung_reading_whose_hung_digest_is_cancelled_with_it_is_given_up_once(monkeypatch):
    """read_minutes hashes the bytes it reads on a Background of its own, cancelled with the reading (its
    Cancellation's hook): the reading's cancel waited CANCELLED_WAIT for the digest inside that hook, then as long
    again for the reading itself."""
    import threading
    import time

    from slapolicy import distributed

    monkeypatch.setattr(distributed, "CANCELLED_WAIT", GIVEN_UP)
    never = threading.Event()

    def reading(cancel):
        hashing = distributed.Background(never.wait)
        with hashing, cancel.on_cancel(hashing.cancel):
            never.wait()

    started = time.monotonic()
    with pytest.raises(MemoryError):
        with distributed.Background(reading, distributed.Cancellation()):
            raise MemoryError("the billing's reading")
    took = time.monotonic() - started
    never.set()
    assert GIVEN_UP <= took < 1.75 * GIVEN_UP


@pytest.mark.slow
def test_a_reading_ahead_not_taken_whose_reading_and_digest_hang_is_given_up_once(monkeypatch, tmp_path):
    """A claim's reading ahead (ReadAhead) left unused (a claim answered from the ledger, an error, Ctrl-C) cancels
    its reading and its digest as the command ends: both hung, it waited CANCELLED_WAIT for one, then for the
    other."""
    import threading
    import time

    from test_scan import example_rows, write_parquet

    from slapolicy import distributed
    from slapolicy.minutes import aggregates

    monkeypatch.setattr(distributed, "CANCELLED_WAIT", GIVEN_UP)
    never, hung = threading.Event(), []

    class Hung:
        def map(self, *args, **kwargs):
            hung.append("reading")
            never.wait()

    def digest(*args):
        hung.append("digest")
        never.wait()

    monkeypatch.setattr(aggregates, "Runner", Hung)
    monkeypatch.setattr(aggregates, "read_digest", digest)
    minutes = str(write_parquet(tmp_path / "m.parquet", example_rows()))
    with aggregates.ReadAhead(minutes, ["acme"], "2019-03"):
        deadline = time.monotonic() + 60
        while len(hung) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sorted(hung) == ["digest", "reading"]
        started = time.monotonic()
    took = time.monotonic() - started
    never.set()
    assert GIVEN_UP <= took < 1.75 * GIVEN_UP


@pytest.mark.parametrize("quoted", ["Too many open files", "Failed to launch worker thread", "can't start new thread"])
@pytest.mark.parametrize("given", ["--minutes", "--billing"])
def test_a_row_quoting_a_limit_s_words_is_the_file_s_problem_not_a_limit(tmp_path, quoted, given):
    """pyarrow's parse error quotes the row: a row of 2 values whose second is 'Too many open files' was said to be
    the open-files limit reached ('raise the limit (ulimit -n)'), not the row it is."""
    bad = tmp_path / "bad.csv"
    bad.write_text(f"account,minute,requests,failures\nacme,{quoted}\n")
    inputs = {"--minutes": EXAMPLES / "minutes.csv", "--billing": EXAMPLES / "billing.csv"} | {given: bad}
    result = run_cli("evaluate", POLICIES, "--month", "2019-03", *(a for pair in inputs.items() for a in pair))
    columns = "account, minute, requests, failures"  # the file's header, whichever input it is given as
    assert (result.code, result.out, result.err) == (
        1, "", f"slapolicy: {bad}: cannot be read as CSV: line 2, column 'requests': no value; 2 values where the "
               f"header names 4 columns ({columns})\n")


def loader_error(message):
    """An extension module's library the loader could not load: an ImportError with the module's path, in dlerror's
    words (as pyarrow's lib module gave it under ulimit -v)."""
    return ImportError(message, name="lib", path="/venv/lib/python3.11/site-packages/pyarrow/lib.cpython-311.so")


def test_the_loader_running_out_is_told_by_its_own_words_at_the_end_of_its_message(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    for message, kind in [("libarrow.so.2600: failed to map segment from shared object", "out of memory ("),
                          (f"libarrow.so.2600: cannot open shared object file: {os.strerror(errno.ENOMEM)}",
                           "out of memory ("),
                          (f"libarrow.so.2600: cannot open shared object file: {os.strerror(errno.EMFILE)}",
                           "too many open files (")]:
        assert limit_message(loader_error(message)).startswith(f"{kind}ImportError: {message})"), message


def test_a_limit_s_words_elsewhere_than_where_their_library_says_them_are_no_limit():
    """Matched anywhere in any message, a bug's error quoting an account or a module's name ('acme,Too many open
    files' as a KeyError) was said to be the open-files limit (exit 1, 'raise the limit (ulimit -n)'; the service's
    503) rather than the internal error it is; and the loader's 'cannot allocate memory in static TLS block', which
    no memory given helps (an installation's libraries loaded in the wrong order), was said to be memory run out."""
    import pyarrow as pa

    for other in (KeyError("acme,Too many open files"), RuntimeError("account 'can't start new thread' unknown"),
                  RuntimeError("can't start new thread for acme"), ImportError("No module named 'cannot allocate memory'"),
                  ImportError("cannot import name 'Too many open files' from 'x'"),
                  loader_error("libgomp.so.1: cannot allocate memory in static TLS block"),
                  loader_error("libarrow.so.2600: cannot open shared object file: No such file or directory"),
                  pa.ArrowNotImplementedError("Unknown error: Failed to launch worker thread"),
                  pa.ArrowException("Invalid: row 'Unknown error: Failed to launch worker thread'")):
        assert (limit_message(other), exhausted(other)) == (None, False), other


def test_a_thread_that_cannot_start_is_told_by_python_s_and_pyarrow_s_words(monkeypatch):
    import pyarrow as pa

    # What pyarrow's CSV reader raised under ulimit -v 400 MiB with 8 CPU threads.
    launch = pa.ArrowException("Unknown error: Failed to launch worker thread: Resource temporarily unavailable")
    for exc in (RuntimeError("can't start new thread"), launch):
        assert limit_message(exc) == (
            f"cannot start a thread ({type(exc).__name__}: {exc}): the memory this process may use, or the number "
            "of processes and threads, is reached; raise the limit (ulimit -v, ulimit -u, or the container's), or "
            "run fewer --workers processes")


def test_numpy_s_own_import_error_around_the_loader_s_is_that_limit(monkeypatch):
    # numpy raises "\n\nIMPORTANT: PLEASE READ THIS ... Original error was: ..." from the loader's ImportError: said
    # by the loader's words, not numpy's first line (blank). Another ImportError raised from it is no limit.
    monkeypatch.setattr(resource, "getrlimit", lambda which: {resource.RLIMIT_AS: (60 << 20, -1)}.get(which, (-1, -1)))
    try:
        try:
            raise loader_error("libgfortran-040039e1.so.5.0.0: failed to map segment from shared object")
        except ImportError as exc:
            raise ImportError("\n\nIMPORTANT: PLEASE READ THIS FOR ADVICE ON HOW TO SOLVE THIS ISSUE!") from exc
    except ImportError as exc:
        wrapped = exc
    assert limit_message(wrapped) == ("out of memory (ImportError: libgfortran-040039e1.so.5.0.0: failed to map segment "
                                      "from shared object): this process may use 60 MiB of address space (ulimit -v); "
                                      f"{DO}")
    try:
        try:
            raise ImportError("No module named 'x'", name="x")
        except ImportError as exc:
            raise ImportError("cannot import y") from exc
    except ImportError as exc:
        assert (limit_message(exc), exhausted(exc)) == (None, False)


# The command with its modules failing to load as an address space of 60 to 120 MiB made them (numpy's libraries could
# not be mapped, or Python's memory ran out reading a module): a finder raises it as a module is imported: one of the
# parser's (before the command's own handling of errors), or numpy (which only the commands that read data load,
# as they start: --help, --version and `months` never do).
LOADING = """
import resource, sys
class Failing:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            {raise_it}
sys.meta_path.insert(0, Failing())
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
sys.argv = ["slapolicy", *{argv!r}]
from slapolicy.console import main
sys.exit(main())
"""
MONTHS = ["months", "--start", "2019-01-01", "--end", "2019-01-31"]
PARSERS = {"module": "slapolicy.cli.data_commands", "argv": MONTHS}


@pytest.mark.parametrize("module, argv", [("slapolicy.cli.data_commands", MONTHS),
                                          ("numpy", [str(a) for a in MARCH])])
@pytest.mark.parametrize("raise_it, what", [
    ("raise MemoryError", "MemoryError: no detail"),
    ("raise ImportError('libgfortran.so.5: failed to map segment from shared object', path='/numpy/_m.so')",
     "ImportError: libgfortran.so.5: failed to map segment from shared object"),
])
def test_memory_run_out_while_the_command_s_modules_load_is_said_as_in_the_command(raise_it, what, module, argv):
    """It was Python's traceback, exit 1: the command's modules load before the command's own handling of errors."""
    done = subprocess.run([sys.executable, "-c", LOADING.format(raise_it=raise_it, module=module, argv=argv)],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"slapolicy: out of memory ({what}): this process may "
                                                                  f"use 4096 MiB of address space (ulimit -v); {DO}\n")


def test_a_module_missing_while_the_command_s_modules_load_is_still_a_bug():
    done = subprocess.run([sys.executable, "-c", LOADING.format(raise_it="raise ImportError('gone', name='numpy')",
                                                                **PARSERS)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("Traceback") and done.stderr.endswith("ImportError: gone\n"), done.stderr


OWNED = """
import json, os, resource, sys
if sys.argv[1] != "none":
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]) << 20, resource.getrlimit(resource.RLIMIT_AS)[1]))
from slapolicy.distributed import own_process
own_process()
print(json.dumps([os.environ.get(name) for name in ("JE_ARROW_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")]))
"""


@pytest.mark.parametrize("limit, user, expected", [
    ("none", {}, [None, None]),  # jemalloc as pyarrow has it: the faster without a limit
    ("8192", {}, ["background_thread:false", "system"]),
    ("8192", {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}, ["background_thread:false", "mimalloc"]),  # the user's wins
])
def test_under_an_address_space_limit_the_command_s_process_sets_pyarrow_s_allocator(limit, user, expected):
    """Under ulimit -v of 300 MiB (the example minutes) jemalloc's background threads could not start: '<jemalloc>:
    background thread creation failed', and the reading waited 30 s for a thread before 'terminated'."""
    env = {k: v for k, v in os.environ.items() if k not in ("JE_ARROW_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL")}
    done = subprocess.run([sys.executable, "-c", OWNED, limit], capture_output=True, text=True, timeout=60,
                          env=env | user)
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == expected


@pytest.mark.slow
def test_an_address_space_just_too_small_for_the_csv_reader_is_said_not_waited_for():
    """ulimit -v of 292 to 298 MiB over the example minutes (CSV): pyarrow's streaming CSV reader waited for ever for
    a read-ahead thread that could not start, no error raised (the command hung until killed). Each limit of the band
    around it (where it lies depends on the machine and Python) now ends, at once: a result, or exit 1 and the one
    line that says which limit.

    At the band's low end the libraries themselves may fail to load, and one of them then, now and again, ends the
    process by a signal (SIGSEGV at 276-280 MiB, about one run in eight, as the address space is laid out at random):
    a limit ended by a signal is run again, up to three times, and must end as said in one of them (a crash at every
    try, as a hang, still fails)."""
    minutes = ["evaluate", POLICIES, "--month", "2019-03", "--minutes", EXAMPLES / "minutes.csv"]
    for mib in range(280, 341, 4):
        for _ in range(3):
            done = limited(resource.RLIMIT_AS, mib << 20, *minutes)  # a hang fails here: subprocess's timeout
            if done.returncode >= 0:
                break
        if done.returncode == 0:
            continue
        assert (done.returncode, done.stdout, done.stderr.count("\n")) == (1, "", 1), (mib, done.stderr)
        assert done.stderr.startswith(("slapolicy: out of memory (", "slapolicy: cannot start a thread (")), done.stderr


RESERVE = """
import resource, sys
from slapolicy.limits import reserve_address_space
mapped = int(next(line for line in open("/proc/self/status") if line.startswith("VmSize")).split()[1]) << 10
resource.setrlimit(resource.RLIMIT_AS, (mapped + (64 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
reserve_address_space(int(sys.argv[1]) << 20, "the reader")
print("reserved")
"""


@pytest.mark.parametrize("mib, said", [
    (16, ("reserved\n", "")),
    (128, ("", "MemoryError: the reader needs 128 MiB more address space, and less is left\n")),
])
def test_address_space_is_reserved_only_where_it_is_left(mib, said):
    done = subprocess.run([sys.executable, "-c", RESERVE, str(mib)], capture_output=True, text=True, timeout=60)
    assert (done.stdout, done.stderr.splitlines()[-1] + "\n" if done.stderr else "") == said


def test_without_an_address_space_limit_nothing_is_reserved(monkeypatch):
    import mmap

    from slapolicy.limits import reserve_address_space

    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    monkeypatch.setattr(mmap, "mmap", lambda *args: pytest.fail("mapped"))
    reserve_address_space(1 << 40, "the reader")
