"""`slapolicy serve` against a hostile or careless client: values as long as the body, names no file system takes,
accounts written as numbers, HEAD, WebSocket upgrades, heads too large, and more connections than the process may
open files. In-process (ASGI, fast) where the application answers; a real server where uvicorn does."""
import json
import resource
import subprocess
import sys

import pytest

from conftest import POLICIES, REPO, run_cli
from serving import EngineCallsAtOnce, asgi, client_stays, examples_app, raw_answer, raw_connection

pytest.importorskip("starlette")

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"
ROW = {"minute": "2019-03-12T10:00", "requests": 100, "failures": 2}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(the application, its ledger's path): minutes and billing of the examples, on a loopback address."""
    return examples_app(tmp_path_factory.mktemp("hostile") / "ledger.sqlite")


def post(app, route: str, body) -> tuple:
    return asgi(app, "POST", route, json.dumps(body).encode(), JSON)


# ---------------------------------------------------------------------------- a value as long as the body

def test_a_value_of_half_a_megabyte_is_quoted_by_its_first_200_characters_and_nothing_is_written(served):
    # The 422 quoted the whole account, 500,000 characters: an answer (and a client's log line) as long as the body.
    app, ledger = served
    status, content_type, answer = post(app, "/v1/claims", CLAIM | {"account": "x" * 500_000})
    assert (status, content_type) == (422, PROBLEM)
    assert answer["detail"] == ("claim: field 'account': unknown account '" + "x" * 200 + "…' (500000 characters; the "
                                "first 200 shown) (not in the minutes or billing of 2019-03)")
    status, _, answer = post(app, "/v1/evaluate", {"month": "2019-0" + "3" * 100_000})
    assert (status, answer["detail"]) == (400, "field 'month': '2019-0" + "3" * 194 + "…' (100006 characters; the "
                                               "first 200 shown) is not a month written YYYY-MM")
    assert not ledger.exists()


def test_a_detail_holding_a_long_value_unquoted_is_cut_at_16384_characters(served):
    # Accounts are listed without quotes ("account(s) a, b have no minutes"): each is cut to its first 200 characters
    # where the message is made (errors.shown_name), so that what follows the names is never lost to the bound.
    from slapolicy.service import bounded_detail

    status, _, answer = post(served[0], "/v1/evaluate", {"month": "2019-03", "accounts": ["y" * 500_000]})
    assert (status, answer["detail"]) == (422, "account(s) " + "y" * 200 + "… (500000 characters; the first 200 "
                                               "shown) have no minutes or billing for 2019-03")
    # Any other value unquoted: the whole detail is bounded instead.
    whole = "account(s) " + "y" * 500_000 + " have no minutes or billing for 2019-03"  # 500050 characters
    assert bounded_detail(whole) == whole[:16384] + "… (a detail of 500050 characters; the first 16384 shown)"


def test_a_message_of_sensible_length_quotes_its_value_whole(served):
    # 1,000 characters or fewer: the CLI's message as it is, a value of 300 characters included
    status, _, answer = post(served[0], "/v1/evaluate", {"month": "2019-03", "policy_version": "v" * 300})
    assert (status, answer["detail"]) == (404, f"policy_version {'v' * 300!r} is not a published version (published: "
                                               "2019-01-01)")


def test_the_bound_applies_to_every_problem_the_service_answers():
    from slapolicy.service import Problem, bounded_detail

    assert Problem(400, "bad-request", "t", "'" + "z" * 1_000 + "'").detail == \
        "'" + "z" * 200 + "…' (1000 characters; the first 200 shown)"
    assert bounded_detail("q" * 1_000) == "q" * 1_000  # 1,000 characters: untouched
    assert bounded_detail('unknown field "' + "k'" * 600 + '"') == \
        'unknown field "' + "k'" * 100 + '…" (1200 characters; the first 200 shown)'


# ---------------------------------------------------------------------------- a draft's name no file system takes

def test_a_draft_name_longer_than_a_file_name_can_be_is_a_400_not_a_500(served):
    # The name was looked up as it was: the file system refused it (ENAMETOOLONG), answered as a bug.
    for name, size in (("d" * 251 + ".yaml", 256), ("é" * 126 + ".yaml", 257)):
        status, content_type, answer = post(served[0], "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": name})
        assert (status, content_type, answer["detail"]) == (
            400, PROBLEM, f"field 'under': {name!r} is longer than a file name can be (255 bytes of UTF-8): no draft is "
                          "named so"), size
    status, _, answer = post(served[0], "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "d" * 250 + ".yaml"})
    assert (status, answer["detail"].split(" (drafts:")[0]) == (  # 255 bytes: a name, of no draft
        404, f"field 'under': no draft {'d' * 250 + '.yaml'!r} in the policy directory's drafts/")


# ---------------------------------------------------------------------------- an account written as a number

@pytest.mark.parametrize("data", ["minutes", "billing", "incidents", "notices"])
@pytest.mark.parametrize("number,said", [("1e3", "1000.0"), ("1000.0", "1000.0"), ("true", None)])
def test_an_account_written_as_a_number_with_a_fraction_or_an_exponent_or_true_is_a_400(served, data, number, said):
    # 1e3 and 1000.0 were read as the account "1000.0", true as "true": no file names an account so (pyarrow
    # refuses such a column of a JSON Lines file), and the request's account silently matched nothing.
    row = {"minutes": ROW, "billing": {"month": "2019-03", "monthly_fee": "100.00", "offset": "0.00"},
           "incidents": {"id": "i", "start": "2019-03-12T10:00", "end": "2019-03-12T10:30", "cause": "provider"},
           "notices": {"id": "n", "kind": "maintenance", "published_at": "2019-03-01T00:00",
                       "start": "2019-03-12T10:00", "end": "2019-03-12T10:30"}}[data]
    body = json.dumps({"month": "2019-03", "minutes": [ROW | {"account": "1000"}], data: [row | {"account": 0}]})
    status, content_type, answer = asgi(served[0], "POST", "/v1/evaluate",
                                        body.replace('"account": 0', f'"account": {number}').encode(), JSON)
    given = f"{said}, a number written with a decimal point or an exponent" if said else "true or false"
    assert (status, content_type, answer["detail"]) == (
        400, PROBLEM, f"field '{data}[0].account' must be a string or a whole number or null, not {given}")


def test_an_account_written_as_a_whole_number_is_its_digits_as_in_a_json_lines_file(served, tmp_path):
    # 1000 is the account "1000", in a request as in a JSON Lines file of the CLI: the same evaluation
    rows = [ROW | {"account": 1000}, ROW | {"account": "1000", "minute": "2019-03-12T10:01"}]
    status, _, answer = post(served[0], "/v1/evaluate", {"month": "2019-03", "minutes": rows, "accounts": ["1000"]})
    assert status == 200
    (evaluation,) = answer["evaluations"]
    minutes = tmp_path / "minutes.jsonl"
    minutes.write_text("".join(json.dumps(row) + "\n" for row in [ROW | {"account": 1000}, ROW | {
        "account": 1000, "minute": "2019-03-12T10:01"}]))
    # with the billing the service reads (which has no row for it)
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--format", "json", "--billing",
                     REPO / "examples" / "ccc" / "billing.csv", "--account", "1000")
    assert result.code == 0, result.err
    assert result.json()["evaluations"] == [evaluation]
    # two minutes of 100 requests with 2 failures each (98 % < 99 %: unavailable, §1.5): 2 of 44640
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("1000", 2, 2)
    minutes.write_text(json.dumps(ROW | {"account": 1e3}) + "\n")  # and 1e3 is refused by both
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    assert (result.code, result.err) == (1, f"slapolicy: {minutes}: column 'account' holds floating-point numbers "
                                            "(double), whole numbers read as floats (row 1 (line 1) is 1000.0); an "
                                            "account is named by text or a whole number: write the column as text or "
                                            "as whole numbers (a column of whole numbers with one missing is written "
                                            "as floating point: fill in or drop the rows without an account)\n")


