"""The ``slapolicy`` command. Exit 0 on success, 1 when the input or policy is wrong (with a
message naming the place), 2 on a usage error, 3 on an internal error (a bug: please report it)."""
from __future__ import annotations

import argparse
import codecs
import contextlib
import ctypes
import difflib
import json
import os
import stat
import sys
import traceback
from pathlib import Path

from .. import __version__
from ..errors import (Diagnostic, PolicyError, SlapolicyError, UsageError, bounded_message, interruption, shell_word,
                      stopped)
from ..files import OUTPUT_FULL, create_beside, file_kind, sync_directory
from ..limits import limit_message
from ..reports.text import one_line
from ..rules.durable import check_backend
from . import data_commands, guide, modules_loaded

def retroactive_help(verb: str) -> str:
    return (f"{verb} a version taking effect before today: it then governs Service Months already begun "
            "(evaluated, claimed) in place of the version in force until now")

# Commands that match clause conditions through durable-rules (the others never import it).
NEEDS_RULES = frozenset({"test", "evaluate", "claim", "replay", "audit", "demo", "serve", "publish", "lock"})


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _json(data) -> None:
    _out(json.dumps(data, indent=2, ensure_ascii=False))


def _policy_files(paths: list[str]) -> list[Path]:
    """Policy files named by PATH arguments: files, or every *.yaml of a directory and its drafts/."""
    files = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
            files.extend(sorted((path / "drafts").glob("*.yaml")))
        elif path.exists():
            files.append(path)
        else:
            raise SlapolicyError(f"{name}: no such file or directory")
    if not files:
        from ..policy.directory import family_below  # late: see data_commands.cmd_claim

        family = next(filter(None, (family_below(Path(name)) for name in paths)), None)
        meant = f": give a family's directory, such as {family}" if family else ""
        raise SlapolicyError(f"no policy files (*.yaml) under {', '.join(paths)}{meant}")
    return files


# ---------------------------------------------------------------------------- policy commands

