"""`slapolicy serve`: the real server process on a free loopback port, every route and every error class over HTTP."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DRAFT, POLICIES, REPO, run_cli
from helpers import standard_amendment
from serving import DATA, EXAMPLES, serving, wait_until

PROBLEM = "application/problem+json"
LOCKED_SHA = json.loads((POLICIES / "versions.lock").read_text())["2019-01-01.yaml"]


def family_copy(tmp_path):
    family = tmp_path / "ccc"
    family.mkdir()
    for name in ("2019-01-01.yaml", "versions.lock"):
        shutil.copy(POLICIES / name, family / name)
    (family / "drafts").mkdir()
    shutil.copy(DRAFT, family / "drafts" / DRAFT.name)
    return family



def cli_json(*args):
    result = run_cli(*args)
    assert result.code == 0, result.err
    return result.json()


def cli_error(*args) -> str:
    """The message the CLI prints for a refused input (exit 1), without its 'slapolicy: ' prefix."""
    result = run_cli(*args)
    assert (result.code, result.out) == (1, ""), result.err
    return result.err.removeprefix("slapolicy: ").rstrip("\n")


def problem(answer, status, kind):
    code, content_type, body = answer
    assert (code, content_type) == (status, PROBLEM), body
    assert body["type"] == f"urn:slapolicy:problem:{kind}" and body["status"] == status
    return body


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="module")
def server(tmp_module):
    """Serving a copy of policies/ccc with the example data and a fresh ledger."""
    family = family_copy(tmp_module)
    with serving(family, "--ledger", tmp_module / "ledger.sqlite", *DATA) as running:
        running.family, running.ledger = family, tmp_module / "ledger.sqlite"
        yield running


@pytest.fixture(scope="module")
def bare(tmp_module):
    """Serving another copy without any data source, with a 2 KiB body limit."""
    bare_dir = tmp_module / "bare"
    bare_dir.mkdir()
    family = family_copy(bare_dir)
    with serving(family, "--ledger", bare_dir / "ledger.sqlite", "--max-body", 2048) as running:
        running.family = family
        yield running


pytestmark = pytest.mark.slow  # each module starts server processes (a few seconds each)


# ---------------------------------------------------------------------------- the process

def test_it_binds_loopback_unless_told_and_prints_where(server):
    assert server.host == "127.0.0.1"
    assert server.banner.startswith("slapolicy serve: 1 version(s) of ")
    assert server.banner.endswith(f" on http://127.0.0.1:{server.port}/v1 (OpenAPI at /openapi.json; Ctrl-C stops)\n")


def test_a_taken_port_is_one_line_and_exit_1(server):
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", str(server.port)],
                         capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"slapolicy: cannot listen on 127.0.0.1:{server.port}: Address already in use\n"


def test_a_missing_data_file_is_refused_at_start(tmp_path):
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", "0",
                          "--minutes", str(tmp_path / "nope.csv")], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"slapolicy: --minutes {tmp_path / 'nope.csv'}: no such file or directory\n"


# ---------------------------------------------------------------------------- reading routes

def test_health(server):
    status, content_type, body = server.call("GET", "/v1/health")
    assert (status, content_type) == (200, "application/json")
    assert (body["status"], body["versions"], body["engine"]) == ("ok", 1, "0.3.0")


def test_versions_name_the_loaded_sha256(server):
    status, _, body = server.call("GET", "/v1/versions")
    assert status == 200
    assert body["versions"] == [{"version": "2019-01-01", "effective_from": "2019-01-01", "sha256": LOCKED_SHA,
                                 "file": "2019-01-01.yaml"}]
    assert body["refresh_error"] is None


def test_policy_is_the_version_in_force_and_its_terms_as_show_json(server):
    status, _, body = server.call("GET", "/v1/policy?month=2019-03")
    assert status == 200
    assert body["policy"]["file"] == "2019-01-01.yaml"  # within the policy directory, as /v1/versions names it
    shown = cli_json("show", POLICIES, "--month", "2019-03", "--json")
    assert body == shown | {"policy": shown["policy"] | {"file": "2019-01-01.yaml"}}
    assert (body["policy"]["sha256"], body["standard"]["value"]) == (LOCKED_SHA, "99.5%")


def test_policy_errors(server):
    detail = problem(server.call("GET", "/v1/policy?month=2018-12"), 404, "no-version-in-force")["detail"]
    # the CLI's message, naming the directory by its own name, not by where the server keeps it (docs/service.md)
    assert detail == cli_error("show", server.family, "--month", "2018-12").replace(str(server.family),
                                                                                   server.family.name)
    assert detail.startswith(f"no version of {server.family.name} is in force")
    assert detail.endswith("is in force for the Service Month starting 2018-12-01: the earliest version takes effect on 2019-01-01")
    # A malformed month is the CLI's usage error (exit 2): 400, naming where it was given.
    body = problem(server.call("GET", "/v1/policy?month=2019-13"), 400, "bad-request")
    assert body["detail"] == "query parameter 'month': '2019-13' is not a month written YYYY-MM"
    assert body["instance"] == "/v1/policy"
    body = problem(server.call("GET", "/v1/policy"), 400, "bad-request")
    assert body["detail"] == "query parameter 'month' is required (YYYY-MM)"
    body = problem(server.call("GET", "/v1/policy?month=2019-03&account=acme"), 400, "bad-request")
    assert body["detail"] == "unknown query parameter 'account' (known: month)"


# ---------------------------------------------------------------------------- evaluate

def test_evaluate_answers_the_cli_json(server):
    status, _, body = server.call("POST", "/v1/evaluate", {"month": "2019-03"})
    assert status == 200
    assert body == cli_json("evaluate", server.family, "--month", "2019-03", *DATA)
    assert [(e["account"], e["availability_percent"], e["compensation"]) for e in body["evaluations"]] == [
        ("acme", "99.90", "0.00"), ("globex", "99.46", "180.00"), ("initech", "93.55", "400.00")]


def test_evaluate_only_the_accounts_asked_under_a_named_published_version(server):
    status, _, body = server.call("POST", "/v1/evaluate", {"month": "2019-03", "accounts": ["initech"],
                                                          "policy_version": "2019-01-01"})
    assert status == 200
    expected = cli_json("evaluate", server.family, "--month", "2019-03", "--account", "initech", *DATA,
                        "--policy-file", server.family / "2019-01-01.yaml")
    # the version's file by its name, not by where the server keeps it
    said = expected["evaluations"][0]["trace"][0]["detail"]
    assert said.startswith(f"evaluated under 2019-01-01 ({server.family / '2019-01-01.yaml'}) as asked")
    expected["evaluations"][0]["trace"][0]["detail"] = said.replace(str(server.family / "2019-01-01.yaml"),
                                                                    "2019-01-01.yaml")
    assert body == expected and [e["account"] for e in body["evaluations"]] == ["initech"]


def test_evaluate_small_inline_data(server):
    # 30 minutes of 100 requests with 2 failures: success 98 % < 99 %, so 30 unavailable minutes (§1.5);
    # (1 − 30/44640) × 100 = 99.9327…% ≥ 99.5 %: the standard is met, credit 0, compensation 0.00 of 1000.00.
    minutes = [{"account": "a", "minute": f"2019-03-12T10:{m:02d}", "requests": 100, "failures": 2} for m in range(30)]
    billing = [{"account": "a", "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}]
    status, _, body = server.call("POST", "/v1/evaluate", {"month": "2019-03", "minutes": minutes, "billing": billing,
                                                          "incidents": [], "notices": []})
    assert status == 200
    (evaluation,) = body["evaluations"]
    assert (evaluation["unavailable_minutes"], evaluation["availability_percent"], evaluation["meets_standard"],
            evaluation["credit_percent"], evaluation["compensation"]) == (30, "99.93", True, 0, "0.00")


def test_evaluate_errors(server, bare):
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-13"}), 400, "bad-request")
    assert body["detail"] == "field 'month': '2019-13' is not a month written YYYY-MM"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "9999-12"}), 400, "bad-request")
    assert body["detail"] == "field 'month': 9999-12 is outside the years 0002 to 9998 that slapolicy can evaluate"
    bad_minute = [{"account": "a", "minute": "2019-03-12T10:00:30", "requests": 1, "failures": 0}]
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "minutes": bad_minute}), 422, "invalid-input")
    assert "field 'minutes[0].minute': '2019-03-12T10:00:30' has seconds" in body["detail"]
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2018-12"}), 404, "no-version-in-force")
    assert body["detail"].endswith("the earliest version takes effect on 2019-01-01")
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "policy_version": "2027-01-01"}),
                   404, "not-found")
    assert body["detail"] == "policy_version '2027-01-01' is not a published version (published: 2019-01-01)"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "term_start": "2019-03-05"}),
                   400, "bad-request")
    assert body["detail"] == "term_start and term_end go together"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "term_start": "20190301",
                                                         "term_end": "2019-03-31"}), 400, "bad-request")
    assert body["detail"] == "field 'term_start': '20190301' is not a date written YYYY-MM-DD"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "term_start": "2019-03-17",
                                                         "term_end": "2019-03-16"}), 400, "bad-request")
    assert body["detail"] == "'term_end' 2019-03-16 is before 'term_start' 2019-03-17"
    body = problem(server.call("POST", "/v1/evaluate", {"month": 201903}), 400, "bad-request")
    assert body["detail"] == "field 'month' must be a string, not a number"
    body = problem(server.call("POST", "/v1/evaluate", {"accounts": ["acme"]}), 400, "bad-request")
    assert body["detail"] == "'month' is a required property"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "account": "acme"}), 400, "bad-request")
    assert body["detail"] == ("unknown field 'account' (known: month, accounts, policy_version, term_start, term_end, "
                              "minutes, incidents, notices, billing); did you mean 'accounts'?")
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "acounts": ["acme"]}), 400, "bad-request")
    assert body["detail"].endswith("; did you mean 'accounts'?")
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "region": "eu"}), 400, "bad-request")
    assert body["detail"].endswith("minutes, incidents, notices, billing)")  # nothing near: no guess
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "accounts": "acme"}), 400, "bad-request")
    assert body["detail"] == 'field \'accounts\' must be a list or null, not a string: write "accounts": ["acme"]'
    body = problem(bare.call("POST", "/v1/evaluate", {"month": "2019-03"}), 409, "not-configured")
    assert body["detail"] == "no minutes: send them inline ('minutes': [...]) or start the service with --minutes"


def test_malformed_and_oversized_bodies(server, bare):
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": '), 400, "bad-request")
    assert body["detail"] == "the request body is not JSON: Expecting value at line 1, column 11"
    body = problem(server.call("POST", "/v1/evaluate", raw=b""), 400, "bad-request")
    assert body["detail"] == "the request body is empty: send a JSON object"
    body = problem(server.call("POST", "/v1/evaluate", ["2019-03"]), 400, "bad-request")
    assert body["detail"] == "the request body must be a JSON object"
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": "2019-03", "month": "2019-04"}'), 400, "bad-request")
    assert body["detail"] == "the request body gives the key 'month' twice in one object"
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": "2019-03", "minutes": [{"requests": NaN}]}'),
                   400, "bad-request")
    assert body["detail"] == "the request body holds NaN, which is not JSON"
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": "\xff"}'), 400, "bad-request")
    assert body["detail"] == "the request body is not UTF-8: byte 0xff at offset 11 is not: send it as UTF-8"
    # Latin-1 text after a UTF-8 byte order mark: the offset is of the body as sent
    body = problem(server.call("POST", "/v1/evaluate", raw=b'\xef\xbb\xbf{"month": "caf\xe9"}'), 400, "bad-request")
    assert body["detail"] == "the request body is not UTF-8: byte 0xe9 at offset 17 is not: send it as UTF-8"
    # Each of these answered 500: half a UTF-16 pair, nesting past Python's recursion limit, 5000 digits.
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": "2019-03", "accounts": ["\\ud800"]}'),
                   400, "bad-request")
    assert body["detail"] == "the request body holds text that is not valid Unicode (a lone surrogate escape such as \\ud800)"
    body = problem(server.call("POST", "/v1/evaluate", raw=b"[" * 100_000 + b"]" * 100_000), 400, "bad-request")
    assert body["detail"] == "the request body is nested too deeply"
    body = problem(server.call("POST", "/v1/evaluate", raw=b'{"month": "2019-03", "minutes": [{"requests": '
                               + b"9" * 5000 + b"}]}"), 400, "bad-request")
    assert body["detail"] == "the request body holds a whole number of more than 4300 digits"
    # The bare server takes at most 2048 bytes: 2049 are refused, whatever they hold.
    body = problem(bare.call("POST", "/v1/evaluate", raw=b" " * 2049), 413, "too-large")
    assert body["detail"] == "the request body is larger than 2048 bytes"
    inline = [{"account": "a", "minute": f"2019-03-12T10:{m:02d}", "requests": 1, "failures": 0} for m in range(20)]
    small = json.dumps({"month": "2019-03", "minutes": inline}).encode()
    assert len(small) <= 2048  # accepted: the limit is on size, not on rows
    assert bare.call("POST", "/v1/evaluate", raw=small)[0] == 200


def test_unknown_routes_and_methods(server):
    body = problem(server.call("GET", "/v1/nothing"), 404, "not-found")
    assert body["detail"] == "no route /v1/nothing (see /openapi.json)"
    # a newcomer's route, one letter or the version away from one: named
    body = problem(server.call("POST", "/v1/claim", {}), 404, "not-found")
    assert body["detail"] == "no route /v1/claim (see /openapi.json); did you mean /v1/claims?"
    body = problem(server.call("POST", "/evaluate", {}), 404, "not-found")
    assert body["detail"] == "no route /evaluate (see /openapi.json); did you mean /v1/evaluate?"
    body = problem(server.call("DELETE", "/v1/versions"), 405, "method-not-allowed")
    assert body["detail"] == "DELETE is not allowed on /v1/versions"


# ---------------------------------------------------------------------------- claims

def test_a_claim_is_decided_recorded_once_and_read_back(server, tmp_path):
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    status, _, decision = server.call("POST", "/v1/claims", claim)
    assert status == 201
    # globex, March 2019: 99.46 % < 99.5 %, tier 10 % of 1800.00 = 180.00 (within the fee paid 1650.00).
    assert (decision["decision"], decision["compensation"], decision["window"]["opens"]) == (
        "approved", "180.00", "2019-04-06T00:00:00+08:00")
    cli = cli_json("claim", server.family, EXAMPLES / "claim-globex-2019-03.json", *DATA, "--ledger", tmp_path / "l.sqlite")
    assert {k: v for k, v in decision.items() if k != "decided_at"} == {k: v for k, v in cli.items() if k != "decided_at"}
    status, _, again = server.call("POST", "/v1/claims", claim)
    assert (status, again["repeated"], again["decision_id"]) == (200, True, decision["decision_id"])
    status, _, recorded = server.call("GET", f"/v1/claims/{decision['decision_id']}")
    assert (status, recorded) == (200, {k: v for k, v in decision.items() if k != "repeated"})


def test_a_claim_filed_from_the_cli_and_again_over_http_with_nulls_is_one_claim(server, tmp_path):
    """The CLI files the claim without contact or terms; HTTP sends the same claim with them null
    (as JSON clients do): answered from the record (200, repeated), nothing new appended."""
    from slapolicy.ledger import Ledger

    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text()) | {"claim_id": "filed-twice"}
    assert not {"contact", "term_start", "term_end"} & set(claim)
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    filed = cli_json("claim", server.family, tmp_path / "claim.json", *DATA, "--ledger", server.ledger)
    with Ledger(server.ledger) as ledger:
        before = ledger.counts()
    nulls = claim | {"contact": None, "term_start": None, "term_end": None}
    status, _, again = server.call("POST", "/v1/claims", nulls)
    assert (status, again["repeated"], again["decision_id"]) == (200, True, filed["decision_id"])
    assert {k: v for k, v in again.items() if k != "repeated"} == {k: v for k, v in filed.items() if k != "repeated"}
    with Ledger(server.ledger) as ledger:
        assert ledger.counts() == before


def test_claim_errors(server, bare, tmp_path):
    incomplete = {"account": "globex", "service_month": "2019-03"}
    body = problem(server.call("POST", "/v1/claims", incomplete), 422, "invalid-input")
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(incomplete))
    expected = cli_error("claim", server.family, claim_file, *DATA, "--ledger", tmp_path / "l.sqlite")
    assert body["detail"] == expected.replace(str(claim_file), "claim")
    assert "field 'filed_at'" in body["detail"]
    # A claim that is not an object is the claim's problem, as in a file (exit 1): 422, the CLI's message.
    body = problem(server.call("POST", "/v1/claims", ["claim"]), 422, "invalid-input")
    assert body["detail"] == "claim: a claim is a JSON object, not a list"
    claim_file.write_text('["claim"]')
    assert cli_error("claim", server.family, claim_file, *DATA, "--ledger", tmp_path / "l.sqlite") == \
        f"{claim_file}: a claim is a JSON object, not a list"
    assert not (tmp_path / "l.sqlite").exists()
    body = problem(server.call("GET", "/v1/claims/D-00000000000000000000"), 404, "not-found")
    assert body["detail"] == "no decision 'D-00000000000000000000' in the ledger"
    body = problem(server.call("GET", "/v1/claims/robert%27%29%3B%20DROP%20TABLE%20decisions"), 404, "not-found")
    assert body["detail"].endswith("decision ids are written D- and 20 hexadecimal digits")
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    body = problem(bare.call("POST", "/v1/claims", claim), 409, "not-configured")
    assert body["detail"] == "claims are decided from the provider's records: start the service with --minutes"


# ---------------------------------------------------------------------------- replay

def test_replay_answers_the_cli_json(server):
    under = DRAFT.name
    status, _, body = server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": under})
    assert status == 200
    assert body["under"]["file"] == f"drafts/{under}"  # within the policy directory, not a server path
    expected = cli_json("replay", POLICIES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT, *DATA)
    assert body == expected | {"under": expected["under"] | {"file": f"drafts/{under}"}}
    assert body["totals"]["overall"]["delta"] == "250.00"  # acme: 99.90 % < 99.95 % → tier 10 % of 2500.00


def test_replay_refuses_paths_and_unknown_drafts(server, bare, tmp_module):
    for under in ("../2019-01-01.yaml", "/etc/passwd.yaml", "..", "..\\2019-01-01.yaml", ""):
        body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": under}),
                       400, "bad-request")
        assert body["detail"] == (f"field 'under': {under!r} must be the file name of a draft in the policy directory's "
                                  "drafts/ (no directory, no absolute path)")
    # a draft's path as `slapolicy replay --under` takes it: told the name to give
    for under in ("drafts/x.yaml", "policies/ccc/drafts/x.yaml", "drafts\\x.yaml"):
        body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": under}),
                       400, "bad-request")
        assert body["detail"] == (f"field 'under': {under!r} must be the file name of a draft in the policy directory's "
                                  "drafts/ (no directory, no absolute path): give its file name alone, 'x.yaml'")
    for under, why in (("..yaml", "is a hidden file"), (".draft.yaml", "is a hidden file"),
                       ("x.txt", "is not a policy file"), ("x.yml", "is not a policy file"),
                       ("x\n.yaml", "holds a control character")):
        body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": under}),
                       400, "bad-request")
        assert body["detail"] == f"field 'under': {under!r} {why}: a draft is named NAME.yaml"
    outside = tmp_module / "outside.yaml"
    outside.write_text(DRAFT.read_text())
    family = tmp_module / "ccc"
    (family / "drafts" / "escape.yaml").symlink_to(outside)
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "escape.yaml"}),
                   404, "not-found")
    assert body["detail"].startswith("field 'under': no draft 'escape.yaml' in the policy directory's drafts/ (drafts: ")
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": "none.yaml"}),
                   404, "not-found")
    assert body["detail"].endswith(f"(drafts: {DRAFT.name}, escape.yaml)")
    # A range backwards is a usage error of the CLI (exit 2: it was exit 1 and 422), so a bad request here.
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-04", "to": "2019-03", "under": DRAFT.name}),
                   400, "bad-request")
    assert body["detail"] == "'to' 2019-03 is before 'from' 2019-04"
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-01", "to": "9998-12", "under": DRAFT.name}),
                   400, "bad-request")
    assert body["detail"] == ("'from' 2019-01 'to' 9998-12 is 95,760 Service Months; a replay covers at most 1,200 "
                              "(100 years), as its report has a line for every month of the range: check the years, "
                              "or replay the range in parts")
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "under": DRAFT.name}), 400, "bad-request")
    assert body["detail"] == "'to' is a required property"
    body = problem(bare.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": DRAFT.name}),
                   409, "not-configured")
    assert body["detail"] == "replay reads the minutes the service was started with: start it with --minutes"


def test_a_draft_named_with_spaces_and_non_ascii_letters_replays_as_the_cli_replays_it(tmp_path):
    family = family_copy(tmp_path)
    draft = family / "drafts" / "2027-01-01 standard ü.yaml"
    shutil.move(family / "drafts" / DRAFT.name, draft)
    with serving(family, *DATA) as running:
        status, _, body = running.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": draft.name})
    assert status == 200
    assert body["under"]["file"] == f"drafts/{draft.name}"
    expected = cli_json("replay", family, "--from", "2019-03", "--to", "2019-03", "--under", draft, *DATA)
    assert body == expected | {"under": expected["under"] | {"file": f"drafts/{draft.name}"}}
    assert body["totals"]["overall"]["delta"] == "250.00"  # acme: 99.90 % < 99.95 % → tier 10 % of 2500.00


# ---------------------------------------------------------------------------- query parameters and field types

def recorded(server):
    """The ledger's (decisions, grants), or None while no claim created it: to show a refused request wrote nothing."""
    from slapolicy.ledger import Ledger

    if not server.ledger.exists():
        return None
    with Ledger(server.ledger, readonly=True) as ledger:
        return ledger.counts()


