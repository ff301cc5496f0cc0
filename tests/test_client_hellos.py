"""fp.client_hellos and the flows' TLS columns against independent references:

- the JA4 reference implementation's own expected JA4 / JA4_r / SNI per connection, for its
  test captures (corpus/fingerprints/*.expected.tsv; TCP and QUIC);
- tshark's SNI, JA3 hash and JA3 full string per ClientHello (*.tshark.tsv);
- Zeek's ssl.log and quic.log (server_name, selected version) on its baselines;
- hand-built hellos: split over records, over many segments, out of order, after a
  plaintext STARTTLS prologue, and broken ones (anomalies, no crash).
"""
from __future__ import annotations

import collections
import csv
import struct
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import CORPUS_SKIP_REASON, corpus_dir, zeek_rows
from test_stream_reassembly import ACK, FIN, PSH, Conn, pcap

FINGERPRINTS = "fingerprints"


def _fp_files(suffix: str):
    d = corpus_dir()
    if d is None:
        return [pytest.param(None, marks=pytest.mark.skip(CORPUS_SKIP_REASON), id="no-corpus")]
    return [pytest.param(p, id=p.name[: -len(suffix)]) for p in sorted((d / FINGERPRINTS).glob("*" + suffix))]


def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _by_tuple(capture: Path) -> dict:
    ours = collections.defaultdict(list)
    for h in fp.client_hellos(str(capture)):
        t = "tcp" if h.transport == "tcp" else "udp"
        ours[(t, h.client_ip, h.client_port, h.server_ip, h.server_port)].append(h)
    return ours


# Rows where the published value predates the current JA4 specification, and why.
JA4_SPEC_NEWER = {
    "t13d151699_8daaf6152771_e5627efa2ab1":
        ("t13d1516bd_8daaf6152771_e5627efa2ab1",
         "ALPN 0xBA 0xAD: the snapshot replaced non-ASCII with '9'; JA4.md now takes the first "
         "and last hex characters when an end of the ALPN value is not alphanumeric"),
}


@pytest.mark.parametrize("expected", _fp_files(".expected.tsv"))
def test_ja4_reference_values(expected):
    """Every JA4 the reference implementation reports, on the same connection."""
    capture = Path(str(expected)[: -len(".expected.tsv")])
    ours = _by_tuple(capture)
    compared, problems = 0, []
    for r in _read_tsv(expected):
        if not r["ja4"]:
            continue  # a server-only row
        key = (r["transport"], r["src"], int(r["src_port"]), r["dst"], int(r["dst_port"]))
        hs = ours.get(key, [])
        compared += 1
        want = JA4_SPEC_NEWER.get(r["ja4"], (r["ja4"],))[0]
        match = [h for h in hs if h.ja4 == want]
        if not match:
            problems.append("%s: JA4 %s, fastpkt %s" % (key, r["ja4"], [h.ja4 for h in hs]))
            continue
        h = match[0]
        if (h.sni or "") != r["sni"]:
            problems.append("%s: SNI %r, fastpkt %r" % (key, r["sni"], h.sni))
        if r["ja4_r"] and h.ja4_r != r["ja4_r"].replace(r["ja4"][:10], want[:10], 1):
            problems.append("%s: JA4_r\n  %s\n  %s" % (key, r["ja4_r"], h.ja4_r))
        if (r["quic"] == "true") != (h.transport == "quic"):
            problems.append("%s: quic %s, fastpkt transport %s" % (key, r["quic"], h.transport))
    assert compared
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tsv", _fp_files(".tshark.tsv"))
def test_tshark_sni_and_ja3(tsv):
    """tshark's (SNI, JA3 hash, JA3 string) of each connection's first ClientHello equal ours
    as multisets. tshark reports a hello per frame: a retransmitted copy, and the second
    ClientHello that follows a HelloRetryRequest, come again; fastpkt reports the first
    hello of a connection (as the JA4 reference does). Rows without a JA3 string are
    hellos tshark only saw the start of; left out."""
    capture = Path(str(tsv)[: -len(".tshark.tsv")])
    first = {}
    for r in sorted(_read_tsv(tsv), key=lambda r: int(r["frame.number"])):
        if not r["tls.handshake.ja3_full"]:
            continue
        sni = r["tls.handshake.extensions_server_name"].split(",")[0]
        first.setdefault((r["tcp.stream"], r["udp.stream"]),
                         (sni, r["tls.handshake.ja3"], r["tls.handshake.ja3_full"]))
    theirs = collections.Counter(first.values())
    ours = collections.Counter((h.sni or "", h.ja3_hash, h.ja3) for h in fp.client_hellos(str(capture)))
    missing = theirs - ours
    assert not missing, "tshark has, fastpkt lacks: %s\nfastpkt extra: %s" % (missing, ours - theirs)


