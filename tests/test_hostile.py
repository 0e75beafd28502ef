"""Hostile inputs: whatever legal or customers hand in, never a traceback, always a message naming the place,
exit 1, and nothing written to the ledger."""
import json
import random
import sys

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


def test_a_policy_too_large_is_said_in_one_wording_whoever_measures_it(tmp_path):
    # The file's reading and the YAML's each wrote the limit out ("the policy file may be at most N bytes", and "a
    # policy file may be at most N", without the unit); text handed in is measured in characters.
    from slapolicy.policy.load import MAX_POLICY_BYTES, load_yaml

    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (MAX_POLICY_BYTES + 1))
    said = f"error too-large file is {MAX_POLICY_BYTES + 1} bytes; the policy file may be at most {MAX_POLICY_BYTES} bytes"
    assert run_cli("validate", path).out == f"{path}:1:1: {said}\n"
    assert [str(d) for d in load_yaml(path.read_bytes(), str(path))[1]] == [f"{path}:1:1: {said}"]
    assert [str(d) for d in load_yaml("#" * (MAX_POLICY_BYTES + 1), "t.yaml")[1]] == [
        f"t.yaml:1:1: {said.replace('bytes', 'characters')}"]
    # deeper than Python's recursion lets the document be composed or built: one message. The limit is lowered here
    # for the test, since how deep that is depends on the Python (3.11 cannot build 500 levels; 3.13 builds 998, and
    # libyaml refuses 999 and more as a syntax error).
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        deep = load_yaml("a:\n  " + "- " * 300 + "1\n", "t.yaml")[1]
    finally:
        sys.setrecursionlimit(limit)
    assert [str(d) for d in deep] == ["t.yaml:1:1: error yaml-depth the document is nested too deeply"]


@pytest.mark.slow
def test_a_document_of_more_values_than_an_agreement_holds_is_refused_while_it_is_parsed(tmp_path):
    # "items:" then one value a line: the mapping, the key and the list are values 1-3, item k is value k + 4 on line
    # k + 2; value 20,001 is item 19,997, on line 19,999, after "  - " (column 5). 20,000 values are parsed.
    path = tmp_path / "many.yaml"
    path.write_text("items:\n" + "".join(f"  - {k}\n" for k in range(19_998)))
    result = run_cli("validate", path)
    assert (result.code, result.out) == (1, f"{path}:19999:5: error too-large the document holds more than 20,000 "
                                            "values (keys, scalars, mappings and lists), the most a policy version may "
                                            "hold (the whole Cloud Contact Center SLA holds 1,863); this is value "
                                            "20,001\n")
    path.write_text("items:\n" + "".join(f"  - {k}\n" for k in range(19_997)))
    result = run_cli("validate", path)
    assert result.code == 1 and "too-large" not in result.out and " error schema " in result.out


def test_forty_thousand_parameters_are_refused_by_their_number_not_checked_one_by_one(tmp_path):
    # 1.6 MB, within the 2 MiB a policy file may take: jsonschema took 10 s of CPU (80 s on a busy machine) over it.
    # The shipped version holds 1,863 values; each parameter line adds 6 (its key, the mapping, two keys, two values).
    text = PUBLISHED.read_text()
    extra = "".join(f'  p{k}: {{value: {k}, ref: "§7.5"}}\n' for k in range(40_000))
    path = tmp_path / "2019-01-01.yaml"
    path.write_text(text.replace("parameters:\n", "parameters:\n" + extra, 1))
    assert len(path.read_bytes()) < 2 * 1024 * 1024
    result = run_cli("validate", path)
    assert result.code == 1
    (line,) = result.out.splitlines()
    assert line.startswith(f"{path}:") and " error too-large the document holds more than 20,000 values " in line
    assert line.endswith("this is value 20,001")


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


# ---------------------------------------------------------------------------- once exit 3, now a message
# Each of these used to end in "internal error" (exit 3, the code kept for bugs). Each now exits 1 (the input is
# wrong) or 2 (the command line or environment is wrong) with a message naming the file and the problem, and
# writes nothing.

MINUTES = "account,minute,requests,failures\na,2019-03-12T10:00,100,2\n"


def refused(result, code: int, *messages):
    assert result.code == code, (result.code, result.err[-2000:])
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err[-2000:]
    for message in messages:
        assert message in result.out + result.err, (result.out + result.err)[-2000:]


def snapshot(directory):
    """Every file under a directory with its bytes (FIFOs, devices and loops by name only): what 'nothing written' compares."""
    import os

    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            found[str(path)] = None
        else:
            found[str(path)] = path.read_bytes()
    return found


@pytest.fixture
def family(tmp_path):
    import shutil

    copy = tmp_path / "ccc"
    shutil.copytree(POLICIES, copy)
    return copy


