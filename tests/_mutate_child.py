"""Seeded mutation fuzzing of fastpkt, run in a subprocess by tests/test_hostile.py so that
a crash shows up as a failed test with the seed instead of killing pytest.

    python tests/_mutate_child.py FIRST_SEED COUNT FIXTURE [FIXTURE ...]

Every seed makes one mutated input from one fixture: random byte flips, or a length
field that lies (pcap caplen, pcapng block length, IPv4 IHL/total length, UDP length,
TCP data offset, DNS counts). Each input is read with a random on_error policy, from
memory or from a file; every delivered packet has every attribute of every layer
touched; every third input also goes through fp.flows, fp.streams (HTTP parsed) and
fp.client_hellos. Allowed outcomes: packets, or an fp.Error subclass from the reader. Anything
else (another exception type, an exception from an attribute, a crash) is a failure.

Prints "SEED n" before each case (so a crash can be traced to its seed) and a JSON
summary on the last line. Exit status 0 only if every case behaved.
"""
from __future__ import annotations

import json
import os
import random
import struct
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fastpkt as fp  # noqa: E402
from _fphelpers import DATA, touch_all  # noqa: E402


def pcap_records(blob: bytes) -> tuple[str, list[tuple[int, int]]]:
    """(endian, [(record header offset, caplen)]) of a pcap file."""
    e = "<" if blob[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, off = [], 24
    while off + 16 <= len(blob):
        caplen = struct.unpack_from(e + "I", blob, off + 8)[0]
        out.append((off, caplen))
        off += 16 + caplen
    return e, out


def pcapng_blocks(blob: bytes) -> list[tuple[int, int, str, int]]:
    """[(offset, type, endian, total length)] of a pcapng file."""
    out, off, e = [], 0, "<"
    while off + 12 <= len(blob):
        if blob[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if blob[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(e + "II", blob, off)
        out.append((off, btype, e, blen))
        if blen < 12:
            break
        off += blen
    return out


def packet_spans(blob: bytes) -> list[tuple[int, int, int]]:
    """[(data offset, caplen, linktype)] of each packet in a fixture (unmutated)."""
    if blob[:4] == b"\x0a\x0d\x0d\x0a":
        spans = []
        lts: list[int] = []
        for off, btype, e, blen in pcapng_blocks(blob):
            if btype == 0x0A0D0D0A:
                lts = []
            elif btype == 1:
                lts.append(struct.unpack_from(e + "H", blob, off + 8)[0])
            elif btype == 6:
                ifid, _, _, cap = struct.unpack_from(e + "IIII", blob, off + 8)
                spans.append((off + 28, cap, lts[ifid] if ifid < len(lts) else 1))
            elif btype == 3:
                spans.append((off + 12, blen - 16, lts[0] if lts else 1))
        return spans
    e, recs = pcap_records(blob)
    lt = struct.unpack_from(e + "I", blob, 20)[0]
    return [(off + 16, cap, lt) for off, cap in recs]


def ip_offset(blob: bytes, data_off: int, cap: int, lt: int) -> int | None:
    """Offset of an IPv4 header inside a packet, for the targeted lies."""
    if lt == 1:
        off = data_off + 12
        et = blob[off:off + 2]
        while et in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):
            off += 4
            et = blob[off:off + 2]
        return off + 2 if et == b"\x08\x00" else None
    if lt in (101, 228):
        return data_off if cap and blob[data_off] >> 4 == 4 else None
    if lt == 0 or lt == 108:
        return data_off + 4
    return None


def mutate(blob: bytes, rnd: random.Random) -> tuple[bytes, str]:
    b = bytearray(blob)
    kind = rnd.choice(["flip", "flip", "flip", "caplen", "blocklen", "ihl", "iplen", "udplen",
                       "tcpoff", "dnscount", "truncate", "splice"])
    spans = packet_spans(blob)
    if kind == "flip" or not spans:
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(len(b))
            b[i] = rnd.randrange(256) if rnd.random() < 0.5 else b[i] ^ (1 << rnd.randrange(8))
        return bytes(b), "flip"
    if kind == "truncate":
        return bytes(b[:rnd.randrange(len(b))]), kind
    if kind == "splice":
        i, j = sorted(rnd.randrange(len(b)) for _ in range(2))
        return bytes(b[:i] + b[j:] + b[i:j]), kind
    if kind == "caplen" and blob[:4] != b"\x0a\x0d\x0d\x0a":
        e, recs = pcap_records(blob)
        off, _ = rnd.choice(recs)
        val = rnd.choice([0xFFFFFFFF, 0x7FFFFFFF, 262145, 65536, len(blob), 0, 1])
        struct.pack_into(e + "I", b, off + rnd.choice([8, 12]), val)
        return bytes(b), kind
    if kind in ("caplen", "blocklen") and blob[:4] == b"\x0a\x0d\x0d\x0a":
        off, btype, e, blen = rnd.choice(pcapng_blocks(blob))
        where = rnd.choice(["head", "tail", "caplen", "optlen"])
        val = rnd.choice([0, 4, 11, 12, 13, blen + 4, blen - 4, 0xFFFFFFFF, 0x80000000,
                          len(blob) * 2])
        if where == "head":
            struct.pack_into(e + "I", b, off + 4, val)
        elif where == "tail" and off + blen <= len(b):
            struct.pack_into(e + "I", b, off + blen - 4, val)
        elif where == "caplen" and btype == 6:
            struct.pack_into(e + "I", b, off + 20, val)
        elif off + 16 < len(b):
            struct.pack_into(e + "H", b, min(off + blen - 6, len(b) - 2) if blen > 8 else off,
                             rnd.randrange(65536))
        return bytes(b), f"{kind}:{where}"
    data_off, cap, lt = rnd.choice(spans)
    ip = ip_offset(blob, data_off, cap, lt)
    if ip is None or ip + 20 > len(b):
        b[rnd.randrange(len(b))] ^= 0xFF
        return bytes(b), "flip(no-ip)"
    ihl = (b[ip] & 0x0F) * 4
    proto = b[ip + 9]
    l4 = ip + ihl
    if kind == "ihl":
        b[ip] = 0x40 | rnd.choice([0, 1, 4, 6, 15])
    elif kind == "iplen":
        struct.pack_into("!H", b, ip + 2, rnd.choice([0, 1, 19, 20, 21, 65535, cap * 2]))
    elif kind == "udplen" and proto == 17 and l4 + 8 <= len(b):
        struct.pack_into("!H", b, l4 + 4, rnd.choice([0, 1, 7, 8, 9, 65535, 1000]))
    elif kind == "tcpoff" and proto == 6 and l4 + 20 <= len(b):
        b[l4 + 12] = (rnd.choice([0, 1, 4, 5, 6, 15]) << 4) | (b[l4 + 12] & 0x0F)
    elif kind == "dnscount" and proto == 17 and l4 + 20 <= len(b):
        for k in range(4):
            if rnd.random() < 0.7:
                struct.pack_into("!H", b, l4 + 8 + 4 + 2 * k, rnd.choice([0xFFFF, 0x8000, 255]))
    else:
        b[rnd.randrange(ip, min(len(b), ip + 60))] = rnd.randrange(256)
        kind = "ipflip"
    return bytes(b), kind


def read_all(source, policy: str) -> int:
    n = 0
    try:
        with fp.open(source, on_error=policy) as r:
            for p in r:
                touch_all(p)
                n += 1
    except fp.Error:
        pass
    return n


def run_engines(source, policy: str) -> None:
    """Flows, streams (with HTTP parsing) and TLS hellos over the same mutated input."""
    try:
        list(fp.flows(source, on_error=policy))
        for h in fp.client_hellos(source, on_error=policy):
            tuple(h)
        for s in fp.streams(source, on_error=policy, max_buffered=4096):
            s.client_data, s.server_data, s.client_gaps, s.server_gaps, s.state, s.anomalies
            if fp_http_available:
                s.http_messages(decode=True)
    except fp.Error:
        pass


try:
    import fastpkt.http  # noqa: F401
    fp_http_available = True
except ImportError:
    fp_http_available = False


def main() -> int:
    first, count = int(sys.argv[1]), int(sys.argv[2])
    blobs = [(name, (DATA / name).read_bytes()) for name in sys.argv[3:]]
    failures = []
    packets = 0
    tmpdir = tempfile.mkdtemp(prefix="fpfuzz")
    tmp = os.path.join(tmpdir, "m.bin")
    for seed in range(first, first + count):
        print(f"SEED {seed}", flush=True)
        rnd = random.Random(seed)
        name, blob = blobs[seed % len(blobs)]
        data, kind = mutate(blob, rnd)
        policy = rnd.choice(["raise", "stop", "skip"])
        try:
            if seed % 7 == 0:
                with open(tmp, "wb") as f:
                    f.write(data)
                packets += read_all(tmp, policy)
            else:
                packets += read_all(bytearray(data), policy)
            if seed % 3 == 0:
                run_engines(bytearray(data), policy)
            # the dissectors alone, on the mutated bytes of one record
            spans = packet_spans(blob)
            if spans:
                off, cap, lt = rnd.choice(spans)
                pkt = fp.Packet(bytes(data[off:off + cap]),
                                linktype=rnd.choice([lt, lt, 1, 0, 101, 113, 276, 228, 229, 108]))
                touch_all(pkt)
        except Exception as e:  # noqa: BLE001 - any non-fp.Error escaping is a failure
            failures.append({"seed": seed, "fixture": name, "mutation": kind,
                             "policy": policy, "exception": repr(e),
                             "traceback": traceback.format_exc()})
            if len(failures) >= 10:
                break
    os.unlink(tmp) if os.path.exists(tmp) else None
    os.rmdir(tmpdir)
    print(json.dumps({"cases": count, "packets": packets, "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