ZEEK_VERSIONS = {0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12", 0x0304: "TLSv13"}


def _zeek_logs(kind: str):
    d = corpus_dir()
    if d is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(CORPUS_SKIP_REASON), id="no-corpus-" + kind)]
    out = []
    for log in sorted((d / "zeek-baselines").glob("*.%s.log" % kind)):
        trace = d / "zeek-baselines" / log.name[: -len(".%s.log" % kind)]
        if trace.exists():
            out.append(pytest.param(log, trace, id=log.name))
    return out


@pytest.mark.parametrize("log,trace", _zeek_logs("ssl") + _zeek_logs("quic"))
def test_zeek_server_name_and_version(log, trace):
    ours = {}
    for h in fp.client_hellos(str(trace)):
        ours.setdefault((h.client_ip, h.client_port, h.server_ip, h.server_port), []).append(h)
    compared = 0
    for z in zeek_rows(log):
        key = (z["id.orig_h"], int(z["id.orig_p"]), z["id.resp_h"], int(z["id.resp_p"]))
        hs = ours.get(key)
        assert hs, "no hello for %s (Zeek server_name %s)" % (key, z.get("server_name"))
        if z.get("server_name", "-") != "-":
            assert z["server_name"] in {h.sni for h in hs}, (key, z["server_name"], [h.sni for h in hs])
        if z.get("version", "-") in ZEEK_VERSIONS.values() and "ssl" in log.name:
            got = {ZEEK_VERSIONS.get(h.server_version) for h in hs}
            assert z["version"] in got, (key, z["version"], got)
        compared += 1
    assert compared


# ---- hand-built hellos ------------------------------------------------------------


def client_hello(sni: str = "example.com", alpn=("h2", "http/1.1"), pad: int = 0) -> bytes:
    """A TLS 1.3-style ClientHello handshake message (header + body), built by hand."""
    def ext(t, body):
        return struct.pack("!HH", t, len(body)) + body
    name = sni.encode()
    exts = ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
    protos = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
    exts += ext(16, struct.pack("!H", len(protos)) + protos)
    exts += ext(43, b"\x04\x03\x04\x03\x03")                    # supported_versions 1.3, 1.2
    exts += ext(10, b"\x00\x04\x00\x1d\x00\x17")                # groups x25519, secp256r1
    exts += ext(11, b"\x01\x00")                                # ec_point_formats uncompressed
    exts += ext(13, b"\x00\x04\x04\x03\x08\x04")                # sigalgs
    if pad:
        exts += ext(21, bytes(pad))
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    return b"\x01" + len(body).to_bytes(3, "big") + body


def records(msg: bytes, sizes=None) -> bytes:
    """The handshake message in TLS records (split at `sizes` when given)."""
    out, pos = b"", 0
    for n in (sizes or [len(msg)]) + [len(msg)]:
        part = msg[pos:pos + n]
        if part:
            out += b"\x16\x03\x01" + struct.pack("!H", len(part)) + part
        pos += len(part)
    return out


JA3_HAND = "771,4865-49199,0-16-43-10-11-13,29-23,0"  # from the fields above, by the JA3 README


def _one(c: Conn, **kw):
    hs = list(fp.client_hellos(pcap(c.frames), **kw))
    assert len(hs) == 1, hs
    return hs[0]


def test_hello_in_one_segment_fields_and_ja3():
    c = Conn().handshake()
    c.c(0, records(client_hello()))
    h = _one(c)
    assert h.sni == "example.com" and h.alpn == ("h2", "http/1.1") and h.transport == "tcp"
    assert h.ciphers == (0x1301, 0xC02F) and h.versions == (0x0304, 0x0303) and h.version == 0x0304
    assert h.extensions == (0, 16, 43, 10, 11, 13) and h.groups == (0x1D, 0x17)
    assert h.ja3 == JA3_HAND
    import hashlib
    assert h.ja3_hash == hashlib.md5(JA3_HAND.encode()).hexdigest()
    assert h.ja4.startswith("t13d0206h2_") and h.server_version is None


def test_hello_split_over_records_and_segments_out_of_order():
    data = records(client_hello(pad=4000), sizes=[700, 1500])   # three records
    segs = [(o, data[o:o + 1000]) for o in range(0, len(data), 1000)]
    c = Conn().handshake()
    for off, chunk in [segs[2], segs[0], segs[3], segs[1], segs[0]] + segs[4:]:
        c.c(off, chunk)
    h = _one(c)
    assert h.sni == "example.com" and h.ja3 == "771,4865-49199,0-16-43-10-11-13-21,29-23,0"
    assert h.hello_size == len(client_hello(pad=4000)) - 4


