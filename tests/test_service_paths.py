"""`slapolicy serve`'s application in-process (fast): how paths are answered, and that a read never writes."""
import hashlib
import json

import pytest

from conftest import POLICIES, REPO
from helpers import read_only
from serving import EngineCallsAtOnce, asgi, client_stays, raw_answer, raw_connection, wait_until

pytest.importorskip("starlette")

EXAMPLES = REPO / "examples" / "ccc"
CLAIM = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"
SOURCES = dict(minutes=str(EXAMPLES / "minutes.csv"), billing=str(EXAMPLES / "billing.csv"),
               incidents=str(EXAMPLES / "incidents.yaml"), notices=str(EXAMPLES / "notices.yaml"))


def application(ledger):
    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    return create_app(Engine(POLICIES, ledger=ledger), Sources(**SOURCES), loopback_only=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return application(tmp_path_factory.mktemp("paths") / "ledger.sqlite")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------- trailing slashes

ROUTES = [("GET", "/v1/health"), ("GET", "/v1/versions"), ("GET", "/v1/policy?month=2019-03"), ("POST", "/v1/evaluate"),
          ("POST", "/v1/claims"), ("GET", "/v1/claims/D-00000000000000000000"), ("POST", "/v1/replay"),
          ("GET", "/openapi.json")]


@pytest.mark.parametrize("method,route", ROUTES)
def test_a_route_written_with_a_trailing_slash_is_a_404_like_any_unknown_path_not_a_redirect(app, method, route):
    # Starlette answered /v1/health/ (and every route so written) with a bare 307 to /v1/health: no body, a Location
    # built from whatever Host the request named, answered before the Host check; for a POST, most clients do not
    # follow it. Every path not written as a route is now the same problem details, with the path meant.
    path, _, query = route.partition("?")
    slashed = path + "/" + (f"?{query}" if query else "")
    body = json.dumps({"month": "2019-03"}).encode() if method == "POST" else b""
    status, content_type, answer = asgi(app, method, slashed, body, JSON if method == "POST" else None)
    assert (status, content_type) == (404, PROBLEM)
    assert answer == {"type": "urn:slapolicy:problem:not-found", "title": "Not Found", "status": 404,
                      "detail": f"no route {path}/ (see /openapi.json); paths end without a slash: {path}",
                      "instance": f"{path}/"}


def test_a_path_that_names_no_route_even_without_its_slash_gets_no_hint(app):
    for path in ("/v1/nothing/", "/v1/"):
        status, content_type, answer = asgi(app, "GET", path)
        assert (status, content_type, answer["detail"]) == (404, PROBLEM, f"no route {path} (see /openapi.json)")
    status, _, answer = asgi(app, "GET", "/v1//health")  # no slash to take off, but a route's path is near
    assert (status, answer["detail"]) == (404, "no route /v1//health (see /openapi.json); did you mean /v1/health?")
    status, _, answer = asgi(app, "GET", "/v1/health//")  # every trailing slash: still the one route meant
    assert (status, answer["detail"]) == (404, "no route /v1/health// (see /openapi.json); paths end without a slash: "
                                               "/v1/health")
    assert asgi(app, "GET", "/v1/health")[:2] == (200, "application/json")


# ---------------------------------------------------------------------------- reading a decision never writes

def decided(tmp_path):
    """A ledger holding globex's approved claim (180.00, as docs/service.md shows), and the decision's path."""
    ledger = tmp_path / "book" / "ledger.sqlite"
    status, _, decision = asgi(application(ledger), "POST", "/v1/claims", json.dumps(CLAIM).encode(), JSON)
    assert (status, decision["decision"], decision["compensation"]) == (201, "approved", "180.00")
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["ledger.sqlite"]  # checkpointed, -wal and -shm gone
    return ledger, decision


@pytest.mark.parametrize("sealed", ["file", "directory and file"])
def test_a_recorded_decision_is_read_from_a_ledger_the_service_cannot_write(tmp_path, sealed):
    # GET /v1/claims/{id} opened the ledger for writing: on a read-only file it answered 422 "the ledger cannot be
    # written (...); no decision can be recorded in it", and in a read-only directory 422 "not a slapolicy ledger, or
    # a damaged one (unable to open database file)" (SQLite could not make the -shm index of the WAL ledger there).
    ledger, decision = decided(tmp_path)
    before = digest(ledger)
    app = application(ledger)
    with read_only(*([ledger] if sealed == "file" else [ledger, ledger.parent])):
        status, content_type, found = asgi(app, "GET", f"/v1/claims/{decision['decision_id']}")
        assert (status, content_type) == (200, "application/json"), found
        assert found == {key: value for key, value in decision.items() if key != "repeated"}
        # and the writes are as strong as they were: a new decision is refused, saying why, and nothing is written
        other = CLAIM | {"service_month": "2019-02",
                         "unavailability": [{"start": "2019-02-22T09:00+08:00", "end": "2019-02-22T13:30+08:00"}]}
        status, content_type, refused = asgi(app, "POST", "/v1/claims", json.dumps(other).encode(), JSON)
        assert (status, content_type, refused["type"]) == (422, PROBLEM, "urn:slapolicy:problem:invalid-input")
        assert refused["detail"].startswith(f"{ledger}: the ledger cannot be written (")
        assert refused["detail"].endswith("); no decision can be recorded in it")
        missing = asgi(app, "GET", "/v1/claims/D-00000000000000000000")
        assert missing[:2] == (404, PROBLEM)
        assert missing[2]["detail"] == "no decision 'D-00000000000000000000' in the ledger"
    assert digest(ledger) == before
    # SQLite reads a WAL ledger through a -shm index, which it makes beside a read-only file in a writable directory
    # (and the empty -wal that goes with it), so that a writer with the rights to write can append meanwhile; only
    # such a writer may remove them (a reader removes them from a ledger it may write)
    beside = {p.name: p.stat().st_size for p in ledger.parent.iterdir() if p.name != "ledger.sqlite"}
    assert beside == ({} if sealed != "file" else {"ledger.sqlite-shm": beside["ledger.sqlite-shm"], "ledger.sqlite-wal": 0})


def test_reading_a_decision_leaves_a_writable_ledger_byte_identical(tmp_path):
    ledger, decision = decided(tmp_path)
    before = (digest(ledger), ledger.stat().st_mtime_ns)
    status, _, found = asgi(application(ledger), "GET", f"/v1/claims/{decision['decision_id']}")
    assert (status, found["decision_id"]) == (200, decision["decision_id"])
    assert (digest(ledger), ledger.stat().st_mtime_ns) == before
    # Read through SQLite's index, the -shm and an empty -wal made for the reading, then removed as SQLite removes
    # them when the last connection closes: a reader left them until the next writer came
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["ledger.sqlite"]


def test_a_ledger_in_a_read_only_directory_with_a_wal_left_beside_it_is_refused_saying_why(tmp_path):
    # A -wal file beside the ledger may hold decisions not yet in it: it is not read past as if the file were whole.
    ledger, decision = decided(tmp_path)
    wal = ledger.parent / "ledger.sqlite-wal"
    wal.write_bytes(b"")
    before = digest(ledger)
    with read_only(ledger, wal, ledger.parent):
        status, content_type, answer = asgi(application(ledger), "GET", f"/v1/claims/{decision['decision_id']}")
    assert (status, content_type) == (422, PROBLEM)
    assert answer["detail"] == (f"{ledger}: the ledger cannot be opened (unable to open database file): "
                                "ledger.sqlite-wal beside it may hold decisions not yet in it, which SQLite reads only "
                                "through a ledger.sqlite-shm index it cannot make in that directory")
    assert digest(ledger) == before
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["ledger.sqlite", "ledger.sqlite-wal"]


# ---------------------------------------------------------------------------- a client that sends slowly

TIMED_OUT = (b'HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\ncontent-length: 177\r\n'
             b'connection: close\r\n\r\n{"type":"urn:slapolicy:problem:request-timeout","title":"Request Timeout",'
             b'"status":408,"detail":"the request did not arrive whole within 1 s: send it at once (docs/service.md)"}')


@pytest.mark.slow  # starts a server
def test_a_request_that_does_not_arrive_whole_in_time_is_a_408_and_its_connection_closed(tmp_path):
    # uvicorn sets no time limit on a request arriving: a connection that sent nothing, or a byte now and then, was
    # held open for ever (slowloris). --request-timeout 1: one second from the connection (or the end of the answer
    # before) to the request whole.
    import http.client
    import time

    from serving import serving

    with serving(POLICIES, "--request-timeout", 1, "--ledger", tmp_path / "ledger.sqlite") as server:
        silent = raw_connection(server)
        started = time.monotonic()
        assert raw_answer(silent) == TIMED_OUT
        assert 0.9 < time.monotonic() - started < 10
        head = raw_connection(server)
        head.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never the blank line that ends it
        assert raw_answer(head) == TIMED_OUT
        body = raw_connection(server)
        body.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"month\"")  # 8 bytes of 100
        assert raw_answer(body) == TIMED_OUT
        # a kept-alive connection idle between requests is governed by the keep-alive limit (15 s), not this one
        kept = http.client.HTTPConnection(server.host, server.port, timeout=20)
        for _ in range(2):
            assert server.call("GET", "/v1/health", connection=kept)[:2] == (200, "application/json")
            time.sleep(1.5)
        assert kept.sock is not None  # the same connection throughout
        assert server.call("GET", "/v1/health")[0] == 200
    assert server.stderr == ""


