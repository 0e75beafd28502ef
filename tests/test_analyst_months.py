"""An analyst's months, minutes and columns written the ways people write them (session 18, E): each answered with
its exact message."""
import pytest

from conftest import POLICIES, evaluate_march, run_cli
from slapolicy.calendar import month_meant


@pytest.mark.parametrize("written,told", [
    ("2019-03-31", ": write 2019-03"), ("2019-02-28", ": write 2019-02"), ("2020-02-29", ": write 2020-02"),
    ("2019/03/01", ": write 2019-03"), ("2019-3-1", ": write 2019-03"),
    # no day of the month: '2019-03-99' was told "write 2019-03", as if the rest were a day of it
    ("2019-03-99", ""), ("2019-03-32", ""), ("2019-04-31", ""), ("2019-02-29", ""), ("2019-03-00", ""),
    ("2019/02/30", ""),
])
def test_a_month_written_with_a_day_is_told_its_month_only_when_the_day_is_one_of_it(written, told):
    assert month_meant(written) == told


def test_month_with_a_day_that_is_none_of_it_is_not_told_to_write_the_month():
    result = run_cli("evaluate", POLICIES, "--minutes", "examples/ccc/minutes.csv", "--month", "2019-03-99")
    assert (result.code, result.out) == (2, "")
    assert result.err.endswith("slapolicy evaluate: error: argument --month: '2019-03-99' is not a month written "
                               "YYYY-MM\n")
    result = run_cli("evaluate", POLICIES, "--minutes", "examples/ccc/minutes.csv", "--month", "2019-03-12")
    assert result.err.endswith("argument --month: '2019-03-12' is not a month written YYYY-MM: write 2019-03\n")


@pytest.fixture(scope="module")
def engine():
    from slapolicy import Engine

    return Engine(POLICIES)


@pytest.mark.parametrize("month,message", [
    # Engine.in_force took ' 2019-03' and '2019-03 ' (its own regex, after strip()), which Engine.evaluate, the CLI and
    # serve refuse; and told '0000-03' "(no month 03)", of a month that is there in a year that is not.
    (" 2019-03", "month ' 2019-03' is not a month written YYYY-MM: write 2019-03"),
    ("2019-03 ", "month '2019-03 ' is not a month written YYYY-MM: write 2019-03"),
    ("0000-03", "month 0000-03 is outside the years 0002 to 9998 that slapolicy can evaluate"),
    ("9999-12", "month 9999-12 is outside the years 0002 to 9998 that slapolicy can evaluate"),
    ("2019-13", "month '2019-13' is not a month written YYYY-MM (no month 13)"),
    ("2019-00", "month '2019-00' is not a month written YYYY-MM (no month 00)"),
    ("2019-03-99", "month '2019-03-99' is not a month written YYYY-MM"),
    ("٢٠١٩-٠٣", "month '٢٠١٩-٠٣' is not a month written YYYY-MM; it holds U+0662 ARABIC-INDIC DIGIT TWO, U+0660 "
                "ARABIC-INDIC DIGIT ZERO, U+0661 ARABIC-INDIC DIGIT ONE and 2 more, not ASCII, which may look like the "
                "character meant: type it again"),
])
def test_in_force_checks_a_month_as_evaluate_does(engine, month, message):
    from slapolicy import InputError

    with pytest.raises(InputError) as caught:
        engine.in_force(month)
    assert str(caught.value) == message


def test_in_force_of_the_supported_edges(engine):
    assert engine.in_force("2019-03")["version"] == "2019-01-01"
    assert engine.in_force("9998-12")["version"] == "2019-01-01"
    from slapolicy import NoVersionInForce

    with pytest.raises(NoVersionInForce, match="for the Service Month starting 0002-01-01: the earliest version takes "
                                               "effect on 2019-01-01$"):
        engine.in_force("0002-01")


# ---------------------------------------------------------------------------- file: with a relative path

@pytest.mark.parametrize("written,meant", [("file:m.csv", "m.csv"), ("file:data/m.csv", "data/m.csv"),
                                           ("FILE:data", "data"), ("file:my data/m.csv", "'my data/m.csv'")])
def test_a_file_url_with_a_relative_path_is_told_to_give_the_path_alone(tmp_path, monkeypatch, written, meant):
    # file:/abs/path and file:///abs/path are read (bf5dd89); file:data/m.csv was "no such file" with no word of why:
    # a file URL's path is absolute, and this one was taken for a file named 'file:data/m.csv' here.
    monkeypatch.chdir(tmp_path)
    result = evaluate_march(written)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {written}: no such file or directory; a file URL names an absolute path (file:/abs/path, "
        f"file:///abs/path): for a path from this directory, give it alone: {meant}\n"))


