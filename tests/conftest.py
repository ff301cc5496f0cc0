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
    CORPUS_SKIP_REASON, DATA, corpus_dir, corpus_files, have, load_expected,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "tshark: needs the tshark binary")
    config.addinivalue_line("markers", "tcpdump: needs the tcpdump binary")


def pytest_generate_tests(metafunc):
    """`corpus_file` parameter: every capture listed in the corpus MANIFEST.tsv."""
    if "corpus_file" in metafunc.fixturenames:
        files = corpus_files()
        if files:
            metafunc.parametrize("corpus_file", files)
        else:
            metafunc.parametrize(
                "corpus_file", [pytest.param(None, marks=pytest.mark.skip(CORPUS_SKIP_REASON))],
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
