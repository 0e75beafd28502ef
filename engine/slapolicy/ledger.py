"""The ledger: an embedded SQLite database of every claim decision and the compensation granted,
kept as a hash chain so that an edit, a deletion or an insertion is detected.

Writing. Each decision is written in one ``BEGIN IMMEDIATE`` transaction together with its grant,
after the §6.1 aggregate cap was computed from the grants already in the ledger *inside* that
transaction: two processes deciding at once cannot both spend the same room under the cap, and a
crash mid-decision leaves no partial record. The same claim (same canonical JSON) decided twice
returns the first decision and grants nothing again; a month is compensated at most once per account.

The chain (as certificate-transparency logs and sigstore's Rekor keep theirs). Every decision and
every grant is an *entry* with a sequence number taken under the write lock, so sequence order is
commit order, and a hash over its canonical content and the hash before it::

    hash(entry n) = H(hash(entry n-1) || canonical JSON of entry n)      hash(entry 0) = 64 zeros

H is SHA-256, or HMAC-SHA-256 under the key in ``$SLAPOLICY_LEDGER_KEY`` for a ledger created
with one. The ``meta`` table keeps the head: the number of entries and the last hash. Before a
decision is appended or a recorded one answered again, the head, the number of entries, every
grant of the claimant's account with the decision it pays (and that recorded decision) are checked:
what the decision relies on, at a cost of the account's grants, not its history; ``verify``
walks the whole chain (``slapolicy audit``). Entries are guarded against edits where they would be
made: triggers refuse to change or delete one, and an append without them walks the whole chain once
(GUARD below). docs/ledger.md says what this protects and what not.

Identity. ``PRAGMA application_id`` is "SLAP" and ``user_version`` the format number. Any other
file is looked at read-only and refused before anything is written to it.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import hmac
import json
import os
import sqlite3
import tempfile
import threading
import urllib.parse
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

from .errors import ArgumentError, LedgerError, LedgerIntegrityError, UsageError
from .files import make_directories, sync_directory, xdg_base

__all__ = ["FORMAT", "KEY_VARIABLE", "Ledger", "LedgerError", "LedgerIntegrityError", "checkpoint_argument",
           "checkpoint_text", "default_ledger_path", "upgrade_ledger"]

OPEN_TIMEOUT_SECONDS = 60
APPLICATION_ID = 0x534C4150  # "SLAP" in the SQLite header: this file is a slapolicy ledger
FORMAT = 2  # PRAGMA user_version; format 1 (no chain) is upgraded by `slapolicy audit --upgrade`
KEY_VARIABLE = "SLAPOLICY_LEDGER_KEY"
GENESIS = "0" * 64
KEY_CHECK_MESSAGE = b"slapolicy ledger key check"

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE decisions (
    seq            INTEGER NOT NULL UNIQUE,
    decision_id    TEXT PRIMARY KEY,
    claim_digest   TEXT NOT NULL UNIQUE,
    decided_at     TEXT NOT NULL,
    account        TEXT NOT NULL,
    service_month  TEXT NOT NULL,
    decision       TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    policy_sha256  TEXT NOT NULL,
    inputs_digest  TEXT NOT NULL,
    inputs_json    TEXT NOT NULL,
    result_json    TEXT NOT NULL,
    entry_hash     TEXT NOT NULL
);
CREATE INDEX decisions_by_account ON decisions (account);
CREATE TABLE grants (
    seq           INTEGER NOT NULL UNIQUE,
    account       TEXT NOT NULL,
    service_month TEXT NOT NULL,
    decision_id   TEXT NOT NULL REFERENCES decisions (decision_id),
    amount        TEXT NOT NULL,
    granted_at    TEXT NOT NULL,
    entry_hash    TEXT NOT NULL,
    PRIMARY KEY (account, service_month)
);
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {FORMAT};
"""
# The append-only guard. A decision reads the grants of its account, never the account's other decisions, so an
# append checks only what it relies on (``_check_standing``): walking every entry would make each append cost the
# ledger's history. What an append does not read, it cannot find edited: no check can see an edit of bytes it does
# not read. So edits are refused where they are made instead: these triggers make SQLite refuse to change or delete
# an entry (the sqlite3 shell's UPDATE and DELETE fail with the message below), and an append looks, at the cost of
# one small query, that they are still as written. Removed or altered (to edit the ledger anyway), or absent (a
# ledger of an earlier slapolicy), the next append walks the whole chain once, as the audit does, and refuses to
# continue a ledger found edited; otherwise it puts the guard back. Whoever removes the guard, edits and restores it
# exactly is a forger who knows this scheme, as one who recomputes the chain: `slapolicy audit` (and the key) are
# what stands against them (docs/ledger.md).
GUARD_MESSAGE = "a slapolicy ledger is append-only: its entries are never changed or deleted (docs/ledger.md)"
# REPLACE (INSERT OR REPLACE, REPLACE INTO) removes the row it conflicts with without firing DELETE triggers (SQLite
# fires them only under PRAGMA recursive_triggers), so an edit can also come as an insert: one that meets an entry
# on any of its keys (seq, the primary key, a unique column, the rowid) is refused before it replaces anything.
# slapolicy's own inserts never meet one.
_MEETS = {"decisions": "seq = NEW.seq OR decision_id = NEW.decision_id OR claim_digest = NEW.claim_digest",
          "grants": "seq = NEW.seq OR (account = NEW.account AND service_month = NEW.service_month)"}
_WHEN = {(table, "INSERT"): f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {meets} OR rowid = NEW.rowid) "
         for table, meets in _MEETS.items()}
GUARD = {f"{table}_append_only_{action.lower()}": f"CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE "
                                                  f"{action} ON {table} {_WHEN.get((table, action), '')}"
                                                  f"BEGIN SELECT RAISE(ABORT, '{GUARD_MESSAGE}'); END"
         for table in ("decisions", "grants") for action in ("UPDATE", "DELETE", "INSERT")}

