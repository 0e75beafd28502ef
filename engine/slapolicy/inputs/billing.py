"""Billing (§1.3, §3.1): per account and month the monthly fee, the offset already paid and the first
month of use, every row checked with its file, row, line and column."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from ..calendar import month_meant, written_as_month, written_date
from ..errors import InputError
from .problems import INPUT_COLUMNS, Problems, _line
from .tables import _format, _refuse_nested, _strings, account_name, refuse_floating_accounts, table_of


BILLING_COLUMNS, OPTIONAL_BILLING_COLUMNS = INPUT_COLUMNS["billing"][:2]
_MONEY = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


# Fees are computed with 28 significant digits (Python's decimal default); 15 digits before the point
# (under a thousand trillion) leave room for every product and sum an evaluation makes.
MAX_MONEY_DIGITS = 15
# A JSON number is read as a binary double: one of up to 15 significant digits is given back as written (a double
# holds 15 decimal digits exactly), one of more only approximately (docs/cli.md, "Billing").
JSON_EXACT_DIGITS = 15


@dataclass(frozen=True)
class BillingRow:
    account: str
    month: str
    monthly_fee: Decimal  # the fee consumed in the Service Month (§1.3)
    offset: Decimal  # the part paid by vouchers, coupons, deductions (§3.1(2))
    service_start: dt.date | None = None  # the account's first day of use, when the billing gives it (§6.1)

    @property
    def fee_paid(self) -> Decimal:
        return self.monthly_fee - self.offset


def _csv_lines(path):
    """{row: its first line} of a billing CSV file's rows, read again when a problem is raised (see Problems)."""
    def lines(rows: set) -> dict:
        from .csv_lines import record_lines  # the error path's own module

        with open(path, "rb") as stream:
            return record_lines(stream, rows)
    return lines


def read_billing(path) -> dict[tuple[str, str], BillingRow]:
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    table, line_offset, name = table_of(path, BILLING_COLUMNS, OPTIONAL_BILLING_COLUMNS)
    problems = Problems(name, "billing", lines=_csv_lines(path) if name.lower().endswith(".csv") else None)
    for column in BILLING_COLUMNS + OPTIONAL_BILLING_COLUMNS:
        if column in table.column_names:
            _refuse_nested(table, column, name)
    refuse_floating_accounts(table.column("account"), name, lambda i: f"row {i + 1}" if line_offset is None else
                             f"row {i + 1} (line {_line(i + 1, line_offset)})")
    json_numbers = isinstance(path, (str, Path)) and _format(Path(path)) == "jsonl"
    if not json_numbers:
        _refuse_floating_money(table, name)
    columns = {name: _strings(table, name) for name in BILLING_COLUMNS + OPTIONAL_BILLING_COLUMNS
               if name in table.column_names}
    inexact = set()  # (column, row index) of the JSON numbers of more digits than a double gives back as written
    for column in ("monthly_fee", "offset") if json_numbers else ():
        if pa.types.is_floating(table.schema.field(column).type):
            columns[column] = _json_number_texts(table.column(column).to_pylist(), column, inexact)
    if isinstance(path, list):  # rows handed in: a request's JSON numbers, a program's floats
        _float_texts(path, columns, inexact)
    starts = _service_starts(columns, problems, line_offset)
    rows: dict[tuple[str, str], BillingRow] = {}
    first_row: dict[tuple[str, str], int] = {}
    for i in range(table.num_rows):
        row, line = i + 1, _line(i + 1, line_offset)
        account = columns["account"][i]
        month = columns["month"][i]
        values = {}
        for name in ("monthly_fee", "offset"):
            text = columns[name][i]
            if text is None:  # an empty cell, or one the CSV reader takes for missing (NaN, NA, null)
                problems.add(row, name, "missing value (empty, or NaN, NA or null): an amount of money is needed", line)
                continue
            text = str(text).strip()
            if (name, i) in inexact:
                held = "a JSON number" if json_numbers else "a binary floating-point number (a JSON number, a float)"
                problems.add(row, name, f"{text} is {held} of more than {JSON_EXACT_DIGITS} significant digits, "
                                        f"which is read only approximately: {_written_instead(text)}", line)
                continue
            if not _MONEY.match(text):
                problems.add(row, name, f"{text!r} is not an amount of money (a decimal like 1000.00)", line)
                continue
            if len(text.split(".")[0].lstrip("0")) > MAX_MONEY_DIGITS:
                problems.add(row, name, f"{text!r} has more than {MAX_MONEY_DIGITS} digits before the point: "
                                        "not a monthly fee", line)
                continue
            values[name] = Decimal(text)
        account = account_name(account)
        if account is None:
            problems.add(row, "account", "missing value", line)
            continue
        if month is None or not str(month).strip():  # was "None is not a month written YYYY-MM"
            problems.add(row, "month", "missing value: a month written YYYY-MM is needed", line)
            continue
        if not written_as_month(str(month).strip()):
            problems.add(row, "month", f"{month!r} is not a month written YYYY-MM{month_meant(month)}", line)
            continue
        if len(values) < 2:
            continue
        if values["offset"] > values["monthly_fee"]:
            problems.add(row, "offset", f"offset {values['offset']} exceeds the monthly fee {values['monthly_fee']}", line)
            continue
        key = (account, str(month).strip())
        if key in rows:
            problems.add(row, "month", f"account {key[0]!r} month {key[1]} also billed in row {first_row[key]}", line)
            continue
        start = starts.get(account)
        if start is not None and key[1] < f"{start.year:04d}-{start.month:02d}":
            problems.add(row, "month", f"{key[1]} is billed before the account's service_start {start.isoformat()}", line)
            continue
        first_row[key] = row
        rows[key] = BillingRow(key[0], key[1], values["monthly_fee"], values["offset"], start)
    problems.raise_if_any()
    return rows


