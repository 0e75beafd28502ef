"""Start the real `slapolicy serve` process on a free loopback port, and talk HTTP to it."""
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

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "ccc"
DATA = ["--minutes", EXAMPLES / "minutes.csv", "--incidents", EXAMPLES / "incidents.yaml",
        "--notices", EXAMPLES / "notices.yaml", "--billing", EXAMPLES / "billing.csv"]


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


@contextlib.contextmanager
def serving(policy_dir, *options, timeout: float = 60):
    """`slapolicy serve POLICY_DIR --port 0 OPTIONS...`; yields a Server once it printed where it listens."""
    argv = [sys.executable, "-m", "slapolicy.cli", "serve", str(policy_dir), "--port", "0", *map(str, options)]
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
