"""The CLI keeps freed memory for reuse (cli.command.keep_freed_memory): glibc's mallopt accepts both settings,
a command run as its own process still gives its results, and main() called by a program leaves the allocator
alone."""
import ctypes
import json
import subprocess
import sys
from pathlib import Path

import pytest

from slapolicy.cli import command

REPO = Path(__file__).resolve().parent.parent


def _glibc() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "gnu_get_libc_version")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc(), reason="mallopt is glibc's")
def test_both_allocator_settings_take_on_glibc():
    assert command.keep_freed_memory() is True


def test_without_mallopt_nothing_is_changed(monkeypatch):
    class NoMallopt:  # musl or macOS: a C library without glibc's mallopt
        pass

    monkeypatch.setattr(command.ctypes, "CDLL", lambda name: NoMallopt())
    assert command.keep_freed_memory() is False


def test_off_linux_nothing_is_asked(monkeypatch):
    def refuse(name):  # Windows' ctypes raises TypeError for CDLL(None)
        raise TypeError("expected str, bytes or os.PathLike object, not NoneType")

    monkeypatch.setattr(command.ctypes, "CDLL", refuse)
    assert command.keep_freed_memory() is False  # on Linux: the TypeError is caught
    monkeypatch.setattr(command.sys, "platform", "win32")
    assert command.keep_freed_memory() is False


def test_main_called_by_a_program_leaves_the_allocator_alone(monkeypatch, capsys):
    called = []
    monkeypatch.setattr(command, "keep_freed_memory", lambda: called.append(True))
    assert command.main(["versions", str(REPO / "policies" / "ccc")]) == 0
    assert called == []


@pytest.mark.slow
def test_a_command_as_its_own_process_tunes_and_still_answers():
    done = subprocess.run([sys.executable, "-m", "slapolicy.cli", "evaluate", str(REPO / "policies" / "ccc"),
                           "--minutes", str(REPO / "examples" / "ccc" / "minutes.csv"), "--month", "2019-03"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["evaluations"]