def test_an_unknown_or_repeated_query_parameter_is_refused_on_every_route(server):
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    replay = {"from": "2019-03", "to": "2019-03", "under": DRAFT.name}
    before = recorded(server)
    for method, path, body in (("GET", "/v1/health", None), ("GET", "/v1/versions", None),
                               ("POST", "/v1/evaluate", {"month": "2019-03"}), ("POST", "/v1/claims", claim),
                               ("GET", "/v1/claims/D-00000000000000000000", None), ("POST", "/v1/replay", replay),
                               ("GET", "/openapi.json", None)):
        answer = problem(server.call(method, f"{path}?verbose=1", body), 400, "bad-request")
        assert answer["detail"] == f"unknown query parameter 'verbose' ({path} takes none)"
        answer = problem(server.call(method, f"{path}?month=2019-03", body), 400, "bad-request")
        assert answer["detail"] == f"unknown query parameter 'month' ({path} takes none)"
    body = problem(server.call("GET", "/v1/policy?month=2019-03&month=2019-04"), 400, "bad-request")
    assert body["detail"] == "query parameter 'month' is given 2 times: give it once"
    body = problem(server.call("GET", "/v1/policy?month=2019-03&month=2019-03&month=2019-03"), 400, "bad-request")
    assert body["detail"] == "query parameter 'month' is given 3 times: give it once"
    body = problem(server.call("GET", "/v1/policy?month=2019-03&verbose&verbose"), 400, "bad-request")
    assert body["detail"] == "unknown query parameter 'verbose' (known: month)"
    assert recorded(server) == before  # the claim sent with ?verbose=1 was not decided