@pytest.fixture
def minutes(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(MINUTES)
    return path


def test_a_fee_of_29_digits(tmp_path, minutes):
    billing = tmp_path / "b.csv"
    billing.write_text("account,month,monthly_fee,offset\na,2019-03,12345678901234567890123456789,0\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    refused(result, 1, f"{billing}: row 1 (line 2), column 'monthly_fee': '12345678901234567890123456789' has more "
                       "than 15 digits before the point: not a monthly fee")
    assert result.out == ""


def test_a_fee_of_15_digits_is_computed_to_the_cent(tmp_path, minutes):
    billing = tmp_path / "b.csv"
    billing.write_text("account,month,monthly_fee,offset\na,2019-03,999999999999999.99,0\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--billing", billing)
    assert result.code == 0, result.err
    (e,) = result.json()["evaluations"]
    assert e["monthly_fee"] == "999999999999999.99"
    assert e["compensation"] == "0.00"  # 1 unavailable minute of 44640: 99.99 %, the standard is met


@pytest.mark.parametrize("command", [
    ["evaluate", POLICIES, "--minutes", "{minutes}", "--month", "9999-12"],
    ["replay", POLICIES, "--minutes", "{minutes}", "--from", "2019-03", "--to", "9999-12", "--under", PUBLISHED],
    ["months", "--start", "9999-12-01", "--end", "9999-12-31"],
    ["show", POLICIES, "--month", "9999-12"],
])
def test_month_9999_12(minutes, command):
    flag = {"evaluate": "--month", "replay": "--to", "months": "--start", "show": "--month"}[command[0]]
    value = "9999-12-01" if command[0] == "months" else "9999-12"
    result = run_cli(*[str(a).replace("{minutes}", str(minutes)) for a in command])
    # A month or date option outside the years is a usage error, as a malformed one is (argparse's words).
    refused(result, 2, f"error: argument {flag}: {value} is outside the years 0002 to 9998 that slapolicy can evaluate")
    assert result.out == ""


def test_the_last_supported_month_is_evaluated(minutes):
    # 9998-12 has 31 days: 44640 minutes; no minute of the file lies in it, so nothing is unavailable.
    result = run_cli("months", "--start", "9998-12-01", "--end", "9998-12-31", "--json")
    assert result.json() == {"service_months": [{"start": "9998-12-01", "end": "9998-12-31", "days": 31,
                                                 "total_minutes": 44640}]}


def test_a_claim_for_month_9999_12_writes_no_ledger(tmp_path, minutes):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(dict(CLAIM, service_month="9999-12")))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger)
    refused(result, 1, f"{claim}: field 'service_month': 9999-12 is outside the years 0002 to 9998 that slapolicy can evaluate")
    assert not ledger.exists()


def test_a_claim_whose_term_ends_in_9999(tmp_path, minutes):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(dict(CLAIM, term_start="2019-01-01", term_end="9999-12-31")))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-05-01T00:00Z")
    refused(result, 1, f"{claim}: field 'term_end': 9999-12-31 is outside the years 0002 to 9998")
    assert not ledger.exists()


@pytest.mark.parametrize("field, value", [
    ("filed_at", "0001-04-10T10:00+08:00"), ("filed_at", "9999-01-01T00:00+08:00"),
    ("filed_at", "0001-12-31T23:59+14:00"),  # 0001-12-31T09:59 UTC: the year as written is what is refused
    ("unavailability", "0001-03-12T10:00+08:00"), ("unavailability", "9999-03-12T10:00+08:00"),
])
def test_a_claims_times_outside_the_supported_years_are_refused_as_its_month_is(tmp_path, minutes, field, value):
    # A claim filed in year 1 was decided (denied: filed before its month ended) and recorded, where a service_month
    # of year 1 is refused; filed in 9999 it was "in the future", and `--now 9999-…` is outside the years.
    claim = tmp_path / "claim.json"
    if field == "filed_at":
        body, where = dict(CLAIM, filed_at=value), "field 'filed_at'"
    else:
        body = dict(CLAIM, unavailability=[{"start": "2019-03-12T10:00+08:00", "end": "2019-03-12T11:00+08:00"},
                                           {"start": value, "end": "2019-03-12T11:00+08:00"}])
        where = "field 'unavailability[1]'"
    claim.write_text(json.dumps(body))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-05-01T00:00Z")
    assert (result.code, result.out) == (1, "")
    assert result.err == f"slapolicy: {claim}: {where}: {value!r} {OUTSIDE}\n"
    assert not ledger.exists()


