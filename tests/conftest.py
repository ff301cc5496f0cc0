"""Shared fixtures: the tests/data fixtures, the optional real-capture corpus, tools.

The corpus (../shared/corpus, or $FASTPKT_CORPUS) is not part of the repository:
corpus-parametrised tests skip with a clear reason when it is absent. tshark and
tcpdump are optional too; tests that need them skip cleanly.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fphelpers import (  # noqa: E402
    CORPUS_SKIP_REASON, DATA, corpus_dir, corpus_files, have, load_expected, tshark_status,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "tshark: needs the tshark binary")
    config.addinivalue_line("markers", "tcpdump: needs the tcpdump binary")


def pytest_generate_tests(metafunc):
    """Corpus parameters, from MANIFEST.tsv and the tshark refs:
    `corpus_file` every capture; `corpus_unreadable` the files tshark cannot read at all
    (empty .tsv + .stderr); `corpus_cut` the files cut short (frames, then .stderr)."""
    files = corpus_files()
    selectors = {
        "corpus_file": lambda f: True,
        "corpus_unreadable": lambda f: tshark_status(f) == "unreadable",
        "corpus_cut": lambda f: tshark_status(f) == "cut",
    }
    for argname, keep in selectors.items():
        if argname not in metafunc.fixturenames:
            continue
        chosen = [f for f in files if keep(f)]
        if chosen:
            metafunc.parametrize(argname, chosen)
        else:
            metafunc.parametrize(
                argname, [pytest.param(None, marks=pytest.mark.skip(CORPUS_SKIP_REASON))],
                ids=["no-corpus"])


@pytest.fixture(scope="session")
def corpus() -> Path:
    d = corpus_dir()
    if d is None:
        pytest.skip(CORPUS_SKIP_REASON)
    return d


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def expected() -> dict:
    return load_expected()


@pytest.fixture(scope="session")
def tshark() -> str:
    if not have("tshark"):
        pytest.skip("tshark is not installed")
    return "tshark"


@pytest.fixture(scope="session")
def tcpdump() -> str:
    if not have("tcpdump"):
        pytest.skip("tcpdump is not installed")
    return "tcpdump"
