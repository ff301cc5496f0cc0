"""DNS transactions (``fastpkt.dns``, csrc/stream/dns_tracker.c) against independent references.

* Zeek's committed dns.log baselines (../shared/corpus/zeek-baselines): the same transactions
  with the same query, qtype, rcode, flags, answers, TTLs, rejected and rtt; every difference
  is one of the named reasons below.
* tshark's own request/response pairing (``dns.response_to``, ``dns.time``) on the corpus'
  DNS captures, with one engine and with 2 and 3 workers (the live merge).
* Messages built by Scapy (its bytes are the reference): TCP with several messages per
  connection split anywhere, compression loops, counts that lie, messages cut at every
  length, a flood of unique ids under a small max_memory.
"""
from __future__ import annotations

import itertools
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, corpus_dir, corpus_files, zeek_rows

ROOT = Path(__file__).resolve().parent.parent

# ---- Zeek's dns.log ----------------------------------------------------------------------

# Why a Zeek row and ours may differ, each checked where it applies:
ZEEK_SPLITS_REPEATS = ("Zeek logs each copy of a repeated query and each extra response as a row of its "
                       "own; we count them on one transaction (queries, responses)")
ZEEK_LOWERCASES = "Zeek lowercases query and answer names; we keep the case on the wire (0x20 encoding)"
ZEEK_NEEDS_ANSWER = ("Zeek sets rtt, AA and RA only while logging an answer record: a response without "
                     "answers leaves them unset/false")
ZEEK_ANSWER_TEXT = ("Zeek writes TXT as 'TXT <len> <text>' per string, RRSIG as 'RRSIG <type covered> "
                    "<signer>', SRV/MX as the target; we write dig's presentation form (strings joined, "
                    "every field) and RFC 3597's '\\# len hex' for types without one")
ZEEK_QUESTION_FROM_QUERY = ("Zeek takes qtype and qclass from a request only: a response whose query was "
                            "not seen leaves them unset; we give its question's")
ZEEK_NETBIOS = "Zeek's DNS analyzer also decodes NetBIOS name service (port 137); fastpkt does not"
ZEEK_BAD_CHECKSUM = ("the query's UDP checksum is bad: Zeek (run without -C) drops it and logs the "
                     "response alone; we pair them")

# trace -> (reason for Zeek rows that have no counterpart, predicate on such a row)
ZEEK_UNMATCHED = {
    "wikipedia.pcap": (ZEEK_NETBIOS, lambda z: z["id.resp_p"] == "137"),
}
# trace -> reason its query is not seen by Zeek (the row is response-only there)
ZEEK_DROPPED_QUERY = {"dns-txt-multiple.pcap": ZEEK_BAD_CHECKSUM}


def _zeek_dns_logs() -> list:
    d = corpus_dir()
    if d is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(CORPUS_SKIP_REASON), id="no-corpus")]
    out = []
    for line in (d / "zeek-baselines" / "INDEX.tsv").read_text().splitlines()[1:]:
        cells = line.split("\t")
        for name in cells[5].split(","):
            if name.endswith(".dns.log"):
                out.append(pytest.param(d / "zeek-baselines" / name, d / cells[0], id=name))
    return out


def _zeek_txt(text: str) -> str | None:
    """Zeek's 'TXT <len> <text>[ TXT <len> <text>...]' as the strings joined (our form)."""
    out, pos = [], 0
    while text.startswith("TXT ", pos):
        m = re.match(r"TXT (\d+) ", text[pos:])
        if m is None:
            return None
        start = pos + m.end()
        out.append(text[start:start + int(m.group(1))])
        pos = start + int(m.group(1)) + 1
    return "".join(out) if out and pos >= len(text) else None


def _same_answer(zeek: str, ours: str) -> bool:
    if zeek.lower() == ours.lower():  # ZEEK_LOWERCASES
        return True
    # ZEEK_ANSWER_TEXT
    if zeek.startswith("TXT "):
        return _zeek_txt(zeek) == ours
    m = re.match(r"RRSIG (\d+) ", zeek)
    if m and ours.startswith("\\# "):  # RRSIG has no text form here: its first field is the type covered
        return int(ours.split()[2][:4], 16) == int(m.group(1))
    return ours.lower().endswith(" " + zeek.lower())  # SRV and MX: the target after the numbers


def _flag(v: str) -> bool:
    return v == "T"