COLUMNS = {
    "decision": ("seq", "decision_id", "claim_digest", "decided_at", "account", "service_month", "decision",
                 "policy_version", "policy_sha256", "inputs_digest", "inputs_json", "result_json"),
    "grant": ("seq", "account", "service_month", "decision_id", "amount", "granted_at"),
}
TABLES = {"decision": "decisions", "grant": "grants"}


def default_ledger_path() -> Path:
    """``$XDG_DATA_HOME/slapolicy/ledger.sqlite`` (``$HOME/.local/share/...`` when unset or relative: the XDG
    specification ignores a relative value, and the ledger must not depend on the working directory, or claims
    filed from two directories would go to two ledgers, each blind to the other's grants). :class:`UsageError`
    when neither names an absolute directory (HOME unset, empty or relative): a ledger in ``/.local/share``, or in
    whatever home the password file names, is a ledger nobody looks for."""
    base, why = xdg_base("XDG_DATA_HOME", os.path.join(".local", "share"))
    if base is None:
        raise UsageError(f"no ledger given, and no directory for the default one ($XDG_DATA_HOME/slapolicy, else "
                         f"$HOME/.local/share/slapolicy): {why}; give one (--ledger DB), or set XDG_DATA_HOME or "
                         "HOME to an absolute path")
    return Path(base) / "slapolicy" / "ledger.sqlite"


# ---------------------------------------------------------------------------- entries and the chain