@pytest.mark.slow  # starts a server, and waits for it
def test_a_client_that_stops_reading_its_answer_is_cut_off_after_request_timeout_seconds(tmp_path):
    # A client that sent its request whole and then read nothing of the answer held its connection, and the answer
    # (megabytes) in the server's memory, for ever: --request-timeout bounded the request's arrival only, so that
    # many such clients held every connection for good (docs/service.md said "for up to --request-timeout seconds").
    # Now, as nginx's send_timeout: when the client has taken nothing of the answer for that many seconds, the
    # connection is dropped. A client that reads, however late it starts within the limit, gets the whole answer.
    from serving import serving

    request = large_answer_request(3000)

    def answer(pause: float, bursts: float = 0) -> tuple[int, int]:
        return take_answer(server, request, pause=pause, bursts=bursts, wait=20)

    with serving(POLICIES, "--request-timeout", 2, "--ledger", tmp_path / "ledger.sqlite") as server:
        read, declared = answer(0.5)
        assert read == declared > 5_000_000
        read, declared = answer(6)
        assert read < declared
        # taking a megabyte, then nothing for 1 s, and so on: 6 s in all, but never 2 s without taking some
        read, declared = answer(0.5, bursts=1.0)
        assert read == declared
        assert server.call("GET", "/v1/health")[0] == 200
    assert server.stderr == ""


@pytest.mark.slow  # starts a server, and waits for it
def test_a_client_that_takes_its_answer_steadily_but_slowly_is_cut_off_after_answer_timeout_seconds(tmp_path):
    # Taking some of the answer every --request-timeout seconds was enough: however long the answer took the client
    # to take, it held its connection, and a stop (SIGTERM), which waits for the answers in flight. Now the whole
    # answer must be taken within --answer-timeout seconds of when it began to wait for the client.
    from serving import serving

    request = large_answer_request(6000)

    def answer(bursts: float) -> tuple[int, int]:
        return take_answer(server, request, bursts=bursts, wait=60)

    with serving(POLICIES, "--request-timeout", 3, "--answer-timeout", 2, "--max-body", 4_000_000,
                 "--ledger", tmp_path / "ledger.sqlite") as server:
        read, declared = answer(0)
        assert read == declared > 10_000_000
        # a megabyte, then nothing for 1 s, and so on: never 3 s without taking some, but ~12 s in all
        read, declared = answer(1.0)
        assert read < declared - 2_000_000
        assert server.call("GET", "/v1/health")[0] == 200
    assert server.stderr == ""


@pytest.mark.slow  # starts a server
def test_a_client_that_reads_nothing_of_its_answer_holds_a_stop_at_most_request_timeout_seconds(tmp_path):
    # SIGTERM waits for the answers in flight: one that its client never took held the stop for ever (the process
    # was still there, exit unknown, when killed a minute later), so a supervisor's stop waited for the kill.
    import signal
    import socket
    import time

    from serving import serving

    rows = [{"account": f"acct{n:05d}", "minute": "2019-03-12T10:00", "requests": 100, "failures": 2} for n in range(3000)]
    body = json.dumps({"month": "2019-03", "minutes": rows}).encode()
    with serving(POLICIES, "--request-timeout", 2, "--ledger", tmp_path / "ledger.sqlite") as server:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the answer (~6 MB) waits at the server
            sock.connect((server.host, server.port))
            sock.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(1)
            stopped = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(30) == 0
            assert time.monotonic() - stopped < 10
    assert server.stderr == ""


