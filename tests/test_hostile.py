"""Hostile inputs: whatever legal or customers hand in, never a traceback, always a message naming the place,
exit 1, and nothing written to the ledger."""
import json
import random

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import POLICIES, PUBLISHED, run_cli

FUZZ = settings(max_examples=250, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

JUNK = [".nan", "-.inf", "1e999", "-1", "99999999999999999999999999999", "0x1F", "[", "{", "'", '"', "~", "", "yes",
        "NO", "!!binary AA==", "*alias", "&anchor x", "\x00", "é", "💥", "[[[[[[", "{a: {b: {c: [1, {d: 2}]}}}", "- a",
        "2019-02-30", "99.5", "100%", "-5%", "NaN%", "true", "null", "|\n  block", ">-", "? complex", "\t"]
junk = st.sampled_from(JUNK) | st.text(max_size=12)


def assert_clean(result, path):
    assert result.code in (0, 1), (result.code, result.err[-2000:])
    assert "internal error" not in result.err and "Traceback" not in result.err, result.err[-2000:]
    if result.code == 1:
        assert str(path) in result.out + result.err, (result.out + result.err)[-1000:]


# ---------------------------------------------------------------------------- policy files

def mutate_policy(text: str, data) -> bytes:
    lines = text.split("\n")
    kind = data.draw(st.sampled_from(["value", "value", "line", "bytes", "bom-crlf", "nest", "truncate"]))
    if kind == "value":
        candidates = [i for i, line in enumerate(lines) if ": " in line]
        i = data.draw(st.sampled_from(candidates))
        key = lines[i].split(": ", 1)[0]
        lines[i] = f"{key}: {data.draw(junk)}"
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    if kind == "line":
        i = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(i, data.draw(junk))
        return "\n".join(lines).encode("utf-8", "surrogatepass")
    raw = text.encode()
    if kind == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=16)) + raw[at:]
    if kind == "bom-crlf":
        return b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n")
    if kind == "nest":
        depth = data.draw(st.integers(100, 5000))
        return raw + b"\ndeep: " + b"[" * depth + b"]" * depth + b"\n"
    return raw[: data.draw(st.integers(0, len(raw)))]


@pytest.mark.slow
@FUZZ
@given(st.data())
def test_mutated_policies_never_crash_validate_or_test(tmp_path, data):
    path = tmp_path / "drafts" / "p.yaml"
    path.parent.mkdir(exist_ok=True)
    text = PUBLISHED.read_text().replace("status: published", "status: draft")
    path.write_bytes(mutate_policy(text, data))
    assert_clean(run_cli("validate", path), path)
    assert_clean(run_cli("test", path), path)


def test_an_enormous_policy_is_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(PUBLISHED.read_text() + "# padding\n" * 300_000)
    result = run_cli("validate", path)
    assert result.code == 1
    assert f"{path}:1:1: error too-large file is" in result.out


def test_random_bytes_as_a_policy(tmp_path):
    rng = random.Random(7)
    for n in range(20):
        path = tmp_path / f"r{n}.yaml"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000))))
        assert_clean(run_cli("validate", path), path)


# ---------------------------------------------------------------------------- operations data

GOOD_ROWS = [["account", "minute", "requests", "failures", "illegal_number_failures", "peak_qps"],
             ["a", "2019-03-12T10:00", "100", "2", "0", ""], ["a", "2019-03-12T10:01", "100", "5", "4", "6.5"],
             ["b", "2019-03-12T10:00+08:00", "50", "0", "0", "1"]]
cell = st.sampled_from(["", "NaN", "inf", "-1", "1e309", "99999999999999999999999", "9223372036854775807", "1.5",
                        "2019-03-12T10:00:30", "2019-13-01T00:00", "💥", "\"", "a,b", "\x00", "0", "100"]) | st.text(max_size=8)


