"""fastpkt.summary.capture_info and `fastpkt info` (csrc/py/info.c) against capinfos
(Wireshark's, installed with tshark) on every corpus capture: packets, data size (bytes on
the wire), earliest and latest packet times, strict time order, and per pcapng interface its
packets and capture length (single-section files). Files capinfos cannot read must be refused; files cut short
count the packets before the cut, as capinfos does."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
from _fphelpers import corpus_dir, have, tool_env

import fastpkt as fp
from fastpkt.summary import capture_info

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "sample.pcap")


# Captures where capinfos and fastpkt rightly differ (pytest skips name them).
KNOWN = {
    "ndpi-fuzz-2021-10-13.pcap": "known disagreement: record 0 claims 524,501 captured bytes, past the file's "
                                 "end; libpcap and fastpkt refuse it, wiretap repairs it into one packet",
    "ppp-pcapng-example.pcapng": "known disagreement: interface 1's times (SLL, microseconds) lie past 2262, "
                                 "beyond int64 nanoseconds: fastpkt saturates them, capinfos wraps them to "
                                 "the year 586524",
}


@pytest.fixture(scope="session")
def capinfos() -> str:
    if not have("capinfos"):
        pytest.skip("capinfos is not installed (Debian: wireshark-common, a dependency of tshark)")
    return "capinfos"


def _capinfos(tool: str, path: str) -> dict[str, object] | None:
    """capinfos -M in UTC: totals and one dict per interface, None when it reads nothing."""
    r = subprocess.run([tool, "-M", path], capture_output=True, text=True, env=tool_env(TZ="UTC"))
    out = r.stdout
    m = re.search(r"^Number of packets:\s+(\d+)", out, re.M)
    if m is None:
        return None
    fields = {}
    for k in ("Data size", "First packet time", "Last packet time", "Strict time order"):
        found = re.search(r"^%s:\s+(.*)$" % k, out, re.M)
        fields[k] = found.group(1).strip() if found else None  # no times when packets lack them
    # per interface of a single section (several sections: capinfos repeats one list per section)
    ifaces = None if "Section 1:" in out else [{"packets": int(p), "snaplen": int(c)} for c, p in re.findall(
        r"Capture length = (\d+).*?Number of packets = (\d+)", out, re.S)]
    return {"packets": int(m.group(1)), "data": int(str(fields["Data size"]).split()[0]),
            "first": fields["First packet time"], "last": fields["Last packet time"],
            "ordered": fields["Strict time order"], "interfaces": ifaces}


def _stamp(ns: int | None, like: str) -> str:
    """Our time as capinfos prints it: UTC, as many fraction digits as it shows."""
    if ns is None:
        return "n/a"
    import datetime as dt

    sec, frac = divmod(ns, 10**9)
    digits = len(like.rpartition(".")[2]) if "." in like else 6
    text = dt.datetime.fromtimestamp(sec, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return "%s.%s" % (text, ("%09d" % frac)[:digits])


def test_capture_info_matches_capinfos(corpus_file, capinfos):
    if corpus_file in KNOWN:
        pytest.skip(KNOWN[corpus_file])
    path = str(corpus_dir() / corpus_file)
    ref = _capinfos(capinfos, path)
    if ref is None:  # capinfos reads nothing: neither do we
        with pytest.raises(fp.Error):
            capture_info(path)
        return
    ours = capture_info(path, on_error="stop", progress=False)
    assert ours["packets"] == ref["packets"]
    assert ours["bytes"] == ref["data"]  # capinfos' data size sums frame.len
    if ours["untimed"]:  # pcapng simple packet blocks: capinfos shows no times either
        assert ref["first"] is None and ref["last"] is None
    else:
        assert _stamp(ours["earliest"], str(ref["first"])) == ref["first"]
        assert _stamp(ours["latest"], str(ref["last"])) == ref["last"]
        assert ours["time_ordered"] == (ref["ordered"] == "True")
    if ours["format"] == "pcapng" and ref["interfaces"] is not None:
        assert [(i["packets"], i["snaplen"]) for i in ours["interfaces"]] == \
               [(i["packets"], i["snaplen"]) for i in ref["interfaces"]]  # type: ignore[attr-defined]


def test_info_command_prints_the_counts(capinfos, capsys):
    from fastpkt.cli import main

    ref = _capinfos(capinfos, SAMPLE)
    assert ref is not None
    assert main(["info", SAMPLE]) == 0
    out = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    assert int(out["Packets"]) == ref["packets"]
    assert int(out["Bytes on wire"]) == ref["data"]
    assert out["Time order"].strip() == ("strict" if ref["ordered"] == "True" else "not strict")


def test_capture_info_counts_what_is_left_and_shares_the_reader():
    """The C pass reads the Reader's remaining records (one consumer among others)."""
    whole = capture_info(SAMPLE, progress=False)
    pkts = fp.read(SAMPLE)
    assert whole["bytes"] == sum(p.wirelen for p in pkts)
    assert whole["first"] == pkts[0].time_ns and whole["last"] == pkts[-1].time_ns
    from fastpkt._fastpkt import _capture_info

    with fp.open(SAMPLE) as r:
        next(iter(r))
        rest = _capture_info(r)
    assert rest["packets"] == whole["packets"] - 1
    with pytest.raises(TypeError, match="Reader expected"):
        _capture_info(pkts)  # type: ignore[arg-type]
