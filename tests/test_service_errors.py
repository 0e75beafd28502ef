"""How `slapolicy serve` answers each kind of engine error (RFC 9457 problem details), in-process and fast."""
import json

import pytest

pytest.importorskip("starlette")

from slapolicy.errors import (ArgumentError, Diagnostic, InputError, NoVersionInForce, PolicyError,  # noqa: E402
                              SlapolicyError, UsageError)
from slapolicy.service import problem_of  # noqa: E402


class FakeRequest:
    scope = {"path": "/v1/evaluate", "raw_path": b"/v1/evaluate"}  # as uvicorn gives it: the path, and as sent

    class url:
        path = "/v1/evaluate"


def answer(exc):
    response = problem_of(exc).response(FakeRequest())
    return response.status_code, response.media_type, json.loads(response.body)


def test_each_error_class_has_its_status_and_the_cli_message():
    diagnostic = Diagnostic("p.yaml", 3, 5, "error", "schema", "timezone: must be a string")
    assert answer(PolicyError([diagnostic])) == (422, "application/problem+json", {
        "type": "urn:slapolicy:problem:policy-error", "title": "The policy is wrong", "status": 422,
        "detail": "p.yaml:3:5: error schema timezone: must be a string", "instance": "/v1/evaluate",
        "diagnostics": [diagnostic.as_dict()]})
    assert answer(InputError("m.csv: row 2, column 'requests': 'x' is not a whole number"))[0::2] == (422, {
        "type": "urn:slapolicy:problem:invalid-input", "title": "The input is wrong", "status": 422,
        "detail": "m.csv: row 2, column 'requests': 'x' is not a whole number", "instance": "/v1/evaluate"})
    assert answer(SlapolicyError("x"))[0] == 422
    assert answer(NoVersionInForce("no version"))[2]["type"] == "urn:slapolicy:problem:no-version-in-force"
    assert answer(NoVersionInForce("no version"))[0] == 404
    assert answer(UsageError("--now needs an offset"))[0::2] == (400, {
        "type": "urn:slapolicy:problem:bad-request", "title": "The request is malformed", "status": 400,
        "detail": "--now needs an offset", "instance": "/v1/evaluate"})
    assert answer(ArgumentError("accounts must be a list"))[0] == 400


def test_a_bug_is_a_500_with_the_cli_wording_and_no_traceback(capsys, monkeypatch):
    monkeypatch.delenv("SLAPOLICY_DEBUG", raising=False)
    status, media_type, body = answer(ZeroDivisionError("division by zero"))
    assert (status, media_type) == (500, "application/problem+json")
    assert body["detail"] == "internal error, please report it: ZeroDivisionError: division by zero"
    assert capsys.readouterr().err == ""


def test_serve_usage_errors_exit_2_before_anything_starts():
    from conftest import POLICIES, run_cli

    result = run_cli("serve", POLICIES, "--port", "70000")
    assert (result.code, result.out, result.err) == (
        2, "", "slapolicy serve: --port 70000 is not a port (0 to 65535; 0 picks a free one)\n")
    result = run_cli("serve", POLICIES, "--max-body", "0")
    assert (result.code, result.out, result.err) == (2, "", "slapolicy serve: --max-body 0 must be at least 1 byte\n")


def test_serve_without_the_serve_extra_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    from conftest import POLICIES

    (tmp_path / "starlette").mkdir()  # an environment where importing starlette fails as if it were absent
    (tmp_path / "starlette" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'starlette'\", name='starlette')\n")
    run = subprocess.run([sys.executable, "-m", "slapolicy.cli", "serve", str(POLICIES), "--port", "0"],
                         capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "SLAPOLICY_CACHE_DIR": "off"})
    assert (run.returncode, run.stdout) == (1, "")
    # "slapolicy: slapolicy serve needs ..." said its name twice, and not how to install it from a source tree. A bare
    # `pip` is whichever is first on PATH: a new user who installed as README.md says (.venv/bin/pip, the venv not
    # activated) put the extra into another Python and was refused again; the message names the one that runs it.
    assert run.stderr == (f"slapolicy: serve needs the serve extra (starlette is missing), in the Python that runs "
                          f"slapolicy: {sys.executable} -m pip install 'slapolicy[serve]' (from the repository's root: "
                          f"{sys.executable} -m pip install '.[serve]')\n")


def test_a_dask_scheduler_out_of_reach_is_a_503_not_the_input_s_fault():
    """serve --dask keeps one client: a scheduler lost (or not reached again) is the service's state, not a wrong
    request; a client may try again later. The message is the CLI's (which exits 1 with it)."""
    from slapolicy.errors import SchedulerUnavailable

    lost = SchedulerUnavailable("lost the Dask scheduler at tcp://10.0.0.5:8786 (CommClosedError: ...); the next call "
                                "connects again")
    assert isinstance(lost, SlapolicyError)
    assert answer(lost)[0::2] == (503, {
        "type": "urn:slapolicy:problem:scheduler-unavailable", "title": "The Dask scheduler is unavailable",
        "status": 503, "detail": str(lost), "instance": "/v1/evaluate"})


def test_serve_with_a_ledger_key_set_but_empty_exits_2_before_it_listens(monkeypatch, tmp_path):
    # Each request that opens the ledger read the key: set but empty, it was taken for no key, and refusing it there
    # would answer the server's mistake as the client's (400). It is the start's usage error.
    from conftest import POLICIES, run_cli
    from slapolicy import service

    def listened(host, port):
        raise AssertionError("the service started to listen")

    monkeypatch.setattr(service, "_listen", listened)
    monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", "")
    result = run_cli("serve", POLICIES, "--port", "0", "--ledger", tmp_path / "ledger.sqlite")
    assert (result.code, result.out, result.err) == (
        2, "", "slapolicy serve: SLAPOLICY_LEDGER_KEY is set but empty: set it to the ledger's key, or unset it for a "
               "ledger without one (docs/ledger.md)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("made_with, given, said", [
    ("key-1", None, "the ledger is sealed with a key: set SLAPOLICY_LEDGER_KEY to the key it was created with"),
    ("key-1", "key-2", "SLAPOLICY_LEDGER_KEY is not the key this ledger was created with"),
    (None, "key-2", "SLAPOLICY_LEDGER_KEY is set, but this ledger has no key: it was created without one (unset the "
                    "variable, or record new decisions in a new ledger), or its meta table was edited to drop the key"),
])
def test_serve_with_a_key_its_ledger_was_not_made_with_exits_1_before_it_listens(monkeypatch, tmp_path, made_with,
                                                                                 given, said):
    # The service started, and answered every claim, and every recorded decision asked for, 422 (the input is
    # wrong): the server's own mistake, which no client can mend and no restart without the right key does, as the
    # client's. A ledger that exists is now looked at, read-only, before anything listens.
    import hashlib

    from conftest import POLICIES, run_cli
    from slapolicy import service
    from slapolicy.ledger import Ledger

    def listened(host, port):
        raise AssertionError("the service started to listen")

    ledger = tmp_path / "ledger.sqlite"
    for name, key in (("made", made_with), ("given", given)):
        if key is None:
            monkeypatch.delenv("SLAPOLICY_LEDGER_KEY", raising=False)
        else:
            monkeypatch.setenv("SLAPOLICY_LEDGER_KEY", key)
        if name == "made":
            Ledger(ledger).close()
            before = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in tmp_path.iterdir()}
    monkeypatch.setattr(service, "_listen", listened)
    result = run_cli("serve", POLICIES, "--port", "0", "--ledger", ledger)
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {ledger}: {said}\n")
    assert {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in tmp_path.iterdir()} == before