@pytest.mark.parametrize("lock,place,message", [
    ('{"2019-01-01.yaml": 5}', "1:1", "the sha256 of 2019-01-01.yaml is 5, not a string of 64 hex digits"),
    ('{"2019-01-01.yaml": null}', "1:1", "the sha256 of 2019-01-01.yaml is null, not a string of 64 hex digits"),
    ('{\n  "2019-01-01.yaml": null\n}', "2:1", "the sha256 of 2019-01-01.yaml is null, not a string of 64 hex digits"),
    # A fault Python's json finds only through our hooks (a key twice, NaN) was placed at 1:1, whatever its line:
    # it is placed at the second key, and at the NaN (column 26 = 1 + len('{"2019-01-01.yaml": "a", ')).
    ('{"2019-01-01.yaml": "a", "2019-01-01.yaml": "b"}', "1:26", "key '2019-01-01.yaml' appears twice in one object"),
    ('{\n  "2019-01-01.yaml": "a",\n  "x.yaml": "c",\n  "2019-01-01.yaml": "b"\n}', "4:3",
     "key '2019-01-01.yaml' appears twice in one object"),
    ('{"2019-01-01.yaml": NaN}', "1:21", "NaN is not a JSON number"),
    ('{\n  "2019-01-01.yaml":\n    -Infinity}', "3:5", "-Infinity is not a JSON number"),
    ('{\n  "2019-01-01.yaml": 1e400}', "2:22", "holds 1e400, a number beyond the range of a 64-bit float"),
    ('{\n  "2019-01-01.yaml": "\\ud800"}', "2:22", "holds text that is not valid Unicode (a lone surrogate escape"),
    ("", "1:1", "the file is empty"),
    ('["2019-01-01.yaml"]', "1:1", "versions.lock is not a JSON object of file → sha256"),
    ("\xff", "1:1", "is not UTF-8"),
])
@pytest.mark.parametrize("command", ["validate", "lock"])
def test_a_bad_versions_lock(family, lock, place, message, command):
    (family / "versions.lock").write_bytes(lock.encode("latin-1") if lock == "\xff" else lock.encode())
    before = snapshot(family)
    refused(run_cli(command, family), 1, f"{family}/versions.lock:{place}: error bad-lock", message)
    assert snapshot(family) == before


@pytest.mark.parametrize("text,message", [
    # the fault Python's json raises first is the one placed: an inner object's repeat (its hook runs as it closes)
    # before the outer's, a NaN as it is read, before the repeat of the object holding it
    ('{"a": {"b": 1, "b": 2}, "a": 3}', "f:1:16: not valid JSON: key 'b' appears twice in one object"),
    ('[{"a": 1}, {"c": NaN, "c": 1}]', "f:1:18: not valid JSON: NaN is not a JSON number (JSON has no NaN or Infinity)"),
    ('{"a": 1, "a": 2, "b": {"a": 1}}', "f:1:10: not valid JSON: key 'a' appears twice in one object"),
    ('{"k\\u0061": 1, "ka": 2}', "f:1:16: not valid JSON: key 'ka' appears twice in one object"),  # an escape is its letter
    ('{"a": "x\\\\", "a": 1}', "f:1:14: not valid JSON: key 'a' appears twice in one object"),  # "x\\" ends at its quote
    ('[1,\r\n 2, -1e999]', "f:2:5: holds -1e999, a number beyond the range of a 64-bit float (about ±1.8e308)"),
    ('{"x": [{"y": "\\udc00"}]}', "f:1:14: holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)"),
])
def test_a_json_fault_found_by_a_strict_hook_is_placed_where_it_is_written(text, message):
    from slapolicy.errors import InputError
    from slapolicy.files import load_json

    with pytest.raises(InputError) as refused_here:
        load_json(text, "f")
    assert str(refused_here.value) == message


@pytest.mark.parametrize("command", ["validate", "lock"])
def test_a_versions_lock_broken_by_hand_is_refused_at_the_place_of_the_fault(family, command):
    # Every JSON fault of the lock was reported at 1:1, whatever its line: a comma left after the last entry (line 4
    # of the shipped lock, "}" at column 1) sent legal looking at the "{" of line 1. Python's json names the fault
    # in words and at a place of its own version's (3.11: 4:1, "Expecting property name enclosed in double quotes";
    # 3.13: 3:112, at the comma, "Illegal trailing comma before end of object"): the place is the one it gives.
    lock = family / "versions.lock"
    lock.write_text(lock.read_text().replace('"\n}', '",\n}'))
    with pytest.raises(json.JSONDecodeError) as fault:
        json.loads(lock.read_text())
    assert fault.value.lineno in (3, 4) and fault.value.lineno > 1  # not 1:1
    before = snapshot(family)
    result = run_cli(command, family)
    assert (result.code, result.out, result.err) == (
        1, "", f"{lock}:{fault.value.lineno}:{fault.value.colno}: error bad-lock versions.lock is not a JSON object of "
               f"file → sha256: not valid JSON: {fault.value.msg}\n")
    assert snapshot(family) == before