@pytest.mark.parametrize("log,trace", _zeek_dns_logs())
def test_zeek_dns_log(log, trace):
    zrows = zeek_rows(log)
    ours = list(fp.dns(str(trace), progress=False))
    by_key: dict[tuple, list] = {}
    for t in ours:
        by_key.setdefault((t.orig_h, t.orig_p, t.resp_h, t.resp_p, t.trans_id), []).append(t)
    unmatched_reason, unmatched = ZEEK_UNMATCHED.get(trace.name, (None, lambda z: False))
    zeek_per_key: dict[tuple, list] = {}
    for z in zrows:
        key = (z["id.orig_h"], int(z["id.orig_p"]), z["id.resp_h"], int(z["id.resp_p"]), int(z["trans_id"]))
        if unmatched(z):
            assert key not in by_key, unmatched_reason
            continue
        assert key in by_key, "Zeek row without a transaction: %s" % (z,)
        zeek_per_key.setdefault(key, []).append(z)
    assert set(by_key) == set(zeek_per_key), "transactions Zeek does not log: %s" % (set(by_key) - set(zeek_per_key))
    dropped = ZEEK_DROPPED_QUERY.get(trace.name)
    compared = 0
    for key, zs in zeek_per_key.items():
        (t,) = by_key[key]
        # ZEEK_SPLITS_REPEATS: one row per query copy plus one per extra response
        assert len(zs) == max(t.queries, 1) + max(t.responses - 1, 0), (key, ZEEK_SPLITS_REPEATS)
        z = zs[0]  # the first copy: the query (or the response) the transaction opened with
        assert z["query"].lower() == (t.query or "").lower(), ZEEK_LOWERCASES
        if not t.queries:
            assert z["qtype"] == z["qclass"] == "-", ZEEK_QUESTION_FROM_QUERY
            assert _flag(z["RD"]) == t.RD
        elif dropped is None:
            assert z["qtype"] == (str(t.qtype) if t.qtype is not None else "-")
            assert z["qclass"] == (str(t.qclass) if t.qclass is not None else "-")
            if z["qtype"] != "-":
                assert z["qtype_name"] == t.qtype_name and z["qclass_name"] == t.qclass_name
            assert _flag(z["RD"]) == t.RD
        else:  # the response alone: its question is Zeek's unset qtype
            assert z["qtype"] == "-" and t.queries == 1, dropped
        assert z["rcode"] == (str(t.rcode) if t.rcode is not None else "-")
        if t.rcode is not None and z["rcode"] != "-":
            assert z["rcode_name"] == t.rcode_name
        assert _flag(z["TC"]) == t.TC and int(z["Z"]) == t.Z and _flag(z["rejected"]) == t.rejected
        assert z["opcode"] == str(t.opcode) and z["opcode_name"] == t.opcode_name
        answers = [] if z["answers"] == "-" else z["answers"].split(",")
        assert len(answers) == len(t.answers), (key, answers, t.answers)
        for za, oa in zip(answers, t.answers):
            assert _same_answer(za, oa), (key, za, oa, ZEEK_ANSWER_TEXT)
        ttls = [] if z["TTLs"] == "-" else [float(v) for v in z["TTLs"].split(",")]
        assert ttls == list(t.TTLs)
        if answers and dropped is None:  # ZEEK_NEEDS_ANSWER: else Zeek leaves rtt, AA, RA unset
            assert _flag(z["AA"]) == t.AA and _flag(z["RA"]) == t.RA
            if z["rtt"] != "-":
                assert t.rtt is not None and abs(float(z["rtt"]) - t.rtt) <= 1e-6, (key, z["rtt"], t.rtt)
        compared += 1
    assert compared or unmatched_reason, "nothing compared"


# ---- tshark's request/response pairing --------------------------------------------------

DNS_CAPTURES = ["suricata-dns-udp-google.com-a-aaaa-mx.pcap", "tcpdump-dns_tcp.pcap",
                "zeek-ipv6-fragmented-dns.pcap", "ndpi-malformed_dns.pcap", "ppp-dnstoomanyresources.pcap",
                "zeek-baselines/wikipedia.pcap", "zeek-baselines/dns-two-responses.pcap",
                "zeek-baselines/dns53.pcap", "zeek-baselines/dns-txt-multiple.pcap"]
TSHARK_FIELDS = ("frame.number", "dns.id", "dns.flags.response", "dns.qry.name", "dns.response_to", "dns.time",
                 "dns.retransmission", "dns.retransmit_request_in", "dns.retransmit_response_in")


def _tshark_rows(path: Path) -> list[dict]:
    if shutil.which("tshark") is None:  # a failure under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip("tshark is not installed")
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "dns or mdns or llmnr", "-T", "fields", "-E", "occurrence=f"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"WIRESHARK_CONFIG_DIR": "/nonexistent", "PATH": "/usr/bin:/bin"}).stdout
    return [dict(zip(TSHARK_FIELDS, line.split("\t"))) for line in out.splitlines() if line]


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("name", DNS_CAPTURES)
def test_tshark_pairing(name, workers):
    d = corpus_dir()
    if d is None:
        pytest.skip(CORPUS_SKIP_REASON)
    rows = _tshark_rows(d / name)
    by_frame = {r["frame.number"]: r for r in rows}
    ours = list(fp.dns(str(d / name), progress=False, workers=workers))
    # every message tshark saw is counted once: queries (copies included) and responses
    queries = [r for r in rows if r["dns.flags.response"] in ("0", "False")]
    assert sum(t.queries for t in ours) == len(queries), [(t.trans_id, t.query, t.queries) for t in ours]
    assert sum(t.responses for t in ours) == len(rows) - len(queries)
    for r in rows:
        if r["dns.flags.response"] not in ("1", "True") or r["dns.retransmission"]:
            continue
        tid = int(r["dns.id"], 16)
        cands = [t for t in ours if t.trans_id == tid and (t.query or "") == r["dns.qry.name"].split(",")[0]
                 or t.trans_id == tid and r["dns.qry.name"] == ""]
        assert cands, (name, r)
        if not r["dns.response_to"]:  # tshark found no request: ours is response-only too
            assert any(not t.queries and t.answered for t in cands), (name, r)
            continue
        req = by_frame[r["dns.response_to"]]
        paired = [t for t in cands if t.answered and t.queries]
        assert paired, (name, r)
        if req["dns.retransmission"] or any(t.queries > 1 for t in paired):
            continue  # tshark times the retransmitted copy; our rtt runs from the first (Zeek's)
        assert any(abs(t.rtt - float(r["dns.time"])) <= 1e-6 for t in paired), (name, r, [t.rtt for t in paired])


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name", ["zeek-baselines/wikipedia.pcap", "tcpdump-dns_tcp.pcap", "zeek-ipv6-fragmented-dns.pcap"])
def test_flow_id_is_the_flows_id(name, workers):
    d = corpus_dir()
    if d is None:
        pytest.skip(CORPUS_SKIP_REASON)
    flows = {f.flow_id: f for f in fp.flows(str(d / name), progress=False)}
    for t in fp.dns(str(d / name), progress=False, workers=workers):
        f = flows[t.flow_id]
        assert {(f.src_ip, f.src_port), (f.dst_ip, f.dst_port)} == {(t.orig_h, t.orig_p), (t.resp_h, t.resp_p)}
        assert f.protocol_name.lower() == t.proto


