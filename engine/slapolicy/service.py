"""``slapolicy serve``: the engine over HTTP (``/v1``), beside services not written in Python.

The stack is Starlette (routing, requests, responses) on uvicorn (the server): both small,
well kept, and without a model layer — the request bodies are described once, as JSON
Schema, in :mod:`slapolicy.service_openapi`, which both serves ``/openapi.json`` and checks
the bodies; the engine's own readers check the data and give the CLI's messages.

* Every engine call runs in a worker thread: evaluations are CPU-bound and must not stall
  the event loop, and one :class:`~slapolicy.engine.Engine` is shared (it is thread-safe).
* Before each request the engine checks, with one ``stat`` per policy file, whether a
  version was published; if so it loads the directory (under the family's shared lock, so
  never half a publication) and swaps the snapshot whole. A request runs on one snapshot.
* Errors are RFC 9457 problem details (``application/problem+json``) carrying the CLI's
  message: a malformed request is 400 (the CLI's usage error), input or policy that is
  wrong 422 (the CLI's exit 1), something that does not exist 404, a data source the
  service was not started with 409, a Dask scheduler out of reach 503, a bug 500 (the CLI's exit 3) — never
  a traceback.
* Bodies are limited in size; the service binds to loopback unless told otherwise.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote, unquote

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import __version__
from .calendar import month_problem, supported_date
from .claims.materials import TERM_BLANK, claim_object
from .engine import Engine
from .evaluation.compensation import NO_BILLING_GIVEN
from .errors import bounded_message as bounded_detail  # a problem's detail is bounded as every message is
from .errors import (ArgumentError, BillingNeeded, NoVersionInForce, PolicyError, SchedulerUnavailable,
                     SlapolicyError, UsageError, WorkersLost)
from .files import (JSON_TYPES, LONE_SURROGATE, STRICT_JSON, BeyondFloat, DuplicateKey, NotJSONNumber, TooManyDigits,
                    json_type, valid_unicode, wide_encoding, written_instead)
from .inputs.problems import InlineRows
from .ledger import Ledger, default_ledger_path, environment_key
from .limits import exhausted, limit_message
from .service_openapi import REQUEST_SCHEMAS, document
from .minutes.storage import is_url, relative_file_url

MAX_BODY_BYTES = 1 << 20  # 1 MiB: a claim, a month request, or a few thousand inline minutes
# Connections open at once: far below the 1,024 file descriptors a process commonly gets (the ledger, the minutes'
# files and a Dask client need theirs), far above what the worker threads (40) can serve at once. Beyond it a
# connection is answered 503 at once, rather than waiting, with every later one, for a descriptor to be free.
MAX_CONNECTIONS = 256
REQUEST_TIMEOUT_SECONDS = 30.0  # to send a whole request (a 1 MiB body at 35 kB/s); uvicorn itself sets no limit
# To take a whole answer, once it waits for its client (the system's buffers full): a ~6 MB answer (3,000 accounts) at
# 100 kB/s. Taking some of it every --request-timeout seconds, a client reading a few bytes at a time held its
# connection for as long as it liked, and a stop (SIGTERM) with it, which waits for the answers in flight.
ANSWER_TIMEOUT_SECONDS = 60.0
PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 1  # a 503's Retry-After: a connection freed, a scheduler reached again, memory given back
# Descriptors the process needs beside its connections: the listening socket, the worker threads' ledger
# connections (the file, its -wal and -shm: three for each of up to 40 threads), the minutes' files they read at
# once, a process pool's pipes or a Dask client's sockets, and Python's own.
RESERVED_DESCRIPTORS = 256
# Engine calls (evaluations, claims, replays) running at once; the others wait their turn on the event loop, without
# a thread (the versions served, a version's terms and a recorded decision are read beside them: Service.run). They are CPU-bound Python under one GIL, so more threads add no throughput (16 clients:
# 104 against 112 requests/s, within noise), while each one beside the event loop delays it: under 120 evaluations at
# once, GET /v1/health took a median 0.5-2 s and up to 5-8 s with Starlette's 40 threads, 17 ms (at most ~1 s) with 4
# (benchmarks/README.md, "serve.py"). The default of --max-concurrent: with --dask the work of a call runs on the cluster,
# and four long replays held every slot while it idled, so the number is a setting.
ENGINE_THREADS = 4
# The most --max-concurrent may be: each call holds a thread and up to three open files of the ledger (its -wal and
# -shm), which RESERVED_DESCRIPTORS counts for 40 threads; and each call of a Dask cluster's spreads its work over all
# of it, so 40 at once keep it busy.
MAX_CONCURRENT = 40
LINGER_SECONDS = 2.0  # after refusing a request still arriving, how long what follows is read (and dropped) at most
DRAFT_NAME = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*\.yaml")  # a plain file name: not hidden, no path
DECISION_ID = re.compile(r"D-[0-9a-f]{20}")
# The trace of a month evaluated without any billing, as the service's client gives it (the CLI's names --billing).
NO_BILLING_SENT = ("no billing was given: no amount computed (the credit is a percentage of the Monthly Service Fee, "
                   "which the billing gives: send it inline, 'billing': [...], or start the service with --billing)")
# The same in a claim's decision, whose month is evaluated from the service's own data (a claim carries no rows).
NO_BILLING_CLAIMED = ("no billing was given: no amount computed (the credit is a percentage of the Monthly Service "
                      "Fee, which the billing gives: the service decides claims from the billing it was started with: "
                      "start it with --billing)")
NAME_MAX = 255  # bytes of a file name, on every file system slapolicy runs on (Linux's NAME_MAX, macOS's, NTFS's)


@dataclass(frozen=True)
class Sources:
    """The data the service was started with (paths; None when not given)."""

    minutes: str | None = None
    incidents: str | None = None
    notices: str | None = None
    billing: str | None = None


class Problem(Exception):
    """An answer other than success: RFC 9457 problem details."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extra):
        detail = bounded_detail(detail)
        super().__init__(detail)
        self.status, self.kind, self.title, self.detail, self.extra = status, kind, title, detail, extra

    def response(self, request: Request) -> JSONResponse:
        body = {"type": f"urn:slapolicy:problem:{self.kind}", "title": self.title, "status": self.status,
                "detail": self.detail, "instance": instance_of(request), **self.extra}
        # A 503 is the service's state, not the request's fault: said to retry, and when (RFC 9110 §10.2.3), so a
        # client's retry policy need not guess
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else None
        return JSONResponse(body, status_code=self.status, media_type=PROBLEM, headers=headers)


# What a URI reference's path may hold as it is (RFC 3986 §3.3: unreserved, sub-delims, ':', '@', '/', and '%' of an
# escape); anything else of a path as sent is escaped.
URI_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def instance_of(request: Request) -> str:
    """A problem's ``instance``: the request's path as its client sent it, a URI reference (RFC 9457 §3.1.5). The path
    decoded (Starlette's ``url.path``) was no URI ('/v1/claims/a b', 'é', a NUL or U+FFFD, and a CR LF taken out by the
    URL's parsing): a client reading it as one (Java's URI.create, Go's url.Parse) failed on the answer itself."""
    raw = request.scope.get("raw_path")  # bytes as sent: a byte beyond ASCII is escaped as itself
    path = quote(raw, safe=URI_PATH_SAFE) if raw else quote(request.scope.get("path", "/"), safe=URI_PATH_SAFE[:-1])
    return LONE_PERCENT.sub("%25", path)


def bad_request(detail: str) -> Problem:
    return Problem(400, "bad-request", "The request is malformed", detail)