def _json_number_texts(values: list, column: str, inexact: set) -> list:
    """A JSON Lines money column pyarrow read as doubles, as the decimals written: each double's shortest decimal
    (Python's repr), in fixed point (pyarrow's text of 12345678901234.5 is '1.23456789012345e+13', refused as no
    amount). Every decimal of up to 15 significant digits is given back so; one of more is put in ``inexact``."""
    texts = []
    for index, value in enumerate(values):
        if value is None or value != value or value in (float("inf"), float("-inf")):
            texts.append(None if value is None else repr(value))
            continue
        number = Decimal(repr(value))
        if len(number.normalize().as_tuple().digits) > JSON_EXACT_DIGITS:
            inexact.add((column, index))
        texts.append(format(number, "f"))
    return texts


def _written_instead(text: str) -> str:
    """What to write for a money number of more than JSON_EXACT_DIGITS digits (``text``: the double's shortest
    decimal): the amount as text, to the cent, which is what an amount is written as. The double's own digits were
    suggested, an amount refused in turn where they ran past the cent (0.1 + 0.2: "0.30000000000000004"), or past 15
    digits before the point (1234567890123456.7: "1234567890123456.8")."""
    number = Decimal(text)
    if number < 0:
        return "write the amount as text, a decimal like 1000.00 (an amount of money is never below 0)"
    whole = str(int(number))
    if len(whole.lstrip("0")) > MAX_MONEY_DIGITS:
        return f"write the amount as text, of at most {MAX_MONEY_DIGITS} digits before the point (this has {len(whole)})"
    cents = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == number:
        return f'write the amount as text ("{cents}")'
    return f'write the amount as text, to the cent ("{cents}", if that is the amount meant)'


def _float_texts(rows: list, columns: dict, inexact: set) -> None:
    """The money of rows handed in (a list of dicts: a request's inline billing, a program's) given as floats, read as
    a JSON Lines file's numbers are (:func:`_json_number_texts`): the digits written when they are at most
    JSON_EXACT_DIGITS significant ones, else refused as read only approximately. Each float was read as its repr: a
    fee of 16 or 17 digits (12345678901234.56, 0.1 + 0.2) was taken as an amount a JSON Lines file of the same
    number is refused for, or refused as "not an amount of money", and 1e16 as '1e+16'."""
    for column in ("monthly_fee", "offset"):
        values = [row.get(column) for row in rows]
        floats = [value if isinstance(value, float) else None for value in values]
        if any(value is not None for value in floats):
            texts = _json_number_texts(floats, column, inexact)
            columns[column] = [text if number is not None else given
                               for text, number, given in zip(texts, floats, columns[column])]


def _refuse_floating_money(table, name: str) -> None:
    """A money column of binary floating-point numbers (a Parquet double, a DataFrame's float64) is refused: it
    holds 2500.1 as 2500.0999999999999090..., which was read as 2500.10 by its shortest repr, an amount the file
    does not hold. CSV and JSON Lines give the digits as written; Parquet's decimal holds them exactly."""
    import pyarrow as pa  # heavy (0.2 s): loaded by the commands that read inputs

    for column in ("monthly_fee", "offset"):
        kind = table.schema.field(column).type
        if pa.types.is_floating(kind):
            raise InputError(f"{name}: column '{column}' holds floating-point numbers ({kind}), which hold an amount "
                             "of money only approximately: write it as a decimal (decimal128(17, 2)) or as text "
                             "('2500.10')")


def _service_starts(columns: dict, problems: Problems, line_offset) -> dict:
    """account → its service_start date (§6.1's first month of use); every row that gives one must agree."""
    if "service_start" not in columns:
        return {}
    starts, first_row = {}, {}
    for i, (raw_account, text) in enumerate(zip(columns["account"], columns["service_start"])):
        account = account_name(raw_account)
        text = "" if text is None else str(text).strip()
        if account is None or not text:
            continue
        row, line = i + 1, _line(i + 1, line_offset)
        try:
            day = written_date(text)
        except ValueError:
            day = None
        if day is None:
            problems.add(row, "service_start", f"{text!r} is not a date written YYYY-MM-DD", line)
        elif account in starts and starts[account] != day:
            problems.add(row, "service_start", f"account {account!r} starts on {day.isoformat()} here but on "
                                               f"{starts[account].isoformat()} in row {first_row[account]}", line)
        else:
            starts.setdefault(account, day)
            first_row.setdefault(account, row)
    return starts
