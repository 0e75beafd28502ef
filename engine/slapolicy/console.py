"""The ``slapolicy`` command's first module: the console script and ``python -m slapolicy`` call :func:`main`.

It imports nothing but the package (whose names load on first use), so that a Ctrl-C landing while the command's
own modules load (``slapolicy.cli``: ~0.04 s of dataclasses, pathlib and the rest, before it handles Ctrl-C itself)
is said in the command's words, exit 130, rather than as Python's traceback. Only one landing in Python's own start,
before this module runs, is still Python's (docs/cli.md, "Interrupted")."""


def main() -> int:
    """The ``slapolicy`` command (``slapolicy.cli.main``), its exit status."""
    try:
        from .cli import main as command
    except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C while the command's modules load, before it handles it
        from .errors import interruption, stopped

        if interruption(exc) is None:
            raise  # anything but a Ctrl-C (wrapped by Python 3.11 when it lands in a __set_name__) is a bug
        return stopped(interruption(exc))
    return command()