def test_a_file_named_file_colon_here_is_read(tmp_path, monkeypatch):
    # A file really named so is read as named: the hint is for a path that is not there.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file:m.csv").write_text("account,minute,requests,failures\nacme,2019-03-12T09:00,5,5\n")
    result = evaluate_march("file:m.csv")
    assert result.code == 0, result.err
    assert result.json()["evaluations"][0]["unavailable_minutes"] == 1


# ---------------------------------------------------------------------------- a column named otherwise

@pytest.mark.parametrize("header,told", [
    ("account,timestamp,requests,failures", "; is 'timestamp' the column minute? rename it 'minute'"),
    ("account,minute_utc,requests,failures", "; is 'minute_utc' the column minute? rename it 'minute' (a minute "
                                             "without an offset is read in the policy's timezone: write its offset, "
                                             "2019-03-12T01:00Z)"),
    ("account,minuteStart,requests,failures", "; is 'minuteStart' the column minute? rename it 'minute'"),
    ("account_id,minute,requests,failures", "; is 'account_id' the column account? rename it 'account'"),
    ("customer,minute,total_requests,failures",
     "; is 'customer' the column account? rename it 'account'; is 'total_requests' the column requests? rename it "
     "'requests'"),
    # two columns that could be the one missing, or one that could be two: which is meant is anyone's guess
    ("account,start_time,end_time,requests,failures", ""),
    ("account,minute,failed_requests", ""),
    ("account,minute,requests,errors", "; is 'errors' the column failures? rename it 'failures'"),
    ("account,minute,foo,failures", ""),
])
def test_a_missing_column_beside_one_named_like_it_is_told_the_rename(tmp_path, header, told):
    # 'timestamp' or 'minute_utc' beside a missing minute (an export's names) was only "missing column(s) minute
    # (found: account, timestamp, requests, failures)": the reader was left to see which column was meant.
    minutes = tmp_path / "m.csv"
    minutes.write_text(header + "\n" + ",".join(["1"] * len(header.split(","))) + "\n")
    names = header.split(",")
    missing = [name for name in ("account", "minute", "requests", "failures") if name not in names]
    result = evaluate_march(minutes)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {minutes}: missing column(s) {', '.join(missing)} (found: {', '.join(names)}){told}\n"))


def test_serve_tells_a_file_url_with_a_relative_path_as_evaluate_does(tmp_path, monkeypatch):
    # serve --minutes file:data/m.csv was refused at start as "no such file or directory" alone.
    from slapolicy.errors import SlapolicyError
    from slapolicy.service import Sources, serve

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SlapolicyError) as refused:
        serve(str(POLICIES), sources=Sources(minutes="file:data/m.csv"), port=0)
    assert str(refused.value) == (
        "--minutes file:data/m.csv: no such file or directory; a file URL names an absolute path (file:/abs/path, "
        "file:///abs/path): for a path from this directory, give it alone: data/m.csv")
    with pytest.raises(SlapolicyError) as refused:  # the other inputs are files, never URLs: said as before
        serve(str(POLICIES), sources=Sources(billing="file:b.csv"), port=0)
    assert str(refused.value) == "--billing file:b.csv: no such file or directory"


@pytest.mark.parametrize("header,told", [
    ("account,billing_month,monthly_fee,offset", "; is 'billing_month' the column month? rename it 'month'"),
    ("account,month,fee,offset", "; is 'fee' the column monthly_fee? rename it 'monthly_fee'"),
    ("customer_id,month,monthly_fee,offset", "; is 'customer_id' the column account? rename it 'account'"),
])
def test_a_billing_column_named_like_the_one_missing_is_told_the_rename(tmp_path, header, told):
    billing = tmp_path / "billing.csv"
    billing.write_text(header + "\nacme,2019-03,1.00,0.00\n")
    names = header.split(",")
    missing = [name for name in ("account", "month", "monthly_fee", "offset") if name not in names]
    result = evaluate_march("examples/ccc/minutes.csv", "--billing", billing)
    assert (result.code, result.out, result.err) == (1, "", (
        f"slapolicy: {billing}: missing column(s) {', '.join(missing)} (found: {', '.join(names)}){told}\n"))
