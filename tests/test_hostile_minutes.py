"""Minutes as careless analysts hand them over (a month's files misfiled, keys given twice, ...): each is refused
with the file and what is wrong, exit 1 and nothing on stdout, or read exactly as the same rows laid out plainly."""
import datetime as dt

from conftest import POLICIES


def one_row_table(account="acme", minute="2019-03-01T00:00Z", requests=100, failures=2):
    """One minute of an account, 2 failures of 100 requests (98 % < 99 %: unavailable)."""
    import pyarrow as pa

    moment = dt.datetime.fromisoformat(minute.replace("Z", "+00:00"))
    return pa.table({"account": [account], "minute": pa.array([moment], pa.timestamp("s", tz="UTC")),
                     "requests": [requests], "failures": [failures]})


def test_a_directory_key_given_twice_with_two_values_is_refused(tmp_path, cli):
    import pyarrow.parquet as pq

    # 2019-03-01T00:00Z is 08:00 on March 1 in Singapore: a March row, filed under month=2019-03 and, inside it,
    # month=2019-04. The inner key pruned the file out of March: evaluate listed nobody, exit 0.
    folder = tmp_path / "hive" / "month=2019-03" / "month=2019-04"
    folder.mkdir(parents=True)
    pq.write_table(one_row_table(), folder / "part-0.parquet")
    result = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03")
    assert (result.code, result.out) == (1, "")
    assert result.err == (f"slapolicy: {folder / 'part-0.parquet'}: directory key month= is given twice, "
                          "month=2019-03 and month=2019-04\n")


def test_a_directory_key_given_twice_alike_is_read(tmp_path, cli):
    import pyarrow.parquet as pq

    folder = tmp_path / "hive" / "account=acme" / "month=2019-03" / "account=acme"
    folder.mkdir(parents=True)
    pq.write_table(one_row_table(), folder / "part-0.parquet")
    result = cli("evaluate", POLICIES, "--minutes", tmp_path / "hive", "--month", "2019-03")
    assert result.code == 0, result.err
    (evaluation,) = result.json()["evaluations"]
    assert (evaluation["account"], evaluation["minutes_with_data"], evaluation["unavailable_minutes"]) == ("acme", 1, 1)
