"""Packaging hook: ship the policies and example data inside the wheel.

``slapolicy demo`` must work after a plain ``pip install .`` from any directory, so the
built package carries copies of ``policies/`` and ``examples/`` under
``slapolicy/shipped/``. An editable install reads them from the source tree instead.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithShippedData(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "slapolicy" / "shipped"
        for name in ("policies", "examples"):
            source = Path(__file__).parent / name
            if source.is_dir():
                shutil.copytree(source, target / name, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithShippedData})
