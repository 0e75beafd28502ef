"""Minutes named by a URL (file://, or any scheme pyarrow or fsspec reads) go through the same path as a local
path: the same parts (each carrying its file's URL, for the worker that opens it), the same pruning, the same
results and messages; a URL that cannot be read is one line that says why."""
import json

import pytest

from conftest import POLICIES, PUBLISHED, assert_refused, evaluate_march
from test_scan import _corrupt, arrow_table, example_rows, minutes, write_parquet


def evaluate_out(source, *extra):
    result = evaluate_march(source, *extra)
    assert result.code == 0, result.err
    return result.out


def hive(root, months=("2019-02", "2019-03", "2019-04")):
    """month=/account= directories of the shipped March; the other months' files are corrupt (reading one fails)."""
    import pyarrow.parquet as pq

    rows = example_rows()
    for month in months:
        for account in ("acme", "globex", "initech"):
            folder = root / f"month={month}" / f"account={account}"
            folder.mkdir(parents=True)
            path = folder / "part-0.parquet"
            pq.write_table(arrow_table([r for r in rows if r["account"] == account]).drop_columns(["account"]), path,
                           row_group_size=5000)
            if month != "2019-03":
                _corrupt(path)
    return root


@pytest.mark.slow
def test_a_file_url_reads_as_its_path(tmp_path):
    rows = example_rows()
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text("".join(json.dumps({k: v for k, v in r.items() if v != ""}) + "\n" for r in rows))
    by_time = write_parquet(tmp_path / "t.parquet", sorted(rows, key=lambda r: (r["minute"], r["account"])), 10_000)
    dataset = hive(tmp_path / "hive")
    for source in (jsonl, by_time, dataset):
        assert evaluate_out(source.as_uri()) == evaluate_out(source), source
    assert evaluate_out(dataset.as_uri() + "/") == evaluate_out(dataset)  # a prefix, written with its /
    assert evaluate_out(dataset.as_uri(), "--account", "globex") == evaluate_out(dataset, "--account", "globex")


@pytest.mark.slow
def test_a_url_is_planned_like_its_path_and_each_part_carries_its_url(tmp_path):
    from slapolicy.minutes import plan, request_for
    from slapolicy.policy import load_policy
    from slapolicy.replay import month_range

    policy = load_policy(PUBLISHED)
    march = request_for(month_range("2019-03", "2019-03"), policy.timezone, [policy])
    rows = []
    for account in ("a", "b", "c"):
        for day in ("2019-02-28", "2019-03-01", "2019-04-01"):
            rows += minutes(account, f"{day}T08:00", 60)  # one row group per account and day
    path = write_parquet(tmp_path / "m.parquet", rows, row_group_size=60)
    (local,), (remote,) = plan(path, march), plan(path.as_uri(), march)
    assert remote.row_groups == local.row_groups == (1, 4, 7)  # the March day of a, b and c
    assert (remote.row_bases, remote.proven) == (local.row_bases, local.proven) == ((60, 240, 420), ("a", "b", "c"))
    assert (remote.path, remote.name) == (path.as_uri(), path.as_uri())

    dataset = hive(tmp_path / "hive")
    globex = request_for(month_range("2019-03", "2019-03"), policy.timezone, [policy], accounts=["globex"])
    (part,) = plan(dataset.as_uri(), globex)  # February, April and the other accounts are never opened
    assert part.path == f"{dataset.as_uri()}/month=2019-03/account=globex/part-0.parquet"
    assert (part.account, part.month) == ("globex", "2019-03")
    assert [p.path for p in plan(dataset, globex)] == [str(dataset / "month=2019-03" / "account=globex" / "part-0.parquet")]


def test_a_url_keeps_its_query_and_escapes_in_each_part(tmp_path):
    from slapolicy.minutes.storage import Store

    store = Store("s3://bucket/minutes/?region=eu-west-1&scheme=http", None, "bucket/minutes")
    assert store.url_of("bucket/minutes/account=a b%/x.parquet") == \
        "s3://bucket/minutes/account=a%20b%25/x.parquet?region=eu-west-1&scheme=http"
    assert store.url_of("bucket/minutes") == "s3://bucket/minutes/?region=eu-west-1&scheme=http"


