"""Incidents and notices in YAML are named by the line of the field at fault (else the entry's first line), beside
the entry's row, as a CSV row is: "row 2" alone was hard to find in a long file of comments and multi-line entries.
JSON names the row alone (Python's json keeps no place)."""
from conftest import POLICIES, run_cli
from helpers import write_csv

INCIDENTS = """\
# Incidents of March 2019 (line 1)

- id: I-1                       # line 3
  start: 2019-03-12T10:00
  end: 2019-03-12T11:00
  cause: provider

- id: I-2                       # line 8
  description: >-
    a folded description
    over two lines
  start: 2019-03-12T10:00
  end: 2019-03-12T09:00         # line 13: before its start
  cause: provider
- {id: I-3, start: 2019-03-12T10:00, end: 2019-03-12T11:00, cause: gremlins}
- 5                             # line 16
- id: I-1                       # line 17: I-1 again
  start: 2019-03-12T10:00
  end: 2019-03-12T11:00
  cause: provider
"""


def test_each_problem_names_its_line(tmp_path):
    minutes = write_csv(tmp_path / "m.csv", [{"account": "a", "minute": "2019-03-12T10:00", "requests": 1, "failures": 0}])
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text(INCIDENTS)
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--incidents", incidents)
    assert (result.code, result.out) == (1, "")
    lines = result.err.splitlines()
    assert lines[0] == f"slapolicy: 4 problem(s) in incidents file {incidents}:"
    assert lines[1:] == [
        f"{incidents}: row 2 (line 13), column 'end': end 2019-03-12T09:00 is not after start 2019-03-12T10:00",
        f"{incidents}: row 3 (line 15), column 'cause': unknown cause 'gremlins'; policy 2019-01-01 declares: "
        "provider, customer_network, customer_credentials, attack_on_customer, usage_violation, customer_negligence, "
        "illegal_content, trial_feature, authority_control, third_party_network, force_majeure, not_provider, "
        "legal_exemption, customer_law_violation, number_noncompliance",
        f"{incidents}: row 4 (line 16): expected an object with id, start, end, cause, found int",
        f"{incidents}: row 5 (line 17), column 'id': id 'I-1' also used in row 1 (line 3)"]


def test_notices_name_their_lines_and_json_its_rows(tmp_path):
    minutes = write_csv(tmp_path / "m.csv", [{"account": "a", "minute": "2019-03-12T10:00", "requests": 1, "failures": 0}])
    notices = tmp_path / "notices.yaml"
    notices.write_text("- id: N-1\n  kind: maintenance\n  published_at: soon\n  start: 2019-03-12T10:00\n"
                       "  end: 2019-03-12T11:00\n")
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--notices", notices)
    assert (result.code, result.out) == (1, "")
    assert result.err.splitlines()[1] == f"{notices}: row 1 (line 3), column 'published_at': 'soon' is not an ISO 8601 timestamp"
    as_json = tmp_path / "notices.json"
    as_json.write_text('[{"id": "N-1", "kind": "maintenance", "published_at": "soon", "start": "2019-03-12T10:00",'
                       ' "end": "2019-03-12T11:00"}]')
    result = run_cli("evaluate", POLICIES, "--minutes", minutes, "--month", "2019-03", "--notices", as_json)
    assert result.err.splitlines()[1].startswith(f"{as_json}: row 1, column 'published_at': 'soon' is not")