def test_health_is_answered_without_waiting_for_a_worker_thread(served, monkeypatch):
    # GET /v1/health ran in the worker threads' pool, behind the evaluations queued there: 120 evaluations of the
    # examples at once made it wait 12 s, past a liveness probe's timeout (a busy service restarted by its probe)
    from slapolicy import service

    async def every_thread_busy(*args, **kwargs):
        raise AssertionError("waited for a worker thread")

    monkeypatch.setattr(service, "run_in_threadpool", every_thread_busy)
    monkeypatch.setattr(service, "run_in_engine_thread", every_thread_busy)
    status, content_type, body = asgi(served[0], "GET", "/v1/health")
    assert (status, content_type, body["status"], body["versions"]) == (200, "application/json", "ok", 1)
    status, _, body = asgi(served[0], "GET", "/v1/versions")  # a route that reads files does wait for one
    assert (status, body["detail"]) == (500, "internal error, please report it: AssertionError: waited for a worker "
                                             "thread")


@pytest.mark.slow
def test_at_most_four_engine_calls_run_at_once_and_the_others_wait_without_a_thread(served, monkeypatch):
    # Every request took one of Starlette's 40 worker threads: 40 CPU-bound evaluations under one GIL, beside the
    # event loop, which waited its turn among them. GET /v1/health, answered on the loop, took a median 0.5-2 s (up to
    # 8 s) under 120 evaluations at once; with 4 at once, 17 ms, for the same throughput (benchmarks/README.md)
    import asyncio

    from slapolicy import service

    application, _ = served
    calls = EngineCallsAtOnce(4)
    monkeypatch.setattr(service.Engine, "evaluate", calls)
    body = json.dumps({"month": "2019-03"}).encode()
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]

    async def one() -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/v1/evaluate", "raw_path": b"/v1/evaluate", "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        await application(scope, receive, send)
        return sent[0]["status"]

    async def many() -> list:
        return await asyncio.gather(*(one() for _ in range(24)))

    assert asyncio.run(many()) == [200] * 24
    assert calls.most == 4


def test_a_claim_decided_now_is_answered_201_with_the_address_of_its_record(tmp_path):
    # 201 Created names what it created by its Location (RFC 9110 §15.3.2); without one, a client takes the target
    # (/v1/claims) for the resource made. A claim answered again from the record (200) created nothing.
    import asyncio

    app, _ = examples_app(tmp_path / "ledger.sqlite")

    def answer(body: bytes) -> tuple:
        sent = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/v1/claims", "raw_path": b"/v1/claims", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        incoming = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return incoming.pop(0) if incoming else await client_stays()

        async def send(message):
            sent.append(message)

        asyncio.run(app(scope, receive, send))
        headers = dict(sent[0]["headers"])
        return sent[0]["status"], headers.get(b"location"), json.loads(b"".join(m.get("body", b"") for m in sent[1:]))

    status, location, decision = answer(json.dumps(CLAIM).encode())
    assert (status, decision["decision_id"], location) == (201, "D-e67e91136ec38743702c",
                                                           b"/v1/claims/D-e67e91136ec38743702c")
    assert asgi(app, "GET", location.decode())[2] == {k: v for k, v in decision.items() if k != "repeated"}
    status, location, again = answer(json.dumps(CLAIM).encode())
    assert (status, again["repeated"], location) == (200, True, None)


# ---------------------------------------------------------------------------- HEAD

@pytest.mark.slow
def test_every_method_the_service_answers_is_in_the_openapi_document_head_included(served):
    # Starlette answers HEAD wherever it answers GET; the document listed GET alone.
    from openapi_spec_validator import validate
    from starlette.routing import Route

    app = served[0]
    status, _, document = asgi(app, "GET", "/openapi.json")
    validate(document)
    answered = sorted((route.path, method.lower()) for route in app.routes if isinstance(route, Route)
                      for method in route.methods)
    described = sorted((path, method) for path, item in document["paths"].items() for method in item)
    assert answered == described
    assert ("/v1/health", "head") in described
    head = document["paths"]["/v1/policy"]["head"]
    assert (head["operationId"], head["parameters"][0]["name"]) == ("policyHead", "month")
    assert set(head["responses"]) == set(document["paths"]["/v1/policy"]["get"]["responses"])
    assert all("content" not in answer for answer in head["responses"].values())  # the headers alone
    assert asgi(app, "HEAD", "/v1/health")[0] == 200