def cmd_validate(args) -> int:
    from ..policy.directory import PolicyDirectory, read_policy  # late: see data_commands.cmd_claim
    from ..policy.lint import misnamed_versions  # late: see data_commands.cmd_claim

    diagnostics: list[Diagnostic] = []
    checked = 0
    for name in args.paths:
        path = Path(name)
        if path.is_dir():
            directory = PolicyDirectory(path)  # published versions, with directory-level checks
            diagnostics.extend(directory.diagnostics + directory.holds_nothing)
            checked += len(list(path.glob("*.yaml")))
            for draft in directory.drafts():
                diagnostics.extend(_draft_checked(draft, directory))
                checked += 1
            if (path / "drafts").is_dir():
                diagnostics.extend(misnamed_versions(path / "drafts", severity="warning"))
        else:
            for file in _policy_files([name]):
                # the family as named (its paths in the messages), or found from the file's real place (./x.yaml)
                # (where it is named, not where a link in drafts/ points, draft-is-published; else where it really is)
                placed = Path(os.path.abspath(file))
                placed = placed if placed.parent.name == "drafts" else Path(file).resolve()
                family = Path(file).parent.parent if Path(file).parent.name == "drafts" else placed.parent.parent
                in_family = placed.parent.name == "drafts" and (family / "versions.lock").is_file()
                diagnostics.extend(_draft_checked(file, PolicyDirectory(family) if in_family else None))
                checked += 1
    for diagnostic in sorted(set(diagnostics)):
        _out(str(diagnostic))
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    sys.stderr.write(f"{checked} file(s) checked: {errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0


def _draft_checked(file, directory) -> list[Diagnostic]:
    """validate's diagnostics of one policy file, with a file saying published that no family records
    (directory.unrecorded_published); with ``directory``, the family whose drafts/ holds it, also what `publish` would
    refuse because of the family (publish.against_family), as warnings."""
    from ..policy.directory import broken_recorded, read_policy_bytes, unrecorded_published  # late: see cmd_validate

    raw, policy, problems = read_policy_bytes(file)  # the bytes checked are those the lock is asked about
    linked = directory.published_itself(file) if directory is not None else None
    if linked is not None:  # where it sits is not the fault: to write status: draft in it would edit the version
        from ..policy.lint import PLACEMENT_CODES  # late: see data_commands.cmd_claim

        return [p for p in problems if p.code not in PLACEMENT_CODES] + [linked]
    if policy is None or any(p.severity == "error" for p in problems):
        # a published version, or an encoding a correction kept, edited into a file with errors, was edited all the same
        recorded = broken_recorded(Path(file), raw)
        return problems + ([recorded] if recorded is not None else [])
    problems = problems + list(filter(None, [unrecorded_published(policy, raw)]))
    if directory is None:
        return problems
    from ..policy.publish import against_family  # a policy command's own module

    return problems + against_family(directory, policy, raw)


def cmd_test(args) -> int:
    from ..policy.directory import broken_recorded, read_policy_bytes, unrecorded_published  # late: see cmd_claim
    from ..policy.examples import ExampleReport, run_examples  # a policy command's own module: a claim never loads it

    total = ExampleReport()
    broken = unrecorded = 0
    for file in _policy_files(args.paths):
        raw, policy, problems = read_policy_bytes(file)  # the bytes tested are those the lock is asked about
        errors = [p for p in problems if p.severity == "error"]
        if policy is None or errors:
            for problem in filter(None, [broken_recorded(Path(file), raw), *(errors or problems)]):
                _out(str(problem))
            broken += 1
            continue
        # What the record of published versions says of it, as validate and render say it: examples passing on a
        # published version edited since it was locked are not the published version's.
        record = unrecorded_published(policy, raw, drafts=True)
        if record is not None:
            _out(str(record))
            unrecorded += record.severity == "error"
        report = run_examples(policy)
        for failure in report.failures:
            _out(str(failure))
        if args.coverage:
            for rule in report.rules:
                _out(rule.line())
        _out(f"{file}: {report.rules_exercised} of {len(report.rules)} rules exercised "
             f"({len(report.clauses_exercised)} of {len(policy.clauses)} clauses), "
             f"{report.passed} passed, {report.failed} failed")
        total.add(report)
    _out(f"{total.passed} passed, {total.failed} failed")
    if broken:
        sys.stderr.write(f"{broken} file(s) could not be loaded\n")
    if total.passed == 0 and total.failed == 0:
        sys.stderr.write("no example ran\n")
    if unrecorded:
        sys.stderr.write(f"{unrecorded} file(s) are not what versions.lock records (said above)\n")
    return 0 if total.ok and not broken and not unrecorded else 1


def cmd_versions(args) -> int:
    from ..policy.directory import PolicyDirectory, read_policy_bytes  # late: see data_commands.cmd_claim
    from ..policy.publish import published_as  # a policy command's own module

    directory = PolicyDirectory(args.policy_dir).check()
    rows = [{"version": p.version, "effective_from": p.effective_from.isoformat(), "status": p.status,
             "sha256": p.sha256, "file": p.path} for p in directory.versions]
    published_drafts = []
    for draft in directory.drafts():
        if (linked := directory.published_itself(draft)) is not None:  # listed as a second, published row
            sys.stderr.write(f"{draft}: draft not listed: {linked.message.split(': whatever', 1)[0]}; `slapolicy "
                             f"validate {shell_word(draft)}` says how to put it right\n")
            continue
        raw, policy, problems = read_policy_bytes(draft)  # its sha256 listed is that of the bytes compared
        # A draft kept in drafts/ after publishing, listed under the version it became, read as a draft waiting:
        # said once, as what it is (as publish refuses it again: already-published).
        same = policy is not None and policy.status == "draft" and published_as(directory, raw)
        if same:
            published_drafts.append({"file": policy.path, "published_as": same.path, "version": same.version,
                                     "sha256": policy.sha256})
            sys.stderr.write(f"{draft}: draft not listed: it is published already, as {same.path} (version "
                             f"{same.version}, sha256 {same.sha256[:16]}…); delete it, or keep it: published again, it "
                             "is refused (already-published)\n")
        elif policy is not None:
            rows.append({"version": policy.version, "effective_from": policy.effective_from.isoformat(),
                         "status": policy.status, "sha256": policy.sha256, "file": policy.path})
        else:  # said, not skipped: a draft missing from the list looks like one that was never written
            sys.stderr.write(f"{draft}: draft not listed: it cannot be read ({len(problems)} error(s), the first: "
                             f"{problems[0].code} at line {problems[0].line}); `slapolicy validate {shell_word(draft)}` lists them\n")
    if args.json:
        _json({"versions": rows, "published_drafts": published_drafts})
        return 0
    _out(f"{'effective_from':<15}{'version':<22}{'status':<11}{'sha256':<18}file")
    for row in rows:
        _out(f"{row['effective_from']:<15}{row['version']:<22}{row['status']:<11}{row['sha256'][:16]:<18}{row['file']}")
    return 0


def cmd_show(args) -> int:
    from ..policy.directory import PolicyDirectory  # late: see data_commands.cmd_claim

    from ..policy.terms import policy_terms, render_terms  # a policy command's own module: a data command never loads it

    policy = PolicyDirectory(args.policy_dir).in_force(args.month)
    if args.provision is not None:
        return _show_provision(policy, args)
    if args.json:
        _json({"month": args.month, **policy_terms(policy)})
    else:
        _out(render_terms(policy, args.month))
    return 0


def _show_provision(policy, args) -> int:
    from ..policy.terms import provision, render_provision  # a policy command's own module: a data command never loads it

    found = provision(policy, args.provision)
    if not found:
        raise SlapolicyError(f"provision {args.provision!r} is not in version {policy.version} ({policy.path}); "
                             "give its number as the agreement writes it, e.g. 5.7, 3.2(2), 1.11.1 or Preamble")
    if args.json:
        _json({"month": args.month, "policy": policy.summary(), "provision": args.provision, "found": found})
    else:
        _out(render_provision(policy, args.provision, found))
    return 0


def _linted(*paths, read: list | None = None, recorded: bool = False) -> list | None:
    """The policies of ``paths`` when validate finds no error in any; else None, with every error printed. ``read``:
    a list given gets the bytes of each file, as read once and checked. ``recorded``: a file with errors is also
    checked against the record of published versions (directory.broken_recorded), as `validate` checks it."""
    from ..policy.directory import broken_recorded, read_policy_bytes  # late: see data_commands.cmd_claim
    from ..policy.lint import PLACEMENT_CODES  # late: see data_commands.cmd_claim

    policies, errors = [], []
    for path in paths:
        raw, policy, diagnostics = read_policy_bytes(path)
        policies.append(policy)
        if read is not None:
            read.append(raw)
        found = [d for d in diagnostics if d.severity == "error" and d.code not in PLACEMENT_CODES]
        if recorded and (found or policy is None):
            found = sorted(found + list(filter(None, [broken_recorded(Path(path), raw)])))
        errors += found
    for error in errors:
        sys.stderr.write(f"{error}\n")
    return None if errors else policies


def cmd_diff(args) -> int:
    if args.json and args.format not in (None, "json"):  # it printed JSON, silently not the redline asked for
        raise UsageError(f"--json and --format {args.format} ask for two outputs: give one")
    # A document for review must not present a version that validate rejects (a tier gap, say) as sound.
    read: list = []
    policies = _linted(args.old, args.new, read=read)
    if policies is None:
        return 1
    from ..policy.diff import diff_policies, render_diff  # a policy command's own module: a data command never loads it

    result = diff_policies(*policies)
    # Compared all the same (it is how an edit of a published file is seen before it is undone), but a file the record
    # of published versions says otherwise of is said to be, on standard error and in the document itself, which
    # names it by its label as if it were that version.
    result["notes"] += [note for policy, raw in zip(policies, read) if (note := _not_as_recorded(policy, raw))]
    if args.json or args.format == "json":
        _json(result)
    elif args.format == "html":
        from ..policy.redline import render_redline  # a policy command's own module: a data command never loads it

        sys.stdout.write(render_redline(result))
    else:
        _out(render_diff(result))
    return 0


def _not_as_recorded(policy, raw: bytes) -> str | None:
    """What `diff` notes of a file the record of published versions says otherwise of (directory.unrecorded_published),
    having said that on standard error; None when it says nothing."""
    from ..policy.directory import kept_by_family, unrecorded_published  # late: see data_commands.cmd_claim

    record = unrecorded_published(policy, raw, drafts=True)
    if record is None:
        return None
    sys.stderr.write(f"{record}\n")
    changed = ("is not the superseded encoding versions.lock keeps: its bytes differ from those it records"
               if kept_by_family(policy.path) else f"is not the published version {policy.version} its name and label "
               "say: its bytes differ from those versions.lock records")
    what = {"published-changed": changed,
            "unlocked": "is no published version: the versions.lock beside it does not record it",
            "published-nowhere": "says status: published, but no versions.lock records it"}
    return f"{policy.path} {what.get(record.code, 'is not what versions.lock records')} ({record.code})"


def cmd_schema(args) -> int:
    from ..policy.model import schema_text  # late: see data_commands.cmd_claim

    sys.stdout.write(schema_text())
    return 0


def cmd_lock(args) -> int:
    from ..policy.directory import PolicyDirectory  # late: see data_commands.cmd_claim
    from ..policy.publish import record_versions, retroactive_note  # a policy command's own module

    added = record_versions(PolicyDirectory(args.policy_dir), new=args.new, retroactive=args.retroactive,
                            ledger=args.ledger)
    for warning in (warning for recorded in added for warning in recorded.warnings):
        sys.stderr.write(f"{warning}\n")  # as its refusals: standard output is what it recorded
    for recorded in added:
        _out(f"locked {recorded.name} (version {recorded.version}, sha256 {recorded.sha256})")
        if recorded.takes_over:
            _out(retroactive_note(recorded.version, recorded.takes_over))
        if recorded.decided:
            _out(recorded.decided)
    if not added:
        _out("nothing to lock: every published version is recorded")
    return 0


def cmd_publish(args) -> int:
    from ..policy.publish import publish, retroactive_note  # a policy command's own module

    try:
        published = publish(args.policy_dir, args.draft, retroactive=args.retroactive, ledger=args.ledger)
    except PolicyError as exc:
        for diagnostic in exc.diagnostics:
            _out(str(diagnostic))
        sys.stderr.write(f"not published: {len(exc.diagnostics)} problem(s); nothing was written\n")
        return 1
    for warning in published.warnings:
        _out(str(warning))
    _out(f"published {args.draft} as {published.path} (version {published.version}, sha256 {published.sha256[:16]}…), "
         f"recorded in versions.lock")
    if published.takes_over:
        _out(retroactive_note(published.version, published.takes_over))
    if published.decided:
        _out(published.decided)
    return 0


def cmd_render(args) -> int:
    read: list = []
    policies = _linted(args.policy, read=read, recorded=True)
    if policies is None:
        return 1
    (policy,), (raw,) = policies, read
    from ..policy.directory import PUBLISHED_NOWHERE, unrecorded_published  # late: see data_commands.cmd_claim
    from ..policy.render import render_html, render_text  # a policy command's own module: a data command never loads it

    # A document for review says what the record of published versions says of the file, not only what it says of
    # itself: an edited or unrecorded version among a family's is refused as the family refuses it, and a copy no
    # lock records is rendered as what it is, "published nowhere", with validate's warning.
    record = unrecorded_published(policy, raw, drafts=True)  # the bytes rendered, read once
    if record is not None:
        sys.stderr.write(f"{record}\n")
        if record.severity == "error":
            return 1
    status = PUBLISHED_NOWHERE if record is not None and record.code == "published-nowhere" else None
    sys.stdout.write(render_html(policy, status) if args.format == "html" else render_text(policy, status))
    return 0


# ---------------------------------------------------------------------------- parser

class Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors also say what was probably meant: a command or an option misspelled
    (``slapolicy evalute``, ``--acount``) is named with the nearest one, and an argument the command does not take
    is refused by that command's parser (its usage, ``slapolicy evaluate: error: ...``), not by the top level's."""

    def parse_args(self, args=None, namespace=None):
        words = sys.argv[1:] if args is None else args
        commands = getattr(self, "commands", None)
        if commands is not None and not words:  # `slapolicy` alone, a new user's first command
            self.error(f"give a command: {', '.join(commands)} (slapolicy --help says what each does; "
                       "slapolicy demo runs the main ones on example data)")
        if commands is not None and words and not words[0].startswith("-") and words[0] not in commands:
            self.error(unknown_command(words[0], build_parser().commands))
        own = self.command_parsers.get(words[0]) if commands is not None and words else None
        if own is not None and not_options(words[1:], own):  # before argparse asks for a required option misspelled
            own.error(unrecognized(not_options(words[1:], own), own))
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            own = self.command_parsers.get(getattr(parsed, "command", None), self) if commands is not None else self
            own.error(unrecognized(extra, own))
        return parsed


def not_options(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The words written as options (``--minute``, ``--acount=x``) that ``parser`` does not take, before a ``--``:
    argparse would report a required option missing (``--minutes`` for ``--minute``) and say nothing of them."""
    words = words[:words.index("--")] if "--" in words else words
    return [word for word in words if word.startswith("--") and word.split("=", 1)[0] not in parser._option_string_actions]


def nearest(word: str, choices) -> str:
    """' (did you mean X?)' for the choice nearest ``word``, or '' when none is near."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


# Words a user brings from other tools for what a command of ours does, too far from its name for `nearest`:
# `slapolicy lint` is what a lawyer told "the linter warns" types first.
DONE_BY = {"lint": "validate runs the linter with the schema"}


def unknown_command(word: str, commands: list[str]) -> str:
    hint = f" ({DONE_BY[word]})" if word in DONE_BY else nearest(word, commands)
    return (f"argument COMMAND: {word!r} is not a command{hint}; "
            f"the commands: {', '.join(commands)} (slapolicy --help says what each does)")


def unrecognized(extra: list[str], parser: argparse.ArgumentParser) -> str:
    """argparse's words for arguments a command does not take, and for the first that looks like an option, the
    option nearest it (``--acount x``: did you mean --account?)."""
    options = [option for option in parser._option_string_actions if option.startswith("--")]
    first = next((word.split("=", 1)[0] for word in extra if word.startswith("--")), None)
    hint = nearest(first, options) if first else ""
    return f"unrecognized arguments: {' '.join(extra)}{hint}"


class _Unbuilt:
    """The parser of a command this run does not invoke: whatever would be added to it is not made."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: self


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; with ``only``, holding just that command (if it is one), which parses and prints
    every argument and message of that command as the whole parser does: making all sixteen was 4 ms of every
    command's start (argparse asks gettext for each parser's words). ``parser.commands``: the commands it holds."""
    # allow_abbrev=False, on every parser: a script's `--mon` (for --month) or `--minute` (for --minutes) would run
    # today and mean another option, or none, once an option sharing its start is added.
    parser = Parser(
        prog="slapolicy", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=guide.EPILOG, allow_abbrev=False,
        description="Evaluate operations data against versioned SLA policies, citing the clauses.")
    parser.add_argument("--version", action="version", version=f"slapolicy {__version__}",
                        help="print slapolicy's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands, parser.command_parsers = [], {}

    def command(name, func, help_text, description=None):
        if only is not None and name != only:
            return _Unbuilt()
        p = sub.add_parser(name, help=help_text, description=description or help_text, epilog=guide.epilog(name),
                           formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        p.set_defaults(func=func)
        parser.commands.append(name)
        parser.command_parsers[name] = p
        return p

    p = command("validate", cmd_validate, "check policy files against the schema and the linter",
                "Check policy files: schema, condition facts, tiers, gate, dates, lock. Prints every problem as\n"
                "FILE:LINE:COL: error|warning CODE message; exits 1 if any is an error.")
    p.add_argument("paths", nargs="+", type=data_commands.required_path, metavar="PATH",
                   help="policy files, or a policy directory (with its drafts/)")

    p = command("test", cmd_test, "run the examples written inside each rule",
                "Run every rule's examples through the engine: each disclaimer's through the rules backend,\n"
                "the standard's, gate's, tiers', caps', claim window's and materials' through the functions\n"
                "that evaluate months and decide claims. Fails when an example gives another answer, when\n"
                "a clause has no example, or when nothing ran. --coverage lists every rule (like opa test\n"
                "--coverage): its examples, and for tiers whether an example sits on each bound.")
    p.add_argument("paths", nargs="+", type=data_commands.required_path, metavar="PATH",
                   help="policy files, or a policy directory (with its drafts/)")
    p.add_argument("--coverage", action="store_true", help="report coverage rule by rule")

    p = command("versions", cmd_versions, "list the versions of a policy family with dates and sha256",
                "Lists the family's published versions, by effective_from, then the drafts of its drafts/: each\n"
                "one's effective_from, version label, status, the start of its file's sha256 (the whole of it\n"
                "with --json) and its file. Every decision records the version and sha256 it was made under.")
    data_commands.add_policy_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("show", cmd_show, "show the version in force for a Service Month, and its terms",
                "The version governing a Service Month is the latest whose effective_from is on or\n"
                "before the month's first day (§6.2). A month before every version is an error.")
    data_commands.add_policy_dir(p)
    p.add_argument("--month", type=data_commands.month_option, required=True, metavar="YYYY-MM",
                   help="the Service Month (e.g. 2019-03)")
    p.add_argument("--json", action="store_true", help="print JSON (terms and the whole document)")
    p.add_argument("--provision", metavar="N", help="print only provision N of the agreement (e.g. 5.7, 3.2(2), "
                                                    "Preamble): its words and the settings beside them")

    p = command("diff", cmd_diff, "what changed between two versions, in the policy's terms",
                "Tiers are matched by range and credit, clauses by id, causes and facts by id (a new one\n"
                "shows its title); descriptions and the agreement's words are compared. --format html\n"
                "prints a redline, one self-contained page to send for review.")
    p.add_argument("old", type=data_commands.required_path, metavar="OLD.yaml", help="a policy file: a version or a draft")
    p.add_argument("new", type=data_commands.required_path, metavar="NEW.yaml", help="the policy file it became")
    p.add_argument("--json", action="store_true", help="print JSON (same as --format json)")
    p.add_argument("--format", choices=("text", "json", "html"), help="(default: text)")

    command("schema", cmd_schema, "print the JSON Schema of a policy version",
            "Prints the JSON Schema every policy file is checked against (validate adds the linter's checks):\n"
            "give it to an editor that checks YAML as it is typed. docs/policy-format.md explains each key.")

    p = command("lock", cmd_lock, "record the sha256 of newly published versions in versions.lock",
                "Adds published versions not yet in versions.lock, and prints each with the sha256 recorded\n"
                "(compare it with that of the file agreed: every decision records it). Never rewrites a recorded entry:\n"
                "a published version never changes. Refuses (writing nothing) while `validate`\n"
                "reports an error in the family, while an example of a version to record fails, and for a\n"
                "version dated on or before one recorded, or before today (unless --retroactive). `publish`\n"
                "checks a draft and locks it in one step.\n"
                "A family without versions.lock is refused, naming what would be recorded: restore a lock\n"
                "deleted; start the lock of a family never locked with --new.")
    data_commands.add_policy_dir(p)
    p.add_argument("--new", action="store_true",
                   help="start versions.lock in a family that has none, recording every version as it is now")
    p.add_argument("--retroactive", action="store_true", help=retroactive_help("record"))
    p.add_argument("--ledger", type=data_commands.named_path, metavar="DB",
                   help="the claims' ledger, only read: for a version taking effect before today, the claims it "
                        "records as decided for the Service Months the version would take over are named")

    p = command("publish", cmd_publish, "check a draft and publish it as a version, or write nothing",
                "Checks DRAFT.yaml (schema, linter, examples, version label equal to effective_from,\n"
                "effective_from after every published version, amends naming the latest), then writes\n"
                "POLICY_DIR/<effective_from>.yaml with status: published and records it in versions.lock.\n"
                "The draft itself is left as it was: delete it or keep it (published again, it is refused as\n"
                "already-published). On any problem it lists every reason and writes nothing. A draft taking effect before today\n"
                "(in the policy's timezone) would govern Service Months already begun: refused unless\n"
                "--retroactive, and then it says which months it took over from which version; with --ledger,\n"
                "which claims already decided for them the ledger records (they stay as decided).")
    data_commands.add_policy_dir(p)
    p.add_argument("draft", type=data_commands.required_path, metavar="DRAFT.yaml",
                   help="the draft (status: draft, kept under POLICY_DIR/drafts/ or anywhere)")
    p.add_argument("--retroactive", action="store_true", help=retroactive_help("publish"))
    p.add_argument("--ledger", type=data_commands.named_path, metavar="DB",
                   help="the claims' ledger, only read: for a draft taking effect before today, the claims it "
                        "records as decided for the Service Months the draft would take over are named")

    p = command("render", cmd_render, "the version as a document for legal",
                "Prints a version as a document: a table of contents by §, then each provision's number,\n"
                "its own words, its settings in plain language (readings marked as readings) and its\n"
                "examples. --format html gives one self-contained page.")
    p.add_argument("policy", type=data_commands.required_path, metavar="POLICY.yaml",
                   help="a policy file: a version or a draft")
    p.add_argument("--format", choices=("text", "html"), default="text", help="(default: text)")

    _add_data_commands(command)
    return parser


def _add_data_commands(command) -> None:
    """Commands over operations data; defined in their own modules to keep this one short."""
    data_commands.add_commands(command)


# glibc's malloc: keep freed blocks of up to 32 MiB (a batch's column is 4 MiB) and 256 MiB at the heap's top
# for reuse instead of mapping and unmapping them. See keep_freed_memory.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_BYTES, MMAP_BYTES = 256 << 20, 32 << 20


def keep_freed_memory() -> bool:
    """Let a command reuse the memory one batch of minutes freed for the next, rather than hand it back to the
    system and fault fresh zeroed pages in for each batch: glibc maps each block above 128 KiB afresh until
    its threshold has adapted, and trims the heap's top as soon as it is free. On the 22.3 M-row month this
    was 0.2 s of system time of an `evaluate` (0.28-0.37 s -> 0.10-0.17 s; benchmarks/README.md), for ~10 MB
    more resident. The CLI owns its process; a program embedding the engine keeps its own allocator's
    settings. Without glibc (musl, macOS, Windows) nothing is changed. Returns whether both settings took."""
    if not sys.platform.startswith("linux"):  # Windows' ctypes cannot open the process itself (CDLL(None))
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) & bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))


def parser_for(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: only its command's when its first word names one (the top level's only options are
    --help and --version, so a first word not starting with - is the command), else every command's (for the list
    in --help and in errors)."""
    if argv and not argv[0].startswith("-"):
        parser = build_parser(only=argv[0])
        if parser.commands:
            return parser
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if argv is None:  # a process of its own (`slapolicy ...`), not main() called by a program or a test
        keep_freed_memory()
        return end_process(run_command(args))
    return run_command(args)




