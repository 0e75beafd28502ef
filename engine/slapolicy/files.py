"""Opening the files a user names: regular files only, their size checked before a byte is read.

A path can name something that is not a file: a directory, a FIFO (opening one for reading
waits for a writer, forever), ``/dev/zero`` (reading it fills the memory), a symbolic link
that points at itself. Each is refused with a message that says what it is, before it is read.
"""
from __future__ import annotations

import decimal
import errno
import os
import re
import secrets
import stat
import sys
from typing import TYPE_CHECKING

from .errors import Diagnostic, InputError

if TYPE_CHECKING:
    import yaml


class FileProblem(InputError):
    """A path that cannot be read as the file it should be. ``code`` is the diagnostic code a policy
    file reports it with; ``reason`` the message without the path."""

    def __init__(self, path, code: str, reason: str):
        self.path, self.code, self.reason = str(path), code, reason
        super().__init__(f"{path}: {reason}")


def file_kind(mode: int) -> str:
    """What a file of ``mode`` that is not a regular file is, in a message's words ("a device")."""
    return _kind(mode)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_problem(path, exc: OSError, what: str) -> FileProblem:
    if exc.errno == errno.ENOENT:
        return FileProblem(path, "missing", "no such file")
    if exc.errno == errno.ELOOP:
        return FileProblem(path, "unreadable", "a symbolic link that loops (it leads back to itself)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return FileProblem(path, "unreadable", f"cannot read the {what}: permission denied")
    return FileProblem(path, "unreadable", f"cannot read the {what}: {exc.strerror or exc}")


def _refuse_mode(path, mode: int, what: str) -> None:
    if not stat.S_ISREG(mode):
        raise FileProblem(path, "not-a-file", f"is {_kind(mode)}, not a regular file (the {what} must be one)")


def regular_file_size(path, what: str) -> int:
    """The size of ``path`` if it is a regular file (symbolic links followed); else a :class:`FileProblem`."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _os_problem(path, exc, what) from None
    _refuse_mode(path, info.st_mode, what)
    return info.st_size


def read_limited(path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    The file is opened without blocking (a FIFO put in its place cannot make us wait), checked on
    the open descriptor, and read at most ``limit + 1`` bytes: a file that grows while we read, or
    that reports a size of 0 like those of /proc, is still refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _os_problem(path, exc, what) from None
    try:
        _refuse_mode(path, os.fstat(fd).st_mode, what)  # before fdopen, which refuses a directory itself
    except FileProblem:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_size > limit:
            raise FileProblem(path, "too-large", too_large(info.st_size, what, limit))
        try:
            raw = handle.read(limit + 1)
        except OSError as exc:
            raise _os_problem(path, exc, what) from None
    if len(raw) > limit:
        raise FileProblem(path, "too-large", too_large(f"more than {limit}", what, limit))
    return raw


def wide_encoding(raw: bytes) -> str | None:
    """``"UTF-16"`` or ``"UTF-32"`` when ``raw`` looks like text saved in that encoding, else None: the one place text
    that is not UTF-8 is told by its width, for a policy file, a claim, incidents, notices, a CSV or JSON Lines file
    and a request's body alike.

    Told by its byte order mark (UTF-32's first: its little-endian mark begins as UTF-16's), or without one (UTF-16
    LE or BE, as Notepad's "Unicode" saves without it) by the zero bytes of its start: an ASCII character takes two
    bytes in UTF-16, one of them 0, and four in UTF-32, three of them 0. In UTF-8 a zero byte is U+0000, which no
    text file holds."""
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = raw[:32]
    if len(head) >= 8 and any(not any(head[i] for i in range(len(head)) if i % 4 != keep) for keep in (0, 3)):
        return "UTF-32"
    if len(head) >= 4 and (not any(head[1::2]) or not any(head[0::2])):
        return "UTF-16"
    return None


def wide_encoding_said(encoding: str, what: str = "file") -> str:
    """What a text in ``encoding`` (:func:`wide_encoding`) is told: a policy file, a claim, incidents or notices."""
    if encoding == "UTF-16":
        return (f"the {what} is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a file), not UTF-8: "
                "save it as UTF-8")
    return f"the {what} is {encoding}, not UTF-8: save it as UTF-8 (or convert it: iconv -f {encoding} -t UTF-8)"


def in_windows_1252(byte: int) -> str:
    """What a byte that is not UTF-8 stands for in Windows-1252, the encoding a Windows editor calls "ANSI" (Word's
    "Plain Text" and Notepad save in it: § is 0xA7, é 0xE9, ’ 0x92), said as the clause to add to "not UTF-8"; '' for a
    byte it does not define."""
    import unicodedata  # the error path's

    try:
        char = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return ""
    return (f"; in Windows-1252, which a Windows editor saves as \"ANSI\", it is {char!r} (U+{ord(char):04X} "
            f"{unicodedata.name(char, 'an unnamed character')}): save the file as UTF-8")


def too_large(size, what: str, limit: int, unit: str = "bytes") -> str:
    """A file above its size limit, in one wording wherever it is measured (``unit``: text handed in is counted in
    characters)."""
    return f"file is {size} {unit}; the {what} may be at most {limit} {unit}"


# ---------------------------------------------------------------------------- names placed durably

def xdg_base(variable: str, under_home: str) -> tuple[str | None, str]:
    """The XDG base directory ``$variable``, else ``$HOME/under_home`` (``.local/share``, ``.cache``), as the XDG
    Base Directory specification says: a relative value of either is ignored. (None, why) when neither gives an
    absolute path: HOME unset, empty or relative. Never the password entry's home nor ``/``, where Python's
    ``expanduser`` takes an empty HOME (``/.local/share``), and never a path that depends on the working directory."""
    base = os.environ.get(variable, "")
    if os.path.isabs(base):
        return base, ""
    home = os.environ.get("HOME")
    if home is not None and os.path.isabs(home):
        return os.path.join(home, under_home), ""
    told = f"{variable} is not set" if not base else f"{variable} is the relative path {base!r}, which the XDG " \
        "specification says to ignore"
    found = "HOME is not set" if home is None else "HOME is empty" if not home else f"HOME is the relative path {home!r}"
    return None, f"{told}, and {found}"


# Where the output goes is full (a report redirected to a full disk, or over a quota): not a bug, and said so.
OUTPUT_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def create_beside(directory, name: str) -> tuple[int, str]:
    """A new temporary file in ``directory``, to be renamed or linked to ``name`` once written whole: (descriptor,
    path). Created as any new file is, with the mode the umask gives (0644 usually): ``tempfile.mkstemp`` would
    make it 0600, and a published version or lock readable by its publisher alone fails every other user's
    `slapolicy serve` or `evaluate` with "permission denied" (a report written by ``--output``, as ``>`` makes it)."""
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}")  # O_EXCL: never an existing file
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp


def sync_directory(path) -> None:
    """Make the names just linked, renamed or made in the directory ``path`` survive a power loss: syncing a file
    writes its bytes, not the directory entry that names it (fsync(2)). As SQLite does for its journals, a
    directory that cannot be opened or synced (a filesystem without the call) is left as it is."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def make_directories(path) -> None:
    """``mkdir -p path``, each directory made synced into the one that holds it (:func:`sync_directory`)."""
    from pathlib import Path

    path = Path(path)
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path)
        path = path.parent
    for made in reversed(missing):
        try:
            made.mkdir()
        except FileExistsError:  # made meanwhile by another process, which syncs it
            continue
        sync_directory(made.parent)


# ---------------------------------------------------------------------------- strict JSON

class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"key {key!r} appears twice in one object")
        self.key = key


