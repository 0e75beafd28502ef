"""Minutes in an S3 bucket, read through pyarrow's S3 filesystem from a real S3 server (moto's, started as a
process on a free port): the same results as the same files on disk, in this process and on worker processes
that open each part's URL themselves; a missing bucket or object, or credentials the store refuses, is one line."""
import json
import socket
import subprocess
import sys
import time

import pytest

from conftest import POLICIES
from test_minute_urls import hive
from test_scan import arrow_table, example_rows

pytestmark = pytest.mark.slow
BUCKET = "slapolicy-minutes"
JSON_LINES = "".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in example_rows())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(**env):
    """moto's S3 server on a free port of 127.0.0.1: (process, "host:port")."""
    import os

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              env=dict(os.environ, **env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server, and the credentials it takes (any: it checks none)."""
    pytest.importorskip("moto.server", reason="the test extra installs moto[server]")
    server, address = start_server()
    try:
        yield address
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path_factory):
    """A bucket holding the shipped March as month=/account= directories; (URL of the dataset, local copy)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    fs = pafs.S3FileSystem(endpoint_override=s3_server, scheme="http", region="us-east-1",
                           access_key="testing", secret_key="testing", allow_bucket_creation=True,
                           allow_bucket_deletion=True)
    fs.create_dir(BUCKET)
    local = hive(tmp_path_factory.mktemp("s3") / "hive", ["2019-03"])
    for account in ("acme", "globex", "initech"):
        table = arrow_table([r for r in example_rows() if r["account"] == account]).drop_columns(["account"])
        pq.write_table(table, f"{BUCKET}/minutes/month=2019-03/account={account}/part-0.parquet", filesystem=fs,
                       row_group_size=5000)
    with fs.open_output_stream(f"{BUCKET}/minutes.jsonl") as sink:
        sink.write(JSON_LINES.encode())
    yield f"?endpoint_override={s3_server}&scheme=http&region=us-east-1", local
    fs.delete_dir(BUCKET)


def run(cli, *args):
    result = cli(*args)
    assert result.code == 0, result.err
    return result.out


def test_a_dataset_in_s3_reads_as_on_disk(cli, s3, tmp_path):
    options, local = s3
    url = f"s3://{BUCKET}/minutes/{options}"
    on_disk = run(cli, "evaluate", POLICIES, "--minutes", local, "--month", "2019-03")
    assert run(cli, "evaluate", POLICIES, "--minutes", url, "--month", "2019-03") == on_disk
    jsonl = tmp_path / "minutes.jsonl"
    jsonl.write_text(JSON_LINES)
    assert run(cli, "evaluate", POLICIES, "--minutes", f"s3://{BUCKET}/minutes.jsonl{options}", "--month", "2019-03") == \
        run(cli, "evaluate", POLICIES, "--minutes", jsonl, "--month", "2019-03")
    # worker processes open each part's URL themselves (they inherit the credentials from the environment)
    assert run(cli, "evaluate", POLICIES, "--minutes", url, "--month", "2019-03", "--workers", "2") == on_disk
    one = json.loads(run(cli, "evaluate", POLICIES, "--minutes", url, "--month", "2019-03", "--account", "globex"))
    assert one["evaluations"] == [e for e in json.loads(on_disk)["evaluations"] if e["account"] == "globex"]


@pytest.mark.parametrize("where,message", [
    ("s3://slapolicy-no-such-bucket/minutes/{options}", "no such file, directory or object"),
    (f"s3://{BUCKET}/nothing-here.parquet{{options}}", "no such file, directory or object"),
])
def test_a_missing_bucket_or_object_is_one_line(cli, s3, where, message):
    options, _ = s3
    url = where.replace("{options}", options)
    result = cli("evaluate", POLICIES, "--minutes", url, "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"slapolicy: {url}: {message}") and result.err.count("\n") == 1


def test_credentials_the_store_refuses_are_one_line(cli, monkeypatch):
    """A server that checks credentials after the first two requests (moto's INITIAL_NO_AUTH_ACTION_COUNT): the
    bucket and the object are made, then every request is refused (no IAM user holds these keys)."""
    boto3 = pytest.importorskip("boto3", reason="the test extra installs moto[server], which brings boto3")
    server, address = start_server(INITIAL_NO_AUTH_ACTION_COUNT="2")
    try:
        client = boto3.client("s3", endpoint_url=f"http://{address}", aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket="slapolicy-denied")
        client.put_object(Bucket="slapolicy-denied", Key="m.jsonl", Body=JSON_LINES.encode())
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_EC2_METADATA_DISABLED", "true")):
            monkeypatch.setenv(name, value)
        url = f"s3://slapolicy-denied/m.jsonl?endpoint_override={address}&scheme=http&region=us-east-1"
        result = cli("evaluate", POLICIES, "--minutes", url, "--month", "2019-03")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"slapolicy: {url}: permission denied (") and result.err.count("\n") == 1
    assert result.err.endswith("check the credentials this process and the workers read (for S3: AWS_ACCESS_KEY_ID "
                               "and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)\n")


def test_a_json_lines_object_read_in_pieces_reads_as_on_disk(cli, s3, tmp_path, monkeypatch):
    """Each piece of a JSON Lines object is the lines that start in its byte range, read from the store by that
    range (readers.LineRange over the object opened for random access), in threads and in worker processes."""
    from slapolicy.minutes import aggregates, readers

    options, _ = s3
    jsonl = tmp_path / "minutes.jsonl"
    jsonl.write_text(JSON_LINES)
    on_disk = run(cli, "evaluate", POLICIES, "--minutes", jsonl, "--month", "2019-03")
    monkeypatch.setattr(readers, "JSONL_PIECE_BYTES", 4096)
    pieces = (len(JSON_LINES.encode()) + 4095) // 4096
    assert pieces > 20
    url = f"s3://{BUCKET}/minutes.jsonl{options}"
    tasks, read_part = [], aggregates.read_part
    monkeypatch.setattr(aggregates, "read_part", lambda part, *rest: tasks.append(part.byte_range) or
                        read_part(part, *rest))
    assert run(cli, "evaluate", POLICIES, "--minutes", url, "--month", "2019-03") == on_disk
    assert len(tasks) == pieces  # each piece a task, read from the store
    monkeypatch.setattr(aggregates, "read_part", read_part)  # the workers are sent the function itself
    assert run(cli, "evaluate", POLICIES, "--minutes", url, "--month", "2019-03", "--workers", "2") == on_disk
