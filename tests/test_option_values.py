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
    (["serve", POLICIES, "--workers", "٢"], "argument --workers: '٢' is not a whole number written in the digits 0-9"),
    (["serve", POLICIES, "--request-timeout", "١.٥"],
     "argument --request-timeout: '١.٥' is not a number of seconds written in the digits 0-9"),
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