# A claim's fields of the wrong JSON type, unknown or blank: `slapolicy claim` reads CLAIM.json and exits 1 (the
# input is wrong); the service reads the same claim from the body and answers 422 (its exit 1, docs/service.md),
# with the same message. Nothing is recorded either way.
WRONG_CLAIMS = (
    ({"account": 7.5}, "field 'account': 7.5 is not an account name: write the name as text (a whole number is read as its digits)"),  # 7 is account "7" (test_account_rule)
    ({"service_month": 201903}, "field 'service_month' must be a string, not a number"),
    ({"filed_at": None}, "field 'filed_at' must be a string, not null"),
    ({"channel": ["work_order"]}, 'field \'channel\' must be a string, not a list: write "channel": "work_order"'),
    ({"event_report": True}, "field 'event_report' must be a string or null, not true or false"),
    ({"unavailability": {"start": "2019-03-22T09:00"}},
     'field \'unavailability\' must be a list or null, not an object: write "unavailability": [{"start": "2019-03-22T09:00"}]'),
    ({"unavailability": [{"start": 1, "end": "2019-03-22T13:00"}]},
     "field 'unavailability[0].start' must be a string, not a number"),
    ({"failure_records": [3]}, "field 'failure_records' must be a list of service records of failed calls, each a "
                               "record id (text) or a record (an object), e.g. [\"call-7781\"]"),
    # 20190301 was read as the date 2019-03-01 (str() of the number, which date.fromisoformat takes).
    ({"term_start": 20190301, "term_end": "2019-03-31"}, "field 'term_start' must be a string or null, not a number"),
    ({"term_start": "20190301", "term_end": "2019-03-31"}, "field 'term_start': '20190301' is not a date written YYYY-MM-DD"),
    ({"contact": 5}, "field 'contact' must be a string or null, not a number"),
    ({"refund": "180.00"}, "field 'refund' is unknown (expected: account, service_month, filed_at, channel, "
                           "event_report, unavailability, failure_records, term_start, term_end, claim_id, contact)"),
    ({"account": " "}, "field 'account' is blank"),
    ({"service_month": "2019-13"}, "field 'service_month': '2019-13' is not a month written YYYY-MM"),
)