def test_every_corpus_capture_is_read_without_error():
    d = corpus_dir()
    if d is None:
        pytest.skip(CORPUS_SKIP_REASON)
    for name in corpus_files():
        if name.startswith(("libpcap-pcap-invalid", "libpcap-pcapng-invalid", "libpcap-shb")):
            continue  # no packets to read: the file header itself is refused
        tx = fp.dns(str(d / name), progress=False, on_error="skip")
        rows = list(tx)
        st = tx.stats["dns"]
        assert len(tx) == len(rows) == st["transactions"]
        assert st["answered"] + st["unanswered"] + st["response_only"] == len(rows)
        assert tx.stats["memory"]["dns"] == 0  # everything given back at the end


# ---- built with Scapy -------------------------------------------------------------------

sa = pytest.importorskip("scapy.all", reason="Scapy builds the reference messages")
BCAST = "ff:ff:ff:ff:ff:ff"  # Ether(dst=) given: Scapy would resolve it by sending ARP off the machine

CLIENT, SERVER = "10.0.0.1", "10.0.0.53"


def _write(tmp_path: Path, frames: list, name: str = "dns.pcap") -> str:
    path = tmp_path / name
    for i, f in enumerate(frames):
        f.time = 1_700_000_000 + i * 0.001 if not hasattr(f, "_t") else f._t
    sa.wrpcap(str(path), frames)
    return str(path)


def _udp(msg, src=CLIENT, dst=SERVER, sport=40000, dport=53, t=None):
    pkt = sa.Ether(dst=BCAST) / sa.IP(src=src, dst=dst) / sa.UDP(sport=sport, dport=dport) / msg
    if t is not None:
        pkt._t = t
    return pkt


def _query(name="example.com", qid=1, qtype="A"):
    return sa.DNS(id=qid, rd=1, qd=sa.DNSQR(qname=name, qtype=qtype))


def _answer(name="example.com", qid=1, ip="192.0.2.1", ttl=300):
    return sa.DNS(id=qid, qr=1, rd=1, ra=1, qd=sa.DNSQR(qname=name),
                  an=sa.DNSRR(rrname=name, type="A", rdata=ip, ttl=ttl))


def test_udp_pairing_rtt_and_columns(tmp_path):
    path = _write(tmp_path, [_udp(_query(qid=7), t=10.0), _udp(_answer(qid=7), src=SERVER, dst=CLIENT, sport=53,
                                                                dport=40000, t=10.25)])
    (t,) = list(fp.dns(path, progress=False))
    assert (t.orig_h, t.orig_p, t.resp_h, t.resp_p, t.proto, t.trans_id) == (CLIENT, 40000, SERVER, 53, "udp", 7)
    assert (t.query, t.qtype_name, t.qclass_name, t.rcode_name) == ("example.com", "A", "C_INTERNET", "NOERROR")
    assert t.answers == ("192.0.2.1",) and t.TTLs == (300.0,) and t.RD and t.RA and not t.AA
    assert t.rtt == pytest.approx(0.25, abs=1e-6) and t.ts == pytest.approx(10.0)
    assert (t.queries, t.responses, t.answered, t.rejected, t.anomalies) == (1, 1, True, False, ())
    flows = list(fp.flows(path, progress=False))
    assert t.flow_id == flows[0].flow_id  # the flow table keys both engines alike


def _tcp_stream(messages_c2s: list[bytes], messages_s2c: list[bytes], cut: int) -> list:
    """A TCP connection on port 53 carrying length-prefixed messages, each direction's bytes
    sent in segments of `cut` bytes (so prefixes and messages split anywhere)."""
    c2s = b"".join(len(m).to_bytes(2, "big") + m for m in messages_c2s)
    s2c = b"".join(len(m).to_bytes(2, "big") + m for m in messages_s2c)
    ip_c, ip_s = sa.IP(src=CLIENT, dst=SERVER), sa.IP(src=SERVER, dst=CLIENT)
    frames = [sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40001, dport=53, flags="S", seq=100),
              sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40001, flags="SA", seq=500, ack=101),
              sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40001, dport=53, flags="A", seq=101, ack=501)]
    for i in range(0, len(c2s), cut):
        frames.append(sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40001, dport=53, flags="PA", seq=101 + i, ack=501)
                      / c2s[i:i + cut])
    for i in range(0, len(s2c), cut):
        frames.append(sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40001, flags="PA", seq=501 + i,
                                                 ack=101 + len(c2s)) / s2c[i:i + cut])
    return frames


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 40, 1400])
def test_tcp_several_messages_split_anywhere(tmp_path, cut):
    names = ["a.example", "b.example", "c.example"]
    qs = [bytes(_query(n, qid=100 + i)) for i, n in enumerate(names)]
    rs = [bytes(_answer(n, qid=100 + i, ip="192.0.2.%d" % (i + 1))) for i, n in enumerate(names)]
    path = _write(tmp_path, _tcp_stream(qs, rs, cut))
    got = sorted(fp.dns(path, progress=False), key=lambda t: t.trans_id)
    assert [(t.proto, t.trans_id, t.query, t.answers, t.responses) for t in got] == [
        ("tcp", 100 + i, n, ("192.0.2.%d" % (i + 1),), 1) for i, n in enumerate(names)]
    assert all(t.anomalies == () for t in got)


def test_tcp_prefix_alone_then_messages_of_other_sizes(tmp_path):
    """A segment ending right after a length prefix, the message whole in the next, then a
    longer message split (found by csrc/fuzz/fuzz_dns.c: a buffer sized for the first)."""
    m1, m2 = bytes(_query("a.example", qid=1)), bytes(_query("a-much-longer-name.example", qid=2))
    stream = [len(m1).to_bytes(2, "big"), m1, len(m2).to_bytes(2, "big") + m2[:5], m2[5:]]
    ip = sa.IP(src=CLIENT, dst=SERVER)
    frames, seq = [sa.Ether(dst=BCAST) / ip / sa.TCP(sport=40002, dport=53, flags="S", seq=0)], 1
    for chunk in stream:
        frames.append(sa.Ether(dst=BCAST) / ip / sa.TCP(sport=40002, dport=53, flags="PA", seq=seq) / chunk)
        seq += len(chunk)
    got = sorted((t.trans_id, t.query) for t in fp.dns(_write(tmp_path, frames), progress=False))
    assert got == [(1, "a.example"), (2, "a-much-longer-name.example")]


