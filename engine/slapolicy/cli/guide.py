"""What each command's ``--help`` teaches below its options: examples a new user can paste, from the repository's
root, with what each prints, and the command's exit statuses (docs/cli.md, "Exit status, command by command", says
them at length). tests/test_cli_help.py runs every example here as it is written."""
from __future__ import annotations

# The example inputs, as a reader at the repository's root names them (`slapolicy demo` runs on its own copies).
INPUTS = ("--minutes examples/ccc/minutes.csv --billing examples/ccc/billing.csv \\\n"
          "      --incidents examples/ccc/incidents.yaml --notices examples/ccc/notices.yaml")
DRAFT = "policies/ccc/drafts/2027-01-01-standard-99.95.yaml"

# Below the list of commands in `slapolicy --help`: a command's words, then (after two spaces) what it does.
EPILOG = f"""\
examples (from the repository's root):
  slapolicy validate policies/ccc                      schema + lint of every version
  slapolicy test policies/ccc                          run the examples inside the clauses
  slapolicy show policies/ccc --month 2019-03          the version in force and its terms
  slapolicy diff policies/ccc/2019-01-01.yaml {DRAFT}
  slapolicy publish policies/ccc policies/ccc/drafts/my-amendment.yaml   check a draft, publish and lock it
  slapolicy evaluate policies/ccc --month 2019-03 --format text \\
      --minutes examples/ccc/minutes.csv --billing examples/ccc/billing.csv
  slapolicy claim policies/ccc examples/ccc/claim-globex-2019-03.json --ledger claims.sqlite --format text \\
      --minutes examples/ccc/minutes.csv --billing examples/ccc/billing.csv
  slapolicy replay policies/ccc --from 2019-03 --to 2019-03 --format html \\
      --under {DRAFT} \\
      --minutes examples/ccc/minutes.csv --billing examples/ccc/billing.csv > report.html
  slapolicy demo                                       all of it on shipped example data

exit status: 0 done; 1 an input or a policy is wrong (the message names the file, line, row or field; nothing is
written); 2 a usage error; 3 a bug (please report it; SLAPOLICY_DEBUG=1 prints the traceback).
Each COMMAND --help says more, with examples; docs/ has the policy format, the API and the hooks.
"""

# Each command's examples: (the command, what it prints or does). A command goes on over lines ending in " \".
EXAMPLES = {
    "validate": [("slapolicy validate policies/ccc",
                  "every version and draft of the family: one warning, the SLA's own contradiction (§3.1)"),
                 (f"slapolicy validate {DRAFT}", "one file")],
    "test": [("slapolicy test policies/ccc", "each file's rules exercised and examples passed"),
             ("slapolicy test policies/ccc/2019-01-01.yaml --coverage", "rule by rule: its examples, each tier's bounds")],
    "versions": [("slapolicy versions policies/ccc", "effective_from, version, status, sha256 and file of each")],
    "show": [("slapolicy show policies/ccc --month 2019-03", "the version in force for March 2019 and its terms"),
             ("slapolicy show policies/ccc --month 2019-03 --provision 5.7", "§5.7's words and the settings citing it")],
    "diff": [(f"slapolicy diff policies/ccc/2019-01-01.yaml {DRAFT}", "the standard 99.5% → 99.95%, and the words"),
             (f"slapolicy diff policies/ccc/2019-01-01.yaml {DRAFT} --format html > redline.html",
              "a redline to open in a browser")],
    "schema": [("slapolicy schema > policy.schema.json", "for an editor that checks YAML against a JSON Schema")],
    "lock": [("slapolicy lock policies/ccc", "records a version published by hand; here: nothing to lock")],
    "publish": [("slapolicy publish policies/ccc policies/ccc/drafts/my-amendment.yaml",
                 "checks the draft, writes policies/ccc/<effective_from>.yaml and locks it, or lists every reason")],
    "render": [("slapolicy render policies/ccc/2019-01-01.yaml", "the agreement by §, with its settings"),
               ("slapolicy render policies/ccc/2019-01-01.yaml --format html > policy.html", "the same as one page")],
    "months": [("slapolicy months --start 2024-03-17 --end 2024-06-16",
                "four Service Months: 15 days (21600 minutes), 30, 31, then 16")],
    "evaluate": [("slapolicy evaluate policies/ccc --month 2019-03 --format text \\\n      " + INPUTS,
                  "per account: availability, exclusions by §, credit and compensation, and why"),
                 ("slapolicy evaluate policies/ccc --month 2019-03 --account acme \\\n"
                  f"      --policy-file {DRAFT} \\\n      {INPUTS}",
                  "acme under the draft instead of the version in force, as JSON")],
    "claim": [("slapolicy claim policies/ccc examples/ccc/claim-globex-2019-03.json \\\n"
               f"      --ledger claims.sqlite --now 2019-04-10T12:00+08:00 --format text \\\n      {INPUTS}",
               "APPROVED, 180.00 as vouchers, recorded in claims.sqlite (again: the recorded decision)")],
    "replay": [("slapolicy replay policies/ccc --from 2019-03 --to 2019-03 --format text \\\n"
                f"      --under {DRAFT} \\\n      {INPUTS}",
                "acme's 0.00 becomes 250.00: in all, 580.00 → 830.00"),
               ("slapolicy replay policies/ccc --from 2019-03 --to 2019-03 --format html \\\n"
                f"      --under {DRAFT} \\\n"
                "      --minutes examples/ccc/minutes.csv --billing examples/ccc/billing.csv > replay.html",
                "the report as one page")],
    "audit": [("slapolicy audit claims.sqlite", "the chain intact, its head, every decision decided again alike")],
    "serve": [("slapolicy serve policies/ccc --port 8000 --minutes examples/ccc/minutes.csv "
               "--billing examples/ccc/billing.csv",
               "then: curl 'http://127.0.0.1:8000/v1/policy?month=2019-03' (docs/service.md)")],
    "demo": [("slapolicy demo", "validate, test, versions, evaluate, diff, replay and two claims, each command shown")],
}