# ---------------------------------------------------------------------------- what uvicorn answers itself

UPGRADE = (b"GET /v1/health HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade%s\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


@pytest.mark.slow  # starts a server
def test_a_websocket_upgrade_is_answered_as_plain_http_host_check_first(tmp_path):
    # With a WebSocket library installed (uvicorn[standard] brings websockets), uvicorn handed an upgrade to it as a
    # "websocket" scope, which the Host check (HTTP's) let by: a page renamed to 127.0.0.1 reached the application.
    from serving import serving

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite") as server:
        sock = raw_connection(server)
        sock.sendall(UPGRADE % (b"evil.example", b", close"))
        answer = raw_answer(sock)
        assert answer.startswith(b"HTTP/1.1 421 Misdirected Request\r\n"), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["type"] == "urn:slapolicy:problem:misdirected"
        sock = raw_connection(server)
        sock.sendall(UPGRADE % (b"127.0.0.1", b", close"))
        answer = raw_answer(sock)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer  # not 101 Switching Protocols
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "ok"
    assert server.stderr == ""  # uvicorn's two warnings per upgrade ("Unsupported upgrade request.") are not logged


NOT_HTTP_BODY = (b'{"type":"urn:slapolicy:problem:bad-request","title":"Bad Request","status":400,"detail":"the '
                 b'request is not HTTP/1.1 that can be read (its request line or a header is malformed, or its head is '
                 b'too large)"}')
NOT_HTTP = (b'HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: '
            + str(len(NOT_HTTP_BODY)).encode() + b'\r\nconnection: close\r\n\r\n' + NOT_HTTP_BODY)


@pytest.mark.slow  # starts a server
def test_a_head_too_large_is_answered_400_whole_not_reset(tmp_path):
    # h11 refuses a head whose unfinished part passes 16 KiB; the 400 was written and the connection closed with the
    # rest of the head unread, which the system answers with a reset: the client saw "connection reset by peer",
    # sometimes before it could read the answer. The rest is now read and dropped, and the connection ended cleanly.
    from serving import serving

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite") as server:
        for _ in range(3):
            sock = raw_connection(server)
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
            assert raw_answer(sock) == NOT_HTTP
            sock.close()
        assert server.call("GET", "/v1/health")[0] == 200


@pytest.mark.slow  # starts a server
def test_requests_that_are_not_http_are_answered_400_and_never_fill_the_log(tmp_path):
    # uvicorn logged "WARNING:  Invalid HTTP request received." for each: any client could fill the operator's log,
    # a line a request, where the service logs no other answer (its 4xx are the client's)
    from serving import serving

    unreadable = [b"GET /\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # a request line that is not ASCII
                  b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",  # two Hosts
                  b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
                  b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40]  # TLS spoken to plain HTTP
    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite") as server:
        for request in unreadable * 10:
            sock = raw_connection(server)
            sock.sendall(request)
            assert raw_answer(sock) == NOT_HTTP, request
            sock.close()
        assert server.call("GET", "/v1/health")[0] == 200
    assert server.stderr == ""


SMUGGLED_BODY = (b'{"type":"urn:slapolicy:problem:bad-request","title":"Bad Request","status":400,"detail":"the request '
                 b'gives both Content-Length and Transfer-Encoding, which a proxy and this service may read as different '
                 b'requests (RFC 9112 \\u00a76.1): send one of them"}')


@pytest.mark.slow  # starts a server
def test_a_request_with_both_content_length_and_transfer_encoding_is_a_400_and_its_connection_closed(tmp_path):
    # Read as chunked (h11: Transfer-Encoding wins), while a proxy in front may have read it by its length: what one
    # takes for the body, the other takes for the next request (request smuggling, RFC 9112 §6.1). The evaluation
    # was answered 200, and the request hidden in its body answered after it, on the same connection.
    from serving import DATA, serving

    hidden = b"GET /v1/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with serving(POLICIES, *DATA, "--ledger", tmp_path / "ledger.sqlite") as server:
        for framing in (b"Content-Length: 4\r\nTransfer-Encoding: chunked", b"Transfer-Encoding: chunked\r\n"
                        b"Content-Length: 53", b"Content-Length: 0\r\nTransfer-Encoding: chunked"):
            sock = raw_connection(server)
            body = b'{"month": "2019-03", "accounts": ["globex"]}'
            sock.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         + framing + b"\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n" + hidden)
            assert raw_answer(sock) == (b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\n"
                                        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(SMUGGLED_BODY)
                                        + SMUGGLED_BODY), framing  # one answer, then the connection's end
            sock.close()
        sock = raw_connection(server)  # either framing alone is read
        sock.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + b"%x\r\n" % len(body) + body
                     + b"\r\n0\r\n\r\n")
        head, answer = raw_answer(sock).split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert [e["compensation"] for e in json.loads(answer)["evaluations"]] == ["180.00"]
    assert server.stderr == ""