class Entry(NamedTuple):  # a NamedTuple: a quarter of a dataclass's making at every start
    """One decision or grant as stored: its columns and the hash stored beside them."""

    kind: str  # "decision" or "grant"
    fields: dict
    stored_hash: str

    @property
    def seq(self) -> int:
        return self.fields["seq"]

    def content(self) -> bytes:
        """The canonical JSON the chain hashes: every column, keys sorted, no spaces."""
        return json.dumps({"kind": self.kind, **self.fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=_blob).encode()

    def document(self, column: str) -> dict:
        """A JSON column as slapolicy wrote it (an object), or Malformed."""
        try:
            value = json.loads(self.fields[column])
        except (TypeError, ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise Malformed(f"{self.label()}: its {column} is not the JSON object slapolicy wrote: it was edited")
        return value

    def label(self) -> str:
        f = self.fields
        return f"entry #{f['seq']} ({self.kind} {f['decision_id']}, {f['account']} {f['service_month']})"


class Malformed(Exception):
    """A stored value of a form slapolicy never writes; the Ledger reports it as LedgerIntegrityError."""


def _blob(value):
    if isinstance(value, bytes):  # SQLite keeps whatever type it is handed: an edited column may hold bytes
        return {"bytes": value.hex()}
    raise TypeError(type(value).__name__)


class Chain:
    """H of the module docstring: SHA-256, or HMAC-SHA-256 under a key."""

    def __init__(self, key: bytes | None):
        self.key = key

    def link(self, previous: str, entry: Entry) -> str:
        message = previous.encode() + entry.content()
        if self.key is None:
            return hashlib.sha256(message).hexdigest()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    @property
    def name(self) -> str:
        return "sha256" if self.key is None else "hmac-sha256"


def environment_key() -> bytes | None:
    """The key of ``$SLAPOLICY_LEDGER_KEY``; None when the variable is unset. Set but empty, it is refused
    (UsageError: the CLI's exit 2) rather than read as no key: an empty value is an export of a variable that was
    never filled, and taken for "no key" it would create unkeyed ledgers, or refuse a keyed one as keyless, where a
    key was meant. Every reader of the key comes here."""
    text = os.environ.get(KEY_VARIABLE)
    if text is None:
        return None
    if not text:
        raise UsageError(f"{KEY_VARIABLE} is set but empty: set it to the ledger's key, or unset it for a ledger "
                         "without one (docs/ledger.md)")
    return text.encode()


# ---------------------------------------------------------------------------- checkpoints

CHECKPOINT_FORM = "ENTRIES:HASH (e.g. 5:801c…, 64 hexadecimal digits: the entries and head that slapolicy audit prints)"


def checkpoint_text(head: dict) -> str:
    """``ENTRIES:HASH``, a head (``{"entries": N, "hash": H}``) written as ``slapolicy audit --checkpoint`` and
    :func:`checkpoint_argument` take it: the one place that writes a checkpoint, so what audit prints is given back
    as it is."""
    return f"{head['entries']}:{head['hash']}"


def checkpoint_argument(value) -> dict:
    """A checkpoint: a head of the ledger recorded outside it, as ``{"entries": N, "hash": H}`` (what
    :attr:`Ledger.head` gives) or the text ``N:H``; ArgumentError for anything else. The name is the transparency
    logs' (a checkpoint is the size and root hash of a log, kept by whoever checks it later that the log still
    extends it); the ledger's own head is what the file says of itself now, which a truncation rewrites."""
    if isinstance(value, dict) and set(value) == {"entries", "hash"}:
        entries, digest = value["entries"], value["hash"]
        if isinstance(entries, bool) or not isinstance(entries, int) or not isinstance(digest, str):
            raise ArgumentError(f"checkpoint {value!r}: entries must be a whole number and hash a string")
        text = checkpoint_text(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ArgumentError(f"checkpoint must be {CHECKPOINT_FORM} or a dict {{'entries': N, 'hash': H}} "
                            f"(as Ledger.head gives), not {type(value).__name__}")
    entries, colon, digest = text.strip().partition(":")
    if not colon or not entries.isascii() or not entries.isdigit():
        raise ArgumentError(f"checkpoint {text!r} is not {CHECKPOINT_FORM}")
    if int(entries) < 1:
        raise ArgumentError(f"checkpoint {text!r}: a checkpoint names entry #1 or later (the ledger's first decision "
                            "is entry #1)")
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise ArgumentError(f"checkpoint {text!r}: its hash must be 64 hexadecimal digits (the head audit prints), "
                            f"not {len(digest)} character(s){'' if len(digest) != 64 else ' with others among them'}")
    return {"entries": int(entries), "hash": digest.lower()}


def key_check(key: bytes) -> str:
    """Stored in a keyed ledger to tell a wrong key from a tampered chain; reveals nothing of the key."""
    return hmac.new(key, KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()


def _database_errors(method):
    """SQLite's own errors (a damaged page, a full disk, a locked file) as LedgerError naming the file."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        self._check_thread()
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: the ledger cannot be read or written ({exc}); "
                              "if the file is damaged, restore it from a backup") from None
        except Malformed as exc:
            raise LedgerIntegrityError(f"{self.path}: {exc}; restore the ledger from a backup") from None

    return guarded


# ---------------------------------------------------------------------------- the ledger

class Ledger:
    """One connection per Ledger object; make one per thread (SQLite connections are not shared).

    ``create=False`` refuses a missing file; ``readonly=True`` opens it for reading only (audit).
    ``first_decision``: the arguments of a :meth:`decide` to make in the file before it is linked into place, when
    this call creates it; what that decide returned is then :attr:`decided_first` (else None: decide as ever).
    ``durable=False`` is for a scratch ledger thrown away when its process is done (the audit's replica): nothing of
    it is synced to disk (neither its making nor its decisions), since a power loss takes the process that would
    read it too. Every ledger a decision is reported from is durable.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True, readonly: bool = False, *,
                 first_decision: tuple | None = None, durable: bool = True):
        self.path = Path(path)
        self._key = environment_key()
        self.decided_first: tuple[dict, bool] | None = None
        self.durable = durable
        if not os.path.lexists(self.path):
            if not create or readonly:
                raise LedgerError(f"{self.path}: no such ledger")
            self.decided_first = self._create(first_decision)
        # Before identify's reading, which makes them in a writable directory when no connection has them open
        self._reader_made_beside = readonly and not any(os.path.lexists(f"{self.path}{s}") for s in READER_FILES)
        identify(self.path)
        self.readonly = readonly
        self._thread = threading.get_ident()  # the one thread its connection serves
        self._walked: tuple | None = None  # (entries, head) of the last whole walk that found the chain intact
        self._db = self._connect()
        if not durable:
            self._db.execute("PRAGMA synchronous = OFF")
        self._meta = self._read_meta()

    # -- opening

    def _create(self, first_decision: tuple | None = None) -> tuple[dict, bool] | None:
        """Build the ledger in a scratch file and link it into place: the path never names a half-made ledger,
        and of processes creating the same ledger at once one wins and the others open its file. The folders made
        for it and the link are synced into their directories: a decision reported from a ledger whose name a
        power loss could take away would be a decision lost. ``first_decision`` (decide's arguments) is recorded
        in the scratch file, and so comes with the ledger, synced with it: an empty ledger linked first and the
        decision then appended took seven syncs (the file, its directory, the new WAL's header, the WAL's
        directory entry, the commit, the checkpoint's two at close), a claim's ~1.5 ms on a quiet disk and tens
        on a busy one, all after its minutes were read; now two. Its answer is returned, or None when another
        process made the ledger first (the decision is then to be made in that one)."""
        if os.path.lexists(self.path.parent) and not self.path.parent.is_dir():
            raise LedgerError(f"{self.path}: the ledger cannot be created ({self.path.parent} is not a directory)")
        try:
            make_directories(self.path.parent)
            handle, scratch = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".new", dir=self.path.parent)
            os.close(handle)
        except OSError as exc:
            raise LedgerError(f"{self.path}: the ledger cannot be created ({exc.strerror})") from None
        try:
            db = sqlite3.connect(scratch, isolation_level=None)
            try:
                # Nobody else sees the scratch file: it is built without a journal or a sync, and synced once, whole,
                # before it is linked into place (below). Built in WAL mode it took nine syncs (the switch's rollback
                # journal, the commit, the checkpoint at close): 4 ms on a quiet disk, tens on a busy one.
                db.execute("PRAGMA journal_mode = OFF")
                db.execute("PRAGMA synchronous = OFF")
                db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} {'; '.join(GUARD.values())};")
                meta = {"format": str(FORMAT), "chain": Chain(self._key).name, "entries": "0", "head": GENESIS}
                if self._key is not None:
                    meta["key_check"] = key_check(self._key)
                db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
                db.execute("COMMIT")
                if first_decision is None:  # else once the decision is in (_decide_unseen)
                    db.execute("PRAGMA journal_mode = WAL")  # readers never wait for the one writer (kept in the file)
            finally:
                db.close()
            decided = self._decide_unseen(scratch, first_decision) if first_decision is not None else None
            if self.durable:
                with open(scratch, "rb+") as made:
                    os.fsync(made.fileno())
            try:
                os.link(scratch, self.path)
            except FileExistsError:
                decided = None  # another process made it first: use that one (the decision is made again there)
            except OSError:
                if not os.path.lexists(self.path):  # a filesystem without hard links
                    os.replace(scratch, self.path)
            if os.path.lexists(scratch):
                os.unlink(scratch)  # before the sync, which then makes the link and the scratch name's end durable
            if self.durable:
                sync_directory(self.path.parent)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"{self.path}: the ledger cannot be created ({exc})") from None
        finally:
            for leftover in (scratch, scratch + "-wal", scratch + "-shm"):
                if os.path.lexists(leftover):
                    os.unlink(leftover)
        return decided

    @staticmethod
    def _decide_unseen(scratch: str, first_decision: tuple) -> tuple[dict, bool]:
        """:meth:`decide` in a ledger nobody else sees yet (the scratch file ``_create`` builds, not yet in WAL mode),
        as in any ledger, but neither through a WAL nor synced: the file is synced whole after it (a build that
        raises leaves a scratch file that is removed, never linked). The file is then in WAL mode, and its bytes
        those of an empty ledger linked first with the decision appended after."""
        unseen = Ledger(scratch)
        try:
            unseen._db.execute("PRAGMA synchronous = OFF")
            unseen._db.execute("PRAGMA journal_mode = MEMORY")  # a rollback (a build that raises) without a file
            decided = unseen.decide(*first_decision)
            unseen._db.execute("PRAGMA journal_mode = WAL")  # as every ledger is kept (see _create)
            return decided
        finally:
            unseen.close()

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            _refuse_unwritable(self.path)  # now, not halfway through a decision
        try:
            db = _open_readonly(self.path, isolation_level=None) if self.readonly else \
                sqlite3.connect(self.path, timeout=OPEN_TIMEOUT_SECONDS, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout = {OPEN_TIMEOUT_SECONDS * 1000}")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: the ledger cannot be opened ({exc})") from None
        return db

    @_database_errors
    def _read_meta(self) -> dict:
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != str(FORMAT) or meta.get("chain") not in ("sha256", "hmac-sha256") \
                or not str(meta.get("entries", "")).isdigit() or not isinstance(meta.get("head"), str):
            raise LedgerIntegrityError(f"{self.path}: the ledger's meta table was edited (its format, chain, entries or "
                                       "head is missing or not as slapolicy writes it); restore the ledger from a backup")
        return meta

    def _check_thread(self) -> None:
        """ArgumentError unless called on the thread that opened the ledger. SQLite's refusal was said as the file's
        fault ("the ledger cannot be read or written (SQLite objects created in a thread can only be used in that
        same thread …); if the file is damaged, restore it from a backup") to a program that had shared one Ledger
        between its threads."""
        if threading.get_ident() != self._thread:
            raise ArgumentError(f"{self.path}: this Ledger was opened by another thread, and its SQLite connection "
                                "serves only the thread that opened it: open a Ledger in each thread, or give the "
                                "ledger's path (each call then opens its own); nothing was read or written")

    def close(self) -> None:
        self._db.close()
        if self._reader_made_beside:
            _as_found_beside(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def snapshot(self):
        """Reads inside see one state of the ledger, whatever other processes append meanwhile."""
        self._check_thread()
        if self._db.in_transaction:
            yield self
            return
        self._db.execute("BEGIN")
        try:
            self._meta = self._read_meta()
            yield self
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    @property
    def keyed(self) -> bool:
        return self._meta["chain"] == "hmac-sha256"

    def chain(self) -> Chain:
        """The hash of this ledger's chain. Refuses a missing or wrong key; and a key for a ledger that says it has
        none: the chain cannot change its hash halfway, and a forger without the key would otherwise only have to
        mark the ledger unkeyed and recompute a plain chain."""
        if self.keyed:
            if self._key is None:
                raise LedgerError(f"{self.path}: the ledger is sealed with a key: set {KEY_VARIABLE} to the key it was "
                                  "created with")
            if not hmac.compare_digest(key_check(self._key), self._meta.get("key_check", "")):
                raise LedgerError(f"{self.path}: {KEY_VARIABLE} is not the key this ledger was created with")
            return Chain(self._key)
        if self._key is not None:
            raise LedgerError(f"{self.path}: {KEY_VARIABLE} is set, but this ledger has no key: it was created without "
                              "one (unset the variable, or record new decisions in a new ledger), or its meta table "
                              "was edited to drop the key")
        return Chain(None)

    # -- reading entries

    def _select(self, kind: str, where: str = "", params: tuple = ()):
        columns = COLUMNS[kind]
        rows = self._db.execute(f"SELECT {', '.join(columns)}, entry_hash FROM {TABLES[kind]} {where} ORDER BY seq",
                                params)
        for row in rows:
            if not isinstance(row[0], int):
                raise Malformed(f"the {TABLES[kind]} table holds an entry numbered {row[0]!r}, not a whole number: "
                                "it was edited")
            yield Entry(kind, dict(zip(columns, row[:-1])), row[-1])

    def _entries(self, where: str = "", params: tuple = ()):
        """Decisions and grants merged in sequence order, streamed."""
        return heapq.merge(self._select("decision", where, params), self._select("grant", where, params),
                           key=lambda entry: entry.seq)

    def _hash_before(self, seq: int) -> str | None:
        if seq == 1:
            return GENESIS
        row = self._db.execute("SELECT entry_hash FROM decisions WHERE seq = ? UNION ALL "
                               "SELECT entry_hash FROM grants WHERE seq = ?", (seq - 1, seq - 1)).fetchall()
        return row[0][0] if len(row) == 1 else None

    def _check_entry(self, entry: Entry, chain: Chain) -> str | None:
        """What is wrong with one entry, judged against the stored hash before it; None when it holds."""
        previous = self._hash_before(entry.seq)
        if not isinstance(previous, str):
            return f"the entry before {entry.label()} is missing, doubled or damaged"
        if chain.link(previous, entry) != entry.stored_hash:
            return f"{entry.label()} does not match its hash: it was edited"
        return None

    # -- verifying

    @_database_errors
    def verify(self, checkpoint=None) -> dict:
        """Walk the whole chain in sequence order: ``{entries, head, keyed, intact, first_broken, head_checkpoint}``,
        where ``first_broken`` is None or ``{seq, entry, problem}`` for the first entry that does not hold, and
        ``head_checkpoint`` the head written ``ENTRIES:HASH`` (:func:`checkpoint_text`), None when the chain is broken
        or holds no entry (no checkpoint names entry #0). With a
        ``checkpoint`` (:func:`checkpoint_argument`), also ``checkpoint``: ``{entries, hash, holds, problem}``."""
        wanted = checkpoint_argument(checkpoint) if checkpoint is not None else None
        with self.snapshot():
            return self._verify(self.chain(), wanted)

    def _verify(self, chain: Chain, checkpoint: dict | None = None) -> dict:
        previous_hash, before, count = GENESIS, None, 0
        broken = reached = None
        try:
            for entry in self._entries():
                count += 1
                broken = _walk_problem(chain, count, previous_hash, before, entry)
                if broken:
                    break
                previous_hash, before = entry.stored_hash, entry
                if checkpoint is not None and count == checkpoint["entries"]:
                    reached = entry.stored_hash  # entries #1 to #N hold, and hash to this
        except Malformed as exc:
            broken = {"seq": count, "entry": f"entry #{count}", "problem": str(exc)}
        if broken is None:
            broken = self._tail_problem(count, previous_hash, before)
        report = {"entries": int(self._meta["entries"]), "head": self._meta["head"], "keyed": self.keyed,
                  "intact": broken is None, "first_broken": broken}
        # the head as a later audit takes it back (--checkpoint): only a head the walk vouched for, of an entry at least
        whole = broken is None and report["entries"] > 0
        report["head_checkpoint"] = checkpoint_text({"entries": report["entries"], "hash": report["head"]}) if whole else None
        if checkpoint is not None:
            report["checkpoint"] = checkpoint | self._checkpoint_problem(checkpoint, reached, broken)
        return report

    def _checkpoint_problem(self, checkpoint: dict, reached: str | None, broken: dict | None) -> dict:
        """``{holds, problem}``: whether this ledger still holds the checkpoint's entry #N, with entries #1 to #N
        hashing to the checkpoint's hash. A longer ledger that extends it holds it; a shorter one (its tail cut, the
        head rewritten to match, or an older copy put in its place), a rewritten one (an entry up to #N edited,
        deleted or inserted and the chain recomputed) or another ledger does not."""
        number, recorded = checkpoint["entries"], checkpoint["hash"]
        held = sum(self.counts())
        if held < number:
            lost = f"entry #{number} was" if held + 1 == number else f"entries #{held + 1} to #{number} were"
            return {"holds": False, "problem": (
                f"the ledger holds {held} entr{'y' if held == 1 else 'ies'}, not the checkpoint's entry #{number}: "
                f"{lost} deleted (its tail cut and its head rewritten to match), or the ledger was replaced by an older "
                "copy")}
        stored = reached
        if stored is None:  # the walk broke before #N: what #N stores, if one entry has that number
            rows = self._db.execute("SELECT entry_hash FROM decisions WHERE seq = ? UNION ALL "
                                    "SELECT entry_hash FROM grants WHERE seq = ?", (number, number)).fetchall()
            stored = rows[0][0] if len(rows) == 1 else None
        if isinstance(stored, str) and stored != recorded:
            return {"holds": False, "problem": (
                f"entries #1 to #{number} hash to {stored}, not to the checkpoint's {recorded}: the ledger was rewritten "
                f"up to entry #{number} (an entry edited, deleted or inserted and the chain recomputed), or it is "
                "another ledger")}
        if reached is None:
            return {"holds": False, "problem": (
                f"the chain is broken at entry #{broken['seq']}, not after the checkpoint's entry #{number}: entries "
                f"#1 to #{number} cannot be vouched for (the chain's line says what is wrong)")}
        return {"holds": True, "problem": None}

    def _tail_problem(self, count: int, last_hash: str, last: Entry | None) -> dict | None:
        recorded = int(self._meta["entries"])
        if count < recorded:
            missing = recorded - count
            return {"seq": count + 1, "entry": f"entry #{count + 1}",
                    "problem": f"entry #{count + 1} is missing: the chain ends at #{count} but its head records {recorded} "
                               f"entries, so the last {missing} entr{'y was' if missing == 1 else 'ies were'} deleted"}
        if count > recorded:
            return {"seq": recorded + 1, "entry": f"entry #{recorded + 1}",
                    "problem": f"entry #{recorded + 1} is beyond the head, which records {recorded} entries: it was inserted"}
        if last_hash != self._meta["head"]:
            return {"seq": count, "entry": last.label() if last else "the head",
                    "problem": "the head hash recorded in the meta table does not match the last entry"}
        if last is not None and _owes_grant(last):
            return {"seq": count + 1, "entry": f"entry #{count + 1}",
                    "problem": f"entry #{count + 1} is missing: {last.label()} approved compensation but its grant "
                               "is not in the ledger"}
        return None

    def _check_standing(self, account: str, chain: Chain) -> tuple[int, str]:
        """The head and what a decision of the account relies on hold, or LedgerIntegrityError: a decision never
        relies on a damaged ledger (a deleted grant must not make room for the same month twice). Returns
        (entries, head hash).

        Checked: the number of entries against the head, the last entry's hash, every grant of the account with the
        decision it pays (the grants are what the §6.1 cap and "one grant per month" read), and that no approved
        decision of the account lacks its grant. The account's other decisions (denials, incomplete claims) are
        read by no decision: the append-only guard keeps them from being edited (``_check_guard``), and ``verify``
        (`slapolicy audit`) checks them, as other accounts' entries: so an append costs the account's grants (at
        most one per Service Month), not its whole history."""
        recorded, head = int(self._meta["entries"]), self._meta["head"]
        count, top = self._db.execute(
            "SELECT count(*), coalesce(max(seq), 0) FROM (SELECT seq FROM decisions UNION ALL SELECT seq FROM grants)"
        ).fetchone()
        if count != recorded or top != recorded:
            self._damaged(f"its head records {recorded} entries, but it holds {count} numbered up to #{top}: "
                          "entries were deleted or inserted")
        if not recorded and head != GENESIS:
            self._damaged("its head records no entries but a hash")
        try:
            if recorded:
                last = next(self._entries("WHERE seq = ?", (recorded,)))
                problem = self._check_entry(last, chain) or (
                    None if last.stored_hash == head else "the head hash does not match the last entry")
                if problem:
                    self._damaged(problem)
            for grant in self._select("grant", "WHERE account = ?", (account,)):
                self._check_grant(grant, chain)
            self._check_paid(account)
        except Malformed as exc:
            self._damaged(str(exc))
        return recorded, head

    def _check_guard(self, chain: Chain) -> None:
        """The append-only guard is in place, or the whole chain holds (GUARD above)."""
        if not self._guarded():
            self._walk_once(chain)

    @_database_errors
    def guard_in_place(self) -> bool:
        """The append-only guard is as this slapolicy writes it: ``slapolicy audit`` says when it is not (whoever
        edits an entry with the sqlite3 shell removes it first)."""
        return self._guarded()

    def _guarded(self) -> bool:
        """The append-only guard is in place, as slapolicy wrote it (and no other trigger beside it)."""
        return dict(self._db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")) == GUARD

    def _walk_once(self, chain: Chain) -> None:
        """Without the guard, an entry may have been edited anywhere: walk the whole chain (once per state of the
        ledger) and refuse a ledger that does not hold, naming the first broken entry as the audit does."""
        state = (self._meta["entries"], self._meta["head"])
        if self._walked == state:
            return
        broken = self._verify(chain)["first_broken"]
        if broken is not None:
            self._damaged(f"{broken['problem']}; the ledger's append-only guard was removed or altered")
        self._walked = state

    def _put_guard(self) -> None:
        """Install the append-only guard (inside the append's transaction), replacing any trigger found instead."""
        for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            self._db.execute(f'DROP TRIGGER "{name.replace(chr(34), chr(34) * 2)}"')
        for statement in GUARD.values():
            self._db.execute(statement)

    def _check_grant(self, grant: Entry, chain: Chain) -> None:
        """A grant and the approved decision it pays (the entry just before it) match their hashes and each other."""
        paying = next(self._entries("WHERE seq = ?", (grant.seq - 1,)), None)
        problem = (_shape_problem(paying, grant) or self._check_entry(paying, chain)
                   or self._check_entry(grant, chain))
        if problem:
            self._damaged(problem)

    def _check_paid(self, account: str) -> None:
        """Every approved decision of the account is followed by its grant (as ``verify`` requires of every one)."""
        unpaid = next(self._select("decision", "WHERE account = ? AND decision = 'approved' AND NOT EXISTS (SELECT 1 "
                                              "FROM grants WHERE grants.seq = decisions.seq + 1 AND "
                                              "grants.decision_id = decisions.decision_id)", (account,)), None)
        if unpaid is not None:
            self._damaged(f"the grant of {unpaid.label()} is missing: it was deleted")

    def _damaged(self, problem: str):
        raise LedgerIntegrityError(f"{self.path}: the ledger is damaged ({problem}); no decision is recorded until it "
                                   f"is restored from a backup (`slapolicy audit {self.path}` names the first broken entry)")

    # -- reading

    @_database_errors
    def find(self, claim_digest: str) -> dict | None:
        """The decision recorded for this claim, after checking its entry against the chain."""
        return self._checked_decision("claim_digest", claim_digest)

    @_database_errors
    def decision(self, decision_id: str) -> dict | None:
        """The decision recorded under ``decision_id`` (``D-…``), as returned when it was made, after the
        same check of its entry against the chain as :meth:`find`."""
        return self._checked_decision("decision_id", decision_id)

    @_database_errors
    def inputs(self, decision_id: str) -> dict | None:
        """The inputs recorded with a decision (paths and digests of its files, the claim, the clock)."""
        with self.snapshot():
            entry = next(self._select("decision", "WHERE decision_id = ?", (decision_id,)), None)
            return None if entry is None else entry.document("inputs_json")

    def _checked_decision(self, column: str, value: str) -> dict | None:
        with self.snapshot():
            entry = next(self._select("decision", f"WHERE {column} = ?", (value,)), None)
            if entry is None:
                return None
            # The standing of the claimant's grants, as before an append: a repeated claim is not answered
            # from a ledger whose grant for it was deleted; and the decision answered matches its hash.
            chain = self.chain()
            self._check_standing(entry.fields["account"], chain)
            problem = self._check_entry(entry, chain)
            if problem:
                self._damaged(problem)
            self._check_guard(chain)
            return entry.document("result_json")

    @_database_errors
    def grants(self, account: str) -> dict[str, tuple[Decimal, str]]:
        """Service month → (amount granted, decision id) for one account."""
        rows = self._db.execute("SELECT service_month, amount, decision_id FROM grants WHERE account = ?", (account,))
        try:
            return {month: (Decimal(amount), decision_id) for month, amount, decision_id in rows}
        except (ArithmeticError, TypeError, ValueError):
            raise Malformed(f"a grant of account {account} holds an amount that is not a number: it was edited") from None

    @_database_errors
    def decisions(self) -> list[dict]:
        """Every decision in sequence (commit) order."""
        keys = ("seq", "decision_id", "decided_at", "account", "service_month", "decision", "policy_version",
                "policy_sha256", "inputs_digest")
        out = []
        for entry in self._select("decision"):
            record = {key: entry.fields[key] for key in keys}
            record["inputs"] = entry.document("inputs_json")
            record["result"] = entry.document("result_json")
            out.append(record)
        return out

    @_database_errors
    def counts(self) -> tuple[int, int]:
        decisions = self._db.execute("SELECT count(*) FROM decisions").fetchone()[0]
        grants = self._db.execute("SELECT count(*) FROM grants").fetchone()[0]
        return decisions, grants

    @property
    def head(self) -> dict:
        """``{entries, hash}``: record it elsewhere to detect a later truncation of the tail."""
        return {"entries": int(self._meta["entries"]), "hash": self._meta["head"]}

    # -- writing

    @_database_errors
    def decide(self, claim_digest: str, account: str, build) -> tuple[dict, bool]:
        """Record a decision atomically; (decision, whether it is new).

        ``build(grants)`` receives the account's grants so far (read inside the transaction)
        and returns ``(decision, inputs, grant_amount or None)``.
        """
        if self.readonly:
            raise LedgerError(f"{self.path}: opened read-only")
        chain = self.chain()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._meta = self._read_meta()  # another process may have appended since this object was opened
            existing = self.find(claim_digest)
            if existing is not None:
                self._db.execute("ROLLBACK")
                return existing, False
            seq, head = self._check_standing(account, chain)
            if not self._guarded():
                self._walk_once(chain)
                self._put_guard()  # the whole chain holds: guard it again from here on
            decision, inputs, amount = build(self.grants(account))
            entries = [Entry("decision", {
                "seq": seq + 1, "decision_id": decision["decision_id"], "claim_digest": claim_digest,
                "decided_at": decision["decided_at"], "account": account, "service_month": decision["service_month"],
                "decision": decision["decision"], "policy_version": decision["policy"]["version"],
                "policy_sha256": decision["policy"]["sha256"], "inputs_digest": decision["inputs_digest"],
                "inputs_json": json.dumps(inputs, sort_keys=True), "result_json": json.dumps(decision, sort_keys=True)}, "")]
            if amount is not None and amount > 0:
                entries.append(Entry("grant", {"seq": seq + 2, "account": account, "service_month": decision["service_month"],
                                               "decision_id": decision["decision_id"], "amount": str(amount),
                                               "granted_at": decision["decided_at"]}, ""))
            for entry in entries:
                head = chain.link(head, entry)
                self._insert(entry, head)
            self._db.executemany("UPDATE meta SET value = ? WHERE key = ?",
                                 ((str(seq + len(entries)), "entries"), (head, "head")))
            self._db.execute("COMMIT")
            self._meta.update(entries=str(seq + len(entries)), head=head)
            return decision, True
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _insert(self, entry: Entry, entry_hash: str) -> None:
        columns = COLUMNS[entry.kind]
        self._db.execute(f"INSERT INTO {TABLES[entry.kind]} ({', '.join(columns)}, entry_hash) "
                         f"VALUES ({', '.join('?' * (len(columns) + 1))})",
                         [entry.fields[c] for c in columns] + [entry_hash])


# ---------------------------------------------------------------------------- the rules of the walk

def _owes_grant(entry: Entry) -> bool:
    """An approved decision is followed by its grant (approval always grants a positive amount)."""
    return entry.kind == "decision" and entry.fields["decision"] == "approved"


def _shape_problem(before: Entry | None, entry: Entry, adjacent: bool = True) -> str | None:
    """A grant must follow the approved decision it pays, for the amount that decision granted."""
    if entry.kind == "grant":
        if entry.fields["account"] != (before.fields["account"] if before else None) or before.kind != "decision" \
                or before.fields["decision_id"] != entry.fields["decision_id"] or before.seq != entry.seq - 1:
            return f"{entry.label()} follows no approved decision that pays it: it was inserted or its decision deleted"
        result = before.document("result_json")
        if not _owes_grant(before) or result.get("compensation") != entry.fields["amount"] \
                or before.fields["service_month"] != entry.fields["service_month"]:
            return (f"{entry.label()} grants {entry.fields['amount']} for {entry.fields['service_month']}, but its decision "
                    f"granted {result.get('compensation')} for {before.fields['service_month']}")
    elif before is not None and _owes_grant(before) and (adjacent or before.seq == entry.seq - 1):
        return f"the grant of {before.label()} is missing: it was deleted"
    return None


def _walk_problem(chain: Chain, number: int, previous_hash: str, before: Entry | None, entry: Entry) -> dict | None:
    """The first thing wrong at the ``number``-th entry of the walk, as verify reports it."""
    if entry.seq != number:
        if entry.seq > number:
            problem = (f"entry #{number} is missing (deleted): the chain goes from #{number - 1} to {entry.label()}"
                       if number > 1 else f"entry #1 is missing (deleted): the chain starts at {entry.label()}")
        else:
            problem = f"{entry.label()} repeats the number of the entry before it: it was inserted"
        return {"seq": number, "entry": entry.label() if entry.seq < number else f"entry #{number}", "problem": problem}
    if chain.link(previous_hash, entry) != entry.stored_hash:
        return {"seq": number, "entry": entry.label(),
                "problem": f"{entry.label()} does not match its hash: it was edited, or an entry before it was replaced"}
    problem = _shape_problem(before, entry)
    if problem:
        return {"seq": number, "entry": entry.label(), "problem": problem}
    return None


def _refuse_unwritable(path: Path) -> None:
    """Refuse a ledger this process cannot write, without opening it when it can: closing any descriptor of the file
    drops every POSIX lock this process's SQLite connections hold on it (SQLite's "How To Corrupt An SQLite Database
    File", 2.2). Another process closing its last connection then took the file as its own and removed the -wal
    beside it under a live connection: two services on one ledger answered 'disk I/O error' (tests/test_ledger.py)."""
    if os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids):
        return
    try:  # only to name why: a file this process cannot write has no writing connection of it to lose its locks
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        raise LedgerError(f"{path}: the ledger cannot be written ({exc.strerror}); "
                          "no decision can be recorded in it") from None


READER_FILES = ("-wal", "-shm")  # what SQLite makes beside a ledger in WAL mode to read it


def _as_found_beside(path: Path) -> None:
    """Remove the empty ``-wal`` and the ``-shm`` index that reading the ledger made beside it, when it found none:
    a read-only connection cannot, and left them after every `audit` and every decision read back (only the next
    writer removed them). A brief writable connection does it as SQLite does for the last connection to close,
    and does nothing while another connection (of any process) has the ledger open, or has appended meanwhile
    (its decisions are then checkpointed into the file, as its own close would have). A ledger this process may
    not write, or in a directory it may not write, is left as it is."""
    if not any(os.path.lexists(f"{path}{suffix}") for suffix in READER_FILES):
        return
    effective = os.access in os.supports_effective_ids
    if not (os.access(path, os.W_OK, effective_ids=effective) and os.access(path.parent, os.W_OK, effective_ids=effective)):
        return
    try:
        db = sqlite3.connect(path, timeout=1, isolation_level=None)  # busy: another has it open, and it is theirs
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the -wal is opened at the first read
        finally:
            db.close()
    except sqlite3.Error:  # what was read stands; the files beside stay as a reader leaves them
        pass


# ---------------------------------------------------------------------------- identity

def _readonly_uri(path: Path, immutable: bool = False) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro" + ("&immutable=1" if immutable else "")


def _open_readonly(path: Path, **options) -> sqlite3.Connection:
    """A connection that reads the ledger and can write nothing, to it or beside it.

    A ledger is kept in WAL mode, and SQLite reads one only through its ``-shm`` index beside it, which it makes when
    it is missing: in a directory this process cannot write (a read-only mount, a backup) that fails (SQLITE_CANTOPEN)
    although the file is readable. When no ``-wal`` file is there either, every committed decision is in the file
    itself (the last connection to close checkpoints it and removes both), so it is read as it is on disk (SQLite's
    ``immutable``). A ``-wal`` file left beside it may hold decisions not yet in the file: that is not guessed past."""
    db = sqlite3.connect(_readonly_uri(path), uri=True, timeout=OPEN_TIMEOUT_SECONDS, **options)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        db.close()
        if exc.sqlite_errorcode != sqlite3.SQLITE_CANTOPEN or os.path.lexists(f"{path}-wal"):
            raise
    except BaseException:
        db.close()
        raise
    return sqlite3.connect(_readonly_uri(path, immutable=True), uri=True, **options)


def ledger_file(ledger) -> tuple | None:
    """The file a ledger argument (a path, or None for the default) names, as (device, inode); None when there is
    none yet, or for a :class:`Ledger` given open. A claim takes it as it starts and again before it records: a
    ledger removed, moved or replaced meanwhile (its directory with it) is refused, where a new empty one was made
    in its place, knowing none of the grants before it (§6.1's cap counts them)."""
    if isinstance(ledger, Ledger):
        return None
    try:
        found = os.stat(ledger or default_ledger_path())
    except OSError:
        return None
    return found.st_dev, found.st_ino


def identify(path: Path) -> None:
    """Refuse anything but a slapolicy ledger of this format, reading the file only: another application's
    database passed by mistake stays byte-identical."""
    if not path.is_file():
        raise LedgerError(f"{path}: not a file, so not a slapolicy ledger")
    if path.stat().st_size == 0:
        raise LedgerError(f"{path}: an empty file, not a slapolicy ledger")
    try:
        db = _open_readonly(path)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN:
            beside = (f": {path.name}-wal beside it may hold decisions not yet in it, which SQLite reads only through "
                      f"a {path.name}-shm index it cannot make in that directory") if os.path.lexists(f"{path}-wal") else ""
            raise LedgerError(f"{path}: the ledger cannot be opened ({exc}){beside}") from None
        raise not_a_ledger(path, exc) from None
    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if application_id == APPLICATION_ID:
            if version != FORMAT:
                raise LedgerError(f"{path}: a slapolicy ledger of format {version}, which this slapolicy (format {FORMAT}) "
                                  "does not read" + ("; upgrade slapolicy" if version > FORMAT else ""))
            return
        if application_id == 0 and _is_format_1(db):
            raise LedgerError(f"{path}: a ledger of an earlier slapolicy (format 1, without a hash chain); upgrade it "
                              f"once with `slapolicy audit --upgrade {path}` (keep a copy first)")
        owner = f" (application_id {application_id:#x})" if application_id else ""
        raise LedgerError(f"{path}: not a slapolicy ledger but another SQLite database{owner}; nothing was written to it")
    except sqlite3.DatabaseError as exc:
        raise not_a_ledger(path, exc) from None
    finally:
        db.close()


def not_a_ledger(path: Path, exc: sqlite3.DatabaseError) -> LedgerError:
    """What a file SQLite cannot read as a ledger is said to be (``exc``: SQLite's words)."""
    return LedgerError(f"{path}: not a slapolicy ledger, or a damaged one ({exc})")


def _is_format_1(db: sqlite3.Connection) -> bool:
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables != {"meta", "decisions", "grants"}:
        return False
    return db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)


# ---------------------------------------------------------------------------- format 1 → 2

def upgrade_ledger(path: str | os.PathLike) -> dict:
    """Chain a format-1 ledger in place, in one transaction: decisions in the order they were committed
    (SQLite's rowid), each grant after its decision. Returns the new head ``{entries, hash}``."""
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such ledger")
    try:
        probe = sqlite3.connect(_readonly_uri(path), uri=True)
        try:
            if not _is_format_1(probe):
                identify(path)  # says what the file is instead
                raise LedgerError(f"{path}: already a ledger of format {FORMAT}: nothing to upgrade")
        finally:
            probe.close()
        open(path, "r+b").close()
    except sqlite3.DatabaseError as exc:
        raise not_a_ledger(path, exc) from None
    except OSError as exc:
        raise LedgerError(f"{path}: the ledger cannot be written ({exc.strerror})") from None
    key = environment_key()
    chain = Chain(key)
    db = sqlite3.connect(path, timeout=OPEN_TIMEOUT_SECONDS, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        old = db.execute("SELECT decision_id, claim_digest, decided_at, account, service_month, decision, policy_version, "
                         "policy_sha256, inputs_digest, inputs_json, result_json FROM decisions ORDER BY rowid").fetchall()
        paid = {row[2]: row for row in db.execute("SELECT account, service_month, decision_id, amount, granted_at FROM grants")}
        # executescript would commit the open transaction: one statement at a time, the pragmas last
        for statement in ["DROP TABLE grants", "DROP TABLE decisions", "DROP TABLE meta", *SCHEMA.split(";")]:
            if statement.strip() and "PRAGMA" not in statement:
                db.execute(statement)
        head, seq = GENESIS, 0
        for row in old:
            seq += 1
            entries = [Entry("decision", dict(zip(COLUMNS["decision"], (seq, *row))), "")]
            if row[0] in paid:
                seq += 1
                entries.append(Entry("grant", dict(zip(COLUMNS["grant"], (seq, *paid.pop(row[0])))), ""))
            for entry in entries:
                head = chain.link(head, entry)
                columns = COLUMNS[entry.kind]
                db.execute(f"INSERT INTO {TABLES[entry.kind]} ({', '.join(columns)}, entry_hash) VALUES "
                           f"({', '.join('?' * (len(columns) + 1))})", [entry.fields[c] for c in columns] + [head])
        if paid:
            raise LedgerError(f"{path}: grants without a decision ({', '.join(sorted(paid))}); not upgraded")
        for statement in GUARD.values():
            db.execute(statement)
        meta = {"format": str(FORMAT), "chain": chain.name, "entries": str(seq), "head": head}
        if key is not None:
            meta["key_check"] = key_check(key)
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {FORMAT}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()
    return {"entries": seq, "hash": head}