def client_gone(detail: str) -> Problem:
    """The answer to a request whose client closed its connection: nobody reads it, but a log of the answers (an access
    log around the application) records it, and 400 told it the request was malformed, where it was whole and its
    client went. 499 is the status web servers log for it (nginx's "client closed request")."""
    return Problem(499, "client-closed-request", "The client closed the connection", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def not_configured(detail: str) -> Problem:
    return Problem(409, "not-configured", "The service was not started with this data", detail)


def problem_of(exc: Exception) -> Problem:
    """The engine's errors, as the CLI would report them, with the status their exit code means."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, (UsageError, ArgumentError)):
        return bad_request(str(exc))
    if isinstance(exc, NoVersionInForce):
        return Problem(404, "no-version-in-force", "No policy version is in force", str(exc))
    if isinstance(exc, PolicyError):
        return Problem(422, "policy-error", "The policy is wrong", str(exc),
                       diagnostics=[d.as_dict() for d in exc.diagnostics])
    if isinstance(exc, SchedulerUnavailable):
        return Problem(503, "scheduler-unavailable", "The Dask scheduler is unavailable", str(exc))
    if isinstance(exc, WorkersLost):  # the processes running the work died under it: the machine's state
        return Problem(503, "workers-lost", "The worker processes ended", str(exc))
    if isinstance(exc, SlapolicyError):
        return Problem(422, "invalid-input", "The input is wrong", str(exc))
    if exhausted(exc):  # memory, threads or open files used up: the machine's state, not a bug (the CLI's exit 1)
        return Problem(503, "limit-reached", "A limit of the machine is reached", limit_message(exc))
    if os.environ.get("SLAPOLICY_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    return Problem(500, "internal-error", "Internal error",
                   f"internal error, please report it: {type(exc).__name__}: {exc}")


def header(request: Request, name: str) -> str | None:
    """A header's value as its client wrote it, for the answer to quote: HTTP carries bytes, which Starlette decodes
    as Latin-1, so a value sent in UTF-8 (curl sends what it is given) came back garbled in the detail
    ('bÃ¼cher.example' for 'bücher.example'); a byte that is not UTF-8 is shown as U+FFFD (�)."""
    lines = header_lines(request, name)
    return lines[0] if lines else None


def header_lines(request: Request, name: str) -> list[str]:
    """Each line of a header given more than once, in order, decoded as :func:`header` decodes it."""
    return [value.encode("latin-1").decode("utf-8", "replace") for value in request.headers.getlist(name)]


# ---------------------------------------------------------------------------- request bodies

def check_media_type(request: Request) -> None:
    """415 unless the body is declared JSON. A browser sends a form or text/plain (or a body without a type) to any
    address without asking first, whatever page it shows; application/json it sends only once the server allowed it
    (a CORS preflight, which this service never allows). So a web page open on the machine cannot file claims or
    make the service read data through the user's browser.

    Content-Type given twice with values that differ is a 400: servers read the first (Node, Go's net/http, nginx), some
    proxies the last or both joined, so a proxy in front and this service would take the body for different types
    (the same value twice is the same request, and read as once)."""
    given = header_lines(request, "content-type")
    if len(set(given)) > 1:
        raise bad_request(f"the request gives Content-Type twice, {given[0]!r} and {given[1]!r}, which a proxy and "
                          f"this service may read differently: send it once")
    declared = header(request, "content-type")
    media = (declared or "").split(";")[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    said = f"not {declared!r}" if declared is not None else "and the request gives no Content-Type"
    raise Problem(415, "unsupported-media-type", "The request body is not declared JSON",
                  f"the request body must be sent as Content-Type: application/json, {said}")


def check_coding(request: Request) -> None:
    """415 for a body sent compressed (``Content-Encoding: gzip``, RFC 9110 §15.5.16): it was read as the JSON text
    it is not, and refused as not UTF-8 or "holding NUL bytes, as UTF-16 does", which says nothing of the cause.
    Content-Encoding is a list (RFC 9110 §8.4): its lines are one value, joined in order, and every coding in it
    counts ('identity' then 'gzip' on a second line was read as JSON)."""
    lines = header_lines(request, "content-encoding")
    coding = ", ".join(lines) if lines else None
    if coding is not None and any(part.strip().lower() not in ("", "identity") for part in coding.split(",")):
        raise Problem(415, "unsupported-media-type", "The request body is not declared JSON",
                      f"the request body must be sent uncompressed, not with Content-Encoding: {coding!r}")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body declared JSON, refusing more than ``max_bytes`` before reading it all; read as JSON by
    :func:`parse_json`, in a worker thread."""
    from starlette.requests import ClientDisconnect

    check_media_type(request)
    check_coding(request)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise Problem(413, "too-large", "The request body is too large",
                      f"the request body is larger than {max_bytes} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise Problem(413, "too-large", "The request body is too large",
                              f"the request body is larger than {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # the client went, or was cut for sending too slowly (TimedProtocol): nobody to answer
        raise client_gone("the client closed the connection before the request body was whole") from None
    raw = b"".join(chunks)
    check_charset(request, raw)
    return raw


def check_charset(request: Request, raw: bytes) -> None:
    """400 for a body declared in a charset other than UTF-8 (``Content-Type: application/json; charset=latin-1``)
    that holds a byte other than ASCII: JSON is UTF-8 (RFC 8259 §8.1), and the service reads it so, so such a byte
    would be read as the client did not mean it (Latin-1's 0xc3 0xa9, "Ã©", as UTF-8's "é"), or refused as not UTF-8
    without the cause, the charset declared. A body of ASCII alone is the same text in any of them: it is read.
    (``isascii`` runs at memory speed: microseconds for --max-body.)"""
    charset = declared_charset(header(request, "content-type") or "")
    if charset is None or charset.lower() in ("utf-8", "utf8") or raw.isascii():
        return
    offset = next(index for index, byte in enumerate(raw) if byte > 0x7f)
    raise bad_request(f"the request body is declared charset={charset}, not UTF-8, and holds a byte that is not ASCII "
                      f"(byte {raw[offset]:#04x} at offset {offset}), which would be read otherwise: send it as UTF-8")


def declared_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type, as written (quotes taken off), or None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip()
    return None


def parse_json(raw: bytes) -> object:
    """The body ``raw`` as JSON (400 when it is not). Run in the request's turn, never on the event loop: with the
    checks of its fields that follow, a body of --max-body took up to half a second, while nothing else was answered."""
    if not raw.strip():
        raise bad_request("the request body is empty: send a JSON object")
    # JSON between systems is UTF-8 (RFC 8259 §8.1); json.loads would take bytes in UTF-16 or UTF-32 too, which the
    # documented 400 "not UTF-8" refuses. A UTF-8 byte order mark is ignored (the RFC allows it), as `slapolicy claim`
    # ignores it in CLAIM.json.
    bom = len(raw) - len(raw := raw.removeprefix(b"\xef\xbb\xbf"))
    if b"\x00" in raw:  # never in UTF-8 JSON (a NUL in a string is written \u0000); in every UTF-16 or UTF-32 text
        encoding = wide_encoding(raw)
        raise bad_request(f"the request body is {encoding}, not UTF-8: send it as UTF-8" if encoding else
                          "the request body is not UTF-8 (it holds NUL bytes, as UTF-16 and UTF-32 do)")
    try:
        body = json.loads(raw.decode("utf-8"), **STRICT_JSON)
        # json.dumps, here and later, needs more stack than json.loads did: a body nested just below the depth
        # json.loads refuses would overflow it (a 500), so it is written once here, where that is a 400.
        unicode_ok = valid_unicode(body)
    except UnicodeDecodeError as exc:  # where, so that a client can find the text its encoder let through
        raise bad_request(f"the request body is not UTF-8: byte {exc.object[exc.start]:#04x} at offset "
                          f"{bom + exc.start} is not: send it as UTF-8") from None
    except DuplicateKey as exc:
        raise bad_request(f"the request body gives the key {exc.key!r} twice in one object") from None
    except NotJSONNumber as exc:
        raise bad_request(f"the request body holds {exc.name}, which is not JSON") from None
    except (BeyondFloat, TooManyDigits) as exc:
        raise bad_request(f"the request body holds {exc}") from None
    except json.JSONDecodeError as exc:
        at = "" if exc.msg.endswith(" at") else " at"  # "Unterminated string starting at": at its opening quote
        raise bad_request(f"the request body is not JSON: {exc.msg}{at} line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # no other is known (the hooks' are above): said as json says it
        raise bad_request(f"the request body is not JSON: {exc}") from None
    except RecursionError:
        raise bad_request("the request body is nested too deeply") from None
    if not unicode_ok:
        raise bad_request(f"the request body {LONE_SURROGATE}")
    return body


def field_path(path) -> str:
    """``unavailability[0].start``: the field as the engine's messages name it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def check_body(body: object, schema_name: str, leave: tuple = ("pattern", "format")) -> dict:
    """400 for a body that is not shaped as the OpenAPI document says: a field of the wrong JSON type, an unknown
    field, a missing one. What ``leave`` names (patterns and formats: values of the right type that are wrong) is
    left to the engine, whose messages are the CLI's (422)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    schema = REQUEST_SCHEMAS[schema_name]
    errors = sorted((e for e in _validator(schema).iter_errors(body) if e.validator not in leave),
                    key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        error = errors[0]
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(schema["properties"]))
            raise bad_request(f"unknown field {unknown[0]!r} (known: {', '.join(schema['properties'])})"
                              + _meant(unknown[0], list(schema["properties"]), repr))
        where = field_path(error.absolute_path)
        if error.validator == "type":
            expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            given = json_type(error.instance)
            if "integer" in expected and isinstance(error.instance, float):
                given = f"{error.instance!r}, a number written with a decimal point or an exponent"
            raise bad_request(f"field {where!r} must be {' or '.join(JSON_TYPES[t] for t in expected)}, not {given}"
                              + written_instead(where, error.instance, expected))
        raise bad_request(f"field {where!r}: {error.message}" if where else error.message)
    return body


def _meant(written: str, known: list, shown=str) -> str:
    """'; did you mean X?' for the name of ``known`` nearest ``written`` (a field, a route), or '': a client's
    'account' for 'accounts', or '/v1/claim' for '/v1/claims', was told only that it is unknown."""
    import difflib  # an error path only

    near = difflib.get_close_matches(written, known, n=1, cutoff=0.8)
    return f"; did you mean {shown(near[0])}?" if near else ""


def _validator(schema: dict):
    """A JSON Schema validator of request bodies for which a whole number is an integer written so: JSON Schema calls
    1000.0 and 1e3 integers too, but they reach the engine as floats, whose text ("1000.0") is not the "1000" a JSON
    Lines file gives for either (pyarrow refuses both as an account there)."""
    from jsonschema import Draft202012Validator, validators

    def written_whole(checker, instance) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", written_whole)
    return validators.extend(Draft202012Validator, type_checker=checker)(schema)


def draft_name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain file name of a draft (any letters and spaces, as the CLI takes), or None."""
    if DRAFT_NAME.fullmatch(name):
        # longer, the file system refuses to look it up (ENAMETOOLONG), which was answered as a bug (500)
        if len(name.encode()) > NAME_MAX:
            return f"is longer than a file name can be ({NAME_MAX} bytes of UTF-8): no draft is named so"
        return None
    if re.search(r"[/\\]", name) or name in ("", ".", ".."):
        # 'drafts/x.yaml', 'policies/ccc/drafts/x.yaml': a draft's path as the CLI's --under takes it, said with the
        # name to give (a path elsewhere, '../x.yaml', '/etc/x.yaml', names no draft: nothing to suggest)
        parts = re.split(r"[/\\]", name)
        meant = len(parts) > 1 and parts[-2] == "drafts" and DRAFT_NAME.fullmatch(parts[-1])
        hint = f": give its file name alone, {parts[-1]!r}" if meant else ""
        return ("must be the file name of a draft in the policy directory's drafts/ (no directory, no absolute path)"
                + hint)
    if name.startswith("."):
        return "is a hidden file: a draft is named NAME.yaml"
    if re.search(r"[\x00-\x1f\x7f]", name):
        return "holds a control character: a draft is named NAME.yaml"
    return NOT_A_POLICY_FILE


NOT_A_POLICY_FILE = "is not a policy file: a draft is named NAME.yaml"


def check_query(request: Request, known: tuple) -> None:
    """400 for a query parameter the route does not take, or one given twice (which would win is a guess)."""
    names = [name for name, _ in request.query_params.multi_items()]
    unknown = sorted(set(names) - set(known))
    if unknown:
        takes = f"known: {', '.join(known)}" if known else f"{request.url.path} takes none"
        raise bad_request(f"unknown query parameter {unknown[0]!r} ({takes})")
    repeated = sorted(name for name in set(names) if names.count(name) > 1)
    if repeated:
        raise bad_request(f"query parameter {repeated[0]!r} is given {names.count(repeated[0])} times: give it once")


def month_field(value: str, name: str, holder: str = "field") -> str:
    """A month a request gives (``holder`` ``name``): a malformed one is 400, as the CLI's malformed ``--month`` is a
    usage error (exit 2), naming the field."""
    problem = month_problem(value, f"{holder} {name!r}:")
    if problem:
        raise bad_request(problem)
    return value


def date_field(value: str | None, name: str) -> dt.date | None:
    """A date of the body (``term_start``, ``term_end``), None when left out: a malformed one is 400, naming it."""
    if value is None:
        return None
    if not value.strip():  # a Go struct's string left unset is sent "" (encoding/json without omitempty)
        raise bad_request(f"field {name!r} {TERM_BLANK}")
    try:
        return supported_date(value)
    except ValueError as exc:
        raise bad_request(f"field {name!r}: {exc}") from None


# ---------------------------------------------------------------------------- the service

def told_how_billing_is_given(evaluation: dict | None, words: str) -> None:
    """An evaluation's trace (of /v1/evaluate, or a claim's decision) as the service answers it: a month evaluated
    without any billing says how the service's client has it given (``words``), not the CLI's option and the Python
    argument the engine names (compensation.NO_BILLING_GIVEN). A claim's decision is recorded in the ledger as the
    engine made it; only the answer says this."""
    for step in (evaluation or {}).get("trace") or ():
        if step.get("step") == "compensation" and step.get("detail") == NO_BILLING_GIVEN:
            step["detail"] = words

async def run_in_engine_thread(call, limiter, threads=None, gone=None):
    """``call()`` in a worker thread (of ``threads``), once ``limiter`` (--max-concurrent) lets it; not at all when
    ``gone()`` then says the request's client is gone (its connection lost). A client that sent a request and reset its
    connection freed the connection, and the request still waited for its turn and ran: a client could queue any number
    of evaluations or replays, past --max-connections, each to be worked out for nobody."""
    async with limiter:
        if gone is not None and await gone():
            raise client_gone("the client closed the connection before the request's turn came: nothing was run")
        return await anyio.to_thread.run_sync(call, limiter=threads)


class Service:
    def __init__(self, engine: Engine, sources: Sources, max_body: int = MAX_BODY_BYTES,
                 max_concurrent: int = ENGINE_THREADS):
        self.engine, self.sources, self.max_body, self.max_concurrent = engine, sources, max_body, max_concurrent
        self.started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.engine_threads = None  # made on the event loop, at the first call (anyio's limiter belongs to a loop)

    async def run(self, function, *args, turn: bool = True, gone=None):
        """Run ``function`` in a worker thread on the current snapshot (reloaded first if a version was published), at
        most ``max_concurrent`` (--max-concurrent) at once. ``turn=False``: a read of the snapshot alone (the versions
        served, a version's terms), which takes no turn among the engine calls, whose turns long replays may hold for
        minutes; it runs beside them, on Starlette's threads. ``gone``: says whether the request's client is gone, asked
        when its turn comes (:func:`run_in_engine_thread`)."""
        def call():
            self.engine.refresh()
            return function(*args)

        if not turn:
            return await run_in_threadpool(call)
        if self.engine_threads is None:
            # the turns, and the threads they run in (a task holding a turn cannot take a second token of one limiter)
            self.engine_threads = anyio.CapacityLimiter(self.max_concurrent)
            self._threads = anyio.CapacityLimiter(self.max_concurrent)
        return await run_in_engine_thread(call, self.engine_threads, self._threads, gone)

    def problem(self, exc: Exception) -> Problem:
        """The problem details of ``exc``, naming the policy directory and its files as the client can (:meth:`within`):
        "no version of /srv/…/policies/ccc is in force" told every client where the server keeps its policies."""
        problem = problem_of(exc)
        problem.detail = self.within(problem.detail)
        if "diagnostics" in problem.extra:
            problem.extra["diagnostics"] = [d | {"file": self.within(d["file"]), "message": self.within(d["message"])}
                                            if isinstance(d.get("file"), str) else d
                                            for d in problem.extra["diagnostics"]]
        return problem

    # -- routes

    async def health(self, request: Request) -> JSONResponse:
        """Answered on the event loop, from the versions loaded, never in a worker thread: behind a queue of
        evaluations (120 at once over the examples) it waited 12 s for one, and a liveness probe with a timeout of
        seconds would have had a busy service restarted. The next other request loads what was published since."""
        return JSONResponse({"status": "ok", "engine": __version__, "versions": len(self.engine.family.versions),
                             "started_at": self.started_at})

    def directory_name(self) -> str:
        """The policy directory as answers name it: its own name (``ccc``), within which they name its files."""
        return Path(os.path.abspath(self.engine.policy_dir)).name

    def within(self, text: str) -> str:
        """``text`` naming the policy directory's files within it (``2019-06-01.yaml``), and the directory by its name
        (``ccc``), never by where the server keeps it: as given to ``slapolicy serve``, absolute, or resolved."""
        given = self.engine.policy_dir
        paths = {os.path.abspath(given), str(Path(given).resolve())}
        if str(given).strip("./\\"):  # given as '.' or '..', it is no name to look for in a message
            paths.add(str(given))
        for path in sorted(paths, key=len, reverse=True):  # the longest first: one may hold another
            # a path that goes on past the directory's name ('/srv/ccc-data/m.csv' beside '/srv/ccc'), or begins before
            # the one given ('/data/policies/ccc' beside 'policies/ccc'), is another's
            begins = r"(?<![^\s'\"`(=])"
            text = re.sub(begins + re.escape(path + os.sep), "", text)
            text = re.sub(begins + re.escape(path) + r"(?=$|[\s'\"`),:;])", self.directory_name(), text)
        return text

    async def versions(self, request: Request) -> JSONResponse:
        def loaded():
            family = self.engine.family  # one snapshot for the whole answer
            error = self.engine.refresh_error
            return {"policy_dir": self.directory_name(),
                    "versions": [{"version": p.version, "effective_from": p.effective_from.isoformat(),
                                  "sha256": p.sha256, "file": Path(p.path).name} for p in family.versions],
                    "refresh_error": error and self.within(error)}

        return JSONResponse(await self.run(loaded, turn=False))

    async def policy(self, request: Request) -> JSONResponse:
        from .policy.terms import policy_terms

        if "month" not in request.query_params:
            raise bad_request("query parameter 'month' is required (YYYY-MM)")
        month = month_field(request.query_params["month"], "month", "query parameter")

        def terms():
            shown = policy_terms(self.engine.family.in_force(month))
            # its file by its name, as /v1/versions names it: not where the server keeps the policy directory
            return {"month": month, **shown, "policy": shown["policy"] | {"file": Path(shown["policy"]["file"]).name}}

        return JSONResponse(await self.run(terms, turn=False))

    async def evaluate(self, request: Request) -> JSONResponse:
        return JSONResponse(await self.run(self._evaluate, await read_body(request, self.max_body),
                                           gone=request.is_disconnected))

    def _evaluate(self, raw: bytes) -> dict:
        body = check_body(parse_json(raw), "EvaluateRequest")
        body = {field: value for field, value in body.items() if value is not None}  # null: as if left out
        if body.get("accounts") == []:  # the engine's message says Python's None, which no JSON client writes
            raise bad_request("field 'accounts' is empty: name at least one account, or leave it out (or null) for "
                              "every account")
        month = month_field(body["month"], "month")
        term_start, term_end = date_field(body.get("term_start"), "term_start"), date_field(body.get("term_end"), "term_end")
        if (term_start is None) != (term_end is None):  # as the CLI's --term-start without --term-end: 400
            raise bad_request("term_start and term_end go together")
        if term_start is not None and term_end < term_start:  # as the CLI's --term-end before --term-start: 400
            raise bad_request(f"'term_end' {term_end} is before 'term_start' {term_start}")
        # Rows sent inline are named in messages by their field of the request, not as a table handed to the API is
        body |= {field: InlineRows(body[field], field) for field in ("minutes", "billing", "incidents", "notices")
                 if isinstance(body.get(field), list)}
        minutes = body.get("minutes", self.sources.minutes)
        if minutes is None:
            raise not_configured("no minutes: send them inline ('minutes': [...]) or start the service with --minutes")

        policy_file = self._published_file(body.get("policy_version"))
        result = self.engine.evaluate(
            minutes=minutes, month=month, accounts=body.get("accounts"),
            incidents=body.get("incidents", self.sources.incidents), notices=body.get("notices", self.sources.notices),
            billing=body.get("billing", self.sources.billing), term_start=term_start, term_end=term_end,
            policy_file=policy_file)
        for evaluation in result["evaluations"]:
            told_how_billing_is_given(evaluation, NO_BILLING_SENT)
        if policy_file is not None:
            # The version's step names its file as the client can (its name, as /v1/versions gives it), not where the
            # server keeps the policy directory ("evaluated under 2019-01-01 (/srv/…/2019-01-01.yaml) as asked")
            said, shown = f"({policy_file})", f"({Path(policy_file).name})"
            for evaluation in result["evaluations"]:
                for step in evaluation["trace"]:
                    if step["step"] == "version":
                        step["detail"] = step["detail"].replace(said, shown, 1)
        return result

    def _published_file(self, version: str | None):
        if version is None:
            return None
        family = self.engine.family
        for policy in family.versions:
            if policy.version == version:
                return policy.path
        published = ", ".join(p.version for p in family.versions)
        raise not_found(f"policy_version {version!r} is not a published version (published: {published})")

    async def decide_claim(self, request: Request) -> JSONResponse:
        # The claim is the input, as CLAIM.json is for `slapolicy claim` (exit 1): a field missing, of the wrong JSON
        # type, unknown or of a wrong value is the engine's 422 with the message the CLI prints. Only a body that
        # cannot be read as JSON is 400.
        raw = await read_body(request, self.max_body)

        def decide():
            claim = claim_object(parse_json(raw), "claim")
            if self.sources.minutes is None:
                raise not_configured("claims are decided from the provider's records: start the service with --minutes")
            try:
                return self.engine.decide_claim(claim, minutes=self.sources.minutes, incidents=self.sources.incidents,
                                                notices=self.sources.notices, billing=self.sources.billing)
            except BillingNeeded as exc:
                if exc.given:
                    raise  # the operator's billing lacks the row: the data's problem, 422 as the CLI's exit 1
                # Not the client's to mend (a claim has no billing field): the service's data, as --minutes above.
                raise not_configured(f"{exc.needed}: start the service with --billing") from None

        decision = await self.run(decide, gone=request.is_disconnected)
        told_how_billing_is_given(decision.get("evaluation"), NO_BILLING_CLAIMED)
        if decision.get("repeated"):
            return JSONResponse(decision)
        # 201 Created names what it created (RFC 9110 §15.3.2): without Location, the target (/v1/claims) was it
        return JSONResponse(decision, status_code=201, headers={"Location": f"/v1/claims/{decision['decision_id']}"})

    async def claim(self, request: Request) -> JSONResponse:
        decision_id = request.path_params["decision_id"]
        if not DECISION_ID.fullmatch(decision_id):
            raise not_found(f"no decision {decision_id!r}: decision ids are written D- and 20 hexadecimal digits")
        path = self.engine.ledger_path or default_ledger_path()

        def find():
            self.engine._check_ledger_kept()  # a ledger gone since it was used: said so, not "no decision" (404)
            if not path.exists():
                return None
            # A read opens the ledger read-only: it works on a ledger the service may not write (a read-only file,
            # directory or mount) and can never write it; only a decision (POST /v1/claims) opens it for writing.
            with Ledger(path, create=False, readonly=True) as ledger:
                return ledger.decision(decision_id)

        found = await run_in_threadpool(find)
        if found is None:
            raise not_found(f"no decision {decision_id!r} in the ledger")
        told_how_billing_is_given(found.get("evaluation"), NO_BILLING_CLAIMED)
        return JSONResponse(found)

    async def replay(self, request: Request) -> JSONResponse:
        return JSONResponse(await self.run(self._replay, await read_body(request, self.max_body),
                                           gone=request.is_disconnected))

    def _replay(self, raw: bytes) -> dict:
        body = check_body(parse_json(raw), "ReplayRequest")
        start, end = month_field(body["from"], "from"), month_field(body["to"], "to")
        from .replay import month_range  # replay's module: loaded by the replay anyway

        month_range(start, end, ("'from'", "'to'"), UsageError)  # backwards or over 100 years: 400, as exit 2
        under, shown = self._draft(body["under"])
        if self.sources.minutes is None:
            raise not_configured("replay reads the minutes the service was started with: start it with --minutes")
        try:
            replayed = self.engine.replay(minutes=self.sources.minutes, start=start, end=end, under=str(under),
                                          incidents=self.sources.incidents, notices=self.sources.notices,
                                          billing=self.sources.billing)
        except PolicyError as exc:
            # A draft that cannot be used (not YAML, against the schema, of another agreement) is named as the
            # client named it, as the answer names it: its diagnostics said '/srv/…/policies/ccc/drafts/NAME.yaml'
            raise PolicyError([replace(d, file=shown, message=d.message.replace(str(under), shown))
                               if d.file == str(under) else d for d in exc.diagnostics]) from None
        # The file replayed under, as the client can name it: within the policy directory, not where the server keeps
        # that directory (the resolved path was answered, the service's file layout with it)
        return replayed | {"under": replayed["under"] | {"file": shown}}

    def _draft(self, name: str) -> tuple[Path, str]:
        """A draft (or published) file of the policy directory, named by its file name alone: no path from a request.
        (its path, its name within the policy directory: ``drafts/NAME.yaml`` or ``NAME.yaml``)."""
        problem = draft_name_problem(name)
        root = self.engine.policy_dir.resolve()
        if problem:
            raise bad_request(f"field 'under': {name!r} {problem}" + (self._draft_meant(root, name)
                                                                      if problem == NOT_A_POLICY_FILE else ""))
        for folder, within in ((root / "drafts", f"drafts/{name}"), (root, name)):
            candidate = (folder / name).resolve()
            if candidate.parent == folder and candidate.is_file():  # a symlink out of the directory is not followed
                return candidate, within
        drafts = ", ".join(p.name for p in sorted((root / "drafts").glob("*.yaml"))) or "none"
        raise not_found(f"field 'under': no draft {name!r} in the policy directory's drafts/ (drafts: {drafts})")

    @staticmethod
    def _draft_meant(root: Path, name: str) -> str:
        """'; did you mean 'x.yaml'?' for a name that is a draft's (or a published version's) but for its ending or
        spaces around it ('x', 'x.YAML', 'x.yml', 'x.yaml '), or "". An error path only: the directories are listed."""
        stem = re.sub(r"\.ya?ml$", "", name.strip(), flags=re.IGNORECASE)
        meant = f"{stem}.yaml"
        try:
            there = any((folder / meant).is_file() for folder in (root / "drafts", root)) and DRAFT_NAME.fullmatch(meant)
        except OSError:  # a name the file system refuses to look up: nothing to suggest
            there = False
        return f"; did you mean {meant!r}?" if there and meant != name else ""

    async def openapi(self, request: Request) -> JSONResponse:
        return JSONResponse(document())


def check_host(request: Request) -> None:
    """421 unless the request is addressed to this machine (``Host`` a loopback address or ``localhost``). A web page
    can rename its own site to 127.0.0.1 (DNS rebinding): its scripts then talk to a loopback service as their own
    origin, and read what it answers. They cannot make the browser send this machine's name as ``Host``."""
    host = header(request, "host")
    if host is None:  # an HTTP/1.0 client on this machine (a browser always names the host)
        return
    name = host[1:host.index("]")] if host.startswith("[") and "]" in host else host.rsplit(":", 1)[0]
    if _is_loopback(name.lower()):
        return
    raise Problem(421, "misdirected", "The request is not addressed to this machine",
                  f"Host {host!r} is not this machine: a service listening on a loopback address answers requests "
                  "addressed to localhost, 127.0.0.1 or [::1] only (docs/service.md)")


ABSOLUTE_FORM = re.compile(rb"(?i:https?)://([^/]*)(.*)", re.DOTALL)  # the target, its query already split off


class RequestTarget:
    """A request line in absolute form (``GET http://127.0.0.1:8000/v1/health HTTP/1.1``, as clients write it to a
    proxy) is answered as its origin form (``/v1/health``), the authority it names replacing ``Host``: a server must
    accept that form, and must take the host from it, ignoring the ``Host`` header (RFC 9112 §3.2.2). h11 hands the
    target on as it is, so uvicorn made all of it the path: the route was a 404 (``no route http://…``), and the Host
    check read a header that the target contradicts."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and (found := ABSOLUTE_FORM.fullmatch(scope["raw_path"])):
            target, (authority, path) = scope["raw_path"], (found.group(1), found.group(2) or b"/")
            scope = dict(scope, raw_path=path, path=unquote(path.decode("ascii")))
            if not authority or b"@" in authority:  # RFC 9110 §4.2.1: no host; §4.2.4: userinfo is an error
                shown = target.decode("ascii", "backslashreplace")
                problem = bad_request(f"the request target {shown!r} names no host, or a user (user@host): write the "
                                      "path alone (/v1/…), or http://HOST:PORT/v1/…")
                await problem.response(Request(scope))(scope, receive, send)
                return
            scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"host"] + \
                [(b"host", authority)]
        await self.app(scope, receive, send)


class HostCheck:
    """:func:`check_host` for every request, before its route is looked up: a page renamed to 127.0.0.1 learnt from
    a 404 or a 405 (answered before the check, inside the router) which paths and methods the service has."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            request = Request(scope)
            try:
                check_host(request)
            except Problem as problem:
                await problem.response(request)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(engine: Engine, sources: Sources = Sources(), max_body: int = MAX_BODY_BYTES,
               loopback_only: bool = False, max_concurrent: int = ENGINE_THREADS,
               stopped_at_once: threading.Event | None = None) -> Starlette:
    """``loopback_only``: answer only requests whose Host names this machine (``slapolicy serve`` on a loopback
    address, its default). ``max_concurrent``: the engine calls run at once (--max-concurrent). ``stopped_at_once``:
    set by ``slapolicy serve``'s server once it gives up on the requests in flight (a second Ctrl-C); a request
    cancelled then is answered 503 ``stopping``, and any other cancellation goes on as one (a program's own timeout
    around the application, its own server's stop)."""
    service = Service(engine, sources, max_body, max_concurrent)

    def answering(handler, query: tuple = ()):
        async def endpoint(request: Request):
            try:
                check_query(request, query)
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 — every failure becomes problem details, never a traceback
                return service.problem(exc).response(request)
            except asyncio.CancelledError:
                # A second Ctrl-C stops the service at once (uvicorn's forced exit): the requests not yet answered are
                # cancelled as the event loop ends. uvicorn answered each a plain-text 500 and wrote the cancellation's
                # traceback to standard error. An engine call already running goes on in its thread, to its end or the
                # process's: a claim decided meanwhile is recorded, and answered from its record when sent again.
                # Any other cancellation is not the service's to answer: answered "stopped (a second Ctrl-C)", a
                # program's timeout around the application (asyncio.timeout, anyio's cancel scopes) was swallowed.
                if stopped_at_once is None or not stopped_at_once.is_set():
                    raise
                return Problem(503, "stopping", "The service is stopping",
                               "the service was stopped (a second Ctrl-C) before it answered this request: send it "
                               "again once the service runs (a claim decided meanwhile is answered from its record)"
                               ).response(request)
        return endpoint

    routes = [
        Route("/v1/health", answering(service.health), methods=["GET"]),
        Route("/v1/versions", answering(service.versions), methods=["GET"]),
        Route("/v1/policy", answering(service.policy, query=("month",)), methods=["GET"]),
        Route("/v1/evaluate", answering(service.evaluate), methods=["POST"]),
        Route("/v1/claims", answering(service.decide_claim), methods=["POST"]),
        Route("/v1/claims/{decision_id}", answering(service.claim), methods=["GET"]),
        Route("/v1/replay", answering(service.replay), methods=["POST"]),
        Route("/openapi.json", answering(service.openapi), methods=["GET"]),
    ]

    async def http_problem(request: Request, exc: HTTPException):
        detail = {404: f"no route {request.url.path} (see /openapi.json)"
                       + (_without_slash(request, routes) or _meant(request.url.path, [route.path for route in routes
                                                                                        if "{" not in route.path])),
                  405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        response = Problem(exc.status_code, kind, str(exc.detail), detail).response(request)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def internal(request: Request, exc: Exception):
        return problem_of(exc).response(request)

    middleware = [Middleware(RequestTarget)] + ([Middleware(HostCheck)] if loopback_only else [])
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_problem, Exception: internal},
                    middleware=middleware)
    # A path is answered as the routes write it, or 404 like any unknown path: Starlette would answer /v1/health/
    # with a bare 307 to /v1/health (no body; for a POST many clients do not follow it, and it is answered before
    # the Host check), so a client would see a redirect on some paths and problem details on others.
    app.router.redirect_slashes = False
    return app


def _without_slash(request: Request, routes: list) -> str:
    """The hint for a path that names a route but for its trailing slashes."""
    path = request.url.path
    bare = path.rstrip("/")
    if bare == path or not any(route.path_regex.fullmatch(bare) for route in routes):
        return ""
    return f"; paths end without a slash: {bare}"


# ---------------------------------------------------------------------------- the process

def problem_body(status: int, reason: str, kind: str, detail: str) -> bytes:
    return json.dumps({"type": f"urn:slapolicy:problem:{kind}", "title": reason, "status": status, "detail": detail},
                      separators=(",", ":")).encode()


def problem_bytes(status: int, reason: str, kind: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer of problem details that closes its connection, for what uvicorn answers itself,
    before (or instead of) the application: a request too slow, one that is not HTTP."""
    body = problem_body(status, reason, kind, detail)
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {PROBLEM}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n").encode() + body


def too_many_connections(limit: int, max_body: int = MAX_BODY_BYTES):
    """The application of a connection beyond ``limit``: each request on it (the first) is answered 503 and the
    connection closed. It answers once the request has arrived, its body included (up to ``max_body`` bytes, read
    and dropped): a server that closes a connection holding a request it did not read resets it, and the client may
    never see the answer (a POST's body was left unread, and the 503 came back followed by a reset)."""
    body = problem_body(503, "Service Unavailable", "too-many-connections",
                        f"the service has {limit} connections open, its limit (--max-connections): try again shortly "
                        "(docs/service.md)")
    headers = [(b"content-type", PROBLEM.encode()), (b"content-length", str(len(body)).encode()),
               (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"connection", b"close")]

    async def answer(scope, receive, send):
        read = 0
        while read <= max_body:  # beyond it the client is sending more than any request may hold: answered anyway
            message = await receive()
            read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer


class ErrorsOnly(logging.LoggerAdapter):
    """uvicorn's logger as a connection uses it, passing on its errors (a bug answering a request) alone. What a
    connection logs below them is a client's doing, answered to that client: uvicorn's warning for each request it
    cannot read ("Invalid HTTP request received.", answered 400 by ``send_400_response``) let any client fill the
    log, a line a request, where the service logs no other answer. (A logger of its own, under uvicorn's, would have
    its level reset by the logging configuration uvicorn makes as it starts.)"""

    level = logging.ERROR  # uvicorn reads a connection logger's level to know whether to trace

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.ERROR and self.logger.isEnabledFor(level)


def timed_protocol(seconds: float, max_connections: int | None = None, max_body: int = MAX_BODY_BYTES,
                   answer_seconds: float = ANSWER_TIMEOUT_SECONDS):
    """uvicorn's HTTP/1.1 protocol (h11) with a deadline: a client has ``seconds`` from the start of its request
    (its connection, or the end of the answer before on a kept-alive one) to send it whole, head and body; then it is
    answered 408 and the connection closed. uvicorn limits a request's size (its head: h11; the body: ``--max-body``)
    and the idle time between requests (``timeout_keep_alive``), but not the time a request takes to arrive: a
    client sending a byte now and then held its connection, and the memory of what it sent, for as long as it liked
    (slowloris), and a few thousand of them used up the process's file descriptors.

    ``answer_seconds``: once an answer waits for its client (the system's buffers full), the client has that long to
    take all of it, else the connection is dropped (:meth:`TimedProtocol.pause_writing`).

    ``max_connections``: the request of a connection opened while that many are open is answered 503 and the
    connection closed (:func:`too_many_connections`; uvicorn's own ``limit_concurrency`` answers in plain text). And
    what uvicorn answers itself is problem details like every other answer: a request that is not HTTP/1.1 (its 400
    was plain text)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    refused = too_many_connections(max_connections, max_body) if max_connections is not None else None
    class TimedProtocol(H11Protocol):
        _deadline = None
        _lingering = False
        _stalled = None  # while the client takes nothing of the answer: when to give up on it
        _answer_deadline = None  # while an answer waits for its client: when it must have taken all of it
        _sent_all = False  # the client closed its sending side after a whole request (eof_received)

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.logger = ErrorsOnly(self.logger, {})
            self._refusal = None  # why h11's request was refused here, when it was (send_400_response says it)
            self.conn.next_event = self._framing_checked(self.conn.next_event)

        def _framing_checked(self, next_event):
            """h11's ``next_event``, refusing a request that gives both Content-Length and Transfer-Encoding. h11
            reads its body as chunked (Transfer-Encoding wins), while a proxy in front may have read it by its length:
            what one takes for the body the other takes for a second request (request smuggling). RFC 9112 §6.1 lets a
            server refuse such a message and makes it close the connection after answering: the refusal is raised as
            h11 raises what it cannot read, and answered so (send_400_response), before any of the body is read."""
            def checked():
                event = next_event()
                if isinstance(event, h11.Request) and event.headers and \
                        {b"content-length", b"transfer-encoding"} <= {name for name, _ in event.headers}:
                    self._refusal = ("the request gives both Content-Length and Transfer-Encoding, which a proxy and "
                                     "this service may read as different requests (RFC 9112 §6.1): send one of them")
                    raise h11.RemoteProtocolError(self._refusal, error_status_hint=400)
                return event
            return checked

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if max_connections is not None and len(self.connections) > max_connections:
                self.app = refused  # this connection's requests only
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._lingering:
                return  # the rest of a request already answered (and refused): read only to be let go of
            if self._deadline is None and self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
                self._arm()  # the next request on a kept-alive connection (or a pipelined one, begun in the last data)
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
                self._disarm()  # the request is whole (DONE), or the connection is ending

        def connection_lost(self, exc) -> None:
            self._disarm()
            self._unstall()
            self._answer_taken()
            super().connection_lost(exc)

        def pause_writing(self) -> None:
            """The answer waits for the client to take it (the system's buffers are full): from now on, the client
            must take some of it every ``seconds`` (as nginx's send_timeout), else :meth:`_taken_since` drops the
            connection. A client that sent its request and never read the answer held its connection, and the
            answer (megabytes) in this process's memory, for ever. And it must take the whole answer within
            ``answer_seconds``: taking a few bytes every ``seconds``, it held the connection as long as it liked."""
            super().pause_writing()
            if self._stalled is None:
                self._taken_since(None)
            if self._answer_deadline is None:
                self._answer_deadline = self.loop.call_later(answer_seconds, self._answer_too_slow)

        def resume_writing(self) -> None:
            self._unstall()
            if self.cycle is None or self.cycle.response_complete:  # all written: what is left, the system sends
                self._answer_taken()
            super().resume_writing()

        def _answer_taken(self) -> None:
            if self._answer_deadline is not None:
                self._answer_deadline.cancel()
                self._answer_deadline = None

        def _answer_too_slow(self) -> None:
            """The answer still waits for its client ``answer_seconds`` after it began to: the connection is dropped
            with what it still holds, as :meth:`_taken_since` drops it."""
            self._answer_deadline = None
            self._unstall()
            self.transport.abort()

        def _unstall(self) -> None:
            if self._stalled is not None:
                self._stalled.cancel()
                self._stalled = None

        def _taken_since(self, waiting: int | None) -> None:
            """Look again in ``seconds``, unless the client took nothing since ``waiting`` bytes were waiting: then
            drop the connection with what it still holds (close() would wait, for ever, for the client to take it).
            The bytes waiting are watched, not pause and resume: an answer written at once (one JSON body) resumes
            only once nearly all of it is taken, however steadily the client reads."""
            left = self.transport.get_write_buffer_size()
            if waiting is not None and left >= waiting:
                self._stalled = None
                self.transport.abort()
                return
            self._stalled = self.loop.call_later(seconds, self._taken_since, left)

        def _unsupported_upgrade_warning(self) -> None:
            """Silent: an upgrade (the service is started without WebSockets, ws="none") is answered as the plain
            request it also is, Host check first; uvicorn's two warnings for each let any client fill the log, and
            told the operator to install a WebSocket library, which would take the request past the Host check."""

        def send_400_response(self, msg: str) -> None:
            """h11 cannot read the request (a malformed request line or header, a head too large to be whole), or
            its framing is refused (``_framing_checked``)."""
            self._disarm()
            self.transport.write(problem_bytes(400, "Bad Request", "bad-request", self._refusal or (
                "the request is not HTTP/1.1 that can be read (its request line or a header is malformed, or its head "
                "is too large)")))
            self._close_after_answer()

        def _close_after_answer(self) -> None:
            """Close once the client has read the answer just written: at once, with what it is still sending
            unread, the system answers that with a reset, which may reach the client before the answer and destroy
            it (a head too large is refused while it arrives). So the sending side is shut (the client reads the
            answer, then its end) and what still arrives is read and dropped, until the client closes its side
            (``eof_received``) or LINGER_SECONDS have passed."""
            self._lingering = True
            try:
                if self.transport.can_write_eof():
                    self.transport.write_eof()
            except OSError:  # the client reset the connection meanwhile (ENOTCONN): nobody is left to read
                self.transport.close()  # the answer; raised, it was a traceback in the log ("Exception in callback")
                return
            self.loop.call_later(LINGER_SECONDS, self.transport.close)

        def eof_received(self) -> bool | None:
            """The client closed its sending side. A client may do so once it has sent its request (a half-close:
            ``nc -N``, ``shutdown(SHUT_WR)``) and still read the answer: uvicorn took it for a client gone, closed the
            connection and dropped the answer. A request that arrived whole is now answered (and any sent with it,
            pipelined), then the connection closed (:meth:`on_response_complete`); otherwise the connection is closed
            at once, as before."""
            if not self._lingering and self.cycle is not None and not self.cycle.response_complete \
                    and self.conn.their_state is h11.DONE:
                self._sent_all = True
                return True  # the connection stays open for the answer
            return None if self._lingering else super().eof_received()  # None: asyncio closes the connection

        def on_response_complete(self) -> None:
            super().on_response_complete()  # begins the next request sent with it (pipelined), if it is whole
            if self._sent_all and (self.cycle.response_complete or self.conn.their_state is not h11.DONE):
                # Nothing more comes from the client: no request left, or one it never finished sending, which waited
                # --request-timeout seconds for the rest, then was answered 408 (a body begun is told its client left)
                self.transport.close()  # once what is written is sent

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self.cycle is not None and self.cycle.response_complete and self.conn.their_state is h11.SEND_BODY:
                # Answered before its body arrived (413: larger than --max-body), and the body still coming: the
                # connection ends, without a second answer to the one request (it was answered 413, then 408)
                self._close_after_answer()
                return
            if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
                self.transport.write(problem_bytes(408, "Request Timeout", "request-timeout",
                                                   f"the request did not arrive whole within {seconds:g} s: send it at "
                                                   "once (docs/service.md)"))
                self._close_after_answer()
                return
            self.transport.close()

    return TimedProtocol


def check_ledger_key(path: Path) -> None:
    """Refuse to start (LedgerError, exit 1) when the ledger exists and the key in SLAPOLICY_LEDGER_KEY is not the one it
    was made with (none for a keyed ledger, another, or one for a ledger made without). The key is the process's
    environment: every claim, and every decision read back, was answered 422, the input's fault, for the server's
    mistake, which neither a client nor a restart without the right key mends. Anything else wrong with the ledger
    (not a ledger, damaged, gone) is left to the requests that read it, as docs/service.md says: a file mended later is
    then read without a restart. The ledger is only read, as GET /v1/claims/{id} reads it."""
    if not path.exists():
        return  # made by the first claim, with the key then set
    try:
        book = Ledger(path, create=False, readonly=True)
    except SlapolicyError:
        return
    with book:
        book.chain()


def _listen(host: str, port: int) -> socket.socket:
    """Bind before serving, so that a taken port is a one-line error (exit 1) and port 0 picks a free one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SlapolicyError(f"--host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SlapolicyError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # ::ffff:127.0.0.1 is 127.0.0.1: loopback on Python 3.13, not on 3.11 and 3.12, whose ipaddress leaves the IPv4
    # address inside it unread, so the same Host was answered or refused by the Python that ran the service
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


@contextlib.contextmanager
def descriptors_for(max_connections: int):
    """Raise the process's limit of open files (``ulimit -n``, RLIMIT_NOFILE) to what ``max_connections`` needs
    beside RESERVED_DESCRIPTORS, if its hard limit allows, while the block runs (the limit is set back as it was
    after it: a program that calls :func:`serve` keeps its own); else refuse to start (exit 1). Past the limit,
    accept() fails (uvicorn logs it and the client waits, unanswered) and the ledger or a minutes file cannot be
    opened: a request beyond --max-connections would never get its 503."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to ask
        yield
        return
    needed = max_connections + RESERVED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        yield
        return
    if hard == resource.RLIM_INFINITY or needed <= hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        except (ValueError, OSError):  # macOS caps the soft limit below an unlimited hard one (OPEN_MAX)
            pass
        else:
            try:
                yield
            finally:  # the descriptors still open beyond it stay usable; only new ones are refused
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            return
    fits = soft - RESERVED_DESCRIPTORS
    lower = f"give --max-connections {fits} or less, or " if fits >= 1 else ""
    raise SlapolicyError(f"--max-connections {max_connections} needs {needed} open files ({RESERVED_DESCRIPTORS} "
                         f"beside the connections), but this process may open {soft} (ulimit -n; at most {hard}): "
                         f"{lower}raise the limit")


def serve(policy_dir: str, *, host: str = "127.0.0.1", port: int = 8000, ledger: str | None = None,
          sources: Sources = Sources(), max_body: int = MAX_BODY_BYTES, workers: int | None = None,
          dask: str | None = None, request_timeout: float = REQUEST_TIMEOUT_SECONDS,
          max_connections: int = MAX_CONNECTIONS, max_concurrent: int = ENGINE_THREADS,
          answer_timeout: float = ANSWER_TIMEOUT_SECONDS) -> int:
    """Serve until stopped (SIGINT, SIGTERM, SIGHUP); 0 once stopped. What it sets in its process while it serves
    (the open-files limit, the stop signals' handlers) is set back as it was when it returns."""
    for flag, path in (("--minutes", sources.minutes), ("--incidents", sources.incidents),
                       ("--notices", sources.notices), ("--billing", sources.billing)):
        if path is not None and not is_url(path) and not Path(path).exists():  # a URL is read at each request
            told = relative_file_url(path) if flag == "--minutes" else ""  # the one input named by URL too
            raise SlapolicyError(f"{flag} {path}: no such file or directory{told}")
    with descriptors_for(max_connections):
        return _serve(policy_dir, host, port, ledger, sources, max_body, workers, dask, request_timeout, max_connections,
                      max_concurrent, answer_timeout)


def _serve(policy_dir, host, port, ledger, sources, max_body, workers, dask, request_timeout, max_connections,
           max_concurrent, answer_timeout) -> int:
    import uvicorn

    # The key is read by every request that opens the ledger: set but empty, each would answer the server's own
    # mistake as the client's (400), so it is the start's usage error (exit 2), before anything listens.
    environment_key()
    # One Engine for the life of the process: with --workers or --dask it keeps one process pool or Dask client
    # for every request, made before it listens (an unreachable scheduler is exit 1), closed when it stops.
    engine = Engine(policy_dir, ledger=ledger, workers=workers, dask=dask)
    check_ledger_key(engine.ledger_path or default_ledger_path())
    stopped_at_once = threading.Event()  # a second Ctrl-C: what is in flight then is answered 503 stopping
    app = create_app(engine, sources, max_body, loopback_only=_is_loopback(host), max_concurrent=max_concurrent,
                     stopped_at_once=stopped_at_once)
    sock = _listen(host, port)
    try:
        engine.connect()
    except BaseException:
        sock.close()
        raise
    bound = sock.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]

    def announce() -> None:
        sys.stdout.write(f"slapolicy serve: {len(engine.family.versions)} version(s) of {policy_dir} on "
                         f"http://{shown}:{bound[1]}/v1 (OpenAPI at /openapi.json; Ctrl-C stops)\n")
        sys.stdout.flush()
        if not _is_loopback(host):
            sys.stderr.write(f"slapolicy serve: listening on {host}, beyond this machine: the service has no "
                             "authentication, put it behind your own\n")

    # ws="none": no WebSockets. With a WebSocket library installed (uvicorn[standard] brings one) uvicorn handed an
    # upgrade request to it as a "websocket" scope, which the Host check (HTTP's) let by; the service has no
    # WebSocket route, and the request is now answered as plain HTTP, Host check first.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=15,
                            http=timed_protocol(request_timeout, max_connections, max_body, answer_timeout), ws="none")
    with engine, stops_handled():
        _announcing_server()(config, announce, stopped_at_once).run(sockets=[sock])
    # The operator's log shows when the service stopped (uvicorn's own shutdown lines are below log_level).
    sys.stdout.write("slapolicy serve: stopped\n")
    sys.stdout.flush()
    return 0


@contextlib.contextmanager
def stops_handled():
    """The stop signals' handlers while the service serves, set back as they were after it (a program that calls
    :func:`serve` keeps its own). uvicorn shuts down gracefully on SIGTERM and SIGINT, then raises the signal again
    under the handler it found: with the default ones the process would end as killed (exit 143) or interrupted
    (KeyboardInterrupt, exit 130) after a clean stop; these let it return 0, as docs/cli.md says. SIGHUP (the
    terminal closed, kill -HUP) stops it as SIGTERM does, which uvicorn handles: raised as the CLI's Terminated it cut
    the requests in flight off (exit 129); nohup's SIG_IGN is kept. Only the main thread may set a handler: served
    from another thread (a program's), the signals are the program's, as uvicorn leaves them then (it was an
    internal error, exit 3, "signal only works in main thread")."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    found = {}
    try:
        for stop in (signal.SIGTERM, signal.SIGINT):
            found[stop] = signal.signal(stop, lambda signum, frame: None)
        if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            found[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda signum, frame: os.kill(os.getpid(), signal.SIGTERM))
        yield
    finally:
        for stop, handler in found.items():
            if handler is not None:  # None: a handler set outside Python, which cannot be set back from it
                signal.signal(stop, handler)


def _announcing_server():
    """uvicorn's Server, saying where it listens once it serves: a supervisor (or a test) that waits for the line
    and then stops the service with SIGTERM found it before uvicorn handled the signal (between the line and
    uvicorn's start), killed (exit 143) rather than stopped cleanly (exit 0). And stopping at once on a second
    Ctrl-C under every Python (:meth:`Announcing._wait_tasks_to_complete`)."""
    import uvicorn

    class Announcing(uvicorn.Server):
        def __init__(self, config, announce, stopped_at_once: threading.Event):
            super().__init__(config)
            self.announce, self.stopped_at_once = announce, stopped_at_once

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                self.announce()

        async def _wait_tasks_to_complete(self) -> None:
            """uvicorn's wait for the requests in flight, given up once a second Ctrl-C comes (``force_exit``). Its
            own loops give up then, but it ends with the listening sockets' ``wait_closed()``, which since Python
            3.12.1 waits until every connection has closed (until 3.11 it returned at once once the socket was
            closed: CPython gh-79033): under 3.13 the second Ctrl-C was noted and every request in flight still
            answered 200, the process exiting ~3 s later, as after one. Given up, the requests not yet answered are
            cancelled as the event loop ends and answered 503 ``stopping`` (``create_app``'s ``stopped_at_once``)."""
            waiting = asyncio.ensure_future(super()._wait_tasks_to_complete())
            try:
                while not self.force_exit:
                    # uvicorn's handler only sets the flag (its loops look every 0.1 s): looked at as often here
                    done, _ = await asyncio.wait({waiting}, timeout=0.1)
                    if done:
                        return waiting.result()
                self.stopped_at_once.set()
            finally:
                waiting.cancel()

    return Announcing