@pytest.mark.slow  # starts a server
def test_a_request_line_in_absolute_form_is_answered_by_the_host_it_names(tmp_path):
    # uvicorn's h11 took `http://127.0.0.1/v1/health` whole for the path (a 404), and the Host check read the Host
    # header, which the target's authority replaces (RFC 9112 §3.2.2); a Host in UTF-8 came back garbled in the 421
    from serving import serving

    def answer(sock) -> tuple:
        head, body = raw_answer(sock).split(b"\r\n\r\n", 1)
        return head.split(b"\r\n")[0], json.loads(body)

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite") as server:
        sock = raw_connection(server)
        sock.sendall(b"GET http://evil.example/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, body = answer(sock)
        assert (status, body["detail"].split(" is not this machine")[0]) == (b"HTTP/1.1 421 Misdirected Request",
                                                                             "Host 'evil.example'")
        sock = raw_connection(server)
        sock.sendall(b"GET http://127.0.0.1:%d/v1/policy?month=2019-03 HTTP/1.1\r\nHost: evil.example\r\n"
                     b"Connection: close\r\n\r\n" % server.port)
        status, body = answer(sock)
        assert (status, body["month"], body["policy"]["version"]) == (b"HTTP/1.1 200 OK", "2019-03", "2019-01-01")
        sock = raw_connection(server)
        sock.sendall("GET /v1/health HTTP/1.1\r\nHost: bücher.example\r\nConnection: close\r\n\r\n".encode())
        status, body = answer(sock)
        assert (status, body["detail"].split(" is not this machine")[0]) == (b"HTTP/1.1 421 Misdirected Request",
                                                                             "Host 'bücher.example'")
    assert server.stderr == ""


def test_a_connection_logs_its_errors_through_uvicorns_logger_and_nothing_below_them(caplog):
    import logging

    from slapolicy.service import ErrorsOnly

    log = ErrorsOnly(logging.getLogger("uvicorn.error"), {})
    with caplog.at_level(logging.DEBUG, logger="uvicorn.error"):
        log.warning("Invalid HTTP request received.")
        log.info("a connection's news")
        log.error("Exception in ASGI application")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("uvicorn.error", "ERROR", "Exception in ASGI application")]
    assert log.level > 5  # uvicorn traces a connection (its TRACE, 5) only when its logger's level allows it


def test_a_client_gone_before_its_408_or_400_is_closed_quietly_not_a_traceback_in_the_log():
    # A client that reset its connection as it was answered 408 (or 400) made the shutting of the service's side raise
    # OSError [Errno 107] Transport endpoint is not connected, logged by asyncio as "Exception in callback
    # TimedProtocol._too_slow()" with its traceback; the connection is now closed, nothing raised
    import errno
    import types

    from slapolicy.service import timed_protocol

    calls = []

    class Gone:
        def can_write_eof(self):
            return True

        def write_eof(self):
            calls.append("write_eof")
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

        def close(self):
            calls.append("close")

    connection = types.SimpleNamespace(transport=Gone(), loop=None, _lingering=False)
    timed_protocol(30.0)._close_after_answer(connection)
    assert (calls, connection._lingering) == (["write_eof", "close"], True)


@pytest.mark.slow  # starts a server, and waits for its request timeout
def test_a_body_too_large_still_arriving_at_the_deadline_ends_its_connection_without_a_second_answer(tmp_path):
    # Answered 413 at once, the request's body kept arriving; at --request-timeout the one request was answered again,
    # 408 "the request did not arrive whole", which a client reads as the answer to its next request
    import socket
    import time

    from serving import serving

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite", "--request-timeout", 2) as server:
        sock = raw_connection(server)
        sock.settimeout(0.2)
        sock.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000000000\r\n\r\n")
        received, ended, started = b"", False, time.monotonic()
        while not ended and time.monotonic() - started < 10:
            try:
                sock.sendall(b"x" * 16384)
            except OSError:  # the service shut its side and closed: what is left unsent is the client's
                pass
            try:
                chunk = sock.recv(65536)
                received += chunk
                ended = chunk == b""
            except socket.timeout:
                continue
            except OSError:
                ended = True
        sock.close()
    assert ended and 1.5 < time.monotonic() - started < 9
    head, _, body = received.partition(b"\r\n\r\n")
    # the reason phrase is the running Python's: 3.11 says "Request Entity Too Large", 3.13 "Content Too Large"
    from http import HTTPStatus

    assert head.startswith(f"HTTP/1.1 413 {HTTPStatus(413).phrase}\r\n".encode())
    assert json.loads(body)["detail"] == "the request body is larger than 1048576 bytes"  # and nothing after it
    assert server.stderr == ""


# ---------------------------------------------------------------------------- connections against open files