def _framed(messages: list[bytes]) -> tuple[bytes, list[int]]:
    """Length-prefixed messages as one direction's bytes, and where each starts (plus the end)."""
    data, starts = b"", [0]
    for m in messages:
        data += len(m).to_bytes(2, "big") + m
        starts.append(len(data))
    return data, starts


def _resync_messages() -> tuple[list[bytes], list[bytes], list[str]]:
    names = ["m%d.example" % i for i in range(4)]
    qs = [bytes(_query(n, qid=200 + i)) for i, n in enumerate(names)]
    rs = [bytes(_answer(n, qid=200 + i, ip="192.0.2.%d" % (i + 1))) for i, n in enumerate(names)]
    return qs, rs, names


def _tshark_messages(path: str) -> dict[int, set]:
    """Per client port, the (id, name, is response) of every DNS message tshark decodes."""
    if shutil.which("tshark") is None:  # a failure under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip("tshark is not installed")
    cmd = ["tshark", "-n", "-r", path, "-Y", "dns", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
           "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "dns.id", "-e", "dns.qry.name", "-e", "dns.flags.response"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={"WIRESHARK_CONFIG_DIR": "/nonexistent", "PATH": "/usr/bin:/bin"}).stdout
    got: dict[int, set] = {}
    for line in out.splitlines():
        sport, dport, ids, names, resp = line.split("\t")
        port = int(dport) if int(sport) == 53 else int(sport)
        for i, n, r in zip(ids.split(";"), names.split(";"), resp.split(";")):
            got.setdefault(port, set()).add((int(i, 16), n, r in ("1", "True")))
    return got


def test_tcp_capture_starting_at_every_offset(tmp_path):
    """A TCP DNS connection whose capture starts at every byte of the client's stream (no
    SYN): the first segment carries the rest of the message cut and the next one whole, later
    segments one message each (RFC 7766 section 8). The framing is found again at the first
    whole message, the bytes before it are skipped and counted, and that message carries
    dns_tcp_resync. Every message tshark decodes in the same pcap is ours too; tshark loses
    the message riding behind a cut one, which the search finds."""
    qs, rs, names = _resync_messages()
    c2s, starts = _framed(qs)
    s2c, _ = _framed(rs)
    ip_c, ip_s = sa.IP(src=CLIENT, dst=SERVER), sa.IP(src=SERVER, dst=CLIENT)
    frames = []
    for k in range(len(c2s)):
        port = 30000 + k
        j = max(i for i in range(len(qs)) if starts[i] <= k)
        cuts = [k] + ([starts[j + 2]] if k != starts[j] and j + 2 < len(starts) else []) + \
            [s for s in starts if s > k and (k == starts[j] or s > starts[min(j + 2, len(qs))])]
        cuts = sorted(set(cuts + [len(c2s)]))
        for a, b in itertools.pairwise(cuts):
            frames.append(sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=port, dport=53, flags="PA", seq=1000 + a, ack=9000)
                          / c2s[a:b])
        frames.append(sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=port, flags="PA", seq=9000, ack=1000 + len(c2s))
                      / s2c)
    path = _write(tmp_path, frames)
    tx = fp.dns(path, progress=False)
    rows = list(tx)
    ref = _tshark_messages(path)
    skipped = resyncs = 0
    for k in range(len(c2s)):
        port = 30000 + k
        mine = [t for t in rows if t.orig_p == port]
        whole = [i for i in range(len(qs)) if starts[i] >= k]
        asked = sorted((t.trans_id, t.query) for t in mine if t.queries)
        assert asked == [(200 + i, names[i]) for i in whole], k
        assert sorted(t.trans_id for t in mine if t.responses) == [200, 201, 202, 203]  # all framed
        cut = k not in starts
        first = [t for t in mine if whole and t.queries and t.trans_id == 200 + whole[0]]
        assert [("dns_tcp_resync" in t.anomalies) for t in first] == ([cut] if whole else []), k
        assert all(a != "dns_tcp_resync" for t in mine if t not in first for a in t.anomalies)
        skipped += (starts[whole[0]] if whole else len(c2s)) - k  # inside the last: nothing found
        resyncs += cut and bool(whole)
        ours = {(t.trans_id, t.query, False) for t in mine if t.queries} | \
               {(t.trans_id, t.query, True) for t in mine if t.responses}
        assert ref.get(port, set()) <= ours, (k, ref.get(port, set()) - ours)
        if not cut:  # tshark reads the whole stream alike
            assert ref[port] == ours, k
    st = tx.stats["dns"]
    assert (st["tcp_skipped_bytes"], st["tcp_resyncs"], st["tcp_gaps"]) == (skipped, resyncs, 0)


