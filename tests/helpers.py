"""Builders of small input files for evaluation tests."""
import csv
import datetime as dt
import json
from pathlib import Path

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


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path