def test_a_versions_lock_saved_with_a_byte_order_mark_records_what_it_recorded(family):
    # An editor saving the lock with a BOM changed no digest, yet every command refused the family: "not valid JSON:
    # Unexpected UTF-8 BOM (decode using utf-8-sig)", Python's words, not legal's.
    lock = family / "versions.lock"
    lock.write_bytes(b"\xef\xbb\xbf" + lock.read_bytes())
    before = snapshot(family)
    assert run_cli("validate", family).code == 0
    assert run_cli("lock", family).out == "nothing to lock: every published version is recorded\n"
    assert snapshot(family) == before


def _in_thread(function, timeout: float):
    """Run function in a daemon thread; (finished, its result). A hang leaves the thread blocked, not the suite."""
    import threading

    box = []
    thread = threading.Thread(target=lambda: box.append(function()), daemon=True)
    thread.start()
    thread.join(timeout)
    return (not thread.is_alive()), (box[0] if box else None)


@pytest.mark.slow
@pytest.mark.parametrize("make,message", [
    (lambda path: path.mkdir(), "is a directory, not a regular file (the policy file must be one)"),
    (lambda path: path.symlink_to(path), "a symbolic link that loops (it leads back to itself)"),
    (lambda path: __import__("os").mkfifo(path), "is a FIFO (named pipe), not a regular file (the policy file must be one)"),
    (lambda path: path.symlink_to("/dev/zero"), "is a device, not a regular file (the policy file must be one)"),
])
def test_things_named_like_a_version_that_are_not_files(family, make, message):
    odd = family / "2021-01-01.yaml"
    make(odd)
    before = snapshot(family)
    for command in ("validate", "versions", "lock"):
        finished, result = _in_thread(lambda: run_cli(command, family), timeout=30)
        assert finished, f"{command} did not return within 30 s"
        refused(result, 1, f"{odd}:1:1: error", message)
    assert snapshot(family) == before


@pytest.mark.parametrize("flag", ["--incidents", "--notices"])
def test_dev_zero_as_a_list(tmp_path, minutes, flag):
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, zero)
    refused(result, 1, f"{zero}: is a device, not a regular file (the {flag[2:]} file must be one)")


def test_dev_zero_and_a_fifo_as_a_claim(tmp_path, minutes):
    import os

    ledger = tmp_path / "ledger.sqlite"
    zero, fifo = tmp_path / "zero.json", tmp_path / "fifo.json"
    zero.symlink_to("/dev/zero")
    os.mkfifo(fifo)
    for claim, kind in ((zero, "a device"), (fifo, "a FIFO (named pipe)")):
        finished, result = _in_thread(lambda: run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger), 30)
        assert finished
        refused(result, 1, f"{claim}: is {kind}, not a regular file (the claim must be one)")
    assert not ledger.exists()


def test_dev_zero_as_a_lock_file(family):
    (family / "versions.lock").unlink()
    (family / "versions.lock").symlink_to("/dev/zero")
    refused(run_cli("validate", family), 1,
            f"{family}/versions.lock:1:1: error bad-lock is a device, not a regular file (the versions.lock must be one)")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["2021-01-01.yml", "2021-01-01.YAML"])
def test_a_yml_file_in_a_policy_directory_is_reported(family, name):
    (family / name).write_text(PUBLISHED.read_text())
    refused(run_cli("validate", family), 1,
            f"{family / name}:1:1: error not-read ends in {name[10:]!r}: only files ending in '.yaml' are read as "
            "policy versions; rename it or move it out of the directory")
    refused(run_cli("versions", family), 1, f"{family / name}:1:1: error not-read")


def test_a_yml_draft_is_a_warning(family):
    (family / "drafts" / "next.yml").write_text("x: 1\n")
    result = run_cli("validate", family)
    assert result.code == 0, result.out + result.err
    assert f"{family}/drafts/next.yml:1:1: warning not-read ends in '.yml'" in result.out


def test_a_policy_file_as_the_policy_directory(minutes):
    result = run_cli("evaluate", PUBLISHED, "--minutes", minutes, "--month", "2019-03")
    refused(result, 1, f"{PUBLISHED}:1:1: error not-a-directory a file, not a policy directory")


@pytest.mark.parametrize("value", ["abc", "-5", "1e9", ""])
def test_a_bad_size_limit_in_the_environment_is_a_usage_error(minutes, monkeypatch, value):
    monkeypatch.setenv("SLAPOLICY_MAX_INPUT_BYTES", value)
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03")
    refused(result, 2, f"slapolicy evaluate: SLAPOLICY_MAX_INPUT_BYTES={value!r} is not a whole number of bytes")
    assert result.out == ""