def _serve_with_open_files(limit: tuple, *options):
    """``slapolicy serve`` in a process whose RLIMIT_NOFILE is ``limit`` (soft, hard)."""
    return subprocess.Popen(
        [sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", "0", *map(str, options)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))


@pytest.mark.slow  # starts processes
def test_more_connections_than_the_process_may_open_files_is_refused_at_start(tmp_path):
    # --max-connections 256 in a process allowed 300 files: past the limit accept() failed (uvicorn logged it and
    # left the client waiting), and the ledger or a minutes file could not be opened; nothing said so at start.
    process = _serve_with_open_files((300, 300), "--max-connections", 256, "--ledger", tmp_path / "ledger.sqlite")
    out, err = process.communicate(timeout=60)
    # 256 connections + 256 reserved = 512 > 300; 300 - 256 = 44 connections would fit
    assert (process.returncode, out, err) == (1, "", "slapolicy: --max-connections 256 needs 512 open files (256 beside "
                                                     "the connections), but this process may open 300 (ulimit -n; at "
                                                     "most 300): give --max-connections 44 or less, or raise the limit\n")
    process = _serve_with_open_files((200, 200), "--max-connections", 1, "--ledger", tmp_path / "ledger.sqlite")
    assert process.communicate(timeout=60)[1] == (
        "slapolicy: --max-connections 1 needs 257 open files (256 beside the connections), but this process may open "
        "200 (ulimit -n; at most 200): raise the limit\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # starts a process
def test_a_soft_limit_of_open_files_below_what_the_connections_need_is_raised_to_it(tmp_path):
    process = _serve_with_open_files((300, 4096), "--max-connections", 100, "--ledger", tmp_path / "ledger.sqlite")
    try:
        assert "http://127.0.0.1:" in process.stdout.readline()
        limits = (f"/proc/{process.pid}/limits")
        line = next(line for line in open(limits) if line.startswith("Max open files"))
        assert line.split()[3:5] == ["356", "4096"]  # 100 + 256 reserved
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0


# ---------------------------------------------------------------------------- the ledger under a running service

def _claim(claim_id: str) -> dict:
    return CLAIM | {"claim_id": claim_id}


@pytest.fixture
def fresh(tmp_path):
    """(an application of its own, its ledger's path): the claims of these tests change the ledger."""
    return examples_app(tmp_path / "ledger.sqlite")


def test_a_ledger_deleted_while_the_service_runs_is_not_made_again_nor_a_month_paid_twice(fresh):
    # The next claim made a new, empty ledger, and granted globex's March 180.00 a second time: the new ledger knew
    # nothing of the first grant.
    app, ledger = fresh
    status, _, first = post(app, "/v1/claims", _claim("C-1"))
    assert (status, first["decision"], first["compensation"]) == (201, "approved", "180.00")
    for file in ledger.parent.iterdir():  # the ledger, and its -wal and -shm if any
        file.unlink()
    status, content_type, answer = post(app, "/v1/claims", _claim("C-2"))
    assert (status, content_type, answer["detail"]) == (
        422, PROBLEM, f"{ledger}: the ledger this engine recorded decisions in is gone (deleted or moved): a new one "
                      "would not know its grants and could pay a month twice; nothing was decided. Put it back, or start "
                      "the service (the engine) again to begin a new ledger")
    assert list(ledger.parent.iterdir()) == []
    assert post(app, "/v1/claims", _claim("C-1"))[0] == 422  # nor is a decision answered from a ledger that is gone
    status, _, read = asgi(app, "GET", f"/v1/claims/{first['decision_id']}")  # it was 404 "no decision … in the ledger"
    assert (status, read["detail"]) == (422, answer["detail"])
    assert list(ledger.parent.iterdir()) == []


def test_a_ledger_replaced_by_a_copy_while_the_service_runs_is_refused_until_it_starts_again(fresh):
    import shutil

    from slapolicy import Engine

    app, ledger = fresh
    assert post(app, "/v1/claims", _claim("C-1"))[0] == 201
    shutil.copy(ledger, ledger.parent / "copy.sqlite")  # (a ledger at rest: its -wal is checkpointed at each close)
    (ledger.parent / "copy.sqlite").replace(ledger)
    before = sorted((p.name, p.stat().st_size) for p in ledger.parent.iterdir())
    status, _, answer = post(app, "/v1/claims", _claim("C-2"))
    assert (status, answer["detail"]) == (
        422, f"{ledger}: the ledger this engine recorded decisions in was replaced by another file (a copy put in its "
             "place?): decisions recorded since that copy was made would be unknown to it; nothing was decided. Start "
             "the service (the engine) again to use it")
    assert sorted((p.name, p.stat().st_size) for p in ledger.parent.iterdir()) == before
    # an engine started again takes the file as its ledger: the copy holds the grant, so March is not paid again
    again = Engine(POLICIES, ledger=ledger).decide_claim(_claim("C-2"), minutes=str(EXAMPLES / "minutes.csv"),
                                                        billing=str(EXAMPLES / "billing.csv"))
    assert (again["decision"], again["compensation"]) == ("denied", None)


@pytest.mark.slow  # starts two servers
def test_two_services_on_one_ledger_grant_a_month_once_under_sixteen_concurrent_claims(tmp_path):
    import threading

    from serving import DATA, serving

    ledger = tmp_path / "ledger.sqlite"
    answers = []
    with serving(POLICIES, "--ledger", ledger, *DATA) as one, serving(POLICIES, "--ledger", ledger, *DATA) as two:
        def claim(server, number):
            answers.append(server.call("POST", "/v1/claims", _claim(f"C-{number}")))

        threads = [threading.Thread(target=claim, args=((one, two)[n % 2], n)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    refused = [(status, answer) for status, _, answer in answers if status != 201]
    assert refused == []  # the problem of any refused claim (see test_ledger: a lost lock once cost 1 in ~10)
    decided = sorted((status, answer["decision"], answer["compensation"]) for status, _, answer in answers)
    assert decided == [(201, "approved", "180.00")] + [(201, "denied", None)] * 15
    audit = run_cli("audit", ledger, "--format", "json").json()
    # 16 decisions and the one grant: 17 entries, the chain whole, every decision the same decided again
    assert (audit["chain"]["entries"], audit["chain"]["intact"], audit["summary"]["same"]) == (17, True, 16)


def test_a_string_left_open_is_said_once_at_where_it_starts(served):
    # json says "Unterminated string starting at", and the service added " at line …": "starting at at line 1"
    status, _, answer = asgi(served[0], "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": ["glob', JSON)
    assert (status, answer["detail"]) == (400, "the request body is not JSON: Unterminated string starting at line 1, "
                                               "column 35")
    status, _, answer = asgi(served[0], "POST", "/v1/evaluate", b'{"month": "2019-03"', JSON)  # other messages: " at"
    assert (status, answer["detail"]) == (400, "the request body is not JSON: Expecting ',' delimiter at line 1, column 20")


def test_keys_of_inline_rows_beyond_the_columns_read_are_never_made_into_columns(served, monkeypatch):
    # Every key of every row was made a column (a pass over every row each) before the six read were kept: 8,000
    # rows of a key each, a body of 0.7 MB, made 8,000 columns of 8,000 rows, 8 s of CPU for one request (0.26 s now).
    from slapolicy.inputs import tables

    made = []
    original = tables._text_column
    monkeypatch.setattr(tables, "_text_column", lambda rows, name, *where: made.append(name) or
                        original(rows, name, *where))
    rows = [ROW | {"account": "a", "minute": f"2019-03-12T10:{i:02}", f"note{i}": "x"} for i in range(50)]
    status, _, answer = post(served[0], "/v1/evaluate", {"month": "2019-03", "minutes": rows, "accounts": ["a"]})
    assert (status, answer["evaluations"][0]["unavailable_minutes"]) == (200, 50)  # 98 % each (§1.5)
    assert made == ["account", "minute", "requests", "failures"]
    status, _, answer = post(served[0], "/v1/evaluate", {"month": "2019-03", "minutes": [{"account": "a", "note": 1}]})
    assert (status, answer["detail"]) == (422, "field 'minutes': missing column(s) minute, requests, failures (found: "
                                               "account, note)")


def test_a_compressed_body_is_a_415_saying_so_and_nothing_is_written(served):
    # gzip's bytes were read as the JSON text they are not: "the request body is not UTF-8 (it holds NUL bytes, as
    # UTF-16 and UTF-32 do)", nothing of the cause
    import gzip

    app, ledger = served
    body = gzip.compress(json.dumps(_claim("C-gzip")).encode())
    for route in ("/v1/claims", "/v1/evaluate", "/v1/replay"):
        status, content_type, answer = asgi(app, "POST", route, body, JSON | {"Content-Encoding": "gzip"})
        assert (status, content_type, answer["detail"]) == (
            415, PROBLEM, "the request body must be sent uncompressed, not with Content-Encoding: 'gzip'")
    assert not ledger.exists()
    status, _, _ = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": ["globex"]}',
                        JSON | {"Content-Encoding": "identity"})
    assert status == 200


def test_a_ledger_deleted_while_a_claim_is_being_decided_is_not_made_again(tmp_path, monkeypatch):
    # The check that the ledger is still there comes before the inputs are read; a ledger deleted while they were
    # read (here: while the billing is) was made anew by the decision. A ledger the engine used is opened, never made.
    import slapolicy.engine
    from slapolicy import Engine
    from slapolicy.errors import LedgerError

    ledger = tmp_path / "ledger.sqlite"
    engine = Engine(POLICIES, ledger=ledger)
    inputs = dict(minutes=str(EXAMPLES / "minutes.csv"), billing=str(EXAMPLES / "billing.csv"))
    assert engine.decide_claim(_claim("C-1"), **inputs)["decision"] == "approved"
    reading = slapolicy.engine.read_billing

    def deleting(*args, **kwargs):
        for file in tmp_path.iterdir():
            file.unlink()
        return reading(*args, **kwargs)

    monkeypatch.setattr(slapolicy.engine, "read_billing", deleting)
    with pytest.raises(LedgerError) as raised:
        engine.decide_claim(_claim("C-2"), **inputs)
    assert str(raised.value) == (f"{ledger}: the ledger this engine recorded decisions in is gone (deleted or moved): "
                                 "a new one would not know its grants and could pay a month twice; nothing was decided. "
                                 "Put it back, or start the service (the engine) again to begin a new ledger")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("written,said", [("1e3", "1E+3"), ("1000.0", "1000.0"), ("true", "true")])
def test_an_incidents_file_names_its_accounts_as_a_request_does(tmp_path, written, said):
    # An incident's account of 1e3 or true was read as Python writes it, "1000.0" or "True": an account no minutes
    # name, so the incident silently excluded nothing. The CLI's file is refused as the service's request is (400).
    incidents = tmp_path / "incidents.json"
    incidents.write_text('[{"id": "I-1", "start": "2019-03-12T10:00", "end": "2019-03-12T10:30", "cause": '
                         f'"force_majeure", "account": {written}}}]')
    result = run_cli("evaluate", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--month", "2019-03",
                     "--incidents", incidents)
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: 1 problem(s) in incidents file {incidents}:\n{incidents}: row 1, column "
                          f"'account': {said} is not an account name: write the name as text (a whole number is read as "
                          "its digits)\n")
    incidents.write_text(incidents.read_text().replace(f'"account": {written}', '"account": null'))
    result = run_cli("evaluate", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--month", "2019-03",
                     "--incidents", incidents)
    assert result.err.endswith("column 'account': null is blank; leave the key out to mean every account\n")
    incidents.write_text(incidents.read_text().replace('"account": null', '"account": 1000'))
    assert run_cli("evaluate", POLICIES, "--minutes", EXAMPLES / "minutes.csv", "--month", "2019-03",
                   "--incidents", incidents).code == 0  # account "1000", of no minutes here: no incident applies


@pytest.mark.slow  # starts a server
def test_a_post_beyond_max_connections_gets_its_503_whole_not_a_reset(tmp_path):
    # The 503 of a connection beyond --max-connections was sent without reading the POST's body, then the connection
    # closed: the system reset it for the unread body ("connection reset by peer" after, or instead of, the answer).
    import http.client

    from serving import serving

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite", "--max-connections", 1) as server:
        held = http.client.HTTPConnection(server.host, server.port, timeout=20)
        assert server.call("GET", "/v1/health", connection=held)[0] == 200
        body = b'{"month": "2019-03", "note": "' + b"a" * 900_000 + b'"}'
        for _ in range(3):
            sock = raw_connection(server)
            sock.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            head, _, answer = raw_answer(sock).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            assert b"\r\nretry-after: 1\r\n" in head  # when to try again (RFC 9110 §10.2.3)
            assert json.loads(answer)["type"] == "urn:slapolicy:problem:too-many-connections"
        held.close()
    assert not (tmp_path / "ledger.sqlite").exists()


def test_every_503_says_when_to_try_again_and_no_other_answer_does():
    # A 503 is the service's state (a limit reached, the scheduler lost, too many connections), not the request's
    # fault: without Retry-After a client's retry policy had to guess when
    from starlette.requests import Request

    from slapolicy.errors import SchedulerUnavailable
    from slapolicy.service import Problem, problem_of

    request = Request({"type": "http", "method": "POST", "path": "/v1/evaluate", "headers": []})
    for problem in (problem_of(MemoryError()), problem_of(SchedulerUnavailable("lost the Dask scheduler"))):
        response = problem.response(request)
        assert (response.status_code, response.headers["retry-after"]) == (503, "1")
    for status in (400, 404, 422, 500):
        assert "retry-after" not in Problem(status, "kind", "title", "detail").response(request).headers


@pytest.mark.parametrize("raised,words", [
    (OSError(24, "Too many open files"), "too many open files (OSError: [Errno 24] Too many open files)"),
    (MemoryError(), "out of memory (MemoryError: no detail)"),
    (RuntimeError("can't start new thread"), "cannot start a thread (RuntimeError: can't start new thread)")])
def test_a_limit_of_the_machine_reached_while_answering_is_a_503_saying_which_not_a_bug(served, monkeypatch, raised,
                                                                                         words):
    # The CLI says exit 1 with the limit (slapolicy.limits); the service answered 500 "internal error, please report
    # it: OSError: [Errno 24] Too many open files", a bug to report for what is the machine's state.
    from slapolicy import Engine
    from slapolicy.limits import limit_message

    def failing(*args, **kwargs):
        raise raised

    app, _ = served
    monkeypatch.setattr(Engine, "evaluate", failing)
    status, content_type, answer = post(app, "/v1/evaluate", {"month": "2019-03"})
    assert (status, content_type, answer["type"]) == (503, PROBLEM, "urn:slapolicy:problem:limit-reached")
    assert answer["detail"] == limit_message(raised)
    assert answer["detail"].startswith(words)


INCIDENT = {"id": "i", "start": "2019-03-12T10:00", "end": "2019-03-12T11:00", "cause": "provider"}


@pytest.mark.parametrize("sent, said", [
    ({"minutes": [ROW | {"account": "a", "requests": -1}]},
     "1 problem(s) in field 'minutes':\nfield 'minutes[0].requests': -1 is negative"),
    ({"minutes": [ROW | {"account": "a"}, ROW | {"account": "a"}]},
     "1 problem(s) in field 'minutes':\nfield 'minutes[1].minute': minute listed twice for account 'a' (also field "
     "'minutes[0]')"),
    ({"minutes": [{"account": "a"}]}, "field 'minutes': missing column(s) minute, requests, failures (found: account)"),
    ({"billing": [{"account": "a", "month": "2019-03", "monthly_fee": "x", "offset": "0"}]},
     "1 problem(s) in field 'billing':\nfield 'billing[0].monthly_fee': 'x' is not an amount of money (a decimal like "
     "1000.00)"),
    ({"incidents": [INCIDENT, INCIDENT]}, "1 problem(s) in field 'incidents':\nfield 'incidents[1].id': id 'i' also "
                                          "used in field 'incidents[0]'"),
    ({"notices": [INCIDENT]}, "field 'notices': these are incidents entries: give them as incidents"),
    ({"minutes": [ROW | {"account": "\u00e9"}, ROW | {"account": "e\u0301", "minute": "2019-03-12T10:01"}]},
     "accounts 'e\\u0301' and '\\xe9' in field 'minutes' are the same name written in two Unicode forms (composed and "
     "decomposed accents): they would count as two accounts, each with its own minutes and money; write the name one "
     "way (composed, NFC) in every input"),
])
def test_a_problem_in_rows_sent_inline_names_the_request_s_field_not_in_memory(served, sent, said):
    # Said as to a program handing a table to the API: "(in memory): row 1, column 'requests'", to a client whose JSON
    # has no rows, nor says which of its four lists was meant; the 400s name a field so ("field 'minutes[0].account'")
    body = {"month": "2019-03", "minutes": [ROW | {"account": "a"}]} | sent
    status, _, answer = post(served[0], "/v1/evaluate", body)
    assert (status, answer["detail"]) == (422, said)


# ---------------------------------------------------------------------------- a header given twice

BODY = b'{"month": "2019-03", "accounts": ["globex"]}'


@pytest.mark.parametrize("first, second", [("text/plain", "application/json"), ("application/json", "text/plain"),
                                           ("application/json", "application/json; charset=latin-1")])
def test_two_content_types_that_differ_are_a_400_naming_both_and_nothing_is_written(served, first, second):
    # The first was used (what Node, Go's net/http and nginx read), so text/plain then application/json was a 415 and
    # application/json then text/plain a 200: a proxy in front that reads the last (or joins them) took the body for
    # another type than the service did
    app, ledger = served
    for route, body in (("/v1/claims", json.dumps(_claim("C-twice")).encode()), ("/v1/evaluate", BODY)):
        status, content_type, answer = asgi(app, "POST", route, body,
                                            [("Content-Type", first), ("Content-Type", second)])
        assert (status, content_type, answer["detail"]) == (
            400, PROBLEM, f"the request gives Content-Type twice, {first!r} and {second!r}, which a proxy and this "
                          f"service may read differently: send it once")
    assert not ledger.exists()


def test_the_same_content_type_twice_is_read_as_once(served):
    status, _, answer = asgi(served[0], "POST", "/v1/evaluate", BODY,
                             [("Content-Type", "application/json"), ("Content-Type", "application/json")])
    assert (status, answer["evaluations"][0]["account"]) == (200, "globex")


@pytest.mark.parametrize("codings", [[("Content-Encoding", "identity"), ("Content-Encoding", "gzip")],
                                     [("Content-Encoding", "gzip"), ("Content-Encoding", "identity")],
                                     [("Content-Encoding", "identity, gzip")]])
def test_a_coding_in_any_content_encoding_line_is_a_415(served, codings):
    # Content-Encoding is a list (RFC 9110 §8.4): its lines are one value, in order. Only the first line was looked
    # at, so 'identity' then 'gzip' had its gzip bytes read as JSON
    status, content_type, answer = asgi(served[0], "POST", "/v1/evaluate", BODY,
                                        [("Content-Type", "application/json"), *codings])
    said = ", ".join(value for _, value in codings)
    assert (status, content_type, answer["detail"]) == (
        415, PROBLEM, f"the request body must be sent uncompressed, not with Content-Encoding: {said!r}")


# ---------------------------------------------------------------------------- one value where a list belongs

@pytest.mark.parametrize("body, said", [
    ({"accounts": "globex"}, 'field \'accounts\' must be a list or null, not a string: write "accounts": ["globex"]'),
    ({"accounts": 1000}, 'field \'accounts\' must be a list or null, not a number: write "accounts": [1000]'),
    ({"minutes": {"account": "a", **ROW}},  # a row of 75 characters: shown as … past 80 of the field written
     'field \'minutes\' must be a list or null, not an object: write "minutes": [{…}]'),
    ({"billing": {"account": "a"}},
     'field \'billing\' must be a list or null, not an object: write "billing": [{"account": "a"}]'),
    ({"accounts": "x" * 100}, 'field \'accounts\' must be a list or null, not a string: write "accounts": ["…"]'),
    ({"accounts": True}, "field 'accounts' must be a list or null, not true or false"),  # no list of true is meant
    ({"month": ["2019-03"]}, 'field \'month\' must be a string, not a list: write "month": "2019-03"'),
])
def test_one_value_where_a_list_belongs_is_told_the_field_written_as_meant(served, body, said):
    # "field 'accounts' must be a list or null, not a string" said what was wrong, not what to send
    status, content_type, answer = post(served[0], "/v1/evaluate", {"month": "2019-03"} | body)
    assert (status, content_type, answer["detail"]) == (400, PROBLEM, said)


# ---------------------------------------------------------------------------- a problem's instance, as a URI reference

@pytest.mark.parametrize("sent", ["/v1/claims/a%20b", "/v1/claims/%C3%A9", "/v1/claims/%ff", "/v1/claims/a%22b",
                                  "/v1/claims/%0d%0a", "/v1/%3Cscript%3E", "/v1/claims/D-0%00"])
def test_a_problem_s_instance_is_the_path_as_sent_a_uri_reference(served, sent):
    # RFC 9457 §3.1.5: instance is a URI reference. It was the path decoded ('/v1/claims/a b', '/v1/claims/é', a NUL,
    # U+FFFD for %ff, and '/v1/claims/' for %0d%0a, whose CR LF the URL's parsing took out): a client reading it as a
    # URI (Java's URI.create, Go's url.Parse of a control character) failed on the answer to its own mistake
    from urllib.parse import urlsplit

    status, content_type, answer = asgi(served[0], "GET", sent)
    assert (status, content_type, answer["instance"]) == (404, PROBLEM, sent)
    assert urlsplit(answer["instance"]).path == sent and sent.isascii() and sent.isprintable() and " " not in sent


# ---------------------------------------------------------------------------- a field left unset as "" (Go's zero value)

@pytest.mark.parametrize("route, body, status, said", [
    ("/v1/evaluate", {"month": "2019-03", "term_start": "", "term_end": ""}, 400,
     "field 'term_start' is blank: leave it out, or null, for no term"),
    ("/v1/evaluate", {"month": "2019-03", "term_start": "2019-03-01", "term_end": " "}, 400,
     "field 'term_end' is blank: leave it out, or null, for no term"),
    ("/v1/claims", CLAIM | {"term_start": "", "term_end": ""}, 422,
     "claim: field 'term_start' is blank: leave it out, or null, for no term; field 'term_end' is blank: leave it out, "
     "or null, for no term"),
])
def test_a_term_sent_blank_is_told_to_be_left_out_and_nothing_is_written(served, route, body, status, said):
    # A Go client's struct sends "" for a string it did not set (encoding/json without omitempty): "'' is not a date
    # written YYYY-MM-DD" did not say that leaving it out, or null, means no term
    app, ledger = served
    answer = post(app, route, body)
    assert (answer[0], answer[1], answer[2]["detail"]) == (status, PROBLEM, said)
    assert not ledger.exists()


@pytest.mark.parametrize("under", ["2027-01-01-standard-99.95", "2027-01-01-standard-99.95.YAML",
                                   "2027-01-01-standard-99.95.yml", "2027-01-01-standard-99.95.yaml "])
def test_a_draft_named_without_its_yaml_or_with_a_space_after_is_told_the_draft_meant(served, under):
    # "is not a policy file: a draft is named NAME.yaml" said the rule, not that the draft meant is there
    status, content_type, answer = post(served[0], "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": under})
    assert (status, content_type, answer["detail"]) == (
        400, PROBLEM, f"field 'under': {under!r} is not a policy file: a draft is named NAME.yaml; did you mean "
                      "'2027-01-01-standard-99.95.yaml'?")


def test_a_name_that_is_no_policy_file_and_near_no_draft_gets_no_guess(served):
    status, _, answer = post(served[0], "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "notes.txt"})
    assert (status, answer["detail"]) == (400, "field 'under': 'notes.txt' is not a policy file: a draft is named "
                                               "NAME.yaml")


@pytest.mark.slow
def test_the_same_claim_sent_at_once_by_many_clients_to_two_services_is_decided_once(tmp_path):
    # A client that lost its connection sends its claim again, and may do so while the first is still being decided,
    # from another replica sharing the ledger: one decision, one grant, every other answer that decision repeated
    import threading

    from serving import DATA, serving

    ledger = tmp_path / "ledger.sqlite"
    answers = []
    with serving(POLICIES, "--ledger", ledger, *DATA) as one, serving(POLICIES, "--ledger", ledger, *DATA) as two:
        threads = [threading.Thread(target=lambda server=(one, two)[n % 2]: answers.append(
            server.call("POST", "/v1/claims", _claim("C-again")))) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    decided = sorted((status, answer.get("repeated"), answer.get("compensation")) for status, _, answer in answers)
    assert decided == [(200, True, "180.00")] * 11 + [(201, False, "180.00")]
    assert len({answer["decision_id"] for _, _, answer in answers}) == 1
    audit = run_cli("audit", ledger, "--format", "json").json()
    assert (audit["chain"]["entries"], audit["chain"]["intact"], audit["summary"]["same"]) == (2, True, 1)


@pytest.mark.parametrize("body, said", [
    ({"month": "2019\u201103"}, "field 'month': '2019\u201103' is not a month written YYYY-MM; it holds U+2011 "
                                "NON-BREAKING HYPHEN, not ASCII, which may look like the character meant: type it again"),
    ({"month": "2019-03", "term_start": "2019-03-0\u0665", "term_end": "2019-03-31"},
     "field 'term_start': '2019-03-0\u0665' is not a date written YYYY-MM-DD; it holds U+0665 ARABIC-INDIC DIGIT FIVE, "
     "not ASCII, which may look like the character meant: type it again"),
])
def test_a_month_or_date_holding_a_look_alike_says_which_character(served, body, said):
    # "'2019‑03' is not a month written YYYY-MM" (a non-breaking hyphen, as a word processor writes it) read as a
    # contradiction: the reader saw the form asked for
    status, content_type, answer = post(served[0], "/v1/evaluate", body)
    assert (status, content_type, answer["detail"]) == (400, PROBLEM, said)
