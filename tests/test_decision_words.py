"""What a decision tells the customer is tied to slapolicy's version.

`slapolicy audit` compares the words of a recorded decision (its message, each reason's) with the words of the
same claim decided again only when the same version of slapolicy recorded it (docs/ledger.md): another version may
word its messages otherwise. So a version that words a decision otherwise must be a new version, or every ledger
recorded before it is audited "differs" for words alone (0.1.0 reworded claim messages across sessions and audit
answered exit 1 for ledgers it had written itself). This test keeps the words of a set of decisions, one for each
kind of answer, in tests/data/decision-words.json under the version that words them: a rewording fails here until
the version is raised (pyproject.toml and slapolicy/__init__.py) and the file written anew:

    python tests/test_decision_words.py
"""
import datetime as dt
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import POLICIES, REPO  # noqa: E402

WORDS = HERE / "data" / "decision-words.json"
EXAMPLES = REPO / "examples" / "ccc"
NOW = dt.datetime(2019, 4, 10, 12, tzinfo=dt.timezone.utc)
GLOBEX = json.loads((EXAMPLES / "claim-globex-2019-03.json").read_text())

# One claim for each kind of answer: approved, denied for the channel (one that looks right), early, late, materials missing, a standard
# met (acme's March is 99.90 %: §2.2's 99.9 % met).
CLAIMS = {
    "approved": GLOBEX,
    "wrong channel": json.loads((EXAMPLES / "claim-acme-2019-03-by-email.json").read_text()),
    # A channel that looks like the accepted one (a zero-width space copied with it): 0.2.0 ledgers holding one were
    # audited "differs" once its message said what makes it another, the version unraised.
    "wrong channel that looks right": dict(GLOBEX, channel="work\u200border"),
    "wrong channel written otherwise": dict(GLOBEX, channel="Work Order"),
    "filed too early": dict(GLOBEX, filed_at="2019-03-30T10:00+08:00"),
    "filed too late": dict(GLOBEX, filed_at="2019-06-30T10:00+08:00"),
    "materials missing": {key: value for key, value in GLOBEX.items() if key not in ("event_report", "failure_records")},
    "standard met": dict(GLOBEX, account="acme"),
}


def decision_words() -> dict:
    """Each claim of CLAIMS decided on the examples (each into a ledger of its own), as the words it tells."""
    import tempfile

    from slapolicy import Engine

    engine = Engine(POLICIES)
    words = {}
    with tempfile.TemporaryDirectory() as scratch:
        for n, (name, claim) in enumerate(CLAIMS.items()):
            result = engine.decide_claim(
                claim, minutes=EXAMPLES / "minutes.csv", incidents=EXAMPLES / "incidents.yaml",
                notices=EXAMPLES / "notices.yaml", billing=EXAMPLES / "billing.csv",
                now=max(NOW, dt.datetime.fromisoformat(claim["filed_at"]) + dt.timedelta(hours=1)),
                ledger=Path(scratch) / f"ledger-{n}.sqlite")
            words[name] = {"decision": result["decision"], "message": result["message"],
                           "reasons": [[r["code"], r["message"]] for r in result["reasons"]]}
    return words


def test_a_decision_worded_otherwise_is_a_new_version():
    from slapolicy import __version__

    kept = json.loads(WORDS.read_text())
    now = decision_words()
    assert kept["engine"] == __version__, (
        f"{WORDS.name} holds the words of slapolicy {kept['engine']}, this is {__version__}: write it anew "
        "(python tests/test_decision_words.py)")
    assert now == kept["words"], (
        f"decisions are worded otherwise than slapolicy {__version__} words them, and audit compares the words of "
        "decisions recorded by the same version: raise the version (pyproject.toml, slapolicy/__init__.py), then "
        "write the words anew (python tests/test_decision_words.py)")
    # each kind of answer is there: a rewording of any of them is seen
    assert [w["decision"] for w in now.values()] == ["approved", "denied", "denied", "denied", "denied",
                                                     "denied", "incomplete", "denied"]


def test_the_version_is_the_one_pyproject_declares():
    import tomllib

    from slapolicy import __version__

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == __version__


if __name__ == "__main__":
    from slapolicy import __version__

    WORDS.write_text(json.dumps({"engine": __version__, "words": decision_words()}, indent=1, ensure_ascii=False) + "\n")
    print(f"{WORDS}: the words of {len(CLAIMS)} decisions under slapolicy {__version__}")
