"""One version: fastpkt/_version.py, read by the build backend (pyproject's dynamic version),
fastpkt.__version__, `fastpkt --version` and the changelog's newest entry."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import fastpkt
from fastpkt import _version

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_reads_the_version_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fastpkt._version.__version__"}


def test_build_backend_sees_the_same_version():
    # setuptools resolves the dynamic version itself (what sdists and wheels are named by).
    out = subprocess.run([sys.executable, "setup.py", "--version"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.split()[-1] == _version.__version__


def test_cli_and_package_report_it():
    assert fastpkt.__version__ == _version.__version__
    out = subprocess.run([sys.executable, "-m", "fastpkt", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "fastpkt " + _version.__version__


def test_changelog_names_it():
    heads = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert heads and heads[0] == _version.__version__