def test_a_claim_field_of_the_wrong_json_type_is_exit_1_on_the_cli_and_422_over_http(server, tmp_path):
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())
    before = recorded(server)
    ledger = tmp_path / "cli-ledger.sqlite"
    for change, message in WRONG_CLAIMS:
        body = problem(server.call("POST", "/v1/claims", claim | change), 422, "invalid-input")
        assert body["detail"] == f"claim: {message}"
        claim_file = tmp_path / "claim.json"
        claim_file.write_text(json.dumps(claim | change))
        assert cli_error("claim", server.family, claim_file, *DATA, "--ledger", ledger) == f"{claim_file}: {message}"
    assert recorded(server) == before
    assert not ledger.exists()
    # Every problem of a claim is named at once, as the CLI names them.
    body = problem(server.call("POST", "/v1/claims", claim | {"account": True, "channel": None}), 422, "invalid-input")
    assert body["detail"] == ("claim: field 'account': true is not an account name: write the name as text (a whole number is read as its digits); "
                              "field 'channel' must be a string, not null")


def test_null_for_an_optional_field_means_the_same_as_leaving_it_out_on_every_route(server, tmp_path):
    """JSON clients send null for a field they do not set: every optional field of every body takes it."""
    left_out = server.call("POST", "/v1/evaluate", {"month": "2019-03"})
    nulls = {field: None for field in ("accounts", "policy_version", "term_start", "term_end", "minutes", "incidents",
                                       "notices", "billing")}
    assert server.call("POST", "/v1/evaluate", {"month": "2019-03"} | nulls) == left_out
    assert left_out[0] == 200 and len(left_out[2]["evaluations"]) == 3  # acme, globex, initech: from the files served
    # term_start null is left out, so a term_end alone is refused as it is without term_start.
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "term_start": None, "term_end": "2019-03-31"}),
                   400, "bad-request")
    assert body["detail"] == "term_start and term_end go together"
    # month is required: null is of the wrong type, not "left out" (400, as without it).
    body = problem(server.call("POST", "/v1/evaluate", {"month": None}), 400, "bad-request")
    assert body["detail"] == "field 'month' must be a string, not null"
    # A claim's optional fields null: decided as without them (initech, March 2019: 93.55 % < 95 %, tier 50 %,
    # compensation 400.00), over HTTP as by the CLI.
    claim = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text()) | {
        "account": "initech", "term_start": None, "term_end": None, "claim_id": None, "contact": None}
    status, _, decision = server.call("POST", "/v1/claims", claim)
    assert (status, decision["decision"], decision["compensation"]) == (201, "approved", "400.00")
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(claim))
    cli = cli_json("claim", server.family, claim_file, *DATA, "--ledger", tmp_path / "l.sqlite")
    assert {k: v for k, v in decision.items() if k != "decided_at"} == {k: v for k, v in cli.items() if k != "decided_at"}
    schemas = json.loads(json.dumps(server.call("GET", "/openapi.json")[2]["components"]["schemas"]))
    for name in ("EvaluateRequest", "Claim"):
        schema = schemas[name]
        for field, property_ in schema["properties"].items():
            assert ("null" in property_["type"]) == (field not in schema["required"]), (name, field)
    assert schemas["ReplayRequest"]["required"] == ["from", "to", "under"]  # replay has no optional field