@pytest.mark.parametrize("size", [5, 11, 17, 23])
def test_tcp_messages_straddling_segments_from_every_offset(tmp_path, size):
    """The client's stream (four 30-byte framed queries) captured from every byte, cut into
    segments of `size` bytes, so messages start inside segments and continue into the next:
    the search keeps the end of what it hunted through and finds the first message that
    starts at or after the cut, on trial when it runs past a segment (read once it parses to
    exactly its length), then frames every later one. Bytes before it are skipped and
    counted; it carries dns_tcp_resync when the capture began inside a message. Against
    tshark on the same pcap: every message tshark decodes is ours; where the capture begins
    inside a message tshark decodes none of that connection (it reads the cut bytes as a
    length and waits), and we decode every message that starts after the cut."""
    qs, _, names = _resync_messages()
    c2s, starts = _framed(qs)
    ip_c = sa.IP(src=CLIENT, dst=SERVER)
    frames = []
    for k in range(len(c2s)):
        for a in range(k, len(c2s), size):
            frames.append(sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=30000 + k, dport=53, flags="PA", seq=1000 + a,
                                                              ack=9000) / c2s[a:a + size])
    path = _write(tmp_path, frames)
    tx = fp.dns(path, progress=False)
    rows = list(tx)
    ref = _tshark_messages(path)
    skipped = resyncs = 0
    tshark_only, ours_only = set(), set()
    for k in range(len(c2s)):
        port = 30000 + k
        mine = [t for t in rows if t.orig_p == port]
        whole = [i for i in range(len(qs)) if starts[i] >= k]
        assert sorted((t.trans_id, t.query) for t in mine) == [(200 + i, names[i]) for i in whole], k
        cut = k not in starts
        assert [t.trans_id for t in mine if "dns_tcp_resync" in t.anomalies] == ([200 + whole[0]] if cut and whole
                                                                                  else []), k
        skipped += (starts[whole[0]] if whole else len(c2s)) - k
        resyncs += cut and bool(whole)
        ours = {(t.trans_id, t.query, False) for t in mine}
        tshark_only |= {(k,) + m for m in ref.get(port, set()) - ours}
        ours_only |= {(k,) + m for m in ours - ref.get(port, set())}
    assert tshark_only == set()
    assert ours_only == {(k, 200 + i, names[i], False) for k in range(len(c2s)) if k not in starts
                         for i in range(len(qs)) if starts[i] > k}
    st = tx.stats["dns"]
    assert (st["tcp_skipped_bytes"], st["tcp_resyncs"], st["tcp_gaps"]) == (skipped, resyncs, 0)


def test_tcp_random_bytes_mid_stream_frame_nothing(tmp_path):
    """Random bytes on port 53 seen without the SYN, 200 connections of 1,000 bytes in
    segments of 1 to 300 bytes: no message is framed (no row, no resync), and every byte is
    counted as skipped, including messages taken on trial that did not parse."""
    import random

    rng = random.Random(15)
    ip_c = sa.IP(src=CLIENT, dst=SERVER)
    frames, total = [], 0
    for c in range(200):
        data, a = rng.randbytes(1000), 0
        while a < len(data):
            n = rng.randint(1, 300)
            frames.append(sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=20000 + c, dport=53, flags="PA", seq=5 + a,
                                                              ack=1) / data[a:a + n])
            a += n
        total += len(data)
    tx = fp.dns(_write(tmp_path, frames), progress=False)
    assert list(tx) == []
    st = tx.stats["dns"]
    assert (st["tcp_resyncs"], st["tcp_messages"], st["tcp_skipped_bytes"]) == (0, 0, total)


@pytest.mark.parametrize("tail", [False, True])
def test_tcp_gap_then_resync(tmp_path, tail):
    """A connection seen from its SYN loses a segment (the server acknowledges bytes the capture
    lacks): the transactions open at the gap are flagged dns_tcp_gap, the framing is found
    again at the next whole message (tail: the segment after the gap starts inside a message),
    which carries dns_tcp_resync. tshark decodes the same messages, or (tail) only the one
    before the gap: it takes the cut message's bytes for a length and waits for them."""
    qs, _, names = _resync_messages()
    c2s, starts = _framed(qs)
    lost = (starts[1], starts[2] + (7 if tail else 0))  # message 1 (and 7 bytes of message 2) missing
    cuts = sorted({0, starts[1], lost[1], starts[3], len(c2s)})
    ip_c, ip_s = sa.IP(src=CLIENT, dst=SERVER), sa.IP(src=SERVER, dst=CLIENT)
    frames = [sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40009, dport=53, flags="S", seq=999),
              sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40009, flags="SA", seq=8999, ack=1000),
              sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40009, dport=53, flags="A", seq=1000, ack=9000)]
    for a, b in itertools.pairwise(cuts):
        if a != lost[0]:
            frames.append(sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40009, dport=53, flags="PA", seq=1000 + a, ack=9000)
                          / c2s[a:b])
    frames.append(sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40009, flags="A", seq=9000, ack=1000 + len(c2s)))
    path = _write(tmp_path, frames)
    tx = fp.dns(path, progress=False)
    rows = {t.trans_id: t for t in tx}
    found = 3 if tail else 2  # tail: message 2 is cut by the gap, found again at message 3
    assert sorted(rows) == [200] + list(range(200 + found, 204))
    assert "dns_tcp_gap" in rows[200].anomalies  # open (unanswered) when the gap came
    assert "dns_tcp_resync" in rows[200 + found].anomalies
    st = tx.stats["dns"]
    assert (st["tcp_gaps"], st["tcp_resyncs"], st["tcp_skipped_bytes"]) == (1, 1, starts[3] - lost[1] if tail else 0)
    ref = _tshark_messages(path)[40009]
    ours = {(200 + i, names[i], False) for i in [0] + list(range(found, 4))}
    assert ref <= ours and (tail or ref == ours)  # tail: tshark reads the cut message's bytes as a prefix


def test_unanswered_timeout_and_late_response(tmp_path):
    path = _write(tmp_path, [_udp(_query(qid=1), t=0.0),
                             _udp(_query("late.example", qid=2), sport=40000, t=1.0),
                             _udp(_answer("late.example", qid=2), src=SERVER, dst=CLIENT, sport=53, dport=40000,
                                  t=20.0)])
    got = {(t.trans_id, t.queries > 0, t.answered) for t in fp.dns(path, progress=False, timeout=5.0)}
    # the answer came after the timeout: the query closed unanswered, the response is its own row
    assert got == {(1, True, False), (2, True, False), (2, False, True)}
    got = {(t.trans_id, t.queries > 0, t.answered) for t in fp.dns(path, progress=False, timeout=30.0)}
    assert got == {(1, True, False), (2, True, True)}


