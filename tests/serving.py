"""Start the real `slapolicy serve` process on a free loopback port, and talk HTTP to it."""
import asyncio
import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "ccc"
DATA = ["--minutes", EXAMPLES / "minutes.csv", "--incidents", EXAMPLES / "incidents.yaml",
        "--notices", EXAMPLES / "notices.yaml", "--billing", EXAMPLES / "billing.csv"]


def as_served(result):
    """An evaluation's JSON (``{"evaluations": [...]}``, or one evaluation) as `slapolicy serve` answers it: the same,
    but for a month evaluated without billing, whose trace tells a client how to send it rather than the CLI's
    ``--billing`` (docs/service.md)."""
    from slapolicy.evaluation.compensation import NO_BILLING_GIVEN
    from slapolicy.service import NO_BILLING_SENT

    return json.loads(json.dumps(result).replace(json.dumps(NO_BILLING_GIVEN), json.dumps(NO_BILLING_SENT)))


class Server:
    def __init__(self, process: subprocess.Popen, host: str, port: int, banner: str):
        self.process, self.host, self.port, self.banner = process, host, port, banner
        self.url = f"http://{host}:{port}"

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, headers=None, connection=None):
        """(status, content type, parsed JSON body) of one request; `connection` reuses a keep-alive connection."""
        conn = connection or http.client.HTTPConnection(self.host, self.port, timeout=120)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=sent | (headers or {}))
        response = conn.getresponse()
        payload = response.read()
        if connection is None:
            conn.close()
        return response.status, response.getheader("Content-Type"), json.loads(payload) if payload else None


# `python -m slapolicy.cli`, with SIGHUP as a terminal's job has it (its default), or ignored as under nohup: a process
# inherits an ignored signal, and serve keeps nohup's SIG_IGN (docs/cli.md), so a suite run under nohup (or by a runner
# that ignores SIGHUP) saw a server that a test stopped with SIGHUP serve on, and failed after 30 s.
SERVE = """
import runpy, signal, sys
signal.signal(signal.SIGHUP, signal.SIG_IGN if sys.argv.pop(1) == "ignored" else signal.SIG_DFL)
runpy.run_module("slapolicy.cli", run_name="__main__", alter_sys=True)
"""


@contextlib.contextmanager
def serving(policy_dir, *options, timeout: float = 60, hangup: str = "default"):
    """`slapolicy serve POLICY_DIR --port 0 OPTIONS...`; yields a Server once it printed where it listens. ``hangup``:
    "default", or "ignored" (as nohup starts it)."""
    argv = [sys.executable, "-c", SERVE, hangup, "serve", str(policy_dir), "--port", "0", *map(str, options)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                               env=os.environ | {"PYTHONUNBUFFERED": "1"})
    banner = []
    reader = threading.Thread(target=lambda: banner.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not banner or not banner[0]:
        process.kill()
        raise AssertionError(f"the server did not start: {process.stderr.read()}")
    found = re.search(r"http://([0-9.]+):([0-9]+)/v1", banner[0])
    server = Server(process, found.group(1), int(found.group(2)), banner[0])
    try:
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.stderr = process.stderr.read()


def wait_until(predicate, seconds: float = 30, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


class EngineCallsAtOnce:
    """A stand-in for `Engine.evaluate` that counts the calls running at once (`most`). Each call waits, up to 10 s,
    until `expected` calls have run together, then holds 50 ms more: the count reaches the limit however a loaded
    machine schedules the threads (calls that only slept 50 ms reached 5 of a limit of 6 under load), and a service
    that let more run at once shows them."""

    def __init__(self, expected: int):
        self.expected, self.running, self.most = expected, 0, 0
        self.changed = threading.Condition()

    def __call__(self, *_, **__):
        with self.changed:
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.notify_all()
            self.changed.wait_for(lambda: self.most >= self.expected, timeout=10)
        time.sleep(0.05)
        with self.changed:
            self.running -= 1
        return {"evaluations": []}


def examples_app(ledger: Path):
    """(``slapolicy serve``'s application in-process over the examples' minutes and billing, on a loopback address,
    deciding claims into ``ledger``; ``ledger``)."""
    from slapolicy import Engine
    from slapolicy.service import Sources, create_app

    sources = Sources(minutes=str(EXAMPLES / "minutes.csv"), billing=str(EXAMPLES / "billing.csv"))
    return create_app(Engine(REPO / "policies" / "ccc", ledger=ledger), sources, loopback_only=True), ledger


async def client_stays():
    """An ASGI ``receive`` once the request is read, as uvicorn's for a client still there: it waits until the client
    goes (never, here). Answered ``http.disconnect`` at once, the request's client is gone: its engine call is not run
    (docs/service.md)."""
    await asyncio.Event().wait()


def asgi_scope(method: str, path: str, headers: dict | list | None = None) -> dict:
    """The ASGI scope uvicorn hands ``slapolicy serve``'s application for a request from this machine. ``headers``: a
    dict, or a list of (name, value) pairs for a header given more than once."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if not any(name.lower() == "host" for name, _ in pairs):
        pairs.insert(0, ("host", "127.0.0.1:8000"))
    path, _, query = path.partition("?")
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            # the path decoded, as uvicorn hands it (its raw_path is the path as sent)
            "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in pairs if v is not None],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}


def asgi(app, method: str, path: str, body: bytes = b"", headers: dict | list | None = None):
    """(status, content type, JSON body) of one request handed to ``slapolicy serve``'s application in-process
    (``slapolicy.service.create_app``), as uvicorn hands it: no server process, so fast."""
    scope = asgi_scope(method, path, headers)
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent = []

    async def receive():
        return incoming.pop(0) if incoming else await client_stays()

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    content_type = dict(start["headers"]).get(b"content-type", b"").decode()
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], content_type, json.loads(payload) if payload else None


def raw_connection(server):
    """A socket to a test server (``serving``), for requests written byte by byte (what http.client cannot send)."""
    import socket

    sock = socket.create_connection((server.host, server.port))
    sock.settimeout(20)
    return sock


def raw_answer(sock) -> bytes:
    """Everything the server sends on ``sock`` until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received