def test_the_fields_of_evaluate_and_replay_bodies_are_checked_against_the_openapi_document(server):
    """Their fields play the part of the CLI's options (an unknown option is a usage error, exit 2): 400."""
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "accounts": ["acme", {}]}), 400, "bad-request")
    assert body["detail"] == "field 'accounts[1]' must be a string or a whole number, not an object"
    body = problem(server.call("POST", "/v1/evaluate", {"month": "2019-03", "minutes": [[]]}), 400, "bad-request")
    assert body["detail"] == "field 'minutes[0]' must be an object, not a list"
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": 201903, "under": DRAFT.name}),
                   400, "bad-request")
    assert body["detail"] == "field 'to' must be a string, not a number"
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-03", "to": "2019-03", "under": None}),
                   400, "bad-request")
    assert body["detail"] == "field 'under' must be a string, not null"
    body = problem(server.call("POST", "/v1/replay", {"from": "2019-3", "to": "2019-03", "under": DRAFT.name}),
                   400, "bad-request")
    assert body["detail"] == "field 'from': '2019-3' is not a month written YYYY-MM: write 2019-03"


# ---------------------------------------------------------------------------- OpenAPI

def test_the_openapi_document_is_valid_and_describes_every_route(server):
    from openapi_spec_validator import validate

    status, _, document = server.call("GET", "/openapi.json")
    assert status == 200
    validate(document)
    assert sorted((path, method) for path, item in document["paths"].items() for method in item) == [
        ("/openapi.json", "get"), ("/openapi.json", "head"), ("/v1/claims", "post"), ("/v1/claims/{decision_id}", "get"),
        ("/v1/claims/{decision_id}", "head"), ("/v1/evaluate", "post"), ("/v1/health", "get"), ("/v1/health", "head"),
        ("/v1/policy", "get"), ("/v1/policy", "head"), ("/v1/replay", "post"), ("/v1/versions", "get"),
        ("/v1/versions", "head")]
    for path, method in (("/v1/evaluate", "post"), ("/v1/claims", "post"), ("/v1/replay", "post")):
        assert "requestBody" in document["paths"][path][method]
        assert {"400", "413", "422", "500"} <= set(document["paths"][path][method]["responses"])
    # Every route refuses an unknown query parameter (400), and says so.
    assert all("400" in operation["responses"] for item in document["paths"].values() for operation in item.values())
    assert document["components"]["schemas"]["Claim"]["additionalProperties"] is False


