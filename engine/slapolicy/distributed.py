"""Where the work runs: threads of this process, local processes (``--workers N``), or a Dask cluster
(``--dask ADDRESS``).

Two kinds of task go out, both pure functions of small, picklable arguments:

* reading a part of the minutes (:func:`slapolicy.minutes.read_part`): a path and row groups; the
  worker reads its own rows and returns aggregates, so the client holds metadata and results only;
* evaluating account-months (:func:`slapolicy.replay.replay_chunk`): counts and candidate rows.

Policies travel as their content, named by sha256 (:class:`PolicyContent`), never as a path: a
worker's working directory, or machine, need not have the client's files. Minutes travel as
absolute paths or URLs (:mod:`slapolicy.minutes.storage`), which the workers must be able to read (shared
storage, an object store).

Results come back in the order the tasks were made, so every runner gives byte-identical output.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib
import os
import select  # the helper's pipes: here, so that the helper imports nothing itself (_on_thread_and_fork)
import signal
import struct  # the helper's frames (loaded by the CLI's own modules already)
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import ArgumentError, SchedulerUnavailable, SlapolicyError, WorkersLost, missing_extra
from .limits import fit_address_space


@dataclass(frozen=True)
class PolicyContent:
    """A policy version as bytes, named by its sha256 and the path it was loaded from (cited in traces)."""

    sha256: str
    path: str
    raw: bytes

    @classmethod
    def of(cls, policy) -> "PolicyContent":
        raw = Path(policy.path).read_bytes()
        if hashlib.sha256(raw).hexdigest() != policy.sha256:
            raise SlapolicyError(f"{policy.path}: the file changed while it was in use (sha256 differs); run again")
        return cls(policy.sha256, str(policy.path), raw)


@functools.lru_cache(maxsize=32)
def _policy_by_sha(sha256: str, path: str, raw: bytes):
    from .policy.directory import load_policy_content

    if hashlib.sha256(raw).hexdigest() != sha256:
        raise SlapolicyError(f"policy content for {path} does not match its sha256 {sha256}")
    # Checked as the file it was read from (its name and drafts/ are what lint reads), so the pass recorded for
    # that file stands here too, and no copy of it is written anywhere.
    return load_policy_content(raw, path)


def policy_of(content: PolicyContent):
    """The policy a content names, loaded once per process."""
    return _policy_by_sha(content.sha256, content.path, content.raw)


def worker_process() -> None:
    """What each ``--workers`` process sets as it starts. Ctrl-C at a terminal reaches every process of its
    foreground job, the workers too: each ignores it, and the command's process, which handles it, ends them
    (:meth:`Runner.abort`); a worker that took it printed a KeyboardInterrupt traceback as it died, or ended its
    task with it."""
    own_process()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_the_command()


def _end_with_the_command() -> None:
    """End this worker process as soon as the command's process has ended, however it ended. A command killed
    (SIGKILL, the OOM killer, a crash) never ends its pool, and each worker waited for a next task for ever: two
    workers and the pool's resource tracker were still running 30 minutes after a test's command was killed. The
    process that started this one holds a pipe whose end multiprocessing gives it (its ``sentinel``): the pipe closes
    when that process ends, and a thread that waits for it ends this one. It waits on a pipe, not on a timer."""
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)  # the command is gone: nothing of this process's is wanted, nor flushed

    threading.Thread(target=watch, name="slapolicy-command-watch", daemon=True).start()


# OpenBLAS (numpy's BLAS) reads its thread count once, as numpy loads. See one_blas_thread.
BLAS_THREADS = "OPENBLAS_NUM_THREADS"


def one_blas_thread() -> None:
    """Ask numpy's OpenBLAS for no threads of its own, in a process slapolicy owns: the CLI's, and each worker it
    starts (``--workers``). OpenBLAS starts a thread per core as numpy loads, and they spin waiting for matrix
    work that slapolicy never gives them (it multiplies no matrices): on this month of 22.3 M rows they were
    ~6 % of an `evaluate`'s CPU, and a one-account claim's CPU went 0.44 -> 0.29 s without them
    (benchmarks/README.md). Only before numpy is first imported does it take, hence ``import slapolicy``
    imports nothing heavy. A value the user set wins; a program embedding the engine keeps its environment."""
    os.environ.setdefault(BLAS_THREADS, "1")


_owned = False  # this process is slapolicy's own (the CLI's, a worker it starts): see own_process


def own_process() -> None:
    """Say that this process is slapolicy's own, not a program's that embeds the engine: what only a process's
    owner may set is then set (``one_blas_thread`` and, under ``ulimit -v``, pyarrow's allocator:
    ``limits.fit_address_space``, now; pyarrow's signal handling when it is first used)."""
    global _owned
    _owned = True
    one_blas_thread()
    fit_address_space()


def python_handles_ctrl_c() -> None:
    """In a process slapolicy owns, turn off pyarrow's own SIGINT handler, before a whole CSV file is read by it
    (pyarrow's ``read_csv``, the only reader that installs one): it swaps Python's handler out for the length of
    each read and back, and a Ctrl-C landing as it swaps was lost (4 of 400 sent while the billing was read in a
    loop, none without it: tests/test_interrupt.py). Python's handler then sees every Ctrl-C,
    raised once the read returns: billing and other whole-file inputs are small, the minutes are read by batches.
    A program embedding the engine keeps pyarrow's setting, which is its own."""
    if _owned:
        import pyarrow  # heavy (0.2 s): only a reading of inputs calls this

        pyarrow.enable_signal_handlers(False)


WORKERS_PER_CORE = 4  # worker processes a core may be given: beyond, they only wait for it


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def too_many_workers(count: int) -> str | None:
    """Why ``count`` local worker processes are refused (``--workers``, ``workers=``), or None. Each is a process
    of its own that loads the engine and pyarrow, and beyond a few per core they only wait for one: a typo such
    as 100000 started processes until the machine ran out of memory."""
    cores = usable_cores()
    bound = WORKERS_PER_CORE * cores
    if count <= bound:
        return None
    return (f"{count} is above {bound}, the most this machine runs ({WORKERS_PER_CORE} per core, {cores} cores): each "
            "worker is a process that loads the engine, and more only wait for a core; --dask spreads the work over "
            "more machines")


# A web address given as the scheduler's: the dashboard's, which a browser shows (distributed refused it deep in
# Client with "unknown address scheme 'http'", an internal error).
NOT_A_SCHEDULER = ("is a web address, as the Dask dashboard's (http://HOST:8787); the scheduler's address is "
                   "tcp://HOST:8786, as `dask scheduler` prints it (Scheduler at: tcp://…)")


def is_web_address(address: str) -> bool:
    return address.strip().lower().startswith(("http://", "https://"))


def check_runner_arguments(workers, dask) -> None:
    """``workers``: a whole number of processes, at least 1 and at most ``too_many_workers`` allows; ``dask``:
    the scheduler's address."""
    if dask is not None and not isinstance(dask, str):
        raise ArgumentError(f"dask must be the scheduler's address as a string (tcp://host:8786), not {type(dask).__name__}")
    if dask is not None and not dask.strip():  # was taken for no scheduler: the work ran here, silently
        raise ArgumentError("dask is an empty string, which names no Dask scheduler: give its address "
                            "(tcp://host:8786), or None to run here")
    if dask is not None and is_web_address(dask):
        raise ArgumentError(f"dask={dask!r} {NOT_A_SCHEDULER}")
    if dask is not None and workers is not None:  # the work went to Dask, the processes asked for silently not made
        raise ArgumentError(f"workers={workers!r} and dask={dask!r} name two places to run the work: give one")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise ArgumentError(f"workers must be a whole number (int), not {type(workers).__name__}")
    if workers is not None and workers < 1:
        raise ArgumentError(f"workers must be at least 1, not {workers}")
    beyond = too_many_workers(workers) if workers is not None else None
    if beyond:
        raise ArgumentError(f"workers {beyond}")


CLOSED_UNDER_A_CALL = ("the engine's worker processes were closed (Engine.close) while this call ran on them; call "
                       "again: a later call opens them again")


class Runner:
    """Runs tasks in this process, in ``workers`` local processes, or on the Dask cluster at ``dask``.

    Thread-safe: an :class:`~slapolicy.engine.Engine` shared by a service's threads keeps one runner, whose pool
    or client is made once (under a lock) and used by every thread (both take tasks from any thread).

    ``kept``: the runner serves call after call (an Engine's own, a service's), so a cancelled call leaves its
    processes to finish the tasks they run, for the next call to use. A runner for one call (``kept`` False, the
    CLI's) ends its processes instead as soon as the call is cancelled, or its block is left by an exception
    (:meth:`abort`): a task reads a whole part, and Ctrl-C waited for every one running."""

    def __init__(self, workers: int | None = None, dask: str | None = None, *, kept: bool = False):
        check_runner_arguments(workers, dask)
        self.workers, self.address, self.kept = workers, dask, kept
        self._pool = self._client = None
        self._lock = threading.Lock()
        self._pid = os.getpid()  # the process whose pool or client this is (_inherited)

    def _inherited(self) -> None:
        """In a child of ``fork`` (a server's worker forked once the engine was made: gunicorn --preload), forget the
        parent's pool or client, untouched (its threads and pipes are the parent's: the child's first call on it
        waited for ever, and shutting it down would write to the parent's pipes), and the lock, which another of the
        parent's threads may have held as it forked: the child opens its own at its first call."""
        if self._pid != os.getpid():
            self._pid, self._lock, self._pool, self._client = os.getpid(), threading.Lock(), None, None

    @property
    def remote(self) -> bool:
        """Whether tasks leave this process (then they must name their inputs by path)."""
        return bool(self.address) or bool(self.workers and self.workers > 1)

    def __enter__(self):
        return self

    def __exit__(self, kind, *exc):
        if kind is not None:  # the results will not be used: do not wait for the tasks running
            self.abort()
        else:
            self.close()

    def open(self) -> None:
        """Start the process pool or connect the Dask client now rather than at the first task (a service does it
        before it listens, so that an unreachable scheduler or a worker that cannot start is an error at its start,
        and its first request does not pay for starting the processes)."""
        if self.address:
            self._dask_client()
        elif self.workers and self.workers > 1:
            self._start(self._processes())

    def _start(self, pool) -> None:
        """Start every process of the pool and wait until each could take a task. ProcessPoolExecutor starts a
        process per task submitted while none is idle, so ``workers`` tasks submitted at once start them all."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            for started in [pool.submit(_started) for _ in range(self.workers)]:
                started.result()
        except BrokenProcessPool:
            self._discard(pool)
            raise SlapolicyError(f"cannot start {self.workers} worker processes: one ended as it started (what it "
                                 "printed, if anything, is above this line)") from None
        except Exception as exc:
            self._discard(pool)
            raise SlapolicyError(f"cannot start {self.workers} worker processes: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._inherited()
        with self._lock:
            pool, client, self._pool, self._client = self._pool, self._client, None, None
        if pool is not None:
            pool.closed_by_runner = True  # a call on it from another thread says so (_on_processes)
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            _close_client(client)

    def abort(self) -> None:
        """Close without waiting for the tasks running, whose results will not be used (Ctrl-C, SIGTERM, another
        input's problem): the worker processes are ended (:func:`_end_processes`) and waited for, so that none
        outlives the command; a Dask client's tasks were cancelled by the map (:func:`_drop`) and it closes."""
        self._inherited()
        with self._lock:
            pool, client, self._pool, self._client = self._pool, self._client, None, None
        if pool is not None:
            pool.closed_by_runner = True
            _end_processes(pool)
            # Not cancel_futures: the ended processes break the pool, which fails every task not done itself, and
            # a task cancelled as it does so stopped its thread (Python 3.11's terminate_broken: InvalidStateError).
            pool.shutdown(wait=True)
        if client is not None:
            _close_client(client)

    def map(self, fn, *iterables, threads: bool = False, progress=None, cancel: "Cancellation | None" = None,
            helper: bool = False, pending=None, imports: tuple = (), ready=None) -> list:
        """[fn(*args)] in order. In this process, ``threads`` runs them on every core (for tasks that release
        the GIL: decoding and numpy); ``progress`` is called with each result as it arrives. ``cancel``: once it
        is cancelled no new task starts (those not started are cancelled, the ones running finish) and the call
        raises :class:`Cancelled`; a pool or client kept by the runner stays usable. ``helper``: the tasks (pure
        functions of picklable arguments and results) may run on one thread here and in a forked copy of this
        process, where :func:`forked_helper_allowed` says so (:func:`_on_thread_and_fork`); ``pending``, a call that
        says how many results handed to ``progress`` still wait for work in this process, lets the helper take more
        tasks while they do; ``imports``: the modules the tasks import as they run, imported before the fork;
        ``ready``: a call that makes, on the forking thread before the fork, what the tasks' libraries make on their
        first use (:func:`_on_thread_and_fork`)."""
        arguments = list(zip(*iterables))
        if not arguments:
            return []
        if self.address:
            return self._on_dask(fn, arguments, progress, cancel)
        if self.workers and self.workers > 1:
            return self._on_processes(fn, arguments, progress, cancel)
        if helper and threads and HELPER_TASKS <= len(arguments) <= HELPER_MOST and forked_helper_allowed():
            return _on_thread_and_fork(fn, arguments, progress, cancel, pending, imports, ready)
        if threads and len(arguments) > 1:
            return _on_threads(fn, arguments, progress, cancel)
        return _collect((_unless(cancel) or fn(*args) for args in arguments), progress)

    def _on_processes(self, fn, arguments: list, progress, cancel) -> list:
        """The tasks on the pool; once more on a fresh pool when a worker died (killed for its memory, say): a
        broken pool stays broken, and a pool kept for a service's life would fail every call after it. The
        tasks only read, so running them again is safe; a second death is the caller's error. The results handed
        on before the death are kept: only the tasks after them run again (run again, they were handed to
        ``progress`` twice, and replay's row counter counted their rows twice)."""
        from concurrent.futures import CancelledError
        from concurrent.futures.process import BrokenProcessPool

        done: list = []  # the results handed on, in order, by either try
        for last_try in (False, True):
            pool = self._processes()
            # A runner for one call ends its processes once the call is cancelled: the tasks running end with them.
            ends = cancel.on_cancel(functools.partial(_end_processes, pool)) if cancel and not self.kept else \
                contextlib.nullcontext()
            try:
                with ends:
                    # Its tasks are not cancelled one by one when its processes are ended instead (_end_processes).
                    return _gather(functools.partial(pool.submit, fn), arguments[len(done):], progress, cancel,
                                   cancels=self.kept, into=done)
            except BrokenProcessPool:
                if cancel is not None and cancel.cancelled and not self.kept:
                    # Its processes were ended by the cancellation: no second try. Joined, so none outlives it.
                    self._forget(pool)
                    pool.shutdown(wait=True)
                    raise Cancelled() from None
                # Joined (the pool broken, its other processes are being ended): the exit status of the one that
                # died is known only once it is reaped, and a pool left to end by itself as the command exited
                # made multiprocessing warn of leaked semaphores on standard error.
                processes = list((getattr(pool, "_processes", None) or {}).values())
                self._forget(pool)
                pool.shutdown(wait=True)
                if last_try:
                    how = _how_ended(processes)
                    # Said as the machine's state (exit 1; serve's 503), not as a bug: it was 'internal error, please
                    # report it: BrokenProcessPool: A process in the process pool was terminated abruptly ...', exit 3.
                    raise WorkersLost(f"a worker process ended abruptly as it ran a task{how}, and so did one of the "
                                      "new processes that ran the tasks again: the kernel's out-of-memory killer ends "
                                      "the largest process when memory runs out; give the machine more memory, or run "
                                      "fewer --workers processes") from None
            except (CancelledError, RuntimeError):
                # close() from another thread (Engine.close) shut the pool down under this call: its tasks not started
                # were cancelled, or could not be submitted. Said so, not as a bare CancelledError or RuntimeError.
                if getattr(pool, "closed_by_runner", False):
                    raise SlapolicyError(CLOSED_UNDER_A_CALL) from None
                raise

    def _discard(self, pool) -> None:
        """Forget a broken pool (unless another thread already replaced it) so that the next task starts a new one."""
        self._forget(pool)
        pool.shutdown(wait=False, cancel_futures=True)

    def _forget(self, pool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None

    def _processes(self):
        self._inherited()
        with self._lock:
            if self._pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                # A fresh interpreter (spawn) sets its environment before a task imports numpy (one_blas_thread).
                self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=worker_process,
                                                 mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def _dask_client(self):
        self._inherited()
        with self._lock:
            if self._client is not None and self._client.status in ("closing", "closed", "failed"):
                # The scheduler was lost and the client gave up reconnecting: a client kept for a service's life
                # would refuse every call after it (ClosedClientError). Connect afresh, the lost one closed first.
                _close_client(self._client)
                self._client = None
            if self._client is None:
                try:
                    from distributed import Client
                except ImportError as exc:
                    raise SlapolicyError(missing_extra("--dask", "dask", exc.name or "distributed")) from None
                # Made, then started, so that a client whose start fails is still in hand: its constructor raises
                # once its event loop's thread ('IO loop') runs, and that thread ran on for the process's life, one
                # more at each attempt (distributed 2026.8); closed here with it.
                client = Client.__new__(Client)
                try:
                    client.__init__(self.address, timeout="20s", set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    _close_client(client)
                    raise SchedulerUnavailable(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
                except Exception as exc:
                    # An address distributed cannot use ('tcp://host:abc', 'foo://', a host without its port, 'tls://'
                    # without a TLS configuration): it was 'internal error, please report it', exit 3, after 40 s of
                    # the half-made client closing itself at exit.
                    _close_client(client)
                    raise ArgumentError(f"the Dask scheduler's address {self.address!r} is not one a Dask client can "
                                        f"use ({type(exc).__name__}: {exc}): give it as `dask scheduler` prints it "
                                        "(Scheduler at: tcp://HOST:8786)") from None
                try:
                    _check_workers(client, self.address)
                except BaseException:
                    _close_client(client)
                    raise
                self._client = client
            return self._client

    def _on_dask(self, fn, arguments: list, progress, cancel) -> list:
        client = self._dask_client()
        futures: list = []
        try:
            futures = client.map(fn, *zip(*arguments), pure=False)
            # Cancelled, the tasks not finished are dropped from the cluster and the wait for them ends; the
            # client stays connected for the next call.
            with cancel.on_cancel(lambda: client.cancel(futures)) if cancel else contextlib.nullcontext():
                return _collect((_unless(cancel) or future.result() for future in futures), progress)
        except BaseException as exc:
            _drop(client, futures)
            if not isinstance(exc, Exception):  # Ctrl-C
                raise
            if cancel is not None and cancel.cancelled:
                raise Cancelled() from None
            if client.status == "running":
                if _killed_worker(exc):  # the cluster's state, not the task's error nor a bug (it was exit 3)
                    raise WorkersLost(f"the Dask workers that ran a task all ended as they ran it ({_first_line(exc)}): "
                                      "a worker above its memory limit is ended and started again by its nanny; give "
                                      "the workers more memory (dask worker --memory-limit), or see their logs for "
                                      "why they ended") from None
                raise  # the scheduler is there: the task's own error
            raise SchedulerUnavailable(f"lost the Dask scheduler at {self.address} ({type(exc).__name__}: {exc}); the next "
                                 "call connects again") from None


# How long a client waits at its connection for a first worker to join a scheduler that has none (an adaptive
# cluster scaling up from zero starts one on demand) before it says so.
WORKERS_AWAITED_SECONDS = 20


def _check_workers(client, address: str) -> None:
    """The workers of the cluster can run this slapolicy's tasks: there is one, and each imports slapolicy of this
    version. A worker without slapolicy ended as the first task reached it (distributed could not unpickle the
    task's function) and the command then waited for ever for a worker, saying nothing, as it did on a scheduler no
    worker had joined; a worker of another version would evaluate by its own code. Asked once, at the connection
    (workers joining later are not asked), by a builtin, so that the question itself travels without slapolicy's
    code: a function of slapolicy sent to a worker without it ends that worker."""
    from . import __version__

    try:
        client.wait_for_workers(1, timeout=WORKERS_AWAITED_SECONDS)
    except TimeoutError:
        raise SchedulerUnavailable(f"the Dask scheduler at {address} has no worker (none joined in "
                                   f"{WORKERS_AWAITED_SECONDS} s): start workers on it (dask worker {address}), where "
                                   f"slapolicy {__version__} is installed") from None
    found = client.run(eval, "__import__('slapolicy').__version__", on_error="return")
    unfit = []
    for worker, version in sorted(found.items()):
        if isinstance(version, BaseException):
            what = "is not installed there" if isinstance(version, ImportError) else "cannot be imported there"
            what = f"slapolicy {what}"
            unfit.append(f"{worker}: {what} ({type(version).__name__}: {version})")
        elif version != __version__:
            unfit.append(f"{worker}: slapolicy {version}, not {__version__}")
    if unfit:
        shown = "; ".join(unfit[:3]) + (f"; and {len(unfit) - 3} more" if len(unfit) > 3 else "")
        raise SchedulerUnavailable(f"the Dask workers at {address} cannot run slapolicy's tasks: {shown}; install "
                                   f"slapolicy {__version__} (this one) where each worker runs, with the plugins "
                                   "installed here, and start the workers again")


def _on_threads(fn, arguments: list, progress, cancel) -> list:
    """[fn(*args)] in order, on a thread per core (for tasks that release the GIL: decoding and numpy)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(arguments), os.cpu_count() or 1), thread_name_prefix="slapolicy") as pool:
        return _gather(functools.partial(pool.submit, fn), arguments, progress, cancel)


def _end_processes(pool) -> None:
    """End a process pool's worker processes now (SIGTERM; they keep its default action: :func:`worker_process`),
    the tasks they run with them: the pool is broken, its futures fail, and its shutdown joins them."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.terminate()
        except (OSError, ValueError):  # it ended meanwhile, or was already closed
            pass


def _killed_worker(exc: BaseException) -> bool:
    """Whether ``exc`` is Dask's KilledWorker: a task each worker that took it died running (as many times as the
    scheduler's ``allowed-failures`` lets it try again)."""
    try:
        from distributed import KilledWorker
    except ImportError:
        return False
    return isinstance(exc, KilledWorker)


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"


def _how_ended(processes: list) -> str:
    """' (killed by signal 9, SIGKILL)' or ' (exit status 1)': how the worker process that broke their pool ended, as
    far as its exit status tells; '' when it does not (SIGTERM, which the pool sends the others as it breaks)."""
    for process in processes:
        code = process.exitcode
        if code is None or code == 0 or code == -signal.SIGTERM:
            continue
        if code > 0:
            return f" (exit status {code})"
        try:
            return f" (killed by signal {-code}, {signal.Signals(-code).name})"
        except ValueError:
            return f" (killed by signal {-code})"
    return ""


def _close_client(client) -> None:
    """Close a Dask client and its event loop's thread ("IO loop"). A client that closed itself (its scheduler lost,
    its reconnection given up) returns from close() at once, and its loop's thread ran idle for the process's life
    (distributed 2026.8): beside it the CLI's early helper is never forked (fork_helper_early), and the suite's tests
    of that helper failed after a test of a lost scheduler. Stopping the loop again after a close is harmless; a
    client closing or failed is not waited for (its close would wait for a scheduler that is gone)."""
    if client.status not in ("closing", "closed", "failed"):
        client.close()
    loop = getattr(client, "_loop_runner", None)
    if loop is not None:
        loop.stop()


def _drop(client, futures: list) -> None:
    """A map's tasks not finished, dropped from the cluster when the map fails (a task's error, Ctrl-C), as those of
    a pool are (:func:`_gather`): left to be released when the futures are garbage, they ran on for as long as the
    error raised, whose traceback holds them, was kept. Nothing to do when the scheduler is gone."""
    if futures and client.status == "running":
        try:
            client.cancel(futures)
        except Exception:  # noqa: BLE001 -- lost meanwhile: the scheduler forgets the client's tasks with it
            pass


class Cancelled(Exception):
    """Raised in a reading cancelled by its :class:`Cancellation`: its result will not be used (never reported)."""


class Cancellation:
    """Asked for by the thread that will not use a reading's result (:class:`Background`, when its block is left by
    an exception); seen by :meth:`Runner.map` between tasks, and by the futures it waits on, which are cancelled at
    once (``on_cancel``), so that the wait ends with the tasks running, not with all of them."""

    def __init__(self):
        self.cancelled = False
        self._lock = threading.Lock()
        self._hooks: list = []

    def cancel(self) -> None:
        with self._lock:
            self.cancelled, hooks, self._hooks = True, self._hooks, []
        for hook in hooks:
            hook()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    @contextlib.contextmanager
    def on_cancel(self, hook):
        """``hook()`` called when cancelled while the block runs (at once if cancelled already)."""
        with self._lock:
            now = self.cancelled
            if not now:
                self._hooks.append(hook)
        if now:
            hook()
        try:
            yield
        finally:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)


# A reading of this many tasks or more may take a forked helper (a fork and its first copied pages cost a few ms).
HELPER_TASKS = 4
# The most tasks a reading shares with a forked helper: their indices wait in a pipe, written before the fork, which
# holds 64 KiB (16,384 of them) wherever Linux runs; more run on threads.
HELPER_MOST = 1 << 14
# Results waiting here (to be handed on in order, or their work done) past which this process's thread takes no task
# (``_on_thread_and_fork``), looked at again every BACKLOG_LOOK seconds.
BACKLOG = 2
BACKLOG_LOOK = 0.002
HELPER_STALLED = 120.0  # seconds a task may run in the helper before this process ends it and runs the task itself

_helper_allowed = False  # said by the command that owns this process and makes one call (allow_forked_helper)


def allow_forked_helper() -> None:
    """Let this process's readings of minutes run half their tasks in a forked copy of itself
    (:func:`_on_thread_and_fork`). Said by the CLI's ``evaluate``, ``replay`` and ``claim``, which own their process and
    make one call: never by a program embedding the engine (its process is its own), a service (many calls at once, each of
    which would fork) nor a worker process."""
    global _helper_allowed
    _helper_allowed = True


def forked_helper_allowed() -> bool:
    """Whether a reading may fork its helper now: said by the command (:func:`allow_forked_helper`), on Linux (a
    fork is not safe beside macOS's system libraries, and Windows has none), with two cores or more to share."""
    return _helper_allowed and _owned and sys.platform.startswith("linux") and hasattr(os, "fork") and \
        usable_cores() > 1


def _on_thread_and_fork(fn, arguments: list, progress, cancel: Cancellation | None, pending=None,
                        imports: tuple = (), ready=None) -> list:
    """[fn(*args)] in order, the tasks shared out as they are taken between one thread of this process and one
    forked copy of it (the helper), which sends each result back pickled through a pipe.

    Why: on two cores, two threads of one process reading Parquet batches wait for each other's GIL (each batch
    gives it up and takes it back dozens of times, around every decompression, read and large numpy operation), and
    so does the thread that evaluates the account-months already read: `evaluate` by account on the 500-account
    month took 0.2-0.25 CPU-s more on two threads than on one (their context switches), and its wall time was set
    by the GIL, not the cores (benchmarks/README.md). A forked copy has a GIL of its own, needs no start (it has
    every module loaded, and the plan) and sends back only the summaries.

    The helper is only a help: a task it fails on (an exception, a crash, a result that cannot be pickled, its
    memory), or holds longer than HELPER_STALLED seconds, is run here, where its exception, if any, is raised in
    the tasks' order as one reading's would be; a fork refused (the system's limit on processes, its memory) runs
    every task here. It takes no signal of the terminal (Ctrl-C reaches the whole foreground job: this process
    handles it, and ends the helper), runs only ``fn`` on the thread that forked it, and ends with ``os._exit``
    (nothing of this process's is flushed or finalized twice). Once the call returns or raises, the helper has ended
    and been waited for."""
    import pickle

    # Every module a task imports as it runs (inside functions: pyarrow's, numpy's) is imported by this thread
    # before the fork: a fork made while another thread of this process imports a module (the billing's reader
    # loads pyarrow.csv as the minutes are planned) copies that module's lock, held by a thread the helper does not
    # have, and a task importing that module there waited for it for ever (ended after HELPER_STALLED, 120 s).
    # Imported here, such a module is whole before the fork (this import waits for the other thread's), and the
    # helper finds it loaded. ``imports`` names them (tests/test_forked_helper.py records what a task imports).
    for name in imports:
        importlib.import_module(name)
    count = len(arguments)
    # A helper forked as the command began, which planned these same tasks from the request this process sent it
    # (fork_helper_early), takes them from the pipe it filled, and may have answered some already; else one is forked.
    adopted = _adopt_early_helper(fn, arguments)
    if adopted is None and ready is not None:
        # The same hazard in C++: a library's state made on its first use (a function-local static, such as pyarrow's
        # tracer, made at its first Parquet column read or thread pool task) that another thread of this process is
        # making as the helper is forked is copied half made, and the helper, the first time it needs it, waits for
        # that thread for ever: a reading beside the billing's CSV reader waited HELPER_STALLED (120 s) so, ~1 in 50
        # at load 10-20 (tests/test_forked_helper.py). Made here first (this waits for the other thread to finish
        # making it), it is whole in the helper. An early helper is forked with no other thread running.
        ready()
    lock = threading.Condition()
    results: dict = {}  # index -> (True, result) or (False, exception) of a task run here, or the helper's result
    lost: set = set()  # indices the helper took and did not answer (to run here, in order)
    mine: set = set()  # indices this process's thread took
    state = {"stop": False, "left": None}  # left: the tokens not taken when the helper ended (then taken from here)

    # The tasks' indices wait in a pipe, written whole before the fork and closed: this process's thread and the
    # helper each take the next one there (a read of 4 bytes takes one whole, and an empty pipe with no writer is its
    # end). Handed one at a time by this process, the helper waited between tasks for the thread that talks to it to
    # take the GIL (from the evaluation and the reading thread), 22-63 ms of the ~0.35 s it reads the 500-account month.
    if adopted is not None:
        pid, tokens, from_helper = adopted
    else:
        tokens = _filled_tokens(count)
        if tokens is None:  # a pipe narrower than 64 KiB (a user past the system's pipe-user-pages-soft)
            return _on_threads(fn, arguments, progress, cancel)

    def next_token() -> int | None:
        return _next_index(tokens)

    def take() -> int | None:
        with lock:
            if state["stop"]:
                return None
            if state["left"] is not None:
                return state["left"].popleft() if state["left"] else None
            index = next_token()
            if index is not None:
                mine.add(index)
            return index

    if adopted is None:
        from_helper, answers = os.pipe()
        _widen(answers)
        try:
            pid = _fork_quietly()
        except OSError:
            for end in (tokens, from_helper, answers):
                os.close(end)
            return _collect((_unless(cancel) or fn(*args) for args in arguments), progress)
        if pid == 0:  # the helper
            code = 0
            try:
                _helper_signals()
                os.close(from_helper)
                _serve_tasks(fn, arguments, next_token, answers, pickle)
            except BaseException:  # noqa: BLE001 -- the command's process runs whatever this one did not answer
                code = 1
            finally:
                os._exit(code)
        os.close(answers)

    def talk() -> None:
        """This process's side of the helper: takes each result it sends back. When the helper ends (its tokens
        ran out, it failed on a task, it died or stalled), the tokens it took and did not answer are run here."""
        try:
            while True:
                taken = _read_frame_size(from_helper, HELPER_STALLED)
                if taken is None:  # the pipe's end (no task left, or it died between two), or a stall
                    break
                size = _read_frame_size(from_helper, HELPER_STALLED)
                if size is None or size < 0:  # ended, stalled, or failed on the task: run it here
                    break
                # Its bytes are waited for as long as its first were: a helper stopped part way (SIGSTOP, swapped
                # out) held the call for ever.
                result = pickle.loads(_read_exactly(from_helper, size, whole=True, timeout=HELPER_STALLED))
                with lock:
                    results[taken] = (True, result)
                    lock.notify_all()
        except BaseException:  # noqa: BLE001 -- whatever it is (the pipe's end, a stall, a result this process cannot
            pass  # take, its memory run out: MemoryError), its task is given back: ending this thread without it, the
            # call waited for ever for that task. Run here, it raises its own error, if any, in the tasks' order.
        _end_helper(pid)
        _reap(pid)  # dead: it takes no further token
        with lock:
            left = collections.deque()
            while (index := next_token()) is not None:
                left.append(index)
            state["left"] = left
            lost.update(set(range(count)) - mine - set(left) - results.keys())
            lock.notify_all()

    def work() -> None:
        while True:
            if cancel is not None and cancel.cancelled:
                return
            with lock:
                # Results not yet handed on (to ``progress``: the merges of settled accounts), and those handed on
                # whose work is still to do here (``pending``: the evaluation of the accounts settled), are work for
                # this process's GIL too: while they wait, the next task is left to the helper, which has a GIL of
                # its own. Taken regardless, the reading of the 500-account month by account ended 0.05-0.09 s
                # before the evaluation of its last accounts.
                while len(results) + (pending() if pending else 0) >= BACKLOG and not state["stop"] and \
                        not (cancel and cancel.cancelled):
                    lock.wait(BACKLOG_LOOK)
            index = take()
            if index is None:
                return
            try:
                outcome = (True, fn(*arguments[index]))
            except BaseException as exc:  # noqa: BLE001 -- raised by the caller, in the tasks' order
                outcome = (False, exc)
            with lock:
                results[index] = outcome
                lock.notify_all()

    def stop() -> None:
        with lock:
            state["stop"] = True
            lock.notify_all()
        _end_helper(pid)

    threads = [threading.Thread(target=talk, name="slapolicy-helper", daemon=True),
               threading.Thread(target=work, name="slapolicy_0", daemon=True)]
    out = []
    try:
        with cancel.on_cancel(stop) if cancel else contextlib.nullcontext():
            for thread in threads:
                thread.start()
            for index in range(count):
                with lock:
                    while index not in results and index not in lost and not (cancel and cancel.cancelled):
                        lock.wait()
                    outcome = results.pop(index, None)
                    lock.notify_all()  # this process's thread may take a task again (BACKLOG)
                _unless(cancel)
                if outcome is None:  # given back by the helper: run here, in its place
                    outcome = (True, fn(*arguments[index]))
                if not outcome[0]:
                    raise outcome[1]
                out.append(outcome[1])
                if progress:
                    progress(outcome[1])
        return out
    finally:
        stop()
        for thread in threads:
            if thread.ident is not None:
                thread.join()
        os.close(tokens)
        os.close(from_helper)
        _reap(pid)


def _filled_tokens(count: int) -> int | None:
    """The read end of a pipe holding the indices 0..count-1 (4 bytes each, little-endian) and closed for writing,
    or None when the pipe cannot hold them all (it is then closed)."""
    tokens, filler = os.pipe()
    if not _fill(filler, count):
        os.close(tokens)
        return None
    return tokens


def _fill(filler: int, count: int) -> bool:
    """Write the indices 0..count-1 into the pipe ``filler`` and close it: whether the pipe held them all."""
    os.set_blocking(filler, False)
    try:
        written = os.write(filler, b"".join(index.to_bytes(4, "little") for index in range(count)))
    except OSError:
        written = 0
    os.close(filler)
    return written == 4 * count


def _helper_signals() -> None:
    """A helper takes no signal of the terminal: the command's process handles Ctrl-C and ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _serve_tasks(fn, arguments: list, next_token, answers: int, pickle) -> None:
    """The helper's side: each task whose index it takes (``next_token``), run and answered through ``answers``:
    the index first (before it runs it), then its result pickled, framed by its size; -1 for a task it fails on,
    which the command's process then runs (and raises) in the tasks' order, as the last it takes. ``pickle``: the
    module, imported before the fork (the helper imports nothing itself: see _on_thread_and_fork)."""
    while (index := next_token()) is not None:
        os.write(answers, struct.pack("<q", index))  # the task it took, before it runs it
        try:
            data = pickle.dumps(fn(*arguments[index]), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:  # noqa: BLE001 -- the task is given back, and run (and raised) there
            os.write(answers, struct.pack("<q", -1))
            break
        _write_all(answers, struct.pack("<q", len(data)) + data)


# The helper forked as the command began (fork_helper_early), until a reading adopts it or it is ended; the lock
# guards its taking (then its process may be waited for, and its pid reused) against kill_early_helper.
_early: "EarlyHelper | None" = None
_early_lock = threading.Lock()
# What an early helper answers, in place of its plan's digest, when its plan is not to be shared (or failed).
NOT_SHARED = -2


@dataclass
class EarlyHelper:
    """This process's ends of the pipes of a helper forked early (:func:`fork_helper_early`)."""

    pid: int
    requests: int  # this process writes the planner's call here, once
    tokens: int  # the tasks' indices, written by the helper once it has planned
    answers: int  # the helper's plan's digest, then its results (as _serve_tasks frames them)
    sent: bool = False


# The warning of a fork beside other threads (Python 3.12+), of this module's forks only: see _fork_quietly.
QUIET_FORK = ("ignore", "This process .* is multi-threaded", DeprecationWarning, r"slapolicy\.distributed$")


def _fork_quietly() -> int:
    """``os.fork()`` for the reading's helper, without the warning Python 3.12+ gives of a fork beside other threads,
    which may deadlock in the child on a lock another thread held. The helper runs only the reading (pyarrow, whose
    allocator and thread pools are made afresh after a fork, and numpy) on the forking thread, and is ended if it
    stalls (HELPER_STALLED); the early fork is made only where no other Python thread runs, and the threads Python
    counts there are native ones of a library (pytest's faulthandler), holding none of our locks.

    The warning is filtered by a filter of its own, of this module's forks only, put first before each fork (a
    program's later filters may have come before it). Not by warnings.catch_warnings(), which swaps the process's
    whole list of filters and puts back, after the fork, the list it saw before: a filter another thread of a program
    embedding the engine added meanwhile was lost (a fork waits for the at-fork hooks, a match in progress among
    them)."""
    warnings.filterwarnings(*QUIET_FORK)
    return os.fork()


def fork_helper_early(imports: tuple, ready: tuple | None = None) -> None:
    """Fork the helper of this process's reading of minutes now, as the command begins, rather than once the reading
    has planned its tasks: the helper loads the reading's own modules (``imports``: pyarrow's, the minutes') while
    this process loads the engine's, the policy and the incidents; then it plans the reading itself from the request
    this process sends it (:func:`plan_in_early_helper`), fills the pipe of the tasks' indices and starts on them while
    this process loads pyarrow and plans the same tasks (benchmarks/README.md, the twelfth round). The reading that
    takes them (:func:`_on_thread_and_fork`) checks that both planned the same tasks, by the digest of their pickles,
    and refuses loudly if not: each side takes tasks by their index. ``ready``: (module, function, arguments) of a
    call the helper makes once its modules are loaded, before any request, which says whether the reading may be
    shared at all; if not, it ends there, before this process plans (a file written as time goes, read on threads:
    ended only when the request came, its plan and end were beside this process's start of the reading). Only where
    a reading may fork its helper at all (:func:`forked_helper_allowed`), with no other thread running (one would
    hold locks the child cannot free), and once; a helper no reading adopts is ended (:func:`end_early_helper`)."""
    global _early
    if _early is not None or not forked_helper_allowed() or threading.active_count() > 1:
        return
    requests_in, requests = os.pipe()
    tokens, tokens_out = os.pipe()
    answers, answers_out = os.pipe()
    _widen(answers_out)
    _widen(requests)
    try:
        pid = _fork_quietly()
    except OSError:
        for end in (requests_in, requests, tokens, tokens_out, answers, answers_out):
            os.close(end)
        return
    if pid == 0:  # the helper
        code = 1
        try:
            _helper_signals()
            for end in (requests, answers):
                os.close(end)
            code = _early_helper(imports, ready, requests_in, tokens, tokens_out, answers_out)
        except BaseException:  # noqa: BLE001 -- the command's process reads whatever this one does not answer
            code = 1
        finally:
            os._exit(code)
    for end in (requests_in, tokens_out, answers_out):
        os.close(end)
    _early = EarlyHelper(pid, requests, tokens, answers)


def _early_helper(imports: tuple, ready, requests: int, tokens: int, tokens_out: int, answers: int) -> int:
    """The early helper's life: load ``imports``, end unless ``ready`` says it may be used, wait for the planner's
    call (none: the command needed no reading, or gave it to no helper), plan, fill the pipe of the tasks' indices,
    say the plan's digest, serve the tasks."""
    import gc
    import pickle

    for name in imports:
        importlib.import_module(name)
    if not gc.isenabled():  # paused by the CLI while the modules load: as cli.modules_loaded, what they made is
        gc.freeze()         # frozen first, never walked again by a collection
        gc.enable()
    if ready is not None:
        module, name, args = ready
        try:
            may = getattr(importlib.import_module(module), name)(*args)
        except Exception:  # noqa: BLE001 -- met again, and said, by the command's own reading
            may = False
        if not may:
            _write_all(answers, struct.pack("<q", NOT_SHARED))
            return 0
    head = _read_exactly(requests, 8)
    if len(head) != 8:
        return 0
    planner, args = pickle.loads(_read_exactly(requests, int.from_bytes(head, "little"), whole=True))
    os.close(requests)
    try:
        planned = planner(*args)
    except Exception:  # noqa: BLE001 -- met again, and said, by the command's own plan
        planned = None
    # The indices go into the pipe both sides take from, whose other end the command's process reads.
    filled = planned is not None and HELPER_TASKS <= len(planned[1]) <= HELPER_MOST and \
        _fill(tokens_out, len(planned[1]))
    if not filled:
        with contextlib.suppress(OSError):
            os.close(tokens_out)
        _write_all(answers, struct.pack("<q", NOT_SHARED))
        return 0
    fn, arguments = planned
    digest = _plan_digest(fn, arguments)
    _write_all(answers, struct.pack("<q", len(digest)) + digest)
    _serve_tasks(fn, arguments, lambda: _next_index(tokens), answers, pickle)
    return 0


def _next_index(tokens: int) -> int | None:
    token = _read_exactly(tokens, 4)
    return int.from_bytes(token, "little") if len(token) == 4 else None


def _plan_digest(fn, arguments: list) -> bytes:
    """The sha256 of the tasks' function and arguments pickled without pickle's memo (``fast``), so that equal values
    give equal bytes however they share objects; and both sides of a fork have the same hash seed, so their sets
    iterate alike. The same plan, made by the same code on both sides, gives the same digest."""
    import io
    import pickle

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    pickler.dump((fn, arguments))
    return hashlib.sha256(buffer.getbuffer()).digest()


def plan_in_early_helper(planner, *args) -> bool:
    """Send the early helper (:func:`fork_helper_early`), if one waits, the call that plans this process's reading:
    ``planner(*args)`` gives ``(fn, arguments)``, the tasks exactly as the reading will give them to
    :meth:`Runner.map` (``arguments``: a list of tuples), or None when the reading will not share them with a helper.
    Once; whether it was sent. A reading that then reads on threads ends the helper (:func:`end_early_helper`), and
    one cancelled before it adopts it stops it (:func:`kill_early_helper`)."""
    import pickle

    early = _early
    if early is None or early.sent:
        return False
    early.sent = True
    try:
        data = pickle.dumps((planner, args), protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(early.requests, struct.pack("<q", len(data)) + data)
    except Exception:  # noqa: BLE001 -- a request that cannot be sent: the helper is not used
        end_early_helper()
        return False
    os.close(early.requests)
    early.requests = -1
    return True


def kill_early_helper() -> None:
    """Stop the early helper's work at once, if no reading has taken it yet (a reading cancelled before it adopted
    it: Ctrl-C, another input's problem); it is waited for by :func:`end_early_helper`. Called from any thread."""
    with _early_lock:
        if _early is not None:
            _end_helper(_early.pid)


def _adopt_early_helper(fn, arguments: list) -> tuple | None:
    """(pid, tokens, answers) of the early helper, once it has planned the same tasks as ``fn`` and ``arguments``;
    None when there is none, or it planned none to share (it has ended). A helper that planned other tasks is ended
    and RuntimeError raised: the two sides would have taken tasks by indices into different lists."""
    global _early
    with _early_lock:
        early = _early
        if early is None or not early.sent:
            return None
        _early = None
    try:
        size = _read_frame_size(early.answers, HELPER_STALLED)
        digest = _read_exactly(early.answers, size, whole=True, timeout=HELPER_STALLED) \
            if size is not None and size > 0 else b""
    except (EOFError, OSError):  # it died, or stalled, as it planned
        digest = b""
    if not digest:
        _end_early(early)
        return None
    if digest != _plan_digest(fn, arguments):
        _end_early(early)
        raise RuntimeError(f"the reading's helper, forked as the command began, planned other tasks than this process "
                           f"({len(arguments)} tasks here): its results cannot be used")
    return early.pid, early.tokens, early.answers


def end_early_helper() -> None:
    """End the early helper (:func:`fork_helper_early`) if no reading adopted it: the command failed before it read,
    or read on threads, workers or Dask."""
    global _early
    with _early_lock:
        early, _early = _early, None
    if early is not None:
        _end_early(early)


def _end_early(early: EarlyHelper) -> None:
    _end_helper(early.pid)
    _reap(early.pid)
    for end in (early.requests, early.tokens, early.answers):
        if end >= 0:
            with contextlib.suppress(OSError):
                os.close(end)


# Bytes the pipe of the helper's results is asked to hold (Linux's F_SETPIPE_SZ; 1 MiB is what
# /proc/sys/fs/pipe-max-size allows an unprivileged process by default).
HELPER_PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    """Let the pipe of the helper's results hold a whole result (a batch of the 500-account month pickles to 8-66 KB):
    with the system's 64 KiB, the helper's write of a larger one waited, its next task unstarted, until this
    process's thread took the GIL (from the evaluation and the reading thread) to read it. Where the system refuses
    (its limit on pipes), the pipe stays as it is."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, HELPER_PIPE_BYTES)


def _read_exactly(fd: int, size: int, whole: bool = False, timeout: float | None = None) -> bytes:
    """``size`` bytes from a pipe; fewer (b"" at its end) when it ends first, or EOFError then with ``whole``.
    ``timeout``: EOFError when nothing comes for that many seconds."""
    chunks, left = [], size
    while left:
        if timeout is not None and not select.select([fd], [], [], timeout)[0]:
            raise EOFError(f"nothing from the helper for {timeout} s")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            if whole:
                raise EOFError("the helper's pipe ended")
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame_size(fd: int, timeout: float) -> int | None:
    """The size the helper gives its next result (-1: it gave the task back), None when its pipe ends or nothing
    comes for ``timeout`` seconds."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return None
    head = _read_exactly(fd, 8)
    return int.from_bytes(head, "little", signed=True) if len(head) == 8 else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _end_helper(pid: int) -> None:
    """End the helper at once (its results will not be used), if it still runs."""
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Wait for the helper, so that no process outlives the call (nor lingers as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _unless(cancel: Cancellation | None) -> None:
    """Raise Cancelled before a task starts when its work was cancelled (None: go on)."""
    if cancel is not None:
        cancel.check()


def _gather(submit, arguments: list, progress, cancel: Cancellation | None, cancels: bool = True,
            into: list | None = None) -> list:
    """[submit(*args)]'s results in order. On any exception (a task's, or a cancellation) the futures not started
    are cancelled, as Executor.map does (unless ``cancels`` is False: the caller ends the processes that run
    them); the running ones finish their task. Cancelled while the tasks are being submitted, no more are.
    ``into``: the list the results are added to (and returned), which keeps those handed on before an exception."""
    from concurrent.futures import CancelledError

    futures: list = []

    def stop():
        for future in list(futures) if cancels else ():
            future.cancel()

    try:
        with cancel.on_cancel(stop) if cancel else contextlib.nullcontext():
            for args in arguments:
                _unless(cancel)
                futures.append(submit(*args))
            return _collect((_unless(cancel) or future.result() for future in futures), progress, into)
    except CancelledError:
        if cancel is not None and cancel.cancelled:
            raise Cancelled() from None
        raise
    finally:
        stop()


class Relay:
    """A callback handed to a :class:`Background`'s call but run on the thread that waits for it, the caller's: a
    progress callback touches a GUI's widgets or the caller's thread-locals, as if it had been called directly.
    The call's thread posts each call; :meth:`Background.result` (and the ``with`` block's end) runs them, in order,
    while it waits, as does another wait of the caller's thread that :meth:`wakes` (the settled pieces of a
    reading: :class:`slapolicy.minutes.aggregates.Settled`). A callback that raises ends the wait as Ctrl-C does:
    the call is cancelled."""

    def __init__(self, callback):
        self.callback = callback
        self._posted: collections.deque = collections.deque()  # one thread appends, one pops: no lock needed
        self._ready = threading.Condition()
        self._ended = False
        self._also: list = []

    def __call__(self, *args) -> None:
        with self._ready:
            self._posted.append(args)
            self._ready.notify()
        for wake in self._also:
            wake()

    def wakes(self, wake) -> None:
        """Call ``wake()`` at each post: another wait of the caller's thread that runs the posted calls too."""
        self._also.append(wake)

    @property
    def pending(self) -> bool:
        return bool(self._posted)

    def end(self) -> None:
        """Said by the Background's thread as its call ends: nothing more will be posted."""
        with self._ready:
            self._ended = True
            self._ready.notify()

    def run_posted(self) -> None:
        """Run the calls posted so far, here, without waiting for more."""
        while self._posted:
            self.callback(*self._posted.popleft())

    def deliver(self) -> None:
        """Run the posted calls here, in order, until the Background's call has ended."""
        while True:
            self.run_posted()
            with self._ready:
                while not self._posted and not self._ended:
                    self._ready.wait()
                if not self._posted:
                    return


CANCELLED_WAIT = 30.0  # seconds a cancelled call is waited for (a batch being decoded takes at most a few)


class Background:
    """A call run on a thread of its own while the calling thread does other work: a command reads its minutes
    (pyarrow and numpy release the GIL) while it reads its billing, notices and calendar. A :class:`Cancellation`
    among the call's arguments is the one it hands to :meth:`Runner.map` (and checks between its own steps); a
    :class:`Relay` among them is run on the thread that waits (the caller's), not the call's own.
    :meth:`result` waits and returns the call's result or raises its exception. Leaving the ``with`` block waits
    for the call whatever happened, so that no reading outlives the command that started it; left by an exception
    (the billing's problem, Ctrl-C), the result will not be used, so the call is cancelled first and the wait is
    for the tasks already running, not for the whole reading. Ctrl-C while :meth:`result` waits cancels it too."""

    def __init__(self, fn, *args, **kwargs):
        self._result = self._error = None
        # Waited for as an Event, not by Thread.join: a join interrupted by Ctrl-C marks the thread as ended
        # though it runs on (Python 3.11), and the next join returns at once.
        self._done = threading.Event()
        self.given_up_at = None  # time.monotonic() past which a cancelled call is no longer waited for (cancel)
        self.cancellation = next((a for a in (*args, *kwargs.values()) if isinstance(a, Cancellation)), None)
        self.relay = next((a for a in (*args, *kwargs.values()) if isinstance(a, Relay)), None)
        # Taken by whichever comes first: the new thread, to run the call, or this one, to give the call up.
        self._claimed = threading.Lock()
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs),
                                        name="slapolicy-background", daemon=True)
        try:
            self._thread.start()
        except KeyboardInterrupt:  # inside start: the block that would cancel the call is never entered
            if self._claimed.acquire(blocking=False):
                self._done.set()  # the call never began (the thread may not even exist), and now never will
            else:
                self.cancel()  # it runs: stop it and wait
            raise

    def _run(self, fn, args, kwargs) -> None:
        if not self._claimed.acquire(blocking=False):
            return  # given up by Ctrl-C as this thread started
        try:
            self._result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the thread that waits for it
            self._error = exc
        finally:
            self._done.set()
            if self.relay is not None:
                self.relay.end()

    def _wait(self) -> None:
        try:
            if self.relay is not None:
                self.relay.deliver()
            self._done.wait()
        except BaseException:  # Ctrl-C while waiting: the result will not be used
            self.cancel()
            raise

    def cancel(self, by: float | None = None) -> None:
        """Stop the call as soon as the tasks it runs allow, and wait for them: until ``by`` (a time.monotonic()) or at
        most CANCELLED_WAIT seconds, since a task that never ends (pyarrow's CSV reader waits for ever for a worker
        thread it could not start, when the memory runs out) would hold the command, whose result will not be used,
        for ever. The bound is set by the first cancel and counts for every later one: Ctrl-C while :meth:`result`
        waits cancels, then the ``with`` block's end cancels again; the Cancellation's hooks cancel a Background
        the call started (the digest beside the reading), which the call's own block then cancels too. Each waited
        its own CANCELLED_WAIT: a hung reading held the command 60 s, not 30."""
        if self.given_up_at is None:  # before the hooks run: theirs is the same bound
            self.given_up_at = time.monotonic() + CANCELLED_WAIT if by is None else by
        if self.cancellation is not None:
            self.cancellation.cancel()
        self._done.wait(max(0.0, self.given_up_at - time.monotonic()))

    def result(self):
        self._wait()
        if self._error is not None:
            raise self._error
        return self._result

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, kind, *exc) -> None:
        if kind is not None:
            self.cancel()
        else:
            self._wait()


def _started() -> int:
    """A worker process's first task: it loads what the tasks it will run load (reading minutes, evaluating,
    replaying), so that a service's first request finds it ready."""
    # pyarrow._parquet, the reader the tasks use (minutes.planning.LocalParquet), not pyarrow.parquet, which loads
    # pyarrow's file systems (SSL, S3, GCS, HDFS): 12-20 ms and ~5 MB of every worker that local files never use.
    for module in ("pyarrow._parquet", "slapolicy.engine", "slapolicy.replay", "slapolicy.minutes.reduce"):
        importlib.import_module(module)
    return os.getpid()


def _collect(results, progress, out: list | None = None) -> list:
    out = [] if out is None else out
    for result in results:
        out.append(result)
        if progress:
            progress(result)
    return out
