"""The machine's limits, told apart from a bad input: memory (``ulimit -v``, a container's), threads and processes
(``ulimit -u``), open files (``ulimit -n``). What they make fail is no fault of the file being read, so a reader
lets it through (:func:`exhausted`) rather than say the file "cannot be read", and the CLI says which limit was
reached and what to do (:func:`limit_message`), exit 1, instead of an internal error."""
from __future__ import annotations

import errno

TOO_MANY_FILES = (errno.EMFILE, errno.ENFILE)
NO_MEMORY = (errno.ENOMEM,)
# What Python, pyarrow and the loader say when threads or memory run out (they raise no MemoryError for it).
THREAD_WORDS = ("can't start new thread", "Failed to launch worker thread")
MAP_WORDS = ("failed to map segment from shared object", "cannot allocate memory")


def _kind(exc: BaseException) -> str | None:
    """"memory", "threads", "files" or None."""
    if isinstance(exc, MemoryError):  # pyarrow's ArrowMemoryError too
        return "memory"
    if isinstance(exc, ValueError):  # a bad value (pyarrow's ArrowInvalid), whose message may quote the file's text:
        return None  # a CSV row 'acme,Too many open files' was said to be the open-files limit reached
    number = getattr(exc, "errno", None)
    if number in TOO_MANY_FILES:
        return "files"
    if number in NO_MEMORY:
        return "memory"
    if getattr(exc, "filename", None) is not None:  # another errno's, naming a file: whatever the name says
        return None  # ('Too many open files.csv' not found is no limit reached)
    text = str(exc)
    if isinstance(exc, ImportError) and any(words in text.lower() for words in MAP_WORDS):
        return "memory"  # a library that cannot be mapped into the address space left
    if "Too many open files" in text:
        return "files"
    if any(words in text for words in THREAD_WORDS):
        return "threads"
    return None


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