# ---------------------------------------------------------------------------- reload

def test_a_published_version_is_served_at_the_next_request_without_restart(bare):
    from slapolicy.policy.publish import publish

    published = publish(bare.family, standard_amendment(bare.family), retroactive=True)
    status, _, body = bare.call("GET", "/v1/versions")
    assert status == 200
    assert [(v["version"], v["sha256"]) for v in body["versions"]] == [("2019-01-01", LOCKED_SHA),
                                                                       ("2019-03-01", published.sha256)]
    status, _, body = bare.call("GET", "/v1/policy?month=2019-03")
    assert (body["policy"]["version"], body["standard"]["value"]) == ("2019-03-01", "99.95%")
    status, _, body = bare.call("GET", "/v1/policy?month=2019-02")
    assert body["policy"]["version"] == "2019-01-01"


def test_a_directory_that_fails_to_load_keeps_the_versions_served(tmp_path):
    family = family_copy(tmp_path)
    with serving(family) as running:
        (family / "2019-06-01.yaml").write_text("id: [unclosed\n")
        status, _, body = running.call("GET", "/v1/versions")
        assert [v["sha256"] for v in body["versions"]] == [LOCKED_SHA]
        assert "2019-06-01.yaml" in body["refresh_error"]
        (family / "2019-06-01.yaml").unlink()
        assert wait_until(lambda: running.call("GET", "/v1/versions")[2]["refresh_error"] is None)


