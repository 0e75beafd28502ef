"""CLI commands over operations data: months, evaluate, claim, replay, demo."""
from __future__ import annotations

import datetime as dt
import json
import sys

from .errors import SlapolicyError


def _date(value: str, flag: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise SlapolicyError(f"{flag} {value!r} is not a date written YYYY-MM-DD") from None


def cmd_months(args) -> int:
    from .calendar import service_months

    months = service_months(_date(args.start, "--start"), _date(args.end, "--end"))
    if args.json:
        sys.stdout.write(json.dumps({"service_months": [m.as_dict() for m in months]}, indent=2) + "\n")
        return 0
    for month in months:
        sys.stdout.write(f"{month.start} – {month.end}  {month.days:>2} days  {month.total_minutes:>6} minutes\n")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo()


def add_commands(command) -> None:
    command("demo", cmd_demo, "run the main jobs on the shipped policy and example data")
    p = command("months", cmd_months, "the Service Months of a service term (§1.2) and their total minutes (§1.6)",
                "Each natural month inside the term is its own Service Month; a term starting or ending\n"
                "inside a month gives a partial first or last one. Total minutes = days × 1440.")
    p.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first day of the service term")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last day of the service term (inclusive)")
    p.add_argument("--json", action="store_true", help="print JSON")