class NotJSONNumber(ValueError):
    def __init__(self, name: str):
        super().__init__(f"{name} is not a JSON number (JSON has no NaN or Infinity)")
        self.name = name


BEYOND_FLOAT = "a number beyond the range of a 64-bit float (about ±1.8e308)"


class BeyondFloat(ValueError):
    """A JSON number too large for a float (its words follow "holds": 1e400 is valid JSON, not a syntax error)."""

    def __init__(self, text: str):
        super().__init__(f"{text}, {BEYOND_FLOAT}")


def finite_float(text: str) -> float:
    """A JSON number with a fraction or an exponent. 1e400 is JSON, but Python reads it as infinity, which a claim
    then refused as "inf, which is not a JSON number" and a row as "'inf' is not a whole number": words the writer
    never wrote. It is refused as written."""
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BeyondFloat(text)
    return value


class TooManyDigits(ValueError):
    """A JSON whole number of more digits than Python converts (its words follow "holds", as BeyondFloat's)."""

    def __init__(self):
        super().__init__(f"a whole number of more than {sys.get_int_max_str_digits()} digits")


def bounded_int(text: str) -> int:
    """A JSON whole number; one of more digits than Python converts is refused in the words used for one handed in
    through the API, not Python's ("Exceeds the limit (4300 digits) for integer string conversion ...; use
    sys.set_int_max_str_digits() to increase the limit")."""
    try:
        return int(text)
    except ValueError:
        raise TooManyDigits() from None