@pytest.mark.parametrize("args,message", [
    (["claim", POLICIES, "{claim}", "--minutes", "{minutes}", "--ledger", "{ledger}", "--now", "yesterday"],
     "argument --now: 'yesterday' is not an ISO 8601 timestamp"),
    (["claim", POLICIES, "{claim}", "--minutes", "{minutes}", "--ledger", "{ledger}", "--now", "2019-05-01T10:00"],
     "argument --now: '2019-05-01T10:00' needs a UTC offset"),
    (["claim", POLICIES, "{claim}", "--minutes", "{minutes}", "--ledger", "{ledger}", "--now", "2019-05-01T10:00+20:00"],
     "argument --now: '2019-05-01T10:00+20:00' has a UTC offset beyond ±14:00"),
    (["replay", POLICIES, "--minutes", "{minutes}", "--from", "2019-03", "--to", "2019-03", "--under", PUBLISHED,
      "--workers", "0"], "argument --workers: 0 is below 1: give at least one process"),
    (["replay", POLICIES, "--minutes", "{minutes}", "--from", "2019-03", "--to", "2019-03", "--under", PUBLISHED,
      "--workers", "two"], "argument --workers: 'two' is not a whole number"),
    (["evaluate", POLICIES, "--minutes", "{minutes}", "--month", "2019-03", "--term-start", "2019-03-17"],
     "slapolicy evaluate: --term-start and --term-end go together: give both or neither"),
    (["evaluate", POLICIES, "--minutes", "{minutes}", "--month", "2019-03", "--term-end", "2019-03-17"],
     "slapolicy evaluate: --term-start and --term-end go together: give both or neither"),
])
def test_usage_mistakes_exit_2(tmp_path, minutes, args, message):
    claim, ledger = tmp_path / "claim.json", tmp_path / "ledger.sqlite"
    claim.write_text(json.dumps(CLAIM))
    names = {"{claim}": claim, "{minutes}": minutes, "{ledger}": ledger}
    result = run_cli(*[names.get(str(a), a) for a in args])
    refused(result, 2, message)
    assert result.out == ""
    assert not ledger.exists()


# ---------------------------------------------------------------------------- strict readers

def test_a_claim_with_a_key_given_twice(tmp_path, minutes):
    claim = tmp_path / "claim.json"
    text = json.dumps(CLAIM)
    claim.write_text(text[:-1] + ', "account": "b"}')  # the last value used to win
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-05-01T00:00Z")
    # placed at the second "account", as a key written twice in a YAML list is (it was said without a place)
    refused(result, 1, f"{claim}:1:{len(text) + 2}: not valid JSON: key 'account' appears twice in one object")
    assert not ledger.exists()


@pytest.mark.parametrize("field", ["account", "event_report"])
def test_a_claim_with_half_a_utf16_pair(tmp_path, minutes, field):
    # JSON may escape a lone surrogate; Python keeps it and could not write it to the ledger (was exit 3).
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps({**CLAIM, field: "PLACEHOLDER"}).replace("PLACEHOLDER", "x\\ud800"))
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", ledger, "--now", "2019-05-01T00:00Z")
    at = claim.read_text().index('"x\\ud800"') + 1  # at the string that holds it
    refused(result, 1, f"{claim}:1:{at}: holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)")
    assert not ledger.exists()


@pytest.mark.parametrize("flag,name,text,message", [
    ("--incidents", "i.yaml", "- id: I-1\n  id: I-2\n  start: 2019-03-12T10:00\n  end: 2019-03-12T11:00\n  cause: provider\n",
     "i.yaml:2:3: not valid YAML: key 'id' appears twice in one mapping"),
    ("--incidents", "i.json", '[{"id": "I-1", "start": "2019-03-12T10:00", "end": "2019-03-12T11:00", "cause": "provider",'
                              ' "cause": "customer_network"}]', "i.json:1:93: not valid JSON: key 'cause' appears twice in one object"),
    ("--notices", "n.yaml", "- {id: N, kind: maintenance, kind: major_event, published_at: 2019-03-01T00:00,"
                            " start: 2019-03-12T10:00, end: 2019-03-12T11:00}\n",
     "n.yaml:1:30: not valid YAML: key 'kind' appears twice in one mapping"),  # "- {id: N, " is 10 characters, the first kind 19 more
    ("--notices", "n.json", '[{"id": NaN}]', "n.json:1:9: not valid JSON: NaN is not a JSON number (JSON has no NaN or Infinity)"),
    ("--notices", "n.json", '[{"id": 1,\n  "x": -Infinity}]', "n.json:2:8: not valid JSON: -Infinity is not a JSON number"),
    ("--incidents", "i.json", "\ufeff" + "[1", "i.json:1:3: not valid JSON"),
])
def test_lists_with_keys_given_twice_or_numbers_json_has_not(tmp_path, minutes, flag, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, path)
    refused(result, 1, f"{tmp_path}/{message}")
    assert result.out == ""


