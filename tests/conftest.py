import atexit
import io
import json
import os
import shutil
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

# In CI every hypothesis test draws the same examples each run: main stays green or red for a reason.
from hypothesis import settings as _hypothesis_settings

_hypothesis_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

# The record of policy checks passed (docs/cli.md, "Checks passed are recorded") goes to a directory of this run,
# inherited by every CLI the tests start: the suite neither reads a developer's ~/.cache nor leaves records there.
_CHECK_RECORDS = tempfile.mkdtemp(prefix="slapolicy-tests-cache-")
os.environ["SLAPOLICY_CACHE_DIR"] = _CHECK_RECORDS
atexit.register(shutil.rmtree, _CHECK_RECORDS, ignore_errors=True)

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies" / "ccc"
PUBLISHED = POLICIES / "2019-01-01.yaml"
DRAFT = POLICIES / "drafts" / "2027-01-01-standard-99.95.yaml"


# PYTHONDONTWRITEBYTECODE (set on the team's machines) also keeps pytest from caching the test modules whose asserts it
# rewrote: every run rewrote all of them again, ~4 s of the fast loop's CPU. While the tests are collected, Python's
# setting is as without it, so pytest caches them (tests/__pycache__, ignored by git; each is checked against its
# source's size and time, so an edited test is rewritten afresh), and Python the modules they import.
@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    kept, sys.dont_write_bytecode = sys.dont_write_bytecode, False
    try:
        yield
    finally:
        sys.dont_write_bytecode = kept


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


def run_cli(*args) -> Result:
    """Run the slapolicy CLI in-process; argparse usage errors become exit code 2."""
    from slapolicy.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


def evaluate_march(minutes, *options) -> Result:
    """``slapolicy evaluate`` of March 2019 under the shipped policy, from ``minutes`` (and the options given)."""
    return run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", *options)


def assert_refused(result: Result, message: str) -> None:
    """A command refused its input as the house rule says: exit 1, nothing on standard output, and on standard
    error the one line ``slapolicy: MESSAGE``."""
    assert (result.code, result.out, result.err) == (1, "", f"slapolicy: {message}\n")


@pytest.fixture(scope="session")
def policy():
    from slapolicy import load_policy

    return load_policy(PUBLISHED)


@pytest.fixture(scope="session")
def draft():
    from slapolicy import load_policy

    return load_policy(DRAFT)