@pytest.mark.slow
def test_a_directory_named_by_an_fsspec_url_is_read_through_fsspec(tmp_path):
    """memory:// is fsspec's own filesystem (pyarrow has none of that name): the parts read it through
    pyarrow.fs.FSSpecHandler, in this process."""
    import fsspec
    import pyarrow.parquet as pq

    memory = fsspec.filesystem("memory")
    for account in ("acme", "globex", "initech"):
        with memory.open(f"/slapolicy-test/minutes/account={account}/part-0.parquet", "wb") as sink:
            pq.write_table(arrow_table([r for r in example_rows() if r["account"] == account]), sink)
    try:
        assert evaluate_out("memory://slapolicy-test/minutes") == evaluate_out(hive(tmp_path / "h", ["2019-03"]))
    finally:
        memory.rm("/slapolicy-test", recursive=True)


@pytest.fixture
def unavailable_protocol():
    """An fsspec protocol whose library is not installed (as gcsfs or adlfs may not be)."""
    from fsspec.registry import known_implementations, register_implementation

    register_implementation("slapolicytest", "slapolicy_no_such_module.FileSystem",
                            errtxt="Install slapolicy-test-fs to access this storage")
    yield "slapolicytest"
    del known_implementations["slapolicytest"]


@pytest.mark.parametrize("url,message", [
    ("foo://bucket/minutes/", "foo://bucket/minutes/: unknown URL scheme foo:// (pyarrow reads file, s3, gs, hdfs; "
                              "fsspec reads the schemes its installed libraries register)"),
    ("slapolicytest://bucket/minutes/", "slapolicytest://bucket/minutes/: reading slapolicytest:// URLs needs a "
                                        "library that is not installed: pip install slapolicy-test-fs"),
    ("{tmp}/none.parquet", "{tmp}/none.parquet: no such file, directory or object"),
    ("{tmp}/none/", "{tmp}/none/: no such file, directory or object"),
    ("{tmp}/m.xlsx", "{tmp}/m.xlsx: unknown format .xlsx; use .csv, .jsonl or .parquet"),
])
def test_a_url_that_cannot_be_read_is_one_line(tmp_path, unavailable_protocol, url, message):
    (tmp_path / "m.xlsx").write_text("x")
    url, message = (text.replace("{tmp}", tmp_path.as_uri()) for text in (url, message))
    assert_refused(evaluate_march(url), message)


def test_a_bad_row_of_a_url_names_the_url_and_its_line(tmp_path):
    minutes_file = tmp_path / "m.jsonl"
    minutes_file.write_text('{"account": "a", "minute": "2019-03-01T10:00", "requests": 100, "failures": 1}\n\n'
                            '{"account": "a", "minute": "2019-03-01T10:01", "requests": 5, "failures": 7}\n')
    result = evaluate_march(minutes_file.as_uri())
    assert result.code == 1
    assert f"{minutes_file.as_uri()}: row 2 (line 3), column 'failures': 7 failures exceed 5 requests" in result.err