def test_a_utf16_claim_is_named_as_such(tmp_path, minutes):
    claim = tmp_path / "claim.json"
    claim.write_bytes(json.dumps(CLAIM).encode("utf-16"))
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", tmp_path / "l.sqlite")
    refused(result, 1, f"{claim}: the claim is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a "
                       "file), not UTF-8: save it as UTF-8")
    # without a byte order mark (UTF-16 LE), it was read as UTF-8 and refused as JSON it is not
    claim.write_bytes(json.dumps(CLAIM).encode("utf-16-le"))
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", tmp_path / "l.sqlite")
    refused(result, 1, f"{claim}: the claim is UTF-16 (as Notepad's \"Unicode\" and Word's \"Unicode Text\" save a "
                       "file), not UTF-8: save it as UTF-8")


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_a_utf32_claim_is_named_as_such(tmp_path, minutes, encoding):
    """It was told "the claim is UTF-16 (as Notepad's ...)": UTF-32's mark begins as UTF-16's, and its zero bytes
    fall at every other place too."""
    claim = tmp_path / "claim.json"
    claim.write_bytes(json.dumps(CLAIM).encode(encoding))
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", tmp_path / "l.sqlite")
    refused(result, 1, f"{claim}: the claim is UTF-32, not UTF-8: save it as UTF-8 (or convert it: iconv -f UTF-32 -t "
                       "UTF-8)")


@pytest.mark.parametrize("text, encoding", [
    ("id: x\n", None), ("§ and é\n", None), ("", None), ("ab", None),
    ("id: x\n", "utf-16"), ("id: x\n", "utf-16-le"), ("id: x\n", "utf-16-be"),
    ("id: x\n", "utf-32"), ("id: x\n", "utf-32-le"), ("id: x\n", "utf-32-be")])
def test_text_in_utf_16_or_32_is_told_in_one_place(text, encoding):
    from slapolicy.files import wide_encoding

    raw = text.encode(encoding or "utf-8")
    assert wide_encoding(raw) == (None if encoding is None else encoding[:6].upper())
    assert wide_encoding(text.encode("utf-8-sig")) is None  # UTF-8's own mark is read as UTF-8


def test_a_claim_with_a_5000_digit_number(tmp_path, minutes):
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(CLAIM)[:-1] + ', "term_start": ' + "9" * 5000 + "}")
    result = run_cli("claim", POLICIES, claim, "--minutes", minutes, "--ledger", tmp_path / "l.sqlite")
    # valid JSON (RFC 8259 sets no limit on a number's digits): said as the service says it, not as "not valid JSON",
    # at the number
    at = len(json.dumps(CLAIM)) + len(', "term_start": ')
    assert (result.code, result.err) == (1, f"slapolicy: {claim}:1:{at}: holds a whole number of more than 4300 digits\n")


@pytest.mark.parametrize("flag", ["--billing", "--incidents", "--policy-file"])
def test_a_directory_where_a_file_is_expected(tmp_path, minutes, flag):
    folder = tmp_path / ("x.csv" if flag == "--billing" else "x.yaml")
    folder.mkdir()
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, folder)
    refused(result, 1, f"{folder}", "is a directory, not a regular file")


# ---------------------------------------------------------------------------- API calls with wrong types

@pytest.fixture(scope="module")
def engine():
    from slapolicy import Engine

    return Engine(POLICIES)


def test_in_force_of_a_month_that_does_not_exist(engine):
    from slapolicy import InputError

    with pytest.raises(InputError, match=r"^month '2019-13' is not a month written YYYY-MM \(no month 13\)$"):
        engine.in_force("2019-13")
    with pytest.raises(InputError, match=r"^month 'March' is not a month written YYYY-MM$"):
        engine.in_force("March")
    # As evaluate's month and the CLI's --month say it (calendar.month_meant): a day of the month, or no zero.
    for month in ("2019-3", "2019-03-01", "2019/03"):
        with pytest.raises(InputError, match=rf"^month '{month}' is not a month written YYYY-MM: write 2019-03$"):
            engine.in_force(month)