@pytest.mark.slow
@FUZZ
@given(st.data())
def test_mutated_minutes_never_crash_evaluate(tmp_path, data):
    rows = [list(r) for r in GOOD_ROWS]
    for _ in range(data.draw(st.integers(1, 4))):
        r = data.draw(st.integers(1, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[0]) - 1))
        rows[r][c] = data.draw(cell)
    text = "\n".join(",".join(f'"{v}"' if ("," in v or '"' in v) and data.draw(st.booleans()) else v for v in row)
                     for row in rows) + "\n"
    raw = text.encode("utf-8", "surrogatepass")
    mode = data.draw(st.sampled_from(["plain", "bom", "crlf", "bytes"]))
    if mode == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mode == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    elif mode == "bytes":
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    path = tmp_path / "minutes.csv"
    path.write_bytes(raw)
    assert_clean(run_cli("evaluate", POLICIES, "--minutes", path, "--month", "2019-03"), path)


@pytest.mark.slow
@FUZZ
@given(st.lists(st.fixed_dictionaries({}, optional={
    "id": junk, "start": junk, "end": junk, "cause": st.sampled_from(["provider", "customer_network"]) | junk,
    "account": junk, "kind": junk, "published_at": junk, "extra": junk}), max_size=4) | junk)
def test_mutated_incidents_and_notices_never_crash(tmp_path, entries):
    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\na,2019-03-12T10:00,100,2\n")
    for flag in ("--incidents", "--notices"):
        path = tmp_path / "list.yaml"
        path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
        assert_clean(run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, path), path)
        json_path = tmp_path / "list.json"
        json_path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
        assert_clean(run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, json_path), json_path)


# ---------------------------------------------------------------------------- claims and the ledger

CLAIM = {"account": "a", "service_month": "2019-03", "filed_at": "2019-04-10T10:00+08:00", "channel": "work_order",
         "event_report": "x", "unavailability": [{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T11:00+08:00"}],
         "failure_records": ["c"]}
value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | junk,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk, inner, max_size=3), max_leaves=6)


@pytest.mark.slow
@FUZZ
@given(st.dictionaries(st.sampled_from(list(CLAIM) + ["term_start", "term_end", "colour"]), value, min_size=1, max_size=3),
       st.sampled_from(["json", "bytes", "not-object"]))
def test_mutated_claims_write_nothing_when_refused(tmp_path, changes, mode):
    from slapolicy.ledger import Ledger

    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\na,2019-03-12T10:00,100,2\n")
    billing = tmp_path / "b.csv"
    billing.write_text("account,month,monthly_fee,offset\na,2019-03,100.00,0.00\n")
    ledger = tmp_path / "ledger.sqlite"
    ledger.unlink(missing_ok=True)
    claim = tmp_path / "claim.json"
    data = dict(CLAIM, **changes)
    if mode == "json":
        claim.write_text(json.dumps(data, default=str))
    elif mode == "bytes":
        claim.write_bytes(json.dumps(data, default=str).encode()[:-3] + b"\xff\xfe")
    else:
        claim.write_text(json.dumps([data], default=str))
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--billing", billing, "--ledger", ledger,
                     "--now", "2019-05-01T00:00+00:00")
    assert_clean(result, claim)
    if result.code == 1:
        if ledger.exists():
            with Ledger(ledger) as book:
                assert book.counts() == (0, 0)
    else:
        assert json.loads(result.out)["decision"] in ("approved", "denied", "incomplete")


def test_inputs_above_the_size_limit_are_refused(tmp_path, monkeypatch):
    minutes = tmp_path / "m.csv"
    minutes.write_text("account,minute,requests,failures\n" + "a,2019-03-12T10:00,100,2\n")
    monkeypatch.setenv("SLAPOLICY_MAX_INPUT_BYTES", "40")
    for command in (["evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03"],
                    ["replay", POLICIES, "--minutes", minutes, "--from", "2019-03", "--to", "2019-03", "--under", PUBLISHED]):
        result = run_cli(*command)
        assert result.code == 1
        assert f"{minutes}: 58 bytes is above the input size limit of 40 bytes" in result.err


def test_invalid_utf8_header(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"\x80account,minute,requests,failures\na,2019-03-12T10:00,100,2\n")
    result = run_cli("evaluate", POLICIES, "--minutes", path, "--month", "2019-03")
    assert result.code == 1
    assert f"{path}: the header is not UTF-8 (byte 0x80)" in result.err