# ---------------------------------------------------------------------------- docs/service.md

def curl_sessions():
    """(command, expected lines) of every `$ curl` in docs/service.md's sh blocks."""
    import re

    text = (REPO / "docs" / "service.md").read_text()
    sessions = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for session in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = session.partition("\n")
            while command.endswith("\\"):
                more, _, output = output.partition("\n")
                command = command[:-1] + " " + more.strip()
            sessions.append((command, [line for line in output.splitlines() if line]))
    return sessions


def documented_server() -> list[str]:
    """The arguments of the `slapolicy serve` that docs/service.md says its curl examples run against."""
    import re

    text = " ".join((REPO / "docs" / "service.md").read_text().split())
    return re.search(r"run as tests against a server started on the shipped examples: `slapolicy serve ([^`]+)`",
                     text).group(1).split()


def test_the_curl_examples_of_docs_service_md_answer_what_they_show(tmp_path):
    sessions = curl_sessions()
    assert len(sessions) == 13
    # The server the docs show: its own --ledger (the docs said none, so a reader following them recorded the example
    # claim in the default ledger of their home), here in tmp_path; the data as the docs give it.
    documented = documented_server()
    ledger = documented.index("--ledger")
    assert documented[ledger + 1] == "/tmp/slapolicy-try.sqlite"
    documented[ledger + 1] = str(tmp_path / "ledger.sqlite")
    assert documented[:ledger] == ["policies/ccc"]
    assert documented[ledger + 2:] == [str(a.relative_to(REPO)) if not isinstance(a, str) else a for a in DATA]
    with serving(*documented) as running:
        for command, expected in sessions:
            assert command.startswith("curl -s ")
            run = subprocess.run(command.replace("http://127.0.0.1:8000", running.url), shell=True, cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr
            printed = run.stdout.splitlines()
            assert len(printed) == len(expected) == 1, (command, run.stdout)
            if expected[0].endswith("…"):
                assert printed[0].startswith(expected[0][:-1]), (command, printed[0][:300])
            else:
                assert printed[0] == expected[0], command


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_sigterm_or_sigint_stops_the_server_cleanly_with_exit_0(tmp_path, stop):
    # docs/cli.md: exit 0 when stopped by SIGINT or SIGTERM; uvicorn re-raised SIGTERM after its clean stop (143),
    # and SIGINT (Ctrl-C) as a KeyboardInterrupt: "slapolicy: interrupted", exit 130.
    import signal

    with serving(family_copy(tmp_path), "--ledger", tmp_path / "ledger.sqlite") as running:
        assert running.call("GET", "/v1/health")[0] == 200
        running.process.send_signal(getattr(signal, stop))
        assert running.process.wait(30) == 0
        # docs/service.md: one line when it listens, one when it has stopped, on standard output
        assert running.process.stdout.read() == "slapolicy serve: stopped\n"
    assert running.stderr == ""


@pytest.mark.slow  # starts a server of its own
def test_a_server_started_under_nohup_serves_on_through_sighup(tmp_path):
    # docs/service.md: SIGHUP (the terminal closed) stops the service as SIGTERM does, but `nohup` ignores it, and a
    # process started so inherits it ignored: the service keeps nohup's choice. serving() starts it with SIGHUP at
    # its default otherwise, so that a suite run under nohup tests the stops as a terminal's job has them.
    import signal

    def ignored(pid: int) -> bool:  # SIGHUP in the process's mask of ignored signals (Linux's /proc)
        masks = dict(line.split(":\t") for line in Path(f"/proc/{pid}/status").read_text().splitlines() if "\t" in line)
        return bool(int(masks["SigIgn"], 16) >> (signal.SIGHUP - 1) & 1)

    with serving(family_copy(tmp_path), "--ledger", tmp_path / "ledger.sqlite", hangup="ignored") as running:
        assert ignored(running.process.pid)  # serving: its handler of SIGHUP is set before it says where it listens
        running.process.send_signal(signal.SIGHUP)
        assert running.call("GET", "/v1/health")[0] == 200  # answered after the SIGHUP: the service serves on
        assert running.process.poll() is None
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(30) == 0
        assert running.process.stdout.read() == "slapolicy serve: stopped\n"
    assert running.stderr == ""