@pytest.mark.slow  # starts a server
def test_a_client_that_closes_its_sending_side_after_its_request_is_answered_then_the_connection_closed(tmp_path):
    # A client may close its side of the connection once it has sent its request (a half-close: `nc -N`,
    # shutdown(SHUT_WR)) and read the answer: uvicorn took it for a client gone, closed the connection and dropped the
    # answer (0 bytes), the request's work done for nothing (a claim decided and recorded, its client never told).
    import socket
    import time

    from serving import serving

    evaluate = json.dumps({"month": "2019-03", "accounts": ["globex"]}).encode()
    post = (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(evaluate) + evaluate)
    health = b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def half_closed(request: bytes) -> list:
        sock = raw_connection(server)
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answers, rest = [], raw_answer(sock)  # read until the server closes
        sock.close()
        while rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            answers.append((head.split(b"\r\n")[0], json.loads(rest[:length])))
            rest = rest[length:]
        return answers

    with serving(POLICIES, "--ledger", tmp_path / "ledger.sqlite", *[a for k, v in SOURCES.items()
                                                                      for a in (f"--{k}", v)]) as server:
        expected = server.call("POST", "/v1/evaluate", body={"month": "2019-03", "accounts": ["globex"]})[2]
        assert half_closed(post) == [(b"HTTP/1.1 200 OK", expected)]
        [(status, answer)] = half_closed(health)
        assert (status, answer["status"]) == (b"HTTP/1.1 200 OK", "ok")
        # two requests sent at once (pipelined), then the half-close: both answered, in order
        answers = half_closed(post + health)
        assert [status for status, _ in answers] == [b"HTTP/1.1 200 OK"] * 2 and answers[0][1] == expected
        assert answers[1][1]["status"] == "ok"
        # a request and part of the next, then the half-close: the rest never comes, so the whole one is answered and
        # the connection closed (it waited --request-timeout, 30 s, for the rest, then answered it 408)
        for part in (health[:20], post[:len(post) - 5]):  # its head begun; its body begun
            sent = time.monotonic()
            assert half_closed(post + part) == [(b"HTTP/1.1 200 OK", expected)]
            assert time.monotonic() - sent < 20
    assert server.stderr == ""


@pytest.mark.parametrize("option", ["--request-timeout", "--answer-timeout"])
def test_request_timeout_must_be_more_than_zero_seconds(tmp_path, option):
    from conftest import run_cli

    # the value as typed, as the 408 says it ("within 1 s"): Python's float said "0.0" for the 0 typed
    for value, said in (("0", "0"), ("0.0", "0"), ("-1", "-1"), ("-0.5", "-0.5"), ("nan", "nan")):
        result = run_cli("serve", POLICIES, option, value, "--ledger", tmp_path / "ledger.sqlite")
        assert (result.code, result.out) == (2, "")
        assert result.err == f"slapolicy serve: {option} {said} must be more than 0 seconds\n"
    for value in ("inf", "1e999"):  # no deadline at all: what the option is there to set
        result = run_cli("serve", POLICIES, option, value, "--ledger", tmp_path / "ledger.sqlite")
        assert (result.code, result.out, result.err) == (
            2, "", f"slapolicy serve: {option} inf is no limit: give a number of seconds (a day is 86400)\n")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- bodies in another encoding

@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_a_body_in_utf_16_or_utf_32_is_a_400_not_read(app, encoding):
    # json.loads reads bytes in UTF-16 and UTF-32 too: such a body was answered as if sent in UTF-8 (here 422 for the
    # month), although docs/service.md answers a body not in UTF-8 with 400. It said "not UTF-8 (it holds NUL bytes,
    # as UTF-16 and UTF-32 do)": told as every file is (files.wide_encoding), it names the encoding.
    raw = json.dumps({"month": "2019-13"}).encode(encoding)
    said = "UTF-16" if "16" in encoding else "UTF-32"
    for route in ("/v1/evaluate", "/v1/claims", "/v1/replay"):
        status, content_type, answer = asgi(app, "POST", route, raw, JSON)
        assert (status, content_type, answer["detail"]) == (
            400, PROBLEM, f"the request body is {said}, not UTF-8: send it as UTF-8")


def test_a_utf_8_body_with_a_byte_order_mark_is_read_as_the_cli_reads_a_claim_file(app):
    raw = json.dumps({"month": "2019-13"}).encode("utf-8-sig")
    status, _, answer = asgi(app, "POST", "/v1/evaluate", raw, JSON)
    assert (status, answer["detail"]) == (400, "field 'month': '2019-13' is not a month written YYYY-MM")
    status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": ["a\x00"]}', JSON)
    assert (status, answer["detail"]) == (400, "the request body is not UTF-8 (it holds NUL bytes, as UTF-16 and "
                                               "UTF-32 do)")  # a raw NUL is never JSON: a string writes it \u0000


@pytest.mark.parametrize("declared", ["latin-1", "ISO-8859-1", '"windows-1252"'])
def test_a_body_declared_in_another_charset_is_told_the_charset_it_declared(app, declared):
    # A body sent in Latin-1, and declared so (Content-Type: application/json; charset=latin-1), was told only "byte
    # 0xe9 at offset 17 is not" UTF-8: the client's declaration, the cause, went unsaid. And one whose Latin-1 bytes
    # happened to be UTF-8 too ("Ã©", 0xc3 0xa9) was read as UTF-8 ("é"), not as declared. A body of ASCII alone is
    # the same text in either: it is read.
    headers = {"content-type": f"application/json; charset={declared}"}
    said = declared.strip('"')
    for raw, offset, byte in ((b'{"month": "caf\xe9"}', 14, "0xe9"), (b'{"month": "caf\xc3\xa9"}', 14, "0xc3")):
        for route in ("/v1/evaluate", "/v1/claims", "/v1/replay"):
            status, content_type, answer = asgi(app, "POST", route, raw, headers)
            assert (status, content_type, answer["detail"]) == (400, PROBLEM, (
                f"the request body is declared charset={said}, not UTF-8, and holds a byte that is not ASCII (byte "
                f"{byte} at offset {offset}), which would be read otherwise: send it as UTF-8"))
    status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-13"}', headers)
    assert (status, answer["detail"]) == (400, "field 'month': '2019-13' is not a month written YYYY-MM")
    for utf8 in ("utf-8", "UTF8", '"utf-8"'):  # declared UTF-8: read as such, and its own errors told
        status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "caf\xe9"}',
                                 {"content-type": f"application/json; charset={utf8}"})
        assert (status, answer["detail"]) == (400, "the request body is not UTF-8: byte 0xe9 at offset 14 is not: "
                                                   "send it as UTF-8")