@pytest.mark.parametrize("call,message", [
    (lambda e, m: e.in_force(201903), "month must be a string written YYYY-MM or a datetime.date, not int"),
    (lambda e, m: e.decide_claim(None, minutes=m), "claim_data must be a dict (the claim as read from CLAIM.json), not NoneType"),
    (lambda e, m: e.decide_claim(CLAIM, minutes=m, now="2019-05-01T00:00Z"), "now must be an aware datetime.datetime, not str"),
    (lambda e, m: e.decide_claim(CLAIM, minutes=m, now=__import__("datetime").datetime(2019, 5, 1)),
     "now must have a UTC offset (an aware datetime)"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", accounts="acme"),
     "accounts must be a list of account names (e.g. ['acme']), not str"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", accounts=[7.0]),  # 7 is account "7" (test_account_rule)
     "accounts: 7.0 is not an account name: write the name as text (a whole number is read as its digits)"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", accounts=[]),
     "accounts is empty: name at least one account, or leave it out (None) for every account"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", accounts=[" "]), "account name ' ' is blank: name an account"),
    (lambda e, m: e.evaluate(minutes=m, month=201903), "month must be a string written YYYY-MM, not int"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", term_start="2019-03-17", term_end="2019-06-16"),
     "term_start must be a datetime.date, not str"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", term_start=__import__("datetime").date(2019, 3, 17)),
     "term_start and term_end go together: give both or neither"),
    (lambda e, m: e.replay(minutes=m, start="2019-03", end="2019-03", under=PUBLISHED, workers="2"),
     "workers must be a whole number (int), not str"),
    (lambda e, m: e.replay(minutes=m, start="2019-03", end="2019-03", under=PUBLISHED, workers=0),
     "workers must be at least 1, not 0"),
    (lambda e, m: e.replay(minutes=m, start="2019-03", end="2019-03", under=PUBLISHED, dask=8786),
     "dask must be the scheduler's address as a string (tcp://host:8786), not int"),
    (lambda e, m: e.replay(minutes=m, start="2019-03", end="2019-03", under=None), "under must be a path (str or os.PathLike), not NoneType"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", policy_file=5), "policy_file must be a path (str or os.PathLike), not int"),
    (lambda e, m: __import__("slapolicy").Engine(None), "policy_dir must be a path (str or os.PathLike), not NoneType"),
    (lambda e, m: __import__("slapolicy").Engine(POLICIES, ledger=5), "ledger must be a path (str or os.PathLike), not int"),
    (lambda e, m: __import__("slapolicy").Engine(POLICIES, workers=0), "workers must be at least 1, not 0"),
    (lambda e, m: __import__("slapolicy").Engine(POLICIES, dask=8786),
     "dask must be the scheduler's address as a string (tcp://host:8786), not int"),
    # "" and both were accepted: the work ran here, or on Dask without the processes asked for, and nothing said so
    (lambda e, m: __import__("slapolicy").Engine(POLICIES, dask=""),
     "dask is an empty string, which names no Dask scheduler: give its address (tcp://host:8786), or None to run here"),
    (lambda e, m: e.replay(minutes=m, start="2019-03", end="2019-03", under=PUBLISHED, dask=" "),
     "dask is an empty string, which names no Dask scheduler: give its address (tcp://host:8786), or None to run here"),
    (lambda e, m: __import__("slapolicy").Engine(POLICIES, workers=2, dask="tcp://127.0.0.1:1"),
     "workers=2 and dask='tcp://127.0.0.1:1' name two places to run the work: give one"),
    (lambda e, m: e.evaluate(minutes=m, month="2019-03", workers=1, dask="tcp://127.0.0.1:1"),
     "workers=1 and dask='tcp://127.0.0.1:1' name two places to run the work: give one"),
    (lambda e, m: __import__("slapolicy").PolicyDirectory(""), "policy_dir must be a path (str or os.PathLike), not str (an empty string)"),
    (lambda e, m: __import__("slapolicy").load_policy(None), "the policy file must be a path (str or os.PathLike), not NoneType"),
    (lambda e, m: __import__("slapolicy").service_months("2019-03-01", "2019-04-01"), "term_start must be a datetime.date, not str"),
])
def test_api_calls_with_wrong_types_raise_argument_error(engine, tmp_path, call, message):
    from slapolicy.errors import ArgumentError, SlapolicyError

    minutes = tmp_path / "m.csv"
    minutes.write_text(MINUTES)
    ledger = tmp_path / "ledger.sqlite"
    engine.ledger_path = ledger
    with pytest.raises(ArgumentError) as caught:
        call(engine, minutes)
    assert str(caught.value) == message
    assert isinstance(caught.value, SlapolicyError) and isinstance(caught.value, TypeError)
    assert not ledger.exists()


def test_the_api_refuses_month_9999_12(tmp_path):
    from slapolicy import InputError, evaluate

    minutes = tmp_path / "m.csv"
    minutes.write_text(MINUTES)
    with pytest.raises(InputError, match="^month 9999-12 is outside the years 0002 to 9998 that slapolicy can evaluate$"):
        evaluate(POLICIES, minutes=minutes, month="9999-12")


def test_replay_up_to_the_last_supported_month(minutes):
    # 9998-11 and 9998-12: no minute of the file lies in them and no account is billed, so no row; the months
    # are walked without asking for 9999-01.
    result = run_cli("replay", POLICIES, "--minutes", minutes, "--from", "9998-11", "--to", "9998-12", "--under", PUBLISHED)
    assert result.code == 0, result.err
    assert result.json()["rows"] == []


@pytest.mark.parametrize("flag", ["--minutes", "--billing", "--incidents", "--notices"])
def test_a_symbolic_link_that_loops_as_an_input(tmp_path, minutes, flag):
    loop = tmp_path / ("loop.csv" if flag in ("--minutes", "--billing") else "loop.yaml")
    loop.symlink_to(loop)
    args = ["evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", flag, loop]
    if flag == "--minutes":
        args = ["evaluate", POLICIES, "--minutes", loop, "--month", "2019-03"]
    refused(run_cli(*args), 1, f"{loop}: a symbolic link that loops (it leads back to itself)")


ODD_OPTIONS = ["9999-12", "0000-01", "0001-01", "2019-00", "2019-13", "2019-3", "-2019-03", "2019-03-32", "10000-01",
               "٢٠١٩-٠٣", "2019-02-29", "2020-02-29", "9999-12-31", "0000-01-01", "0001-01-01", " 2019-03", "2019-03\n",
               "2019-03T00:00", "nan", "1e9", ""]
option_text = st.text(max_size=14) | st.sampled_from(ODD_OPTIONS)


OUTSIDE = "is outside the years 0002 to 9998 that slapolicy can evaluate"


@pytest.mark.parametrize("value,code,message", [
    ("9999-12", 2, f"argument --month: 9999-12 {OUTSIDE}"), ("0000-01", 2, f"argument --month: 0000-01 {OUTSIDE}"),
    ("0001-01", 2, f"argument --month: 0001-01 {OUTSIDE}"), ("10000-01", 2, "argument --month: '10000-01' is not a month written YYYY-MM"),
    ("2019-00", 2, "argument --month: '2019-00' is not a month written YYYY-MM"), ("2019-3", 2, "is not a month written YYYY-MM"),
    ("٢٠١٩-٠٣", 2, "argument --month: '٢٠١٩-٠٣' is not a month written YYYY-MM"), (" 2019-03", 2, "is not a month written YYYY-MM"),
    ("2019-03T00:00", 2, "is not a month written YYYY-MM"), ("", 2, "argument --month: '' is not a month written YYYY-MM"),
    ("-2019-03", 2, "argument --month: expected one argument"),
])
def test_odd_months_in_options(value, code, message):
    refused(run_cli("show", POLICIES, "--month", value), code, message)


@pytest.mark.parametrize("value,code,message", [
    ("9999-12-31", 2, f"argument --start: 9999-12-31 {OUTSIDE}"), ("0001-01-01", 2, f"argument --start: 0001-01-01 {OUTSIDE}"),
    ("0000-01-01", 2, "argument --start: '0000-01-01' is not a date written YYYY-MM-DD"),
    ("2019-02-29", 2, "argument --start: '2019-02-29' is not a date written YYYY-MM-DD"),
    ("9999-12", 2, "argument --start: '9999-12' is not a date written YYYY-MM-DD"),
    # ISO 8601's basic and week forms, which date.fromisoformat reads (2019-03-01, 2019-02-25): not YYYY-MM-DD.
    ("20190301", 2, "argument --start: '20190301' is not a date written YYYY-MM-DD"),
    ("2019-W09-1", 2, "argument --start: '2019-W09-1' is not a date written YYYY-MM-DD"),
    ("2020-02-29", 2, "slapolicy months: --end 2019-03-31 is before --start 2020-02-29"),
])
def test_odd_dates_in_options(value, code, message):
    refused(run_cli("months", "--start", value, "--end", "2019-03-31"), code, message)


@pytest.mark.slow  # 120 examples of 4 commands: about 10 s
@settings(max_examples=120, deadline=None, derandomize=True)
@given(month=option_text, start=option_text, end=option_text)
def test_option_values_never_crash(month, start, end):
    # No file is read before a month or date is checked, so each run is a few milliseconds.
    for args in (["months", "--start", start, "--end", end], ["show", POLICIES, "--month", month],
                 ["evaluate", POLICIES, "--minutes", "/nonexistent.csv", "--month", month],
                 ["replay", POLICIES, "--minutes", "/nonexistent.csv", "--from", month, "--to", end, "--under", PUBLISHED]):
        result = run_cli(*args)
        assert result.code in (0, 1, 2), (args, result.code, result.err[-500:])
        assert "Traceback" not in result.err and "internal error" not in result.err, (args, result.err[-500:])


def test_a_number_json_cannot_hold_in_a_list_is_a_message(tmp_path, minutes):
    # Incident lists are read with decimals kept exact; 1e999 (beyond a float) once ended in exit 3.
    incidents = tmp_path / "i.json"
    incidents.write_text("1e999")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--incidents", incidents)
    assert result.code == 1 and "Traceback" not in result.err and str(incidents) in result.err