def test_retransmission_and_duplicate_responses(tmp_path):
    r1 = _answer(qid=5)
    r2 = _answer(qid=5, ip="198.51.100.9")  # a second, different answer: spoofing's signature
    path = _write(tmp_path, [_udp(_query(qid=5)), _udp(_query(qid=5)),
                             _udp(r1, src=SERVER, dst=CLIENT, sport=53, dport=40000),
                             _udp(r2, src=SERVER, dst=CLIENT, sport=53, dport=40000)])
    tx = fp.dns(path, progress=False)
    (t,) = list(tx)
    assert (t.queries, t.responses, t.answers) == (2, 2, ("192.0.2.1",))
    assert t.anomalies == ("dns_responses_differ",)
    st = tx.stats["dns"]
    assert (st["retransmitted_queries"], st["duplicate_responses"], st["responses_differ"]) == (1, 1, 1)


def _loop_message() -> bytes:
    """A response whose answer's name points at itself (RFC 1035 4.1.4 pointers must go back)."""
    head = bytes(_query("loop.example", qid=9))
    head = head[:2] + b"\x81\x80" + head[4:6] + b"\x00\x01" + head[8:]
    at = len(head)
    return head + bytes([0xC0 | (at >> 8), at & 0xFF]) + b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"


def test_hostile_messages_are_rows_with_anomalies(tmp_path):
    lying = bytearray(bytes(_answer(qid=11)))
    lying[6:8] = b"\x00\x09"  # nine answers promised, one present
    frames = [_udp(_query("loop.example", qid=9)),
              _udp(sa.Raw(_loop_message()), src=SERVER, dst=CLIENT, sport=53, dport=40000),
              _udp(_query(qid=11)), _udp(sa.Raw(bytes(lying)), src=SERVER, dst=CLIENT, sport=53, dport=40000),
              _udp(sa.Raw(b"\x00\x01\x02"))]  # shorter than a header: no id, no row
    tx = fp.dns(_write(tmp_path, frames), progress=False)
    got = {t.trans_id: t for t in tx}
    assert "dns_bad_name" in got[9].anomalies and got[9].answered and got[9].answers == ()
    assert "dns_malformed" in got[11].anomalies and got[11].answers == ("192.0.2.1",)
    assert tx.stats["dns"]["short_messages"] == 1 and len(tx) == 2


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_cut_at_every_length(tmp_path, proto):
    """A response cut at every byte: never an exception, each cut a row (or counted)."""
    full = bytes(sa.DNS(id=3, qr=1, qd=sa.DNSQR(qname="cut.example"),
                        an=[sa.DNSRR(rrname="cut.example", rdata="192.0.2.%d" % i) for i in range(3)]))
    frames = []
    for n in range(len(full) + 1):
        msg = full[:n]
        if proto == "udp":
            frames.append(_udp(sa.Raw(msg), src=SERVER, dst=CLIENT, sport=53, dport=20000 + n))
        else:  # the prefix claims the whole message; the connection ends early
            ip = sa.IP(src=SERVER, dst=CLIENT)
            frames.append(sa.Ether(dst=BCAST) / ip / sa.TCP(sport=53, dport=20000 + n, flags="PA", seq=1)
                          / (len(full).to_bytes(2, "big") + msg))
    tx = fp.dns(_write(tmp_path, frames), progress=False)
    rows = list(tx)
    if proto == "udp":
        assert len(rows) == sum(1 for n in range(len(full) + 1) if n >= 12)
        assert tx.stats["dns"]["short_messages"] == 12
        assert [t.orig_p for t in rows if t.anomalies == ()] == [20000 + len(full)]
    else:  # only the whole message was ever complete
        assert [t.answers for t in rows] == [("192.0.2.0", "192.0.2.1", "192.0.2.2")]


def test_query_flood_bounded_and_evictions_counted(tmp_path):
    """65,536 unique ids from as many ports under a 1 MiB budget: the state stays bounded and
    what leaves early is counted, never lost silently."""
    frames = [_udp(_query("flood%d.example" % i, qid=i & 0xFFFF), sport=1024 + i % 60000) for i in range(20000)]
    tx = fp.dns(_write(tmp_path, frames), progress=False, max_memory=1 << 20)
    rows = list(tx)
    st = tx.stats
    assert len(rows) == 20000 == st["dns"]["transactions"]
    assert st["evicted"] > 0 and st["dns"]["evicted"] == sum("evicted" in t.anomalies for t in rows) > 0
    assert st["memory_peak_bytes"] <= (1 << 20) + (8 << 20)  # the budget plus the output queue (DESIGN)


