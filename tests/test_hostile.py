"""Hostile input: truncation at every byte offset, seeded random mutations and lying
length fields. Clear exception or anomaly, never a crash."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA, touch_all

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def record_ends(blob: bytes) -> tuple[int, list[int], set[int]]:
    """(header size, end offset of each packet record, set of clean cut points) computed
    independently of fastpkt from the pcap / pcapng framing."""
    if blob[:4] == b"\x0a\x0d\x0d\x0a":
        ends, clean = [], set()
        off, e = 0, "<"
        first_shb_end = None
        while off + 12 <= len(blob):
            if blob[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if blob[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack_from(e + "II", blob, off)
            off += blen
            if first_shb_end is None:
                first_shb_end = off
            if btype in (2, 3, 6):
                ends.append(off)
            clean.add(off)
        return first_shb_end, ends, clean
    e = "<" if blob[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    ends, off = [], 24
    while off + 16 <= len(blob):
        off += 16 + struct.unpack_from(e + "I", blob, off + 8)[0]
        ends.append(off)
    return 24, ends, {24, *ends}


@pytest.mark.parametrize("name", ["le_usec.pcap", "ns_be.pcap", "two_if.pcapng"])
def test_truncation_at_every_offset(tmp_path, name):
    blob = (DATA / name).read_bytes()
    header, ends, clean = record_ends(blob)
    full = [p.raw for p in fp.read(str(DATA / name))]
    assert len(full) == len(ends)
    f = tmp_path / "cut"
    problems = []
    for cut in range(len(blob) + 1):
        data = blob[:cut]
        n_complete = sum(1 for e in ends if e <= cut)
        expect_error = cut not in clean
        src: object = bytearray(data)
        if cut % 5 == 0:  # the file (mmap) path too
            f.write_bytes(data)
            src = str(f)
        # on_error="raise"
        got, err = [], None
        try:
            with fp.open(src) as r:
                for p in r:
                    touch_all(p)
                    got.append(p.raw)
        except fp.Error as e:
            err = e
        if cut < header:
            if not isinstance(err, fp.FormatError):
                problems.append(f"cut {cut} (inside the file header): {err!r}")
            continue
        if got != full[:n_complete]:
            problems.append(f"cut {cut}: {len(got)} packets delivered, expected "
                            f"{n_complete} complete ones")
        if expect_error and not isinstance(err, fp.TruncatedError):
            problems.append(f"cut {cut}: expected TruncatedError, got {err!r}")
        elif expect_error and err.packet_index not in (n_complete, None):
            problems.append(f"cut {cut}: packet_index {err.packet_index}, "
                            f"expected {n_complete}")
        if not expect_error and err is not None:
            problems.append(f"cut {cut} (record boundary): unexpected {err!r}")
        # on_error="stop": same packets, no exception, error kept on the reader
        try:
            with fp.open(src, on_error="stop") as r:
                got2 = [p.raw for p in r]
                stop_err = r.error
        except fp.Error as e:
            problems.append(f"cut {cut}: on_error='stop' raised {e!r}")
            continue
        if got2 != full[:n_complete]:
            problems.append(f"cut {cut} stop: {len(got2)} packets, expected {n_complete}")
        if expect_error != isinstance(stop_err, fp.TruncatedError):
            problems.append(f"cut {cut} stop: reader.error = {stop_err!r}")
        if len(problems) > 30:
            break
    assert not problems, f"{name}:\n" + "\n".join(problems)


def run_mutations(first: int, count: int, fixtures: list[str]) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, str(TESTS / "_mutate_child.py"), str(first), str(count),
                        *fixtures], capture_output=True, text=True, env=env, timeout=600)
    lines = r.stdout.strip().splitlines()
    if r.returncode < 0 or not lines or not lines[-1].startswith("{"):
        seeds = [ln for ln in lines if ln.startswith("SEED ")]
        last = seeds[-1] if seeds else f"SEED {first}"
        pytest.fail(f"mutation child died (exit {r.returncode}) at {last} "
                    f"(reproduce: python tests/_mutate_child.py {last.split()[-1]} 1 "
                    f"{' '.join(fixtures)})\nstderr:\n{r.stderr[-3000:]}", pytrace=False)
    summary = json.loads(lines[-1])
    if summary["failures"]:
        msg = []
        for f in summary["failures"]:
            msg.append(f"seed {f['seed']} ({f['fixture']}, {f['mutation']}, "
                       f"on_error={f['policy']}): {f['exception']}\n{f['traceback']}")
        pytest.fail(f"{len(summary['failures'])} failing mutation(s):\n" + "\n".join(msg),
                    pytrace=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert summary["cases"] == count


MUTATION_GROUPS = {
    "pcap-basic": (["le_usec.pcap", "be_usec.pcap", "ns_le.pcap", "qinq.pcap", "arp.pcap"],
                   3000),
    "pcap-protocols": (["dns.pcap", "dns_loop.pcap", "tcp_opts.pcap", "http.pcap", "tls.pcap",
                        "ipv6_ext_frag.pcap", "icmp.pcap", "icmp6.pcap", "checksums.pcap"],
                       5000),
    "pcap-links": (["sll.pcap", "sll2.pcap", "null.pcap", "loop.pcap", "raw.pcap"], 2000),
    "pcapng": (["two_if.pcapng"], 4000),
}


@pytest.mark.parametrize("group", sorted(MUTATION_GROUPS))
def test_seeded_mutations(group):
    fixtures, count = MUTATION_GROUPS[group]
    first = 1_000_000 * (sorted(MUTATION_GROUPS).index(group) + 1)
    run_mutations(first, count, fixtures)


# ----------------------------------------------------------------------------- lying lengths


def _pcap_with_first_caplen(val: int) -> bytes:
    raw = bytearray((DATA / "le_usec.pcap").read_bytes())
    struct.pack_into("<I", raw, 24 + 8, val)
    return bytes(raw)


@pytest.mark.parametrize("caplen", [0xFFFFFFFF, 0x80000000, 262145 * 4, 10_000_000])
def test_huge_caplen(caplen):
    with pytest.raises(fp.FormatError) as ei:
        fp.read(bytearray(_pcap_with_first_caplen(caplen)))
    assert ei.value.packet_index == 0


def test_caplen_greater_than_wirelen_is_accepted_or_reported():
    raw = bytearray((DATA / "le_usec.pcap").read_bytes())
    struct.pack_into("<I", raw, 24 + 12, 10)  # wirelen 10 < caplen
    try:
        pl = fp.read(bytearray(raw))
    except fp.FormatError:
        return
    assert pl[0].caplen >= 10


@pytest.mark.parametrize("val", [0, 4, 8, 12, 13, 0xFFFFFFFC, 0x7FFFFFFC])
def test_pcapng_block_length_lies(val):
    raw = bytearray((DATA / "two_if.pcapng").read_bytes())
    shb = struct.unpack_from("<I", raw, 4)[0]
    idb = struct.unpack_from("<I", raw, shb + 4)[0]
    idb2 = struct.unpack_from("<I", raw, shb + idb + 4)[0]
    epb = shb + idb + idb2
    assert struct.unpack_from("<I", raw, epb)[0] == 6
    struct.pack_into("<I", raw, epb + 4, val)
    with pytest.raises(fp.FormatError) as ei:
        with fp.open(bytearray(raw)) as r:
            list(r)
    assert ei.value.offset == epb
    assert ei.value.packet_index == 0


def test_pcapng_trailing_length_mismatch():
    raw = bytearray((DATA / "two_if.pcapng").read_bytes())
    shb = struct.unpack_from("<I", raw, 4)[0]
    struct.pack_into("<I", raw, shb - 4, shb + 8)  # SHB trailer disagrees with its header
    with pytest.raises(fp.FormatError):
        fp.read(bytearray(raw))


def test_pcapng_section_length_and_version():
    raw = bytearray((DATA / "two_if.pcapng").read_bytes())
    struct.pack_into("<H", raw, 12, 2)  # major version 2
    with pytest.raises(fp.FormatError):
        fp.read(bytearray(raw))


def test_epb_for_undeclared_interface():
    raw = bytearray((DATA / "two_if.pcapng").read_bytes())
    shb = struct.unpack_from("<I", raw, 4)[0]
    idb = struct.unpack_from("<I", raw, shb + 4)[0]
    idb2 = struct.unpack_from("<I", raw, shb + idb + 4)[0]
    epb = shb + idb + idb2
    struct.pack_into("<I", raw, epb + 8, 7)  # interface 7 does not exist
    got = []
    with pytest.raises(fp.FormatError) as ei:
        for p in fp.open(bytearray(raw)):
            got.append(p)
    assert got == [] and ei.value.packet_index == 0
    with fp.open(bytearray(raw), on_error="skip") as r:
        assert len(list(r)) == 6 and r.skipped == 1


def test_many_anomalies_on_one_packet():
    from scapy.all import DNS, DNSQR, IP, TCP, UDP, Ether

    raw = bytearray(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=53, dport=53) /
                          DNS(qd=DNSQR(qname="a.example"))))
    raw[14] = 0x4F  # IHL 15: header runs past the packet
    p = fp.Packet(bytes(raw))
    touch_all(p)
    assert p.anomalies
    raw = bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2", len=20) / TCP())
    p = fp.Packet(raw)
    touch_all(p)
