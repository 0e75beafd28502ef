"""The machine's limits, told apart from a bad input: memory (``ulimit -v``, a container's), threads and processes
(``ulimit -u``), open files (``ulimit -n``). What they make fail is no fault of the file being read, so a reader
lets it through (:func:`exhausted`) rather than say the file "cannot be read", and the CLI says which limit was
reached and what to do (:func:`limit_message`), exit 1, instead of an internal error."""
from __future__ import annotations

import errno
import os
import sys

TOO_MANY_FILES = (errno.EMFILE, errno.ENFILE)
NO_MEMORY = (errno.ENOMEM,)
# Where no errno is given, each limit is told by the words of the one library that says it, in the one place it says
# them, never by words anywhere in a message (a message may quote a file's row, a name or a value: 'acme,Too many
# open files' is a row, not the limit).
# The loader, failing to map an extension module's library, raises an ImportError whose path is the module's file and
# whose message is dlerror's, "LIBRARY: WHAT" or "LIBRARY: WHAT: STRERROR" (glibc's dl-load.c words; the C library's
# strerror, as os.strerror gives it). "cannot allocate memory in static TLS block" is no memory run out (an
# installation's libraries loaded in the wrong order): more memory would not help, so it is not said so.
UNMAPPED = "failed to map segment from shared object"
LOADER_OUT_OF = {os.strerror(number): "memory" for number in NO_MEMORY} | \
    {os.strerror(number): "files" for number in TOO_MANY_FILES} | {UNMAPPED: "memory"}
# A thread that cannot start: Python's threading raises RuntimeError with exactly these words (3.11 to 3.13), and
# pyarrow's thread pool an ArrowException of status "Unknown error" that starts with these.
PYTHON_THREAD = "can't start new thread"
ARROW_THREAD = "Unknown error: Failed to launch worker thread"


def _kind(exc: BaseException) -> str | None:
    """"memory", "threads", "files" or None."""
    if isinstance(exc, MemoryError):  # pyarrow's ArrowMemoryError too
        return "memory"
    if isinstance(exc, ValueError):  # a bad value (pyarrow's ArrowInvalid), whose message may quote the file's text
        return None
    number = getattr(exc, "errno", None)
    if number in TOO_MANY_FILES:
        return "files"
    if number in NO_MEMORY:
        return "memory"
    if isinstance(exc, ImportError):
        return _unloaded(exc) or (_unloaded(exc.__cause__) if isinstance(exc.__cause__, ImportError) else None)
    if type(exc) is RuntimeError and str(exc) == PYTHON_THREAD:
        return "threads"
    if _arrow_exception(exc) and str(exc).startswith(ARROW_THREAD):
        return "threads"
    return None


def _unloaded(exc: ImportError) -> str | None:
    """What the loader ran out of when it could not load an extension module's library, or None: an ImportError
    without the module's path is a module not found or a name missing, whatever its name says. (numpy raises its own
    ImportError, "Error importing numpy: ... Original error was: ...", from the loader's: ``_kind`` looks at that one
    too.)"""
    if exc.path is None:
        return None
    return LOADER_OUT_OF.get(str(exc).rsplit(": ", 1)[-1])


def _arrow_exception(exc: BaseException) -> bool:
    """Whether ``exc`` is pyarrow's ArrowException itself (not one of its kinds, which name what was wrong), told
    without importing pyarrow: only a program that loaded it can have raised one."""
    pyarrow = sys.modules.get("pyarrow")
    return pyarrow is not None and type(exc) is getattr(pyarrow, "ArrowException", None)


# Under an address-space limit (ulimit -v), what pyarrow's allocator is told in a process slapolicy owns, unless the
# user set it: jemalloc (pyarrow's default pool) without its background threads, whose creation failing there printed
# "<jemalloc>: background thread creation failed" and left a reading waiting 30 s for a thread (ulimit -v of 300 MiB,
# the example minutes: a hang, then "terminated"), and the system's allocator as the pool. Scanned 280-460 MiB by 20,
# twice: the hang at 300 and the failures at 320 and 460 became exit 1 with the memory message, or a result; below
# ~260 MiB the libraries' own loading still ends the process (docs/cli.md, "The machine's limits").
WITHIN_ADDRESS_SPACE = {"JE_ARROW_MALLOC_CONF": "background_thread:false", "ARROW_DEFAULT_MEMORY_POOL": "system"}


def fit_address_space() -> None:
    """Before pyarrow loads, in a process slapolicy owns: when this process's address space is limited, set
    ``WITHIN_ADDRESS_SPACE`` (a value the user set wins). Without a limit nothing changes: jemalloc is faster."""
    import resource  # ~0.1 ms

    if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
        return
    for name, value in WITHIN_ADDRESS_SPACE.items():
        os.environ.setdefault(name, value)


def reserve_address_space(size: int, what: str) -> None:
    """Under an address-space limit (ulimit -v) only: raise MemoryError, which the command says as memory run out,
    unless ``size`` bytes of address space are left for ``what``, tried by mapping them (no page is touched) and
    unmapping them at once (~20 µs). pyarrow's streaming CSV reader, opened with less left than its blocks take, waited
    for ever for a read-ahead thread that could not start (the example minutes under ulimit -v of 292 to 298 MiB: no
    error was raised, so nothing could give the reading up); with that much left it reads, or says why it cannot."""
    import mmap
    import resource  # ~0.1 ms

    if resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY:
        return
    try:
        mmap.mmap(-1, size).close()
    except OSError as exc:
        if exc.errno not in NO_MEMORY:
            raise
        raise MemoryError(f"{what} needs {size // (1024 * 1024)} MiB more address space, and less is left") from None


def exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` is a limit of the machine reached, not a problem of the input being read."""
    return _kind(exc) is not None


def _limit(name: str, unit: str) -> str:
    """This process's soft limit ``name`` (a resource module constant) in words, or "" when there is none."""
    import resource  # only once a limit was reached

    soft = resource.getrlimit(getattr(resource, name))[0]
    if soft == resource.RLIM_INFINITY:
        return ""
    return f"{soft // (1024 * 1024)} MiB" if unit == "bytes" else f"{soft} {unit}"


def limit_message(exc: BaseException) -> str | None:
    """What the command says when ``exc`` is a limit of the machine reached: which, this process's limit if one is
    set, and what to do. None for anything else."""
    kind = _kind(exc)
    if kind is None:
        return None
    if isinstance(exc, ImportError) and _unloaded(exc) is None:
        exc = exc.__cause__  # numpy's words around the loader's start with a blank line: the loader's are said
    what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"
    if kind == "files":
        limit = _limit("RLIMIT_NOFILE", "files")
        return (f"too many open files ({what}){': this process may open ' + limit if limit else ''}; raise the "
                "limit (ulimit -n), or run fewer --workers processes (each holds files and pipes of its own)")
    if kind == "threads":
        return (f"cannot start a thread ({what}): the memory this process may use, or the number of processes and "
                "threads, is reached; raise the limit (ulimit -v, ulimit -u, or the container's), or run fewer "
                "--workers processes")
    limit = _limit("RLIMIT_AS", "bytes")
    where = f"this process may use {limit} of address space (ulimit -v)" if limit else \
        "the machine's or the container's memory is used up"
    return (f"out of memory ({what}): {where}; give the command more memory (address space counts what pyarrow's "
            "threads reserve as well as what they use), or run fewer --workers processes")