def _flood(tmp_path: Path, n: int) -> str:
    """n transactions 1 ms apart, each from its own address and port, answered 0.5 ms later
    (LINKTYPE_RAW; the messages are Scapy's, the ids and names vary)."""
    q, a = bytes(_query("flood.example", qid=0)), bytes(_answer("flood.example", qid=0))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    server = bytes([10, 0, 0, 53])
    for i in range(n):
        client, port = bytes([10, 1 + (i >> 16), i >> 8 & 255, i & 255]), 1024 + i % 60000
        for k, (src, dst, sport, dport, msg) in enumerate(((client, server, port, 53, q), (server, client, 53, port, a))):
            msg = struct.pack("!H", i & 0xFFFF) + msg[2:]
            udp = struct.pack("!HHHH", sport, dport, 8 + len(msg), 0) + msg
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst) + udp
            us = i * 1000 + k * 500
            out.append(struct.pack("<IIII", 1_700_000_000 + us // 1_000_000, us % 1_000_000, len(ip), len(ip)) + ip)
    path = tmp_path / "flood.pcap"
    path.write_bytes(b"".join(out))
    return str(path)


def test_flood_state_follows_the_timeout_not_the_capture(tmp_path):
    """20,000 answered transactions over 20 s of packet time, each from its own port (a
    resolver under load): a transaction closes `timeout` after it opened whatever its
    connection does next, and a UDP connection left with nothing open gives its DNS state
    back. By the engine's own accounting (stats['dns']['state_peak_bytes']: state held open,
    closed rows waiting for output aside), DNS state then peaks at about one timeout's worth
    of transactions (1 s: ~1,000) instead of the whole capture's, and the flows carry no
    hint copies (fp.dns hands no flow out). The rows are those of a run where nothing closes
    before the end, and a parallel run gives them in the same order."""
    path = _flood(tmp_path, 20000)
    held = fp.dns(path, timeout=100.0, progress=False)  # every transaction open until the end
    kept = sorted(tuple(t) for t in held)
    tx = fp.dns(path, timeout=1.0, progress=False)
    recs = list(tx)
    rows = [tuple(t) for t in recs]
    assert len(rows) == 20000 and sorted(rows) == kept
    assert all(t.answered and t.responses == 1 and t.anomalies == () for t in recs)
    st, all_open = tx.stats, held.stats["dns"]["state_peak_bytes"]
    assert 0 < st["dns"]["state_peak_bytes"] * 10 < all_open, (st["dns"]["state_peak_bytes"], all_open)
    assert (st["dns"]["evicted"], st["evicted"], st["memory"]["dns"]) == (0, 0, 0)
    assert st["memory_peak"]["flows"] < 20000 * 1024  # a flow record, no hint block (~1 KiB each)
    assert [tuple(t) for t in fp.dns(path, timeout=1.0, progress=False, workers=2)] == rows



def test_clock_running_back_closes_the_same_rows_in_every_worker(tmp_path):
    """A capture whose timestamps step back (merged interfaces): a query stamped before the
    clock sits in the tick's opening-order list behind newer ones. Each worker of a parallel
    run holds only its shards' transactions, so a tick testing each one's own timestamp
    closed it at a different packet in each layout (rows out of the one-worker order). 30
    one-off queries 0.1 s apart from distinct clients, one in three stamped 0.5 s early, half
    answered 20 ms later (Scapy's bytes), timeout 0.3 s; the capture spans less than the
    5 s close grace, so no flow expiry decision is at risk and the workers really run."""
    q, a = bytes(_query("back.example", qid=0)), bytes(_answer("back.example", qid=0))
    server = bytes([10, 0, 0, 53])
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i in range(30):
        client, port = bytes([10, 2, 0, i]), 2000 + i
        t = i * 0.1 - (0.5 if i % 3 == 0 else 0.0)
        msgs = [(client, server, port, 53, q, t)] + ([(server, client, 53, port, a, t + 0.02)] if i % 2 else [])
        for src, dst, sport, dport, msg, ts in msgs:
            msg = struct.pack("!H", i) + msg[2:]
            udp = struct.pack("!HHHH", sport, dport, 8 + len(msg), 0) + msg
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst) + udp
            us = 1_700_000_010_000_000 + round(ts * 1e6)
            out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(ip), len(ip)) + ip)
    path = str(tmp_path / "back.pcap")
    Path(path).write_bytes(b"".join(out))
    rows = [tuple(t) for t in fp.dns(path, timeout=0.3, progress=False)]
    assert len(rows) == 30 and sum(1 for r in rows if r[0] is not None) == 30
    for workers in (2, 3, 4):
        tx = fp.dns(path, timeout=0.3, progress=False, workers=workers)
        assert [tuple(t) for t in tx] == rows, workers
        assert tx.stats["workers"] == workers and tx.stats["reversal_risks"] == 0


def test_message_cut_by_the_capture_end_counts_its_bytes(tmp_path):
    """A connection whose capture ends inside a message (the last 5 bytes of the second
    query never came): the bytes of that message are in no framed message, so they are
    counted as skipped (2 + its length - 5, from Scapy's bytes), as a trial message's or the
    kept tail's are at the connection's end, and the first query is a row."""
    q1, q2 = bytes(_query("one.example", qid=301)), bytes(_query("two.example", qid=302))
    c2s, starts = _framed([q1, q2])
    sent = c2s[:-5]
    ip_c, ip_s = sa.IP(src=CLIENT, dst=SERVER), sa.IP(src=SERVER, dst=CLIENT)
    frames = [sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40031, dport=53, flags="S", seq=999),
              sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40031, flags="SA", seq=8999, ack=1000),
              sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40031, dport=53, flags="A", seq=1000, ack=9000),
              sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40031, dport=53, flags="PA", seq=1000, ack=9000) / sent]
    tx = fp.dns(_write(tmp_path, frames), progress=False)
    assert [t.trans_id for t in tx] == [301]
    st = tx.stats["dns"]
    assert (st["tcp_messages"], st["tcp_skipped_bytes"]) == (1, len(sent) - starts[1])


def test_flood_under_a_small_budget_counts_what_it_cuts(tmp_path):
    """The same flood under max_memory=2 MiB: the flow table evicts its oldest connections to
    stay within it, each eviction counted (stats['evicted']); a transaction still open in an
    evicted connection is a row flagged 'evicted' (stats['dns']['evicted']); none is lost."""
    path = _flood(tmp_path, 20000)
    tx = fp.dns(path, timeout=5.0, progress=False, max_memory=2 << 20)
    rows = list(tx)
    st = tx.stats
    assert len(rows) == 20000 == st["dns"]["transactions"]
    assert st["evicted"] > 0
    assert st["dns"]["evicted"] == sum("evicted" in t.anomalies for t in rows)
    assert st["memory_peak_bytes"] <= (2 << 20) + (8 << 20)  # the budget plus the output queue (DESIGN)


def test_per_connection_cap(tmp_path):
    frames = [_udp(_query("cap%d.example" % i, qid=i)) for i in range(1100)]
    tx = fp.dns(_write(tmp_path, frames), progress=False)
    rows = list(tx)
    assert len(rows) == 1100 and tx.stats["dns"]["closed_at_cap"] == 1100 - 1024
    assert sum("dns_closed_at_cap" in t.anomalies for t in rows) == 76


