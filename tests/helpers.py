"""Builders of small input files for evaluation tests."""
import contextlib
import csv
import datetime as dt
import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml


def minute_rows(account, start: str, count: int, requests: int, failures: int, illegal: int = 0, peak=None):
    """`count` consecutive minutes from `start` (YYYY-MM-DDTHH:MM, policy-local)."""
    first = dt.datetime.fromisoformat(start)
    for i in range(count):
        row = {"account": account, "minute": (first + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M"),
               "requests": requests, "failures": failures, "illegal_number_failures": illegal}
        if peak is not None:
            row["peak_qps"] = peak
        yield row


PUBLISHED = Path(__file__).resolve().parent.parent / "policies" / "ccc" / "2019-01-01.yaml"


def draft_variant(directory: Path, old: str, new: str, name: str = "variant.yaml") -> Path:
    """The published policy as a draft in ``directory/drafts/``, with ``old`` (which must occur) replaced by ``new``."""
    text = PUBLISHED.read_text().replace("status: published", "status: draft")
    assert old in text
    path = directory / "drafts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new))
    return path


def write_csv(path: Path, rows, fields=None) -> Path:
    rows = list(rows)
    fields = fields or list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def yaml_data(text: str):
    """``yaml.safe_load`` of ``text`` by libyaml's loader where PyYAML has it: the pure-Python one took ~40 ms for the
    shipped policy, at each test, and at collection for the modules that read it then."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def chromium():
    """The headless browser the HTML documents are opened in (.ci/run installs it), or None."""
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def open_in_chromium(page: Path, workdir: Path, size: str = "1200,900"):
    """Open ``page`` in headless Chromium: (the text of the page as rendered, the screenshot as an RGB image)."""
    import re
    import subprocess

    from PIL import Image

    flags = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={workdir / 'chromium-profile'}", f"--window-size={size}"]
    shot = workdir / (page.stem + ".png")
    run = subprocess.run(flags + [f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), run.stderr[-2000:]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", dom, flags=re.S)))
    return text, Image.open(shot).convert("RGB")


def not_blank(image, most: float = 0.97) -> bool:
    """More than a handful of colours, and less than ``most`` of the page one colour: something was drawn."""
    colours = image.getcolors(maxcolors=1 << 20)
    if colours is None:
        return True
    return len(colours) > 20 and max(count for count, _ in colours) < image.width * image.height * most


def published_variant(directory: Path, old: str, new: str, name: str = "variant") -> Path:
    """A policy family in ``directory/name`` holding the published version with ``old`` replaced by ``new``,
    locked: for the commands that decide under the version in force (claims)."""
    import hashlib

    text = PUBLISHED.read_text()
    assert old in text
    family = directory / name
    family.mkdir()
    version = family / PUBLISHED.name
    version.write_text(text.replace(old, new))
    (family / "versions.lock").write_text(json.dumps({version.name: hashlib.sha256(version.read_bytes()).hexdigest()}))
    return family


def standard_amendment(family: Path, standard: str = "99.95%") -> Path:
    """A draft in ``family/drafts/`` taking effect for March 2019 (``2019-03-01``) whose standard is ``standard``
    instead of 99.5 %; the standard's and the gate's examples move with it, since publish runs them."""
    path = draft_variant(family, 'effective_from: "2019-01-01"', 'effective_from: "2019-03-01"\namends: "2019-01-01"',
                         "2019-03-01.yaml")
    low = f"{Decimal(standard.rstrip('%')) - Decimal('0.01')}%"
    above = f"{Decimal(standard.rstrip('%')) + Decimal('0.01')}%"
    text = path.read_text().replace('version: "2019-01-01"', 'version: "2019-03-01"')
    for before, after in (('value: "99.5%"', f'value: "{standard}"'),
                          ('{availability: "99.5%", meets: true}', f'{{availability: "{standard}", meets: true}}'),
                          ('{availability: "99.49%", meets: false}', f'{{availability: "{low}", meets: false}}'),
                          ('{availability: "99.7%", credit: "0%"}', f'{{availability: "{above}", credit: "0%"}}')):
        assert before in text, before
        text = text.replace(before, after, 1)
    path.write_text(text)
    return path


def many_batches_parquet(path: Path, groups: int = 40, skip: int = 0) -> Path:
    """acme's ``groups`` × 10 minutes of March 2019 (UTC) after its first ``skip``, 100 requests and no failure
    each, 10 rows to a row group: with the batch bound at 10 rows, each row group is a batch, a task of its own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = int(dt.datetime(2019, 3, 1, tzinfo=dt.timezone.utc).timestamp()) + 60 * skip
    count = 10 * groups
    pq.write_table(pa.table({"account": pa.array(["acme"] * count),
                             "minute": pa.array([first + 60 * k for k in range(count)], pa.timestamp("s", tz="UTC")),
                             "requests": pa.array([100] * count, pa.int64()),
                             "failures": pa.array([0] * count, pa.int64())}), path, row_group_size=10)
    return path


def counted_read_part(part, request, *picked):
    """slapolicy.minutes.reduce.read_part, leaving a file in $SLAPOLICY_TEST_TASKS as it starts (holding the pid of
    the process that runs it) and another as it ends, and starting only once that directory holds ``cancelled`` (or
    after 60 s: a loaded host can take seconds to cancel, and a task let go early lets the others start): a
    reading's task as run by a worker process, whose start and end its parent can count. Runs where the test's
    process pool runs it."""
    import os
    import time
    import uuid

    from slapolicy.minutes.reduce import read_part

    tasks = Path(os.environ["SLAPOLICY_TEST_TASKS"])
    name = uuid.uuid4().hex
    (tasks / f"started-{name}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not (tasks / "cancelled").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        return read_part(part, request, *picked)
    finally:
        (tasks / f"ended-{name}").touch()


def second_process(script: str, cache: Path) -> str:
    """The stdout of ``script`` run by a fresh Python with the user cache at ``cache`` and nothing else of this
    environment (the records a first process left must be what a second one reads); it must exit 0, silent."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent,
                          env={"PATH": "/usr/bin:/bin", "SLAPOLICY_CACHE_DIR": str(cache)})
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


def record_placing(monkeypatch) -> list:
    """The steps that put a file in place, in order, as they happen: ``("sync file", path)`` or ``("sync directory",
    path)`` for each fsync (the descriptor's path read from /proc, so Linux only), ``("link", source, target)`` and
    ``("replace", source, target)``. The real calls are made: what they write stays written."""
    import os
    import stat

    steps = []
    fsync, link, replace = os.fsync, os.link, os.replace

    def synced(fd):
        kind = "directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        steps.append((f"sync {kind}", os.readlink(f"/proc/self/fd/{fd}")))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(os, "link", lambda source, target: steps.append(("link", str(source), str(target)))
                        or link(source, target))
    monkeypatch.setattr(os, "replace", lambda source, target: steps.append(("replace", str(source), str(target)))
                        or replace(source, target))
    return steps


@contextlib.contextmanager
def read_only(*paths):
    """Make ``paths`` (files or directories) unwritable for this process: chmod, and for root (whom modes do not
    stop) the immutable attribute; skip where neither stops this user."""
    modes = {path: path.stat().st_mode for path in paths}
    sealed = []
    try:
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
            if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
                sealed.append(path)
        for path in paths:
            probe = path / ".probe" if path.is_dir() else path
            try:
                with open(probe, "ab"):
                    pass
            except OSError:
                continue
            if path.is_dir():
                probe.unlink()
            pytest.skip(f"this user can write {path} although it is read-only (root without chattr)")
        yield
    finally:
        for path in sealed:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        for path, mode in modes.items():
            path.chmod(mode)


def held_read_part(part, request):
    """slapolicy.minutes.reduce.read_part held for 60 s first, a file ``started-PID`` left in $SLAPOLICY_TEST_TASKS
    as it starts: a part that takes far longer than a test may wait, run by a worker process whose pid the test
    reads, to see that an interrupted command ends it rather than wait for it."""
    import os
    import time

    from slapolicy.minutes.reduce import read_part

    (Path(os.environ["SLAPOLICY_TEST_TASKS"]) / f"started-{os.getpid()}").touch()
    time.sleep(60)
    return read_part(part, request)


# A fact a third-party plugin supplies (carrier.planned_window) and the clause that excludes the minutes it covers,
# as a policy adds them: for the tests of plugins that supply facts (test_plugins, test_embedding).
CARRIER_FACT = """facts:
  - name: carrier.planned_window
    type: boolean
    default: false
    ref: "§5.13"
    description: "A planned maintenance window of the carrier covers the minute (a third-party plugin's fact)."
"""
CARRIER_CLAUSE = '''
  - id: "5.19"
    ref: "§5.13"
    title: Planned carrier windows
    text: "Unavailability during the carrier's planned windows."
    when: {fact: carrier.planned_window, equals: true}
    examples:
      - {facts: {carrier.planned_window: true}, applies: true}
      - {facts: {carrier.planned_window: false}, applies: false}
'''


def with_carrier_clause(text: str) -> str:
    """A policy's text with the carrier's fact, and its clause as the last disclaimer (before the provisions)."""
    text = text.replace("facts:\n", CARRIER_FACT, 1)
    return text.replace("\nprovisions:\n", CARRIER_CLAUSE + "\nprovisions:\n", 1)


def ctrl_c_in_worker(_):
    """(this process's id, whether it ignores SIGINT): a task for the ``--workers`` processes."""
    import signal

    return os.getpid(), signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def locked_line(path: Path) -> str:
    """What `slapolicy lock` prints of the version file ``path`` it recorded: its name, label and sha256."""
    return f"locked {path.name} (version {path.stem}, sha256 {sha256_of(path)})"