def test_server_hello_pairs_with_the_client_hello():
    sh_body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00"
               + struct.pack("!H", 6) + struct.pack("!HHH", 43, 2, 0x0304))
    sh = b"\x02" + len(sh_body).to_bytes(3, "big") + sh_body
    c = Conn().handshake()
    ch = records(client_hello())
    c.c(0, ch)
    c.s(0, records(sh), ack_off=len(ch))
    h = _one(c)
    assert h.server_version == 0x0304 and h.server_cipher == 0x1301
    assert h.ja3s == "771,4865,43" and h.server_time is not None


def test_starttls_prologue():
    c = Conn().handshake()
    c.c(0, b"STARTTLS\r\n")
    c.s(0, b"OK\r\n", ack_off=10)
    c.c(10, records(client_hello(sni="mail.example.net")))
    assert _one(c).sni == "mail.example.net"


def test_plaintext_connection_makes_no_hello():
    c = Conn().handshake()
    c.c(0, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    c.c(27, b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00" * 3, flags=ACK | PSH)  # too short for a hello
    assert list(fp.client_hellos(pcap(c.frames))) == []


def test_hello_cut_by_a_hole_is_not_invented():
    """What came before the hole is reported, flagged as cut; nothing after it is guessed."""
    data = records(client_hello(pad=3000))
    c = Conn().handshake()
    c.c(0, data[:1000])
    c.c(2000, data[2000:])          # bytes 1000..1999 never captured
    c.c(len(data), flags=FIN | ACK)
    st = fp.client_hellos(pcap(c.frames))
    (h,) = list(st)
    assert h.sni == "example.com" and h.ja3 == JA3_HAND   # the padding, cut by the hole, is not framed
    assert "tls_hello_truncated" in h.anomalies
    assert st.stats["tls"]["tcp_searches"] == 1 and st.stats["tls"]["hello_partial"] == 1


def test_hello_cut_before_its_cipher_suites_is_counted_not_reported():
    data = records(client_hello())
    c = Conn().handshake()
    c.c(0, data[:40])
    c.c(40, flags=FIN | ACK)
    st = fp.client_hellos(pcap(c.frames))
    assert list(st) == [] and st.stats["tls"]["hello_partial"] == 1


def test_malformed_hello_is_reported_with_anomalies():
    msg = bytearray(client_hello())
    msg[4 + 2 + 32 + 1 + 1] = 0xFF                 # cipher suites length lies (0x00ff)
    c = Conn().handshake()
    c.c(0, records(bytes(msg)))
    h = _one(c)
    assert h.anomalies and all(a.startswith("tls_") for a in h.anomalies)


def test_flows_columns_come_from_the_reassembled_hello():
    data = records(client_hello(sni="split.example", pad=2500))
    c = Conn().handshake()
    c.c(1400, data[1400:])
    c.c(0, data[:1400])
    (h,) = list(fp.client_hellos(pcap(c.frames)))
    df = fp.flows(pcap(c.frames)).to_pandas()
    row = df.iloc[0]
    assert (row.sni, row.alpn, row.ja3, row.ja4) == ("split.example", "h2", h.ja3_hash, h.ja4)
    plain = fp.flows(pcap(c.frames), tls=False).to_pandas()
    assert plain["ja4"].isna().all()


def test_to_pandas_dtypes():
    c = Conn().handshake()
    c.c(0, records(client_hello()))
    df = fp.client_hellos(pcap(c.frames)).to_pandas()
    assert len(df) == 1 and str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert str(df["server_port"].dtype) == "uint16" and str(df["sni"].dtype) == "category"
    assert df["ciphers"][0] == (0x1301, 0xC02F)


def test_packet_tls_hello_single_segment():
    """pkt.tls.hello: the whole ClientHello of one segment, the same record the engine makes."""
    c = Conn().handshake()
    c.c(0, records(client_hello(sni="one.example")))
    data = records(client_hello(sni="two.example", pad=3000))
    c.c(len(records(client_hello(sni="one.example"))), b"")   # pure ACK
    pkts = list(fp.open(pcap(c.frames)))
    h = pkts[3].tls.hello
    assert h.sni == "one.example" and h.ja3 == JA3_HAND and h.client_port == 40000
    assert h == next(iter(fp.client_hellos(pcap(c.frames))))
    c2 = Conn().handshake()
    c2.c(0, data[:1400])
    c2.c(1400, data[1400:])
    first = list(fp.open(pcap(c2.frames)))[3]
    assert first.tls.is_client_hello and first.tls.hello is None   # continues in the next segment