def _record_cells(t) -> list:
    """A record's fields as a DataFrame row compares with them (None as missing)."""
    return [None if v is None else v for v in t]


def _frame_cells(row, columns) -> list:
    import pandas as pd

    out = []
    for name in columns:
        v = row[name]
        if name == "ts":
            v = v.value / 1e9
        elif name == "rtt":
            v = None if pd.isna(v) else v.value / 1e9
        elif not isinstance(v, tuple) and pd.isna(v):
            v = None
        out.append(v.item() if hasattr(v, "item") else v)
    return out


@pytest.mark.parametrize("which", ["corpus", "built"])
def test_columns_built_in_c_equal_the_records(tmp_path, which):
    """to_pandas() and the Arrow stream are built in C from the transactions (no record
    objects); each row equals the record iteration gives (which the Zeek and tshark tests check),
    for every batch size and with parallel engines: masked, categorical and list cells,
    response-only rows, hostile messages."""
    pa = pytest.importorskip("pyarrow")
    if which == "corpus":
        d = corpus_dir()
        if d is None:
            pytest.skip(CORPUS_SKIP_REASON)
        paths = [str(d / n) for n in DNS_CAPTURES]
    else:
        lying = bytearray(bytes(_answer(qid=11)))
        lying[6:8] = b"\x00\x09"
        txt = sa.DNS(id=12, qr=1, qd=sa.DNSQR(qname="t.example", qtype="TXT"),
                     an=sa.DNSRR(rrname="t.example", type="TXT", rdata=[b"\x01" * 255] * 200))  # escaped: over 64 KiB as text
        frames = [_udp(_query("loop.example", qid=9)),
                  _udp(sa.Raw(_loop_message()), src=SERVER, dst=CLIENT, sport=53, dport=40000),
                  _udp(_query(qid=11)), _udp(sa.Raw(bytes(lying)), src=SERVER, dst=CLIENT, sport=53, dport=40000),
                  _udp(_answer("only.example", qid=3), src=SERVER, dst=CLIENT, sport=53, dport=40001),
                  _udp(_query("unanswered.example", qid=4), sport=40002)]
        qs, rs, _ = _resync_messages()
        c2s, _ = _framed(qs)
        s2c, _ = _framed(rs + [bytes(txt)])
        ip_c, ip_s = sa.IP(src=CLIENT, dst=SERVER), sa.IP(src=SERVER, dst=CLIENT)
        frames += [sa.Ether(dst=BCAST) / ip_c / sa.TCP(sport=40003, dport=53, flags="PA", seq=5, ack=9) / c2s[5:]]
        frames += [sa.Ether(dst=BCAST) / ip_s / sa.TCP(sport=53, dport=40003, flags="PA", seq=9 + i, ack=5 + len(c2s))
                   / s2c[i:i + 1400] for i in range(0, len(s2c), 1400)]
        paths = [_write(tmp_path, frames)]
    for path in paths:
        want = [_record_cells(t) for t in fp.dns(path, progress=False)]
        df = fp.dns(path, progress=False).to_pandas()
        assert list(df.columns) == list(fp._fastpkt.DNS_FIELDS)
        got = [_frame_cells(r, df.columns) for _, r in df.iterrows()]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            for name, a, b in zip(df.columns, g, w):
                if name in ("ts", "rtt") and a is not None:
                    assert b is not None and abs(a - b) <= 1e-6, (path, name)
                else:
                    assert a == b, (path, name, a, b)
        for batch_size, workers in ((1, 1), (3, 1), (None, 2)):
            tx = fp.dns(path, progress=False, workers=workers)
            table = pa.Table.from_batches(list(tx.record_batches(batch_size)))
            assert table.column_names == list(df.columns)
            assert table.column("answers").to_pylist() == [list(v) for v in df["answers"]], (path, batch_size)
            assert table.column("TTLs").to_pylist() == [list(v) for v in df["TTLs"]]
            assert table.column("anomalies").to_pylist() == [list(v) for v in df["anomalies"]]
            assert table.column("query").to_pylist() == [None if pd_na(v) else v for v in df["query"]]
            assert table.column("rtt").to_pylist() == [None if pd_na(v) else v for v in df["rtt"]]
    if which == "built":
        assert any(len(a) > 65535 for row in df["answers"] for a in row)  # the long TXT, whole


def pd_na(v) -> bool:
    import pandas as pd

    return v is None or bool(pd.isna(v))


def test_cli_dns(tmp_path):
    path = _write(tmp_path, [_udp(_query(qid=7)), _udp(_answer(qid=7), src=SERVER, dst=CLIENT, sport=53,
                                                       dport=40000)])
    run = [sys.executable, "-m", "fastpkt", "dns", path]
    out = subprocess.run(run, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert "example.com" in out and "NOERROR" in out and "192.0.2.1" in out
    js = subprocess.run(run + ["--json", "-"], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    import json

    (row,) = [json.loads(line) for line in js.splitlines()]
    assert row["query"] == "example.com" and row["answers"] == ["192.0.2.1"] and row["trans_id"] == 7
    csv_out = tmp_path / "dns.csv"
    subprocess.run(run + ["--csv", str(csv_out)], capture_output=True, check=True, cwd=ROOT)
    assert "192.0.2.1" in csv_out.read_text()


def test_len_needs_the_end_and_repr_is_one_line(tmp_path):
    tx = fp.dns(_write(tmp_path, [_udp(_query(qid=7))]), progress=False)
    with pytest.raises(TypeError, match="known once"):
        len(tx)
    (t,) = list(tx)
    assert len(tx) == 1 and "\n" not in repr(t) and "unanswered" in repr(t)
    assert "DnsTransactions" in repr(tx) and "<table>" in t._repr_html_()