def unique_object(pairs: list) -> dict:
    """A JSON object whose keys are all different: with two equal keys Python keeps the last one
    silently, and a claim, a lock or a request would mean something its author did not see."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(key)
        found[key] = value
    return found


def no_constant(name: str):
    """Python's json reads NaN and Infinity, which JSON does not have."""
    raise NotJSONNumber(name)


# json.loads's hooks for JSON from outside (a file, a request body): a key given twice, NaN or Infinity, and numbers
# Python cannot hold (1e400, 5,000 digits) are refused in our words rather than read as something else.
STRICT_JSON = {"object_pairs_hook": unique_object, "parse_constant": no_constant, "parse_float": finite_float,
               "parse_int": bounded_int}


def load_json(text: str, path, **options):
    """Parse JSON strictly (no duplicate keys, no NaN or Infinity); a problem names the file and place."""
    import json

    if not text.strip():
        raise InputError(f"{path}: the file is empty (expected JSON)")
    try:
        value = json.loads(text, **STRICT_JSON | options)
    except json.JSONDecodeError as exc:  # lineno and colno count from 1, as every position we print does
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (BeyondFloat, TooManyDigits) as exc:  # valid JSON, which Python cannot hold as a number: said as the
        raise InputError(f"{json_fault_at(path, text, exc)}: holds {exc}") from None  # service says it of a body
    except ValueError as exc:  # from the hooks above
        raise InputError(f"{json_fault_at(path, text, exc)}: not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    if not valid_unicode(value):
        raise InputError(f"{json_fault_at(path, text, None)}: {LONE_SURROGATE}")
    return value


# One JSON token and the whitespace before it; the text is JSON Python's json has read, but for what a hook refused.
_JSON_TOKEN = re.compile(r'[ \t\n\r]*(?:("(?:[^"\\]|\\.)*")|(NaN|-?Infinity|true|false|null)'
                         r'|(-?\d+)(\.\d+)?([eE][+-]?\d+)?|([][{}:,]))')


def json_fault_at(path, text: str, fault: ValueError | None) -> str:
    """``PATH:LINE:COL`` of what one of STRICT_JSON's hooks refused in ``text`` (``fault``; None: the first lone
    surrogate, which valid_unicode finds once all is read), counted as json.JSONDecodeError counts: else ``PATH``.
    Python's json gives no place for a hook's error, and a key written twice in a lock was said at 1:1 whatever its
    line. The text is read again as the parser read it, in its order: a number or a constant as it comes, a key
    written twice when its object closes (object_pairs_hook), so the fault placed is the one the parser raised."""
    import json

    found = None  # (where, the hook's error it raises there, the key or constant it names)
    objects: list = []  # per open container: None for a list, for an object [keys, first repeat, next is a key]
    try:
        for token in _JSON_TOKEN.finditer(text):
            string, constant, whole, fraction, exponent, mark = token.groups()
            at = token.end() - len(token.group().lstrip(" \t\n\r"))
            if mark in ("{", "["):
                objects.append([set(), None, True] if mark == "{" else None)
            elif mark in ("}", "]"):
                closed = objects.pop()
                if closed is not None and closed[1] is not None:
                    found = (closed[1][0], DuplicateKey, closed[1][1])
            elif mark in (":", ","):
                if objects and objects[-1] is not None:
                    objects[-1][2] = mark == ","
            elif string is not None:
                value = json.loads(string)
                if objects and objects[-1] is not None and objects[-1][2]:
                    if value in objects[-1][0] and objects[-1][1] is None:
                        objects[-1][1] = (at, value)
                    objects[-1][0].add(value)
                if fault is None and not valid_unicode(value):
                    found = (at, None, None)
            elif constant in ("NaN", "Infinity", "-Infinity"):
                found = (at, NotJSONNumber, constant)
            elif whole is not None and (fraction or exponent):
                if float(token.group().strip()) in (float("inf"), float("-inf")):
                    found = (at, BeyondFloat, None)
            elif whole is not None and 0 < sys.get_int_max_str_digits() < len(whole.lstrip("-")):
                found = (at, TooManyDigits, None)
            if found is not None:
                break
    except (ValueError, IndexError, RecursionError):
        return str(path)
    if found is None:
        return str(path)
    at, kind, said = found
    if (fault is None) != (kind is None) or kind is not None and not isinstance(fault, kind) \
            or said is not None and said not in (getattr(fault, "key", None), getattr(fault, "name", None)):
        return str(path)  # not the fault the parser raised: no place rather than a wrong one
    return f"{path}:{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"


JSON_TYPES = {"string": "a string", "number": "a number", "integer": "a whole number", "boolean": "true or false",
              "array": "a list", "object": "an object", "null": "null"}


def json_type(value: object) -> str:
    """The JSON type of a parsed value, in the words of JSON_TYPES: messages about a JSON document (a claim, a
    request body) speak JSON, not Python (``a number``, not ``int``)."""
    if value is None or isinstance(value, bool):
        return JSON_TYPES["null" if value is None else "boolean"]
    for python, name in ((str, "string"), (list, "array"), (dict, "object")):
        if isinstance(value, python):
            return JSON_TYPES[name]
    if isinstance(value, (int, float, decimal.Decimal)):  # or the Decimal a reader parses numbers into
        return JSON_TYPES["number"]
    return f"a Python {type(value).__name__}"  # handed in through the API (a datetime, a tuple): JSON has no such type


def type_problem(field: str, value: object, expected: tuple) -> str | None:
    """``field 'account' must be a string, not a number``, or None when ``value`` is of one of the ``expected``
    JSON types (JSON Schema's names: string, array, object, null, ...)."""
    if json_type(value) in (JSON_TYPES[t] for t in expected):
        return None
    return (f"field {field!r} must be {' or '.join(JSON_TYPES[t] for t in expected)}, not {json_type(value)}"
            + written_instead(field, value, expected))


HINT_MOST = 80  # characters of the field written as meant; past them a list's one item is shown as … (a row of minutes)


def written_instead(field: str, value: object, expected) -> str:
    """``: write "accounts": ["globex"]`` for one value given where a list belongs (``"accounts": "globex"``), or
    ``: write "channel": "work_order"`` for a list of one text where a text belongs; "" otherwise. The field as the
    client meant it, in JSON, for a top-level field: what to send, not only what is wrong."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
        return ""
    # (a number with a fraction is no account, nor anything else a list of the requests holds: no hint)
    if "array" in expected and isinstance(value, (str, int, dict)) and not isinstance(value, bool):
        meant, shortened = [value], "[{…}]" if isinstance(value, dict) else '["…"]' if isinstance(value, str) else None
    elif "string" in expected and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        meant, shortened = value[0], None
    else:
        return ""
    import json  # an error path's own

    text = json.dumps({field: meant}, ensure_ascii=False)[1:-1]
    if not text.isprintable():  # an invisible or control character is shown by its escape, as names are
        text = json.dumps({field: meant})[1:-1]
    if len(text) > HINT_MOST:
        if shortened is None:
            return ""
        text = f"{json.dumps(field)}: {shortened}"
    return f": write {text}"


LONE_SURROGATE = "holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)"


# A claim is read by people and hashed into the ledger; no real one nests deeper than a few levels, and a deeper
# one (or a list that contains itself, handed in through the API) would overflow Python's stack in json.dumps.
MAX_JSON_DEPTH = 64


def json_data_problem(value, field: str) -> str | None:
    """Why ``value``, handed in as a JSON document (a claim through the API), is not JSON data, naming the place
    (``field 'failure_records[0].at' holds a Python datetime, ...``); None when it is. A file or a request body is
    JSON already; a Python caller can hand anything, and what is not JSON cannot be hashed, recorded or sent back."""
    import math

    stack = [(value, field, 0)]
    while stack:  # depth first, so a list that contains itself reaches the depth limit at once
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"field {where.split('[')[0].split('.')[0]!r} is nested more than {MAX_JSON_DEPTH} levels deep"
        if isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if not isinstance(key, str):
                    return f"field {where!r} has the key {key!r}, a Python {type(key).__name__}: JSON keys are strings"
                stack.append((inner, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]", depth + 1) for i, inner in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            if not valid_unicode(item):
                return f"field {where!r} {LONE_SURROGATE}"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"field {where!r} holds {item!r}, which is not a JSON number (JSON has no NaN or Infinity)"
        elif isinstance(item, int) and not isinstance(item, bool):
            if item.bit_length() > 14_000 and _too_long(item):  # ~4200 digits: short numbers are not written out
                return f"field {where!r} holds {TooManyDigits()}"
        elif item is not None and not isinstance(item, bool):
            return f"field {where!r} holds a Python {type(item).__name__}, which is not JSON data"
    return None


def _too_long(number: int) -> bool:
    """More digits than Python writes out (json.dumps would raise ValueError)."""
    try:
        str(number)
    except ValueError:
        return True
    return False


def valid_unicode(value) -> bool:
    """JSON may escape half of a UTF-16 pair (\\ud800) alone; Python keeps it, and it fails later, in the ledger
    or on output, far from the input that carried it."""
    import json

    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")  # default: Decimal from parse_float
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(text: str) -> bool:
    """A name Python was handed in bytes that are not UTF-8 (a file copied from another system, ``$'\\xff'``): it
    holds lone surrogates, which pyarrow, the check record and every output refuse to encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def typed_number(text: str, kind: type = int):
    """``kind(text)`` (``int`` or ``float``) of a number a user typed (an option, an environment variable), or
    ValueError unless it is written in ASCII: Python's ``int`` and ``float`` also read other scripts' digits and
    spaces (``int("٢")`` is 2, ``float("١.٥")`` 1.5), which no option documents, and ``str.isdigit`` also takes
    superscripts (``"²"``) that ``int`` then refuses."""
    if not text.isascii():
        raise ValueError(f"{text!r} is not written in the digits 0-9")
    return kind(text)


def not_utf8_path(value) -> str:
    """Why a path :func:`not_utf8` is refused, its characters escaped so the message itself can be printed."""
    return f"{str(value)!r} is not UTF-8: slapolicy reads only paths whose names are UTF-8 text; rename it"


def not_utf8_account(value: str) -> str:
    """Why an account name :func:`not_utf8` is refused (``--account``, ``accounts=``), its characters escaped."""
    return f"{value!r} is not UTF-8 text, so no input can name that account"


def path_argument(value, name: str):
    """An API argument that names a file or directory, as a Path; anything else is an ArgumentError
    (``Path(None)`` would raise a bare TypeError, and ``str(5)`` would look for a file called '5')."""
    from pathlib import Path

    from .errors import ArgumentError

    if isinstance(value, (str, os.PathLike)) and str(value).strip():
        if not_utf8(str(value)):
            raise ArgumentError(f"{name} {not_utf8_path(value)}")
        return Path(value)
    raise ArgumentError(f"{name} must be a path (str or os.PathLike), not {type(value).__name__}"
                        + (" (an empty string)" if isinstance(value, str) else ""))


def yaml_syntax_diagnostic(filename: str, error: yaml.YAMLError, text: str = "", what: str = "a policy file") -> Diagnostic:
    """A YAML syntax error at its line and column. ``what`` names the kind of file (``the incidents file``): the
    same YAML reader reads policies, incidents and notices, and a message must not call one of them another."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None and isinstance(getattr(error, "character", None), int):
        return _unacceptable_character(filename, error, text, what)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)  # PyYAML counts from 0; we count from 1
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        return Diagnostic(filename, line, col, "error", "yaml-tab",
                          f"a tab character: tabs are not allowed in {what}; indent with spaces")
    problem = getattr(error, "problem", None) or str(error)
    context, begun = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and begun is not None and mark is not None and begun.line != mark.line:
        # Where what was being read began: the place to look, often lines above the one where it went wrong.
        context = f"{context} (from line {begun.line + 1}, column {begun.column + 1})"
    message = f"{context}, {problem}" if context else problem
    first = begun.line if begun is not None and mark is not None and begun.line < mark.line else line - 1
    return Diagnostic(filename, line, col, "error", "yaml-syntax",
                      f"not valid YAML: {message}{_syntax_hint(text, first, line, col, problem)}")


# Word's AutoCorrect replaces straight quotes with typographic ones as they are typed; YAML quotes only with " and '.
TYPOGRAPHIC_QUOTES = ("typographic quotes (“ ”, as Word's AutoCorrect writes them), which YAML reads as part of the "
                      "value: quote it with straight quotes (\" or ')")
_OPENS_TYPOGRAPHIC = r"(?:^|[:,\[{-])\s*[“‘„]"  # a value begun with one, not an apostrophe in a word
# A space other than U+0020 (Word's no-break space after a colon, or in an indentation): YAML takes it as a character of
# the text, not as the space that indents a line or ends a key. Within the words of a value it is the text's own.
_ODD_SPACE = r"^ *([^\S \t\r\n])|[:-]([^\S \t\r\n])"


def in_typographic_quotes(value) -> bool:
    """Whether a value read from YAML begins with a typographic quote (“99.5%”), which YAML took as its own."""
    return isinstance(value, str) and value[:1] in ("“", "‘", "„")


def _syntax_hint(text: str, first: int, line: int, col: int, problem: str) -> str:
    """What a person most likely wrote wrong, said in their terms, for YAML errors whose words are the parser's: a
    quote inside a double-quoted value (it ended the value), a colon and a space in a value not quoted, a double
    quote opened and not closed on its line (the value runs on to the next quote, lines later), else for a key not
    found where one was expected, a line indented unlike its neighbours; '' when none fits. ``first``, counted
    from 0, and ``line``, from 1: the lines read, from where the construct began to where it failed (at ``col``)."""
    lines = text.splitlines()[first:line]
    failed = lines[-1] if lines else ""
    import re  # the error path's
    import unicodedata

    # from the line before: a key ended by such a space runs on as text, into the line where the parser stops
    for number, row in enumerate(text.splitlines()[max(first - 1, 0):line], max(first - 1, 0) + 1):
        odd = re.search(_ODD_SPACE, row)
        if odd:
            space = odd.group(1) or odd.group(2)
            return (f"; line {number} holds a U+{ord(space):04X} {unicodedata.name(space, 'space')} where YAML "
                    "indents or separates, as Word writes one: YAML reads only the space bar's space (U+0020) there")
    for number, row in enumerate(lines, first + 1):
        if re.search(_OPENS_TYPOGRAPHIC, row.split(" #", 1)[0]):
            return f"; line {number} puts a value in {TYPOGRAPHIC_QUOTES}"
    if 1 < col <= len(failed) + 1 and failed[col - 2] == '"' and failed[:col - 2].count('"') % 2:
        return ('; the quote (") before it ended the quoted value: a quote inside a value in double quotes is '
                'written \\", or the value is put in single quotes')
    if "mapping values are not allowed" in problem:
        return "; a value holding a colon and a space (': ') is put in quotes"
    for number, row in enumerate(lines, first + 1):
        code = row.split(" #", 1)[0]
        if code.replace('\\"', "").count('"') % 2:
            return f"; line {number} opens a quote (\") it does not close, so the value runs on to the next quote"
    if "expected key" in problem or "expected <block end>" in problem:
        return (f"; look at the indentation of line {line} and of the lines just above it: each key of one mapping "
                "starts in the same column, and a value on its own lines is indented further than its key")
    return ""


def _unacceptable_character(filename: str, error, text: str, what: str) -> Diagnostic:
    """A character YAML does not allow (a NUL, a control character), at its line and column: PyYAML's reader
    reports only an offset, in bytes of UTF-8 with libyaml and in characters without it, and a message of two
    lines."""
    encoded, offset, code = text.encode("utf-8", "surrogatepass"), error.position, error.character
    if 0 <= offset < len(encoded) and encoded[offset] == code:
        before = encoded[:offset].decode("utf-8", "replace")
    elif 0 <= offset < len(text) and ord(text[offset]) == code:
        before = text[:offset]
    else:
        before = ""
    line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    return Diagnostic(filename, line, col, "error", "yaml-character",
                      f"character U+{code:04X} is not allowed in {what}: YAML allows no control characters")
