"""The user's cache (slapolicy/cache.py; docs/cli.md, "Checks passed are recorded"): a record is read only under
its own name, and a folder past its bound loses its least recently used quarter."""
import os

import pytest

from slapolicy import cache


def test_a_folder_past_its_bound_loses_its_least_recently_used_quarter(tmp_path, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache, "MAX_RECORDS", 8)
    folder = tmp_path / "things"
    for i in range(8):
        cache.write_record("things", f"k{i}", i)
        os.utime(folder / f"k{i}.json", ns=(1_000_000_000_000 + i, 1_000_000_000_000 + i))  # k0 oldest ... k7
    assert cache.read_record("things", "k0") == 0  # used now: the most recent
    cache.write_record("things", "k8", 8)  # 9 records > 8: down to 8 * 3 // 4 = 6, the 3 least recently used go
    assert sorted(p.name for p in folder.iterdir()) == ["k0.json", "k4.json", "k5.json", "k6.json", "k7.json", "k8.json"]
    assert [cache.read_record("things", f"k{i}") for i in range(9)] == [0, None, None, None, 4, 5, 6, 7, 8]


def test_a_record_is_read_only_under_its_own_name(tmp_path, monkeypatch):
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path))
    cache.write_record("things", "mine", {"a": 1})
    os.replace(tmp_path / "things" / "mine.json", tmp_path / "things" / "other.json")
    assert (cache.read_record("things", "mine"), cache.read_record("things", "other")) == (None, None)
    assert cache.read_record("things", None) is None
    cache.write_record("things", "mine", {"a": 1})
    assert cache.read_record("things", "mine") == {"a": 1}
    assert [p.name for p in (tmp_path / "things").iterdir() if p.name.startswith(".")] == []  # no temporary left


@pytest.mark.parametrize("home", [None, "", "home"])
def test_without_a_home_directory_there_is_no_cache(monkeypatch, home):
    # HOME="" gave /.cache/slapolicy (Python's expanduser takes an empty HOME for /), and HOME unset the password
    # entry's home: the XDG specification names $HOME alone, and a relative one is ignored as XDG_CACHE_HOME is.
    monkeypatch.delenv("SLAPOLICY_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    if home is None:
        monkeypatch.delenv("HOME", raising=False)
    else:
        monkeypatch.setenv("HOME", home)
    assert cache.cache_directory() is None
    cache.write_record("things", "k", 1)  # quietly nothing, and no directory named ~ in the working directory
    assert cache.read_record("things", "k") is None


def test_a_record_nested_past_pythons_recursion_limit_reads_as_absent(tmp_path, monkeypatch):
    """json.loads raises RecursionError, not ValueError, on 200,000 opening brackets (200 kB, within the size bound): a
    corrupt record of that form reads as absent like any other, and is replaced when the answer is written."""
    monkeypatch.setenv("SLAPOLICY_CACHE_DIR", str(tmp_path))
    (tmp_path / "things").mkdir()
    (tmp_path / "things" / "k.json").write_text("[" * 200_000)
    assert cache.read_record("things", "k") is None
    cache.write_record("things", "k", [1])
    assert cache.read_record("things", "k") == [1]