# What each exit status means for a command: 0, 1 and 2; 3 and the signals are alike for all (below).
POLICY_ERRORS = "a policy file or directory with an error (printed as FILE:LINE:COL: error CODE message)"
EXITS = {
    "validate": ("no error (warnings allowed)", POLICY_ERRORS + ", or a directory holding no version"),
    "test": ("every example gives its answer",
             "an example fails, a file cannot be loaded, a clause has no example, or nothing ran"),
    "versions": ("printed", POLICY_ERRORS + ", or a directory holding no version"),
    "show": ("printed", POLICY_ERRORS + ", a month before every version, or a provision the agreement lacks"),
    "diff": ("printed", "a file with an error `validate` reports (printed as it prints them)"),
    "schema": ("printed", "-"),
    "lock": ("recorded, or nothing to record",
             "refused, every reason printed and nothing written (what `validate` rejects, a version dated on or "
             "before one recorded, one taking effect before today without --retroactive)"),
    "publish": ("published and locked", "refused, every reason printed and nothing written"),
    "render": ("printed", "a file with an error `validate` reports (printed as it prints them)"),
    "months": ("printed", "-"),
    "evaluate": ("printed", "a bad file, row or policy (named: file, row, column), a month before every version "
                            "or outside the term, a plugin that fails"),
    "claim": ("a decision, whatever it is (approved, denied, incomplete), or the one recorded",
              "the claim, an input, the policy or the ledger is wrong (named; nothing recorded)"),
    "replay": ("printed", "as evaluate"),
    "audit": ("the chain intact, the checkpoint held, every decision the same",
              "the chain broken, the checkpoint failed, a decision differs or cannot be re-checked, not a ledger"),
    "serve": ("stopped by Ctrl-C or SIGTERM, the requests in flight answered",
              "before listening: a policy with errors, a data file missing, a port taken, the serve extra missing"),
    "demo": ("every step ran", "a step failed"),
}
USAGE = "a usage error: an argument missing, misspelled or not written as --help says (nothing read)"
BUG = "  3    a bug: please report it (SLAPOLICY_DEBUG=1 prints the traceback)"
STOPPED = "stopped by Ctrl-C; 143 by SIGTERM; nothing written"
STOPPED_SERVING = "stopped by Ctrl-C (143: SIGTERM) before it listens; once it listens, either is exit 0"
DETAIL = 'Every status in detail: docs/cli.md, "Exit status, command by command".'


def epilog(name: str) -> str:
    """The text below a command's options in its ``--help``: its examples, then its exit statuses."""
    lines = ["examples (from the repository's root; `slapolicy demo` runs such commands on its shipped copies):"]
    for command, says in EXAMPLES[name]:
        lines += [f"  {command}", f"      # {says}"]
    success, refused = EXITS[name]
    lines += ["", "exit status:", f"  0    {success}"]
    if refused != "-":
        lines.append(f"  1    {refused}")
    lines += [f"  2    {USAGE}", BUG, f"  130  {STOPPED_SERVING if name == 'serve' else STOPPED}", DETAIL]
    return "\n".join(lines) + "\n"