# The files a command reads or records in, by argument: --output must name none of them.
KEPT_FILES = {"ledger": "ledger", "claim": "claim", "minutes": "minutes", "billing": "billing",
              "incidents": "incidents", "notices": "notices", "policy_file": "--policy-file", "under": "--under"}


@contextlib.contextmanager
def written_whole(path: str | None, kept: dict | None = None):
    """The command's standard output written into the file ``path`` (``--output``), whole or not at all: into a new
    file beside it, made before the work starts (a directory that cannot be written is said before a claim is
    recorded), renamed over ``path`` once the command has returned; on anything else (a problem, Ctrl-C, a full
    disk) that file is removed and ``path`` is left as it was. A report redirected with ``>`` is emptied first,
    and holds what was written when the command stopped. ``kept``: {what: path} of the files the command reads or
    records in (the ledger, the inputs), which ``path`` must not name: replaced by a report, a ledger was lost."""
    if path is None:
        yield
        return
    target = Path(os.path.realpath(path))  # a symbolic link: the file it names, as `>` writes it
    for option, named in (kept or {}).items():
        if named and os.path.realpath(named) == str(target):
            raise UsageError(f"--output {path} is the {option} too: it would be replaced by the output; name another file")
    if target.is_dir():
        raise SlapolicyError(f"--output {path}: is a directory; name a file")
    _refuse_output_kind(path, target)
    try:
        fd, scratch = create_beside(target.parent, target.name)
    except OSError as exc:
        raise SlapolicyError(f"--output {path}: cannot write in {target.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file, contextlib.redirect_stdout(file):
            yield
            file.flush()
            os.fsync(file.fileno())
        try:
            os.replace(scratch, target)
        except OSError as exc:  # made a directory since, say
            raise SlapolicyError(f"--output {path}: cannot replace it: {exc.strerror}") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        raise
    sync_directory(target.parent)


def _refuse_output_kind(path: str, target: Path) -> None:
    """An --output that is no regular file to replace: a device or FIFO was replaced by a regular file holding the
    output (`--output /dev/full`, as root, removed the device), and `--output reports/` wrote a file 'reports'."""
    if path.endswith(("/", os.sep)):
        raise SlapolicyError(f"--output {path}: ends in '/', as a directory's name does, and no directory is there: "
                             "name a file")
    try:
        mode = os.stat(target).st_mode
    except OSError:  # none yet (the common case), or one the scratch file's making names
        return
    if not stat.S_ISREG(mode):
        raise SlapolicyError(f"--output {path}: is {file_kind(mode)}, not a regular file, which the output would "
                             "replace: name a file (to discard the output, leave --output out and redirect it to "
                             "/dev/null)")


def end_process(code: int) -> int:
    """End the command's own process at once, once its output is flushed: Python's own ending (each module's
    objects freed one by one, then collected) cost an `evaluate` of the 500-account month ~0.05 s of CPU after
    its last line, on one core (benchmarks/README.md), and nothing is left for it to do. Every file, ledger,
    pool and thread of a command is closed or ended before it returns; the two exit handlers registered by then
    flush logging (which slapolicy does not use) and finalize pyarrow's S3 client (the process ends anyway).
    A command that started worker processes (``--workers``, or Dask's client) ends as Python does, returning
    ``code``: multiprocessing's finalizers release the pool's semaphores, which its resource tracker would
    otherwise report as leaked on stderr."""
    # None: the process was started with that stream closed (Python's own ending skips it too).
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away (as handled in run_command), or stdout is closed
        pass
    except OSError as exc:  # the output's last bytes could not be written
        if exc.errno not in OUTPUT_FULL:
            raise
        if sys.stderr is not None:
            sys.stderr.write(f"slapolicy: cannot write the output: {exc.strerror}\n")
        code = code or 1
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass
    if "multiprocessing" in sys.modules:
        return code
    os._exit(code)


def shown(message: str) -> str:
    """A message as it is written to the terminal: its lines kept, any other character that is not printable (a
    terminal's escape, a bidirectional override) written as its escape. A message may quote what the user typed
    (an ``--account`` of no account), and the inputs' own names are quoted by repr where they are met; a value
    quoted beyond 200 characters is cut as the service cuts it (:func:`slapolicy.errors.bounded_message`)."""
    return "\n".join(one_line(bounded_message(line)) for line in message.split("\n"))


def unencodable_output(exc: BaseException) -> str | None:
    """What to say when ``exc`` is the text refused by a standard output that does not write UTF-8, or None. The
    command's own process writes UTF-8 (``cli.whole_output``); ``main`` called by a program writes to the program's
    standard output as the program set it, and an ASCII or Latin-1 one cannot write the em dash and § of the text
    reports: that was 'internal error, please report it: UnicodeEncodeError', exit 3."""
    encoding = getattr(sys.stdout, "encoding", None)
    if not isinstance(exc, UnicodeEncodeError) or not encoding or codecs.lookup(encoding).name == "utf-8" \
            or codecs.lookup(exc.encoding).name != codecs.lookup(encoding).name:  # another text's, not the output's
        return None
    character = exc.object[exc.start:exc.start + 1]
    return (f"cannot write the output: standard output is encoded as {encoding}, which cannot write "
            f"{character!r} (U+{ord(character):04X}): make it UTF-8 (sys.stdout.reconfigure(encoding='utf-8'), "
            "or PYTHONIOENCODING=utf-8)")


def run_command(args) -> int:
    """Run the parsed command: its exit status, every problem written to stderr as one message."""
    output = getattr(args, "output", None)
    data_commands.chosen_format(args)
    try:
        if sys.stdout is None and output is None:  # started with its standard output closed (`>&-`): refused
            raise SlapolicyError("cannot write the output: standard output is closed (to discard it, "  # before any work
                                 "redirect it to /dev/null)")
        if args.command in NEEDS_RULES and args.command not in data_commands.CHECKS_RULES_ITSELF:
            check_backend()  # say at start, in one line, when durable-rules must be rebuilt (Python 3.13+)
        if args.command not in data_commands.LOADS_ENGINE_ITSELF:
            modules_loaded()
        with written_whole(output, {what: getattr(args, attribute, None) for attribute, what in KEPT_FILES.items()}):
            return args.func(args)
    except UsageError as exc:
        sys.stderr.write(f"slapolicy {args.command}: {shown(str(exc))}\n")
        return 2
    except PolicyError as exc:
        for diagnostic in exc.diagnostics:
            sys.stderr.write(f"{diagnostic}\n")
        return 1
    except SlapolicyError as exc:
        sys.stderr.write(f"slapolicy: {shown(str(exc))}\n")
        return 1
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (Terminated)
        return stopped(exc)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 — never a bare traceback for a user
        if interruption(exc) is not None:
            return stopped(interruption(exc))
        if limit_message(exc) is not None:  # memory, threads or open files: the machine's limit, not a bug
            sys.stderr.write(f"slapolicy: {limit_message(exc)}\n")
            return 1
        if isinstance(exc, OSError) and exc.errno in OUTPUT_FULL:
            sys.stderr.write(f"slapolicy: cannot write the output: {exc.strerror}\n")
            return 1
        if unencodable_output(exc) is not None:
            sys.stderr.write(f"slapolicy: {unencodable_output(exc)}\n")
            return 1
        sys.stderr.write(f"slapolicy: internal error, please report it: {type(exc).__name__}: {exc}\n")
        if "SLAPOLICY_DEBUG" in os.environ:
            traceback.print_exc()
        return 3


if __name__ == "__main__":
    sys.exit(main())