def test_an_empty_list_of_accounts_is_refused_in_the_words_of_json(app):
    # the engine's ArgumentError said "leave it out (None)": Python's word, not one a JSON client writes
    status, content_type, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": []}', JSON)
    assert (status, content_type, answer["detail"]) == (
        400, PROBLEM, "field 'accounts' is empty: name at least one account, or leave it out (or null) for every account")
    status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-03", "accounts": null}', JSON)
    assert (status, [e["account"] for e in answer["evaluations"]]) == (200, ["acme", "globex", "initech"])


NO_MINUTES = {"code": "no_minutes_with_data", "clause": "§1.4", "minutes": 44640,
              "message": "none of the Service Month's 44640 minutes has data for this account: they all count as "
                         "available (§1.4); check that its minutes were not lost (by monitoring, or left out of the file "
                         "or request)"}


def test_an_empty_list_of_minutes_evaluates_as_the_cli_evaluates_a_file_without_rows_and_warns(app, tmp_path):
    # "minutes": [] evaluated every billed account as available all month (§1.4: a minute without data has no failed
    # request), silently: as the CLI did with a minutes file of a header alone. Both now warn, in the same words.
    status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2019-03", "minutes": []}', JSON)
    assert status == 200
    # (the service's incidents add their own warning for the provider's incidents over minutes without data)
    assert [(e["account"], e["minutes_with_data"], e["availability_percent"], e["compensation"], e["warnings"][0])
            for e in answer["evaluations"]] == [(account, 0, "100.00", "0.00", NO_MINUTES)
                                                for account in ("acme", "globex", "initech")]
    assert {"step": "warning", "clause": "§1.4", "detail": NO_MINUTES["message"]} in answer["evaluations"][0]["trace"]
    header = tmp_path / "minutes.csv"
    header.write_text("account,minute,requests,failures\n")
    from conftest import run_cli

    result = run_cli("evaluate", POLICIES, "--minutes", header, "--month", "2019-03", "--billing", SOURCES["billing"])
    assert result.code == 0, result.err
    assert [e["warnings"] for e in result.json()["evaluations"]] == [[NO_MINUTES]] * 3
    # one minute of data is data: no warning (here globex's, 100 requests without a failure)
    one = json.dumps({"month": "2019-03", "accounts": ["globex"], "minutes": [
        {"account": "globex", "minute": "2019-03-12T10:00", "requests": 100, "failures": 0}]}).encode()
    status, _, answer = asgi(app, "POST", "/v1/evaluate", one, JSON)
    assert (status, answer["evaluations"][0]["minutes_with_data"]) == (200, 1)
    assert [w["code"] for w in answer["evaluations"][0]["warnings"]] == ["provider_incident_without_data"]  # I-3 only


# ---------------------------------------------------------------------------- what uvicorn answers itself

NOT_HTTP_BODY = (b'{"type":"urn:slapolicy:problem:bad-request","title":"Bad Request","status":400,"detail":"the '
                 b'request is not HTTP/1.1 that can be read (its request line or a header is malformed, or its head is '
                 b'too large)"}')
NOT_HTTP = (b'HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: '
            + str(len(NOT_HTTP_BODY)).encode() + b'\r\nconnection: close\r\n\r\n' + NOT_HTTP_BODY)
TOO_MANY = {"type": "urn:slapolicy:problem:too-many-connections", "title": "Service Unavailable", "status": 503,
            "detail": "the service has 2 connections open, its limit (--max-connections): try again shortly "
                      "(docs/service.md)"}


