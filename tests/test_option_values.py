"""Option values as an analyst types them: a month, a date or a number written otherwise than documented is a usage
error (exit 2) naming the option, in argparse's words, before anything is read or written."""
import pytest

from conftest import DRAFT, POLICIES, run_cli

MINUTES = POLICIES.parent.parent / "examples" / "ccc" / "minutes.csv"


def usage_error(result, command: str, message: str) -> None:
    assert result.code == 2, (result.code, result.err[-2000:])
    assert result.out == ""
    assert result.err.startswith(f"usage: slapolicy {command} "), result.err[-2000:]
    assert result.err.endswith(f"slapolicy {command}: error: {message}\n"), result.err[-2000:]


# ---------------------------------------------------------------------------- numbers in the digits 0-9

# Python's int() and float() read other scripts' digits: `--workers ٢` ran two processes, `--port ٨٠٨١` listened on
# 8081. Every number option is read by one function that refuses them.
@pytest.mark.parametrize("args,message", [
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--workers", "٢"],
     "argument --workers: '٢' is not a whole number written in the digits 0-9"),
    (["claim", POLICIES, "claim.json", "--minutes", MINUTES, "--workers", "２"],  # a full-width 2
     "argument --workers: '２' is not a whole number written in the digits 0-9"),
    (["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-03", "--to", "2019-03", "--under", DRAFT,
      "--workers", "2\u2003"], "argument --workers: '2\\u2003' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--port", "٨٠٨١"], "argument --port: '٨٠٨١' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--max-body", "١٠"], "argument --max-body: '١٠' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--max-connections", "٢٥٦"],
     "argument --max-connections: '٢٥٦' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--workers", "٢"], "argument --workers: '٢' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--request-timeout", "١.٥"],
     "argument --request-timeout: '١.٥' is not a number of seconds written in the digits 0-9"),
    (["serve", POLICIES, "--answer-timeout", "١.٥"],
     "argument --answer-timeout: '١.٥' is not a number of seconds written in the digits 0-9"),
    (["serve", POLICIES, "--port", "eighty"], "argument --port: 'eighty' is not a whole number written in the digits 0-9"),
])
def test_a_number_in_other_digits_is_a_usage_error(args, message):
    usage_error(run_cli(*args), args[0], message)


def test_ascii_numbers_still_read():
    from slapolicy.cli.data_commands import _seconds, _whole_number

    assert (_whole_number("2"), _whole_number(" 8081 "), _seconds("1.5"), _seconds("30")) == (2, 8081, 1.5, 30.0)


@pytest.mark.parametrize("value", ["٢٠٠٠", "²"])
def test_a_size_limit_in_other_digits_is_a_usage_error(monkeypatch, value):
    # "٢٠٠٠" was read as 2000; "²" passed str.isdigit and int() refused it: exit 3.
    monkeypatch.setenv("SLAPOLICY_MAX_INPUT_BYTES", value)
    result = run_cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03")
    assert (result.code, result.out) == (2, "")
    assert result.err == f"slapolicy evaluate: SLAPOLICY_MAX_INPUT_BYTES={value!r} is not a whole number of bytes " \
                         "(e.g. 1000000000)\n"


# ---------------------------------------------------------------------------- months and dates

# `--month 2019-3` was exit 1, as if an input were wrong: a value not written as the option documents is a usage
# error, named by argparse with the option, before any file is read (the minutes named here do not exist).
@pytest.mark.parametrize("month,why", [
    ("2019-3", "'2019-3' is not a month written YYYY-MM: write 2019-03"),
    ("2019-13", "'2019-13' is not a month written YYYY-MM"),
    ("19-03", "'19-03' is not a month written YYYY-MM"),
    ("2019-03-01", "'2019-03-01' is not a month written YYYY-MM: write 2019-03"),
    ("2019/3", "'2019/3' is not a month written YYYY-MM: write 2019-03"),
    ("0001-12", "0001-12 is outside the years 0002 to 9998 that slapolicy can evaluate"),
    ("9999-01", "9999-01 is outside the years 0002 to 9998 that slapolicy can evaluate"),
])
def test_a_malformed_month_option_is_a_usage_error(tmp_path, month, why):
    absent = tmp_path / "absent.csv"
    usage_error(run_cli("evaluate", POLICIES, "--minutes", absent, "--month", month), "evaluate",
                f"argument --month: {why}")
    usage_error(run_cli("show", POLICIES, "--month", month), "show", f"argument --month: {why}")
    usage_error(run_cli("replay", POLICIES, "--minutes", absent, "--from", month, "--to", "2019-03", "--under", DRAFT),
                "replay", f"argument --from: {why}")
    usage_error(run_cli("replay", POLICIES, "--minutes", absent, "--from", "2019-03", "--to", month, "--under", DRAFT),
                "replay", f"argument --to: {why}")
    assert list(tmp_path.iterdir()) == []


# Both sides of the years' bounds: 0002-01 and 9998-12 are months slapolicy reads, 0001-12 and 9999-01 are not
# (above). 0002-01 lies before every version (exit 1, an input problem); in 9998-12 no row of the example lies.
def test_the_first_and_last_months_are_read():
    result = run_cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "0002-01")
    assert (result.code, result.out) == (1, "")
    assert "is in force for the Service Month starting 0002-01-01" in result.err
    result = run_cli("evaluate", POLICIES, "--minutes", MINUTES, "--month", "9998-12")
    assert (result.code, result.json()) == (0, {"evaluations": []})


@pytest.mark.parametrize("args,message", [
    (["months", "--start", "2019-3-01", "--end", "2019-03-31"],
     "argument --start: '2019-3-01' is not a date written YYYY-MM-DD"),
    (["months", "--start", "2019-03-01", "--end", "2019-02-30"],
     "argument --end: '2019-02-30' is not a date written YYYY-MM-DD"),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--term-start", "20190317", "--term-end",
      "2019-06-16"], "argument --term-start: '20190317' is not a date written YYYY-MM-DD"),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--term-start", "2019-03-17", "--term-end",
      "9999-06-16"], "argument --term-end: 9999-06-16 is outside the years 0002 to 9998 that slapolicy can evaluate"),
])
def test_a_malformed_date_option_is_a_usage_error(args, message):
    usage_error(run_cli(*args), args[0], message)


@pytest.mark.parametrize("args,message", [
    (["months", "--start", "2019-03-17", "--end", "2019-03-16"], "slapolicy months: --end 2019-03-16 is before --start 2019-03-17"),
    (["evaluate", POLICIES, "--minutes", MINUTES, "--month", "2019-03", "--term-start", "2019-03-17", "--term-end",
      "2019-03-16"], "slapolicy evaluate: --term-end 2019-03-16 is before --term-start 2019-03-17"),
    (["replay", POLICIES, "--minutes", MINUTES, "--from", "2019-04", "--to", "2019-03", "--under", DRAFT],
     "slapolicy replay: --to 2019-03 is before --from 2019-04"),
])
def test_a_term_or_range_that_ends_before_it_starts_is_a_usage_error(args, message):
    # As replay's range was already: the values are each well written, but not as a pair of options.
    result = run_cli(*args)
    assert (result.code, result.out, result.err) == (2, "", message + "\n")


def test_a_one_day_term_is_not_before_itself():
    # --term-end equal to --term-start: one day, 1440 minutes (§1.6), the other side of the boundary above.
    result = run_cli("months", "--start", "2019-03-17", "--end", "2019-03-17", "--json")
    assert (result.code, result.json()) == (0, {"service_months": [{"start": "2019-03-17", "end": "2019-03-17",
                                                                      "days": 1, "total_minutes": 1440}]})
