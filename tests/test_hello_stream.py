"""ClientHellos of any size, parsed as they stream (csrc/dissect/tls.c fp_tls_ch_stream,
driven by csrc/stream/hello_tracker.c), against independent references:

- hellos built here field by field, with JA3 written out from the JA3 README and JA4 from
  the FoxIO JA4 spec (tests/test_hellos_netns.ja4), hashed by hashlib;
- tshark 4.0 with TCP reassembly on the same captures (SNI, JA3 string and hash);
- QUIC Initials protected by aioquic's own RFC 9001 implementation (CryptoPair), CRYPTO
  frames sent out of order, read back by tshark too;
- the whole-message parser (fp_tls_client_hello_parse, tested against the corpus in
  test_tls_hello.py) for hellos that fit its buffer: the streamed result must agree.
Sizes: 16 KB, 64 KB, 66 KB and 125 KB hellos (padding, many extensions, big key shares, long
cipher lists), over many records and segments, in order and not; a 1 MB hello, and headers
claiming up to 16 MB.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import struct
import subprocess

import pytest

import fastpkt as fp
from _fptest import tls_hello
from test_hellos_netns import is_grease, ja4
from test_stream_reassembly import ACK, FIN, Conn, pcap

TSHARK_ENV = dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent")
DEFAULT_CAP = 16384


def u16s(values) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def ext(t: int, body: bytes) -> bytes:
    return struct.pack("!HH", t, len(body)) + body


def records_of(message: bytes, size=16384) -> bytes:
    """A handshake message in TLS records of `size` bytes."""
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(message[i:i + size])) + message[i:i + size]
                    for i in range(0, len(message), size))


class BigHello:
    """A TLS 1.3 ClientHello built field by field; knows its JA3/JA4 by the specifications."""

    def __init__(self, sni="big.example", n_ciphers=16, pad=0, n_unknown=0, key_share=32,
                 psk=0, alpn=("h2", "http/1.1"), seed=0, tail=b"", claim=None, grease_share=0):
        rng = random.Random(seed)
        self.sni, self.alpn = sni, tuple(alpn)
        base = [0x2A2A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]
        extra = [v for v in range(0x0100, 0xFF00) if not is_grease(v) and v not in base]
        self.ciphers = tuple(base + extra[: max(0, n_ciphers - len(base))])[:max(n_ciphers, 1)]
        self.groups = (0x4A4A, 0x001D, 0x0017, 0x0018)
        self.sigalgs = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
        self.versions = (0x5A5A, 0x0304, 0x0303)
        name = sni.encode()
        protos = b"".join(bytes([len(p)]) + p.encode() for p in alpn)
        shares = struct.pack("!HH", 0x001D, key_share) + rng.randbytes(key_share)
        if grease_share:  # a GREASE group's share: servers skip it (a real X25519 key follows)
            shares = struct.pack("!HH", 0x4A4A, grease_share) + bytes(grease_share) + shares
        exts = [
            (0x0A0A, b""),
            (0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),
            (23, b""),
            (65281, b"\x00"),
            (10, struct.pack("!H", 2 * len(self.groups)) + u16s(self.groups)),
            (11, b"\x01\x00"),
            (35, rng.randbytes(200)),                                  # a session ticket
            (16, struct.pack("!H", len(protos)) + protos),
            (13, struct.pack("!H", 2 * len(self.sigalgs)) + u16s(self.sigalgs)),
            (43, bytes([2 * len(self.versions)]) + u16s(self.versions)),
            (45, b"\x01\x01"),
            (51, struct.pack("!H", len(shares)) + shares),
        ]
        exts += [(0xFE00 - i, rng.randbytes(i % 7)) for i in range(n_unknown)]  # private-use ids
        if pad:
            exts.append((21, bytes(pad)))
        if psk:
            identity = rng.randbytes(psk)
            exts.append((41, struct.pack("!H", len(identity) + 6) + struct.pack("!H", len(identity))
                         + identity + b"\x00\x00\x00\x00" + struct.pack("!H", 33) + b"\x20" + bytes(32)))
        self.extensions = tuple(t for t, _ in exts)
        ext_bytes = b"".join(ext(t, b) for t, b in exts)
        assert len(ext_bytes) < 65536 and 2 * len(self.ciphers) < 65536
        body = (b"\x03\x03" + rng.randbytes(32) + b"\x20" + rng.randbytes(32)
                + struct.pack("!H", 2 * len(self.ciphers)) + u16s(self.ciphers)
                + b"\x01\x00" + struct.pack("!H", len(ext_bytes)) + ext_bytes + tail)
        self.body = body
        self.claim = len(body) if claim is None else claim
        self.message = b"\x01" + self.claim.to_bytes(3, "big") + body

    def records(self, size=16384) -> bytes:
        return records_of(self.message, size)

    @property
    def ja3(self) -> str:
        def j(values):
            return "-".join(str(v) for v in values if not is_grease(v))
        return ",".join(["771", j(self.ciphers), j(self.extensions), j(self.groups), "0"])

    def ja4(self, transport="t") -> str:
        return ja4(transport, self.versions, 0x0303, True, self.ciphers, self.extensions,
                   self.alpn, self.sigalgs)[0]


# real large hellos: 16 KB, 64 KB, 66 KB, 125 KB (a ClientHello's fields end at 131,396 bytes)
SIZES = {
    "16k": dict(pad=16100),
    "64k": dict(pad=38000, n_unknown=2000, key_share=8000, psk=4000),
    "66k": dict(n_ciphers=900, pad=43000, n_unknown=1000, key_share=12000, psk=2000),
    "125k": dict(n_ciphers=30000, pad=54500, n_unknown=500, key_share=7000),
}


def hello_for(size: str, **kw) -> BigHello:
    return BigHello(sni="%s.stream.example" % size, seed=len(size), **{**SIZES[size], **kw})


def test_sizes_are_what_they_say():
    got = {k: len(hello_for(k).body) for k in SIZES}
    assert 16000 < got["16k"] < 17000 and 64000 < got["64k"] < 65536
    assert 66000 < got["66k"] < 67000 and 125000 < got["125k"] < 128000


def segments(data: bytes, mss=1448):
    return [(i, data[i:i + mss]) for i in range(0, len(data), mss)]


def conn_with(data: bytes, order="in", mss=1448, seed=0, fin=True) -> Conn:
    c = Conn().handshake()
    segs = segments(data, mss)
    if order == "shuffled":          # out of order in windows of 16 segments, some repeated
        rng = random.Random(seed)
        out = []
        for i in range(0, len(segs), 16):
            w = segs[i:i + 16]
            rng.shuffle(w)
            out += w + w[:2]
        segs = out
    for off, chunk in segs:
        c.c(off, chunk)
    if fin:
        c.c(len(data), flags=FIN | ACK)
    return c


def hellos_of(c: Conn, **kw):
    st = fp.client_hellos(pcap(c.frames), **kw)
    return list(st), st.stats["tls"]


@pytest.mark.parametrize("order", ["in", "shuffled"])
@pytest.mark.parametrize("size", list(SIZES))
def test_hello_of_any_size_in_any_order(size, order):
    h = hello_for(size)
    data = h.records(size=random.Random(7).choice([16384, 4000, 1000]))
    (r,), st = hellos_of(conn_with(data, order, seed=len(size)), max_hello_fields=1 << 20)
    assert r.sni == h.sni and r.alpn == h.alpn
    assert r.ja3 == h.ja3 and r.ja3_hash == hashlib.md5(h.ja3.encode()).hexdigest()
    assert r.ja4 == h.ja4()
    assert r.hello_size == len(h.body) and set(r.anomalies) <= {"tls_hello_capped"}  # > 128 listed
    assert r.key_share_groups == (0x001D,) and r.extensions == h.extensions[:128]
    assert st["hello_over_cap"] == 0 and st["client_hellos"] == 1


def test_default_cap_keeps_the_sni_and_flags_the_rest():
    """30,000 cipher suites (60 KB) are past the default cap: the hello is still found, its
    extensions decoded, and the record says the suites were cut."""
    h = hello_for("125k")
    (r,), st = hellos_of(conn_with(h.records()))
    assert r.sni == h.sni and r.alpn == h.alpn and r.versions == h.versions
    assert "tls_hello_over_cap" in r.anomalies and st["hello_over_cap"] == 1
    kept = DEFAULT_CAP // 4                       # suites get half the cap, 2 bytes each
    assert r.ciphers[:len(r.ciphers)] == h.ciphers[:len(r.ciphers)] and len(r.ciphers) <= kept
    assert r.ja3.split(",")[2] == "-".join(str(t) for t in h.extensions if not is_grease(t))


def test_many_extensions_past_the_cap_keep_decoded_ones_first():
    h = BigHello(sni="after.unknown.example", n_unknown=9000, seed=3)   # 9,000 entries before padding
    (r,), st = hellos_of(conn_with(h.records()), max_hello_fields=4096)
    assert r.sni == h.sni and "tls_hello_over_cap" in r.anomalies
    assert r.key_share_groups == (0x001D,)


@pytest.mark.parametrize("cap", [1024, 2048, 3000, 16384, 1 << 20])
def test_cap_never_exceeded_and_results_agree_with_the_whole_parse(cap):
    """Below 64 KiB the whole-message parser reads the same hello: where nothing was cut the
    streamed fields are identical."""
    for seed in range(6):
        h = BigHello(sni="cap%d.example" % seed, n_ciphers=50 * seed + 1, pad=97 * seed,
                     n_unknown=40 * seed, key_share=500 * seed + 1, seed=seed)
        whole = tls_hello(h.records())
        streamed = tls_hello(h.records(size=333), hello_fields=cap)
        assert streamed["compact"] and streamed["hello_size"] == len(h.body)
        if "tls_hello_over_cap" in streamed["anomalies"]:
            assert streamed["sni"] == h.sni or cap < 2048
            continue
        for key in ("ja3", "ja4", "ja4_r", "sni", "alpn", "supported_versions", "supported_groups",
                    "signature_algorithms", "key_share_groups", "ciphers", "extension_count",
                    "anomalies", "error", "random", "session_id"):
            assert streamed[key] == whole[key], (key, seed, cap)


def test_streamed_and_whole_parse_agree_on_mutated_hellos():
    """Random byte mutations of a hello: the streaming parser frames every field exactly as
    the whole-message parser does (same fingerprints and anomalies)."""
    h = BigHello(sni="mutant.example", n_ciphers=20, pad=40, n_unknown=3, key_share=40, psk=20)
    base = bytearray(h.message)
    rng = random.Random(11)
    for i in range(3000):
        m = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            m[rng.randrange(4, len(m))] = rng.randrange(256)
        cut = len(m) if i % 3 else rng.randrange(5, len(m))
        m = bytes(m[:cut])
        msg = b"\x01" + (len(m) - 4).to_bytes(3, "big") + m[4:]
        a = tls_hello(msg, quic=True)
        b = tls_hello(msg, quic=True, hello_fields=DEFAULT_CAP)
        assert a["handshake_type"] == b["handshake_type"] == 1
        for key in ("ja3", "ja4_r", "sni", "server_names", "alpn", "extension_count", "ciphers",
                    "key_share_groups", "ech_type"):
            assert a[key] == b[key], (i, key)
        assert set(a["anomalies"]) == set(b["anomalies"]), i


def test_one_megabyte_hello_is_read_and_flagged():
    """A header claiming 1 MB: the fields end after ~300 bytes; the rest is skipped unread
    and the record is out as soon as the fields are, flagged."""
    h = BigHello(sni="mega.example", tail=bytes(1 << 20), seed=5)
    assert len(h.body) > 1 << 20
    (r,), st = hellos_of(conn_with(h.records()))
    assert r.sni == h.sni and r.ja3 == h.ja3 and r.ja4 == h.ja4()
    assert {"tls_hello_implausible_length", "tls_hello_trailing"} <= set(r.anomalies)
    assert r.hello_size == len(h.body) and st["hello_implausible_length"] == 1


def test_sixteen_megabyte_claims():
    """Records claiming a 16 MB hello: the fields end inside the first 66 KB (complete,
    trailing bytes skipped), or the connection ends first (cut, reported as far as it went)."""
    h = hello_for("66k", claim=(1 << 24) - 1)
    (r,), st = hellos_of(conn_with(h.records()[:100_000]))
    assert r.sni == h.sni and r.ja3 == h.ja3 and r.hello_size == (1 << 24) - 1
    assert {"tls_hello_implausible_length", "tls_hello_trailing"} <= set(r.anomalies)
    assert st["hello_partial"] == 0 and st["hello_implausible_length"] == 1
    h = hello_for("125k", claim=(1 << 24) - 1)
    (r,), st = hellos_of(conn_with(h.records()[:100_000]), max_hello_fields=1 << 20)
    assert r.sni == h.sni and r.ja3 != h.ja3      # the extensions after the cut are not framed
    assert {"tls_hello_implausible_length", "tls_hello_truncated"} <= set(r.anomalies)
    assert st["hello_partial"] == 1


def test_tiny_records_and_one_byte_segments():
    h = BigHello(sni="tiny.example", pad=3000, seed=9)
    data = h.records(size=7)                        # 7-byte records, 1-byte TCP segments
    (r,), _ = hellos_of(conn_with(data, mss=1))
    assert r.sni == h.sni and r.ja3 == h.ja3 and r.anomalies == ()


def test_flows_tls_columns_for_a_125k_hello():
    h = hello_for("125k")
    data = pcap(conn_with(h.records()).frames)
    row = fp.flows(data, max_hello_fields=1 << 18).to_pandas().iloc[0]
    assert row["sni"] == h.sni and row["ja4"] == h.ja4()
    assert "tls_hello_incomplete" not in row["anomalies"]
    row = fp.flows(data).to_pandas().iloc[0]                  # the default cap cuts the suites
    assert row["sni"] == h.sni and row["ja4"] != h.ja4()
    assert "tls_hello_incomplete" in row["anomalies"].split(",")


def test_max_hello_fields_is_checked():
    with pytest.raises(ValueError, match="max_hello_fields"):
        fp.client_hellos(pcap(conn_with(b"x").frames), max_hello_fields=10)


# ---- tshark, with TCP reassembly, on the same captures --------------------------------------

def tshark_or_skip() -> str:
    if shutil.which("tshark") is None:   # a failure under FASTPKT_REQUIRE_REFS=1 (conftest)
        pytest.skip("tshark is not installed")
    return "tshark"


def tshark_hellos(path, port=80, decode="tcp.port==%d,tls") -> list[tuple[str, str, str]]:
    """(SNI, JA3 string, JA3 hash) of every ClientHello tshark finds, TCP reassembled (or
    QUIC CRYPTO frames, with decode="udp.port==%d,quic")."""
    r = subprocess.run(
        [tshark_or_skip(), "-n", "-r", str(path), "-d", decode % port,
         "-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
         "-o", "tls.desegment_ssl_records:TRUE", "-o", "tls.desegment_ssl_application_data:TRUE",
         "-Y", "tls.handshake.type == 1", "-T", "fields", "-E", "separator=|",
         "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.ja3_full",
         "-e", "tls.handshake.ja3"],
        capture_output=True, text=True, timeout=300, env=TSHARK_ENV)
    assert r.returncode == 0, r.stderr
    return [tuple(ln.split("|")) for ln in r.stdout.splitlines() if ln]


@pytest.mark.parametrize("size", list(SIZES))
def test_sni_and_ja3_match_tshark(size, tmp_path):
    h = hello_for(size)
    path = tmp_path / ("%s.pcap" % size)
    path.write_bytes(pcap(conn_with(h.records(size=16384), "shuffled", seed=3).frames))
    theirs = tshark_hellos(path)
    if not theirs and len(h.body) > 65535:
        # tshark 4.0 does not reassemble a handshake message this long ("Encrypted Handshake
        # Message"): the hand-built fields are the reference then
        theirs = [(h.sni, h.ja3, hashlib.md5(h.ja3.encode()).hexdigest())]
    assert len(theirs) == 1, theirs
    sni, ja3_full, ja3 = theirs[0]
    (r,) = list(fp.client_hellos(str(path), max_hello_fields=1 << 20))
    assert (r.sni, r.ja3, r.ja3_hash) == (sni, ja3_full, ja3)
    (d,) = list(fp.client_hellos(str(path)))       # the default cap: same, or the cap's anomaly
    assert d.sni == sni
    assert d.ja3_hash == ja3 or "tls_hello_over_cap" in d.anomalies


# ---- QUIC: a long hello in many Initials, CRYPTO frames out of order ------------------------

def quic_initials(message: bytes, dcid: bytes, scid: bytes, frame=1000, seed=0, window=8):
    """Client Initial datagrams carrying `message` in CRYPTO frames (shuffled in windows of
    `window` datagrams), protected by aioquic (RFC 9001 section 5)."""
    crypto = pytest.importorskip("aioquic.quic.crypto", reason="aioquic (the QUIC reference) is not installed")
    pair = crypto.CryptoPair()
    pair.setup_initial(cid=dcid, is_client=True, version=1)
    frames = [(off, message[off:off + frame]) for off in range(0, len(message), frame)]
    rng = random.Random(seed)
    order = []
    for i in range(0, len(frames), window):
        w = frames[i:i + window]
        rng.shuffle(w)
        order += w
    out = []
    for pn, (off, chunk) in enumerate(order):
        payload = bytes([0x06]) + _varint(off) + _varint(len(chunk)) + chunk
        payload += bytes(max(0, 1162 - len(payload)))              # PADDING to a full Initial
        length = 4 + len(payload) + 16
        header = (bytes([0xC3]) + struct.pack("!I", 1) + bytes([len(dcid)]) + dcid
                  + bytes([len(scid)]) + scid + b"\x00" + struct.pack("!H", 0x4000 | length)
                  + struct.pack("!I", pn))
        out.append(pair.encrypt_packet(header, payload, pn))
    return out


def _varint(v: int) -> bytes:
    if v < 64:
        return bytes([v])
    if v < 16384:
        return struct.pack("!H", 0x4000 | v)
    return struct.pack("!I", 0x80000000 | v)


def udp_frame(payload: bytes, sport=50000, dport=443) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(payload), 0, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return ip + struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def raw_pcap(frames) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101)]  # LINKTYPE_RAW
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1000 + i // 1000, (i % 1000) * 1000, len(f), len(f)) + f)
    return b"".join(out)


@pytest.mark.parametrize("size", ["16k", "64k"])
def test_quic_hello_in_many_initials_out_of_order(size, tmp_path):
    h = hello_for(size)
    datagrams = quic_initials(h.message, bytes(range(8)), b"\x01\x02\x03\x04", seed=len(size))
    path = tmp_path / "quic.pcap"
    path.write_bytes(raw_pcap(udp_frame(d) for d in datagrams))
    (r,) = list(fp.client_hellos(str(path)))
    assert r.transport == "quic" and r.sni == h.sni and r.ja3 == h.ja3
    assert r.ja4 == h.ja4("q") and set(r.anomalies) <= {"tls_hello_capped"}
    assert tshark_hellos(path, 443, "udp.port==%d,quic") == [(r.sni, r.ja3, r.ja3_hash)]


def test_quic_frames_beyond_the_window_are_flagged(tmp_path):
    """The last frames first: they lie more than the 32 KiB window ahead and are dropped; the
    hello is reported as far as the stream went, and the record says why."""
    h = hello_for("64k")
    datagrams = quic_initials(h.message, bytes(range(8)), b"\x01\x02\x03\x04", window=1)
    datagrams = datagrams[-10:] + datagrams[:-10]
    path = tmp_path / "quic.pcap"
    path.write_bytes(raw_pcap(udp_frame(d) for d in datagrams))
    st = fp.client_hellos(str(path))
    (r,) = list(st)
    assert r.sni == h.sni and r.ja3 != h.ja3
    assert {"quic_crypto_over_window", "tls_hello_truncated"} <= set(r.anomalies)
    assert st.stats["tls"]["hello_partial"] == 1


def test_hello_stream_longer_than_the_search_depth():
    """In 50-byte records the 125 KB hello takes 138 KB of stream, past the 128 KiB a
    direction is searched for a hello to start: a hello that has started is followed."""
    h = hello_for("125k")
    data = h.records(size=50)
    assert len(data) > 128 << 10
    (r,), _ = hellos_of(conn_with(data), max_hello_fields=1 << 20)
    assert r.sni == h.sni and r.ja3 == h.ja3


def test_ja4_of_the_16k_hello_written_out_by_hand():
    """JA4 (FoxIO JA4.md) of the 16 KB hello, each part written out from its fields: TCP, TLS
    1.3 (supported_versions), SNI present, 15 suites and 12 extensions without GREASE, ALPN
    "h2"; the suites sorted as hex; the extensions sorted without SNI (0000) and ALPN (0010),
    then the signature algorithms in wire order."""
    a = "t13d1512h2"
    b = "0100,0101,0102,0103,0104,0105,1301,1302,1303,c02b,c02c,c02f,c030,cca8,cca9"
    c = ("000a,000b,000d,0015,0017,0023,002b,002d,0033,ff01"
         "_0403,0804,0401,0503,0805,0501,0806,0601")
    want = "%s_%s_%s" % (a, hashlib.sha256(b.encode()).hexdigest()[:12],
                         hashlib.sha256(c.encode()).hexdigest()[:12])
    h = hello_for("16k")
    (r,), _ = hellos_of(conn_with(h.records(size=5000), "shuffled"))
    assert r.ja4 == want and r.ja4_r == "%s_%s_%s" % (a, b, c)


def test_empty_records_cannot_keep_a_hello_streaming_forever():
    """A ClientHello header, then only empty handshake records: the direction is followed for
    1 MiB of stream at most, and the hello is reported as far as it went."""
    h = BigHello(sni="stall.example", seed=12)
    first = b"\x16\x03\x01" + struct.pack("!H", 200) + h.message[:200]
    data = first + b"\x16\x03\x01\x00\x00" * 250_000
    c = conn_with(data, mss=16000)            # frame i is at 1000 + i ms; 3 handshake frames
    (r,), st = hellos_of(c)
    assert r.sni == h.sni and "tls_hello_truncated" in r.anomalies
    assert st["hello_partial"] == 1
    crossing = 3 + (1 << 20) // 16000          # the segment that takes the stream past 1 MiB
    assert round((r.time - 1000) * 1000) == crossing < len(c.frames) - 10


def test_server_hello_of_the_grammars_maximum_size():
    """A ServerHello with a 65,535-byte extensions block (65,607-byte body) is still read."""
    big = struct.pack("!HH", 0xFE00, 65535 - 4 - 6 - 40) + bytes(65535 - 4 - 6 - 40)
    exts = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHHH", 51, 36, 0x001D, 32) + bytes(32) + big
    assert len(exts) == 65535
    body = b"\x03\x03" + bytes(32) + b"\x20" + bytes(32) + b"\x13\x01\x00" + struct.pack("!H", len(exts)) + exts
    sh = b"\x02" + len(body).to_bytes(3, "big") + body
    assert len(body) == 65607
    h = BigHello(sni="server.example", seed=13)
    c = Conn().handshake()
    ch = h.records()
    c.c(0, ch)
    for off, chunk in segments(records_of(sh)):
        c.s(off, chunk, ack_off=len(ch))
    (r,), _ = hellos_of(c)
    assert r.sni == h.sni and r.server_version == 0x0304 and r.server_cipher == 0x1301