@pytest.mark.slow  # starts a server
def test_what_uvicorn_answers_itself_is_problem_details_and_connections_are_bounded(tmp_path):
    # uvicorn answered a request it could not parse with a plain-text 400 ("Invalid HTTP request received."), and
    # bounded no connections (its limit_concurrency answers a plain-text 503).
    import http.client

    from serving import serving

    with serving(POLICIES, "--max-connections", 2, "--ledger", tmp_path / "ledger.sqlite") as server:
        # (a head too large is answered so too, but while the client is still sending it: the close resets the
        # connection, and whether the client reads the answer first is a race)
        for garbage in (b"GARBAGE\r\n\r\n", b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n",
                        b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: x\r\n\r\n"):
            sock = raw_connection(server)
            sock.sendall(garbage)
            assert raw_answer(sock) == NOT_HTTP
            sock.close()
        held = [http.client.HTTPConnection(server.host, server.port, timeout=20) for _ in range(2)]
        for connection in held:  # two kept-alive connections: the limit
            assert server.call("GET", "/v1/health", connection=connection)[0] == 200
        status, content_type, answer = server.call("GET", "/v1/health")
        assert (status, content_type, answer) == (503, PROBLEM, TOO_MANY)
        held[0].close()
        assert wait_until(lambda: server.call("GET", "/v1/health")[0] == 200, 10)
        assert server.call("GET", "/v1/versions", connection=held[1])[0] == 200  # the ones within it are served
        held[1].close()
    assert not (tmp_path / "ledger.sqlite").exists()


def test_max_connections_below_one_is_a_usage_error():
    from conftest import run_cli

    result = run_cli("serve", POLICIES, "--max-connections", "0")
    assert (result.code, result.out, result.err) == (2, "", "slapolicy serve: --max-connections 0 must be at least 1\n")


# ---------------------------------------------------------------------------- the OpenAPI document against the service

@pytest.mark.slow
def test_the_openapi_document_names_every_problem_the_service_answers_and_on_every_route(app):
    # The document listed neither 408 (too slow), 421 (another Host) nor 503 beyond --dask, and its list of problem
    # types left out request-timeout and misdirected; evaluations' warnings were not described.
    import re

    from openapi_spec_validator import validate
    from slapolicy.service_openapi import PROBLEM_KINDS

    status, _, document = asgi(app, "GET", "/openapi.json")
    assert status == 200
    validate(document)
    source = (REPO / "engine" / "slapolicy" / "service.py").read_text()
    answered = set(re.findall(r'Problem\(\d+, "([a-z-]+)"', source))
    answered |= set(re.findall(r'problem_(?:bytes|body)\(\d+, "[^"]+", "([a-z-]+)"', source))
    answered |= {"method-not-allowed"}  # Starlette's 405, named in http_problem
    assert answered == set(PROBLEM_KINDS)
    assert document["components"]["schemas"]["Problem"]["properties"]["type"]["description"] == (
        "urn:slapolicy:problem: " + ", ".join(PROBLEM_KINDS))
    table = (REPO / "docs" / "service.md").read_text().split("## Errors")[1].split("**Null.**")[0]
    assert set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", table.split("| CLI |")[1])) >= set(PROBLEM_KINDS)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert {"400", "408", "421", "503"} <= set(operation["responses"]), (path, method)
    evaluation = document["components"]["schemas"]["Evaluation"]["properties"]
    assert evaluation["warnings"]["items"]["required"] == ["code", "clause", "message"]


# ---------------------------------------------------------------------------- the server's file layout stays its own

def test_a_replay_answer_names_the_version_replayed_under_within_the_policy_directory_not_by_a_server_path(app):
    # The answer said where the service's files are ("file": "/srv/…/policies/ccc/drafts/NAME.yaml", and the 404 of
    # an unknown draft "no draft 'x' in /srv/…/policies/ccc/drafts"): a client named the draft by its file name, and
    # needs to know which file of the policy directory was replayed under, not where that directory is.
    from slapolicy import Engine

    draft = "2027-01-01-standard-99.95.yaml"
    for under, file in ((draft, f"drafts/{draft}"), ("2019-01-01.yaml", "2019-01-01.yaml")):
        status, _, answer = asgi(app, "POST", "/v1/replay",
                                 json.dumps({"from": "2019-03", "to": "2019-03", "under": under}).encode(), JSON)
        assert (status, answer["under"]["file"]) == (200, file)
    assert answer["totals"]["overall"]["delta"] == "0.00"  # under the version in force: nothing changes
    status, _, answer = asgi(app, "POST", "/v1/replay",
                             json.dumps({"from": "2019-03", "to": "2019-03", "under": draft}).encode(), JSON)
    # the rest is the engine's answer, the CLI's JSON
    expected = Engine(POLICIES).replay(minutes=SOURCES["minutes"], start="2019-03", end="2019-03",
                                       under=POLICIES / "drafts" / draft, billing=SOURCES["billing"],
                                       incidents=SOURCES["incidents"], notices=SOURCES["notices"])
    assert answer == expected | {"under": expected["under"] | {"file": f"drafts/{draft}"}}
    assert answer["totals"]["overall"]["delta"] == "250.00"  # acme: 99.90 % < 99.95 % → tier 10 % of 2500.00
    status, content_type, answer = asgi(app, "POST", "/v1/replay",
                                        json.dumps({"from": "2019-03", "to": "2019-03", "under": "none.yaml"}).encode(),
                                        JSON)
    assert (status, content_type, answer["detail"]) == (
        404, PROBLEM, f"field 'under': no draft 'none.yaml' in the policy directory's drafts/ (drafts: {draft})")
    assert str(REPO) not in json.dumps(answer)


def test_a_replay_under_a_draft_that_cannot_be_used_names_it_within_the_policy_directory_not_by_a_server_path(
        tmp_path):
    # The answer of a replay names its draft within the policy directory (drafts/NAME.yaml), but its 422, for a draft
    # that is not valid YAML, fails the schema or is of another agreement, said where the server keeps its files
    # ('/srv/…/policies/ccc/drafts/broken.yaml:3:3: error yaml-syntax …', in the detail and each diagnostic's file).
    import shutil

    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    family = tmp_path / "served" / "ccc"
    shutil.copytree(POLICIES, family)
    drafts = family / "drafts"
    good = (drafts / "2027-01-01-standard-99.95.yaml").read_text()
    (drafts / "broken.yaml").write_text('id: ccc-sla\nversion: "2027-01-01"\n  bad: [\n')
    (drafts / "other agreement.yaml").write_text(good.replace("id: ccc-sla", "id: voice-sla", 1))
    app = create_app(Engine(family, ledger=tmp_path / "ledger.sqlite"), Sources(**SOURCES), loopback_only=True)
    for under, line, code in (("broken.yaml", "3:3", "yaml-syntax"), ("other agreement.yaml", "", "family-id")):
        status, content_type, answer = asgi(app, "POST", "/v1/replay", json.dumps(
            {"from": "2019-03", "to": "2019-03", "under": under}).encode(), JSON)
        assert (status, content_type, answer["type"]) == (422, PROBLEM, "urn:slapolicy:problem:policy-error")
        assert [(d["file"], d["code"]) for d in answer["diagnostics"]] == [(f"drafts/{under}", code)]
        assert answer["detail"].startswith(f"drafts/{under}:{line}")
        assert str(tmp_path) not in json.dumps(answer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]  # nothing written: no ledger for a replay


def test_the_terms_of_the_version_in_force_name_its_file_within_the_policy_directory_as_versions_does(app):
    # GET /v1/policy answered "file": "/srv/…/policies/ccc/2019-01-01.yaml" (slapolicy show's field, where the path is
    # the user's own), while GET /v1/versions names each version's file by its name alone; the rest is show's JSON.
    from slapolicy import Engine
    from slapolicy.policy.terms import policy_terms

    status, _, terms = asgi(app, "GET", "/v1/policy?month=2019-03")
    assert (status, terms["policy"]["file"]) == (200, "2019-01-01.yaml")
    assert asgi(app, "GET", "/v1/versions")[2]["versions"][0]["file"] == "2019-01-01.yaml"
    shown = policy_terms(Engine(POLICIES).family.in_force("2019-03"))
    assert terms == {"month": "2019-03", **shown, "policy": shown["policy"] | {"file": "2019-01-01.yaml"}}
    assert str(REPO) not in json.dumps(terms)


def test_an_evaluation_under_a_named_version_names_its_file_within_the_policy_directory(app):
    # policy_version: the trace said "evaluated under 2019-01-01 (/srv/…/policies/ccc/2019-01-01.yaml) as asked"
    status, _, answer = asgi(app, "POST", "/v1/evaluate",
                             b'{"month": "2019-03", "accounts": ["globex"], "policy_version": "2019-01-01"}', JSON)
    (evaluation,) = answer["evaluations"]
    assert (status, evaluation["trace"][0]) == (200, {
        "step": "version", "clause": "§6.2",
        "detail": "evaluated under 2019-01-01 (2019-01-01.yaml) as asked, instead of 2019-01-01, the version in force"})
    assert str(REPO) not in json.dumps(answer)


# ---------------------------------------------------------------------------- engine calls at once

@pytest.mark.parametrize("limit", [1, 3, 6])
def test_at_most_max_concurrent_engine_calls_run_at_once_and_the_others_wait_their_turn(tmp_path, limit):
    # The service ran at most 4 engine calls at once, whatever --workers or --dask gave it: with a Dask cluster, four
    # long replays held every slot while the cluster idled. --max-concurrent sets it.
    import asyncio

    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    engine.evaluate = calls = EngineCallsAtOnce(limit)
    app = create_app(engine, Sources(**SOURCES), loopback_only=True, max_concurrent=limit)
    body = json.dumps({"month": "2019-03"}).encode()

    async def one():
        sent, given = [], [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return given.pop(0) if given else await client_stays()

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/v1/evaluate", "raw_path": b"/v1/evaluate", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        await app(scope, receive, send)
        return sent[0]["status"]

    # Two calls more than the limit: a service that let one more run shows it (each call holds 50 ms once `limit`
    # run together); eight calls at a limit of 1 held the fast loop 0.4 s, one after the other.
    async def many():
        return await asyncio.gather(*(one() for _ in range(limit + 2)))

    assert asyncio.run(many()) == [200] * (limit + 2)
    assert calls.most == limit


def test_the_versions_and_terms_served_are_answered_while_every_turn_is_taken_by_long_calls(tmp_path):
    # GET /v1/versions and /v1/policy waited for a turn behind the evaluations, claims and replays: with four long
    # replays running, a monitor asking which versions are served (their sha256) waited minutes, and timed out. They
    # read the snapshot alone, and are answered beside the engine calls.
    import asyncio
    import threading

    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    release, started = threading.Event(), threading.Event()

    def evaluate(**_):
        started.set()
        release.wait(30)
        return {"evaluations": []}

    engine.evaluate = evaluate
    app = create_app(engine, Sources(**SOURCES), loopback_only=True, max_concurrent=1)

    async def call(method: str, path: str, body: bytes = b""):
        sent, given = [], [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return given.pop(0) if given else await client_stays()

        async def send(message):
            sent.append(message)

        target, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
                 "path": target, "raw_path": target.encode(), "query_string": query.encode(), "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        await app(scope, receive, send)
        return sent[0]["status"]

    async def meanwhile():
        busy = asyncio.ensure_future(call("POST", "/v1/evaluate", b'{"month": "2019-03"}'))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
        try:
            answered = await asyncio.wait_for(asyncio.gather(call("GET", "/v1/versions"),
                                                             call("GET", "/v1/policy?month=2019-03")), 10)
            assert not busy.done()
        finally:
            release.set()
        return answered, await busy

    assert asyncio.run(meanwhile()) == ([200, 200], 200)


@pytest.mark.parametrize("route,body", [("/v1/evaluate", {"month": "2019-03"}), ("/v1/claims", CLAIM),
                                        ("/v1/replay", {"from": "2019-03", "to": "2019-03",
                                                        "under": "2027-01-01-standard-99.95.yaml"})])
def test_a_request_whose_client_is_gone_when_its_turn_comes_is_not_run(tmp_path, route, body):
    # A client that sent its request and reset its connection freed the connection, and its request still waited for
    # its turn and ran: any number of evaluations or replays could be queued past --max-connections, each worked out
    # for nobody (a claim decided and recorded for a client that could not know it arrived). A request whose client is
    # still there when its turn comes runs.
    import asyncio
    import threading

    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    engine = Engine(POLICIES, ledger=tmp_path / "ledger.sqlite")
    release, started, ran = threading.Event(), threading.Event(), []

    def holding(**_):
        ran.append("evaluate")
        started.set()
        release.wait(30)
        return {"evaluations": []}

    engine.evaluate = holding
    engine.decide_claim = lambda *args, **kwargs: ran.append("claim") or {"repeated": True}
    engine.replay = lambda **kwargs: ran.append("replay") or {"under": {}}
    app = create_app(engine, Sources(**SOURCES), loopback_only=True, max_concurrent=1)

    async def call(path: str, sent_body: dict, stays: bool):
        sent, given = [], [{"type": "http.request", "body": json.dumps(sent_body).encode(), "more_body": False}]

        async def receive():
            if given:
                return given.pop(0)
            return await client_stays() if stays else {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
        await app(scope, receive, send)
        return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))

    async def queued():
        busy = asyncio.ensure_future(call("/v1/evaluate", {"month": "2019-03"}, True))  # holds the one turn
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 30)
        gone = asyncio.ensure_future(call(route, body, False))
        await asyncio.sleep(0.1)  # waiting for the turn
        release.set()
        return await busy, await gone

    (busy, gone) = asyncio.run(queued())
    # answered 499 (nobody reads it; an access log around the application records it): a 400 told the log the request
    # was malformed, where it was whole and its client went
    assert (busy[0], gone[0], gone[1]["type"], gone[1]["detail"], ran) == (
        200, 499, "urn:slapolicy:problem:client-closed-request",
        "the client closed the connection before the request's turn came: nothing was run", ["evaluate"])
    kind = {"/v1/evaluate": "evaluate", "/v1/claims": "claim", "/v1/replay": "replay"}[route]
    assert (asyncio.run(call(route, body, True))[0], ran) == (200, ["evaluate", kind])


@pytest.mark.parametrize("route", ["/v1/evaluate", "/v1/claims", "/v1/replay"])
def test_a_request_whose_client_goes_before_its_body_is_whole_is_answered_499_not_400(app, route):
    # The client sent half its body and went: the request was answered (and so logged, by an access log around the
    # application) 400 "The request is malformed", as if the client had sent a malformed request.
    import asyncio

    from serving import asgi_scope

    given = [{"type": "http.request", "body": b'{"month": "20', "more_body": True}, {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return given.pop(0)

    async def send(message):
        sent.append(message)

    scope = asgi_scope("POST", route, {"content-type": "application/json", "content-length": "40"})
    asyncio.run(app(scope, receive, send))
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert (sent[0]["status"], body["type"], body["title"], body["detail"]) == (
        499, "urn:slapolicy:problem:client-closed-request", "The client closed the connection",
        "the client closed the connection before the request body was whole")


@pytest.mark.parametrize("route,body", [
    ("/v1/evaluate", {"month": "2019-03", "minutes": []}),
    ("/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "2027-01-01-standard-99.95.yaml"}),
    ("/v1/claims", CLAIM),
])
def test_a_request_body_is_read_as_json_and_checked_in_a_worker_thread_not_on_the_event_loop(app, monkeypatch, route,
                                                                                           body):
    # A body of --max-body (1 MiB: ~11,800 inline minutes) took 0.2-0.45 s to check against its schema, and
    # json.loads and the Unicode check ~0.05 s more, on the event loop: meanwhile it answered nothing, GET /v1/health
    # included, and a few such requests at once stalled it for seconds. They run in the request's turn now.
    import threading

    import slapolicy.files
    import slapolicy.service as service

    loop_thread, seen = threading.get_ident(), []
    for module, name in ((service, "check_body"), (service, "claim_object"), (slapolicy.files, "valid_unicode")):
        def watched(*args, _real=getattr(module, name), _name=name, **kwargs):
            seen.append((_name, threading.get_ident() != loop_thread))
            return _real(*args, **kwargs)
        monkeypatch.setattr(module, name, watched)
    monkeypatch.setattr(service, "valid_unicode", slapolicy.files.valid_unicode, raising=False)
    status = asgi(app, "POST", route, json.dumps(body).encode(), JSON)[0]
    assert status in (200, 201)
    checked = "claim_object" if route == "/v1/claims" else "check_body"
    assert (checked, True) in seen and ("valid_unicode", True) in seen
    assert all(off_loop for _, off_loop in seen), seen


@pytest.mark.parametrize("given,message", [
    ("0", "--max-concurrent 0 must be at least 1"),
    ("41", "--max-concurrent 41 is more than 40, the engine calls the service runs at once at most (each holds a "
           "thread, and up to three open files of the ledger): 40 already keep a Dask cluster busy, as each call "
           "spreads its work over all of it"),
])
def test_max_concurrent_beyond_its_bounds_is_a_usage_error(given, message):
    from conftest import run_cli

    result = run_cli("serve", POLICIES, "--max-concurrent", given)
    assert (result.code, result.out, result.err) == (2, "", f"slapolicy serve: {message}\n")


def undescribed(answer, schema: dict, schemas: dict, where: str = "") -> list[str]:
    """The fields of ``answer`` that ``schema`` (an OpenAPI schema, its $refs into ``schemas``) does not name, where it
    names the fields of an object; and each value of the wrong JSON type."""
    from jsonschema import Draft202012Validator

    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    found = [f"{where or '(the answer)'}: {error.message}" for error in
             Draft202012Validator({k: v for k, v in schema.items() if k not in ("properties", "items")}).iter_errors(answer)]
    if isinstance(answer, dict) and "properties" in schema:
        for key, value in answer.items():
            if key not in schema["properties"]:
                if schema.get("additionalProperties") is not True:
                    found.append(f"{where}.{key}".lstrip("."))
                continue
            found += undescribed(value, schema["properties"][key], schemas, f"{where}.{key}".lstrip("."))
    if isinstance(answer, list) and "items" in schema:
        for index, value in enumerate(answer):
            found += undescribed(value, schema["items"], schemas, f"{where}[{index}]")
    return found


@pytest.mark.slow  # every route, a replay and two claims: ~2 s
def test_every_field_status_and_content_type_the_service_answers_is_the_openapi_documents(tmp_path):
    # Checked against real answers, not only valid: an evaluation's raw_unavailable_minutes, availability_exact and
    # before_aggregate_cap, a decision's account, message, filed_at, decided_at, compensation_detail, reconciliation
    # and inputs_digest, and everything of a replay but its rows and totals (under, months, rows_read, ...) were
    # answered without the document naming them, so a client generated from it dropped them.
    app = application(tmp_path / "ledger.sqlite")
    document = asgi(app, "GET", "/openapi.json")[2]
    schemas = document["components"]["schemas"]
    claim = json.dumps(CLAIM).encode()
    decided = asgi(app, "POST", "/v1/claims", claim, JSON)[2]["decision_id"]
    requests = [("GET", "/v1/health", "/v1/health", b""), ("GET", "/v1/versions", "/v1/versions", b""),
                ("GET", "/v1/policy?month=2019-03", "/v1/policy", b""),
                ("GET", "/v1/policy?month=2018-12", "/v1/policy", b""),
                ("POST", "/v1/evaluate", "/v1/evaluate", b'{"month": "2019-03"}'),
                ("POST", "/v1/evaluate", "/v1/evaluate", b'{"month": "2019-03", "minutes": []}'),
                ("POST", "/v1/evaluate", "/v1/evaluate", b'{"month": "2019-13"}'),
                ("POST", "/v1/claims", "/v1/claims", claim),
                ("POST", "/v1/claims", "/v1/claims", json.dumps(CLAIM | {"filed_at": "2019-06-30T10:00+08:00",
                                                                        "account": "acme"}).encode()),
                ("GET", f"/v1/claims/{decided}", "/v1/claims/{decision_id}", b""),
                ("GET", "/v1/claims/D-00000000000000000000", "/v1/claims/{decision_id}", b""),
                ("POST", "/v1/replay", "/v1/replay",
                 b'{"from": "2019-02", "to": "2019-03", "under": "2027-01-01-standard-99.95.yaml"}'),
                ("GET", "/openapi.json", "/openapi.json", b"")]
    seen = set()
    for method, path, route, body in requests:
        status, content_type, answer = asgi(app, method, path, body, JSON if body else None)
        described = document["paths"][route][method.lower()]["responses"]
        assert str(status) in described, (method, path, status)
        (media, content), = described[str(status)]["content"].items()
        assert content_type == media, (method, path, status)
        missing = undescribed(answer, content["schema"], schemas)
        assert missing == [], (method, path, status, missing)
        seen.add((route, status))
    assert {"/v1/claims": {200, 201}, "/v1/policy": {200, 404}} == {
        route: {s for r, s in seen if r == route} for route in ("/v1/claims", "/v1/policy")}


def large_answer_request(accounts: int) -> bytes:
    """A POST /v1/evaluate of one minute for each of ``accounts`` accounts, whose answer is ~2 KB an account."""
    rows = [{"account": f"acct{n:05d}", "minute": "2019-03-12T10:00", "requests": 100, "failures": 2}
            for n in range(accounts)]
    body = json.dumps({"month": "2019-03", "minutes": rows}).encode()
    return (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close"
            b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def take_answer(server, request: bytes, *, pause: float = 0, bursts: float = 0, wait: float) -> tuple[int, int]:
    """(bytes of the answer's body read, its length as its head declares it), on a connection whose receive buffer
    is a page (the answer waits at the server): ``pause`` seconds before reading, ``bursts`` seconds slept after
    each megabyte read, until the server closes the connection (read whole) or drops it (a reset, or the end)."""
    import socket
    import time

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((server.host, server.port))
        sock.sendall(request)
        time.sleep(pause)
        sock.settimeout(wait)
        chunks = []
        try:
            while chunk := sock.recv(1 << 20):
                chunks.append(chunk)
                if bursts and sum(map(len, chunks)) // (1 << 20) > (sum(map(len, chunks)) - len(chunk)) // (1 << 20):
                    time.sleep(bursts)
        except ConnectionResetError:
            pass
    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    return len(rest), int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])


# ---------------------------------------------------------------------------- the policy directory itself

def test_the_policy_directory_is_named_by_its_own_name_in_every_answer_never_where_the_server_keeps_it(tmp_path):
    # GET /v1/versions answered "policy_dir": "/srv/…/policies/ccc" (the path given to slapolicy serve), a month
    # before every version "no version of /srv/…/policies/ccc is in force", and a directory that failed to load
    # "refresh_error": "/srv/…/policies/ccc/2019-06-01.yaml:1:5: …": where the server keeps its policies, told to every
    # client, which names the directory's files within it everywhere else
    import shutil

    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    family = tmp_path / "served" / "ccc"
    family.mkdir(parents=True)
    for name in ("2019-01-01.yaml", "versions.lock"):
        shutil.copy(POLICIES / name, family / name)
    app = create_app(Engine(family), Sources(**SOURCES), loopback_only=True)
    status, _, listed = asgi(app, "GET", "/v1/versions")
    assert (status, listed["policy_dir"], listed["refresh_error"]) == (200, "ccc", None)
    said = ("no version of ccc is in force for the Service Month starting 2018-12-01: the earliest version takes effect "
            "on 2019-01-01")
    status, _, answer = asgi(app, "GET", "/v1/policy?month=2018-12")
    assert (status, answer["detail"]) == (404, said)
    status, _, answer = asgi(app, "POST", "/v1/evaluate", b'{"month": "2018-12"}', JSON)
    assert (status, answer["detail"]) == (404, said)
    (family / "2019-06-01.yaml").write_text("id: [unclosed\n")
    status, _, listed = asgi(app, "GET", "/v1/versions")
    assert (status, listed["policy_dir"]) == (200, "ccc")
    assert listed["refresh_error"].startswith("2019-06-01.yaml:1:1: error unlocked published version not recorded in "
                                              "versions.lock")
    assert str(tmp_path) not in json.dumps(listed)


# ---------------------------------------------------------------------------- a month evaluated without billing

def test_the_trace_of_a_month_evaluated_without_billing_says_how_a_client_gives_it(tmp_path):
    # The trace said "no billing for this account and month: no amount computed"; the CLI's now names --billing,
    # which a client of the service does not give: it is told to send the rows or start the service with them.
    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    app = create_app(Engine(POLICIES, ledger=tmp_path / "ledger.sqlite"), Sources(minutes=SOURCES["minutes"]),
                     loopback_only=True)
    body = {"month": "2019-03", "accounts": ["globex"]}
    status, _, answer = asgi(app, "POST", "/v1/evaluate", json.dumps(body).encode(), JSON)
    (evaluation,) = answer["evaluations"]
    assert (status, evaluation["availability_percent"], evaluation["credit_percent"], evaluation["compensation"]) == (
        200, "99.36", 10, None)
    assert evaluation["trace"][-1] == {
        "step": "compensation", "clause": "§1.3",
        "detail": "no billing was given: no amount computed (the credit is a percentage of the Monthly Service Fee, "
                  "which the billing gives: send it inline, 'billing': [...], or start the service with --billing)"}
    # billing sent inline without a row for the account: the same words as the CLI's, for a bill the billing lacks
    body["billing"] = [{"account": "acme", "month": "2019-03", "monthly_fee": "100.00", "offset": "0.00"}]
    status, _, answer = asgi(app, "POST", "/v1/evaluate", json.dumps(body).encode(), JSON)
    assert (status, answer["evaluations"][0]["trace"][-1]) == (200, {
        "step": "compensation", "clause": "§1.3",
        "detail": "the billing given has no row for this account and month: no amount computed"})


def test_a_claim_owed_compensation_on_a_service_started_without_billing_is_409_naming_the_option(tmp_path):
    # Its client was answered 422 invalid-input, 'billing for account 'globex', 2019-03 is needed to compute the
    # compensation (--billing)': an option of the CLI, and the client's fault, though a claim has no billing field
    # and only the service's operator can give it. Nothing is recorded, as for the CLI.
    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    ledger = tmp_path / "ledger.sqlite"
    without = create_app(Engine(POLICIES, ledger=ledger), Sources(**(SOURCES | {"billing": None})), loopback_only=True)
    status, content_type, answer = asgi(without, "POST", "/v1/claims", json.dumps(CLAIM).encode(), JSON)
    assert (status, content_type, answer["type"]) == (409, PROBLEM, "urn:slapolicy:problem:not-configured")
    assert answer["detail"] == ("billing for account 'globex', 2019-03 is needed to compute the compensation: start the "
                                "service with --billing")
    assert not ledger.exists()


def test_the_trace_of_a_claim_decided_without_billing_says_how_the_service_is_given_it(tmp_path):
    # A claim's decision holds its month's evaluation, whose trace said, in the service's answer, the CLI's words: 'give
    # --billing FILE, in Python billing=' (neither of which a client of the service gives; nor can a claim carry rows).
    # Its answer, the same claim sent again and the decision asked for by id now say the service's; the ledger keeps the
    # decision as the engine made it.
    from slapolicy import Engine
    from slapolicy.ledger import Ledger
    from slapolicy.service import Sources, create_app

    ledger = tmp_path / "ledger.sqlite"
    app = create_app(Engine(POLICIES, ledger=ledger), Sources(minutes=SOURCES["minutes"]), loopback_only=True)
    claim = json.loads((EXAMPLES / "claim-acme-2019-03-by-email.json").read_text())  # a month meeting the standard
    said = {"step": "compensation", "clause": "§1.3",
            "detail": "no billing was given: no amount computed (the credit is a percentage of the Monthly Service Fee, "
                      "which the billing gives: the service decides claims from the billing it was started with: "
                      "start it with --billing)"}
    status, _, decided = asgi(app, "POST", "/v1/claims", json.dumps(claim).encode(), JSON)
    assert (status, decided["decision"], decided["evaluation"]["compensation"], decided["evaluation"]["trace"][-1]) == (
        201, "denied", None, said)
    status, _, again = asgi(app, "POST", "/v1/claims", json.dumps(claim).encode(), JSON)
    assert (status, again["repeated"], again["evaluation"]["trace"][-1]) == (200, True, said)
    status, _, found = asgi(app, "GET", f"/v1/claims/{decided['decision_id']}")
    assert (status, found["evaluation"]["trace"][-1]) == (200, said)
    with Ledger(ledger, create=False, readonly=True) as book:
        assert book.decision(decided["decision_id"])["evaluation"]["trace"][-1]["detail"].endswith(
            "give --billing FILE, in Python billing=)")
