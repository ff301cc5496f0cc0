"""Shared fixtures: the tests/data fixtures, the optional real-capture corpus, tools.

The real-capture corpus is $FASTPKT_CORPUS, else ../shared/corpus, else its permissively
licensed part vendored in tests/corpus; cases that need a capture only the shared corpus
holds skip with a clear reason. tshark and
tcpdump are optional too; tests that need them skip cleanly.

With FASTPKT_REQUIRE_REFS=1 (set by .ci/run) such a skip is a failure: CI must not pass
with reference cases quietly skipped. Only skips that exclude one case on purpose (a
documented disagreement with a reference, a file a tool cannot read) stay skips.
"""
from __future__ import annotations

import os
import re
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


REQUIRE_REFS = os.environ.get("FASTPKT_REQUIRE_REFS") == "1"
CASE_EXCLUSION = re.compile(
    r"known disagreement|cut-short|unreadable|cannot read it|tcpdump cannot filter|"
    r"Scapy's pcapng reader|Scapy 2\.6 misreads|Scapy cannot read|Scapy reads \d+|"
    r"no TCP connection with missed_bytes|sees no TCP stream|no TCP streams|no DNS transaction in this capture|"
    r"no Zeek quic\.log|FASTPKT_SLOW|under ASan|not a leak measure under ASan|"
    # a kernel built without the tunnel type and without module support cannot make the
    # link at all (/proc/config.gz proves it); where the kernel can, the case runs
    r"CONFIG_MODULES is not set \(no module can add it\)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not (REQUIRE_REFS and rep.skipped) or hasattr(rep, "wasxfail"):
        return
    reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    if not CASE_EXCLUSION.search(reason):
        rep.outcome = "failed"
        rep.longrepr = ("FASTPKT_REQUIRE_REFS=1: this test would have been skipped, which CI "
                        "does not allow: " + reason)


def _in_init_netns() -> bool:
    try:
        return os.stat("/proc/self/ns/net").st_ino == os.stat("/proc/1/ns/net").st_ino
    except OSError:
        return True


def _quiet_scapy_resolution() -> None:
    """Scapy fills an unset Ether dst by ARP/ND for the route's next hop: on the machine's own
    network that is traffic off the machine, and a 2 s wait for each frame nobody answers. In
    the machine's own namespace the resolvers' probe out of its default interface gets no
    answer at once (Scapy then uses broadcast, as it says); lab interfaces and lab namespaces
    resolve for real."""
    try:
        from scapy.config import conf
        from scapy.layers import inet6, l2
    except ImportError:
        return

    def quiet(srp1):
        def probe(*args, **kwargs):
            if _in_init_netns() and kwargs.get("iface") == conf.route.route("0.0.0.0", verbose=0)[0]:
                return None
            return srp1(*args, **kwargs)
        return probe

    l2.srp1 = quiet(l2.srp1)
    inet6.srp1 = quiet(inet6.srp1)


_quiet_scapy_resolution()


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