@pytest.mark.slow
def test_a_claim_on_a_url_records_the_url_and_the_bytes_read(cli, tmp_path):
    dataset = hive(tmp_path / "hive", ["2019-03"])
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({"account": "acme", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00",
                                 "channel": "work_order", "event_report": "calls failed", "failure_records": ["c"],
                                 "unavailability": [{"start": "2019-03-04T10:00+08:00", "end": "2019-03-04T10:30+08:00"}]}))
    decisions = []
    for source, ledger in ((dataset, tmp_path / "a.sqlite"), (dataset.as_uri(), tmp_path / "b.sqlite")):
        result = cli("claim", POLICIES, claim, "--minutes", source, "--ledger", ledger, "--now", "2019-04-20T10:00+08:00")
        assert result.code == 0, result.err
        decisions.append(result.json())
    same = ("decision", "reasons", "amount", "reconciliation")
    assert [{k: d.get(k) for k in same} for d in decisions][0] == [{k: d.get(k) for k in same} for d in decisions][1]
    from slapolicy.ledger import Ledger

    (by_path,), (by_url,) = (Ledger(tmp_path / name).decisions() for name in ("a.sqlite", "b.sqlite"))
    assert by_url["inputs"]["files"]["minutes"]["path"] == dataset.as_uri()
    # the same bytes read (acme's file only), under the same relative name: the same digest
    assert by_url["inputs"]["files"]["minutes"]["sha256"] == by_path["inputs"]["files"]["minutes"]["sha256"]
    audit = cli("audit", tmp_path / "b.sqlite")
    assert audit.code == 0, audit.err


@pytest.mark.parametrize("error,message", [
    (OSError("When getting information for key 'm.parquet' in bucket 'b': AWS Error ACCESS_DENIED during HeadObject "
             "operation: No response body."), "permission denied"),
    (PermissionError(13, "Permission denied"), "permission denied"),
    (OSError("Bucket 'b' not found"), "no such file, directory or object"),
    (OSError("AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7, Couldn't connect to server"),
     "cannot be read: AWS Error NETWORK_CONNECTION"),
])
def test_a_storage_error_says_which_kind_it_is(error, message):
    from slapolicy.minutes.storage import failure

    text = str(failure("s3://b/m.parquet", error))
    assert text.startswith(f"s3://b/m.parquet: {message}") and "\n" not in text
    if message == "permission denied":
        assert "AWS_ACCESS_KEY_ID" in text  # says which credentials are read


@pytest.mark.slow
def test_the_input_size_limit_holds_for_files_named_by_url(tmp_path, monkeypatch):
    dataset = hive(tmp_path / "hive", ["2019-03"])
    part = dataset / "month=2019-03" / "account=acme" / "part-0.parquet"
    size = part.stat().st_size
    monkeypatch.setenv("SLAPOLICY_MAX_INPUT_BYTES", str(size))  # at the limit: read
    assert evaluate_march(dataset.as_uri(), "--account", "acme").code == 0
    monkeypatch.setenv("SLAPOLICY_MAX_INPUT_BYTES", str(size - 1))
    shown = f"{dataset.as_uri()}/month=2019-03/account=acme/part-0.parquet"
    assert_refused(evaluate_march(dataset.as_uri(), "--account", "acme"),
                   f"{shown}: {size} bytes is above the input size limit of {size - 1} bytes "
                   "(SLAPOLICY_MAX_INPUT_BYTES raises it)")


def test_a_file_url_is_read_whatever_the_case_of_its_scheme_with_one_slash_or_localhost(tmp_path):
    # `file:/abs/path` (RFC 8089; what Hadoop, Spark and Java's File.toURI write) was taken for a relative path and
    # refused as 'no such file or directory' for a directory that was there; `FILE:///…` was 'unknown URL scheme
    # file:// (pyarrow reads file, …)'; `file://localhost/…`, this machine (RFC 8089), was 'not a URL pyarrow can
    # read: Unsupported hostname in non-Windows local URI'. Each reads as the path does.
    dataset = hive(tmp_path / "hive", months=("2019-03",))
    here = evaluate_out(dataset)
    path = str(dataset)
    for url in (f"file:{path}", f"file:{path}/", f"file://localhost{path}", f"FILE://{path}", f"File:{path}",
                f"file://LOCALHOST{path}"):
        assert evaluate_out(url) == here, url
    assert_refused(evaluate_march(f"file://elsewhere{path}"), f"file://elsewhere{path}: not a URL pyarrow can read: "
                   f"Unsupported hostname in non-Windows local URI: 'file://elsewhere{path}'")
    assert_refused(evaluate_march(f"file:{path}-none"), f"file:{path}-none: no such file, directory or object")
