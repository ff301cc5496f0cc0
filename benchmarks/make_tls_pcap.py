#!/usr/bin/env python3
"""Deterministic TLS capture for bench_tls.py: the shared generator's mix plus ClientHellos
that span TCP segments and QUIC Initials (standard library only).

    python benchmarks/make_tls_pcap.py --base BASE.pcap --out OUT.pcap [--seed 1]
                                       [--tcp-hellos 400] [--quic-hellos 100]
    python benchmarks/make_tls_pcap.py --count-only ...   # packets it would add (E)

Why: benchmarks/gen_capture.py's TLS conversations carry ~300-byte ClientHellos, each in one
segment, and it writes no QUIC. Browsers' hellos are
1.7-2 KB today (post-quantum key shares) and span two segments, and a good share of HTTPS
runs over QUIC, which is what separates a per-packet SNI parser from a reassembling one.

What is added (every connection a unique 5-tuple, addresses outside the generator's ranges:
clients 10.210-10.249.x.x / fd00:0:0:2::/64 on ports 49152-65535, servers 198.18-19.x.x /
2001:db8:ffff::/48 on port 443):
  * --tcp-hellos TLS 1.3 connections on TCP/443 (10 % IPv6): handshake, a ClientHello of
    600..5000 bytes (uniform; extensions in a per-connection random order as Chrome does,
    GREASE in half of them, an X25519MLKEM768 key share above ~1.4 KB, padding to the
    size) cut at the MSS (1460, 1440 over IPv6), so ~80 % span 2-4 segments and the SNI
    lands in any of them; a ServerHello + encrypted flight, application data, FIN teardown.
  * --quic-hellos QUIC v1 connections on UDP/443: the client Initial(s) (RFC 9000/9001:
    CRYPTO frames + PADDING to 1200 bytes, AES-128-GCM payload protection and AES header
    protection with the keys derived from the client's DCID; hellos over ~1100 bytes are
    split over two Initials in two datagrams, as Chrome does), the server's Initial
    (ACK + ServerHello) coalesced with a Handshake packet, then 1-RTT short-header packets.
    AES and GHASH are implemented below from FIPS-197 / SP 800-38D (no crypto package).
The connections are spread uniformly over the base capture: each synthetic packet goes right
after a base record and takes that record's timestamp (timestamps stay non-decreasing).
All IPv4 header and TCP/UDP checksums are valid. Same arguments -> same bytes.

OUT.truth.json: total_packets, the base's truth (when BASE.truth.json exists) merged with
the added hellos: snis (every SNI; base first, then the added ones in connection order, not
capture order), sni_count, client_hellos, and per added hello: transport, ip_version, sni,
hello_size, segments (TCP) / initials (QUIC), sni_segment (the 1-based segment that holds
the SNI's last byte).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import struct
import sys

# ---------------------------------------------------------------------------- AES-128 (FIPS-197)


def _make_tables():
    def xtime(a):
        return ((a << 1) ^ 0x11B) if a & 0x80 else a << 1

    exp, log = [0] * 510, [0] * 256
    x = 1
    for i in range(255):  # powers of the generator 3
        exp[i] = x
        log[x] = i
        x ^= xtime(x)
    for i in range(255, 510):
        exp[i] = exp[i - 255]
    sbox = []
    for a in range(256):
        b = exp[255 - log[a]] if a else 0  # multiplicative inverse
        s = b
        for k in range(1, 5):
            s ^= ((b << k) | (b >> (8 - k))) & 0xFF
        sbox.append(s ^ 0x63)
    # T-tables: SubBytes + MixColumns of one byte in row r, as a big-endian column word
    t0 = []
    for a in range(256):
        s = sbox[a]
        s2 = xtime(s) & 0xFF
        s3 = s2 ^ s
        t0.append((s2 << 24) | (s << 16) | (s << 8) | s3)
    t1 = [((w >> 8) | (w << 24)) & 0xFFFFFFFF for w in t0]
    t2 = [((w >> 16) | (w << 16)) & 0xFFFFFFFF for w in t0]
    t3 = [((w >> 24) | (w << 8)) & 0xFFFFFFFF for w in t0]
    return sbox, t0, t1, t2, t3


SBOX, T0, T1, T2, T3 = _make_tables()


class AES128:
    """AES-128 block encryption (all QUIC Initial protection needs)."""

    def __init__(self, key: bytes):
        assert len(key) == 16
        w = list(struct.unpack(">4I", key))
        rcon = 1
        for i in range(4, 44):
            t = w[i - 1]
            if i % 4 == 0:
                t = ((t << 8) | (t >> 24)) & 0xFFFFFFFF
                t = (SBOX[t >> 24] << 24) | (SBOX[(t >> 16) & 0xFF] << 16) | \
                    (SBOX[(t >> 8) & 0xFF] << 8) | SBOX[t & 0xFF]
                t ^= rcon << 24
                rcon = ((rcon << 1) ^ 0x11B) if rcon & 0x80 else rcon << 1
            w.append(w[i - 4] ^ t)
        self.rk = w

    def encrypt_block(self, block: bytes) -> bytes:
        rk = self.rk
        s0, s1, s2, s3 = struct.unpack(">4I", block)
        s0 ^= rk[0]
        s1 ^= rk[1]
        s2 ^= rk[2]
        s3 ^= rk[3]
        for r in range(1, 10):
            k = 4 * r
            n0 = T0[s0 >> 24] ^ T1[(s1 >> 16) & 0xFF] ^ T2[(s2 >> 8) & 0xFF] ^ T3[s3 & 0xFF] ^ rk[k]
            n1 = T0[s1 >> 24] ^ T1[(s2 >> 16) & 0xFF] ^ T2[(s3 >> 8) & 0xFF] ^ T3[s0 & 0xFF] ^ rk[k + 1]
            n2 = T0[s2 >> 24] ^ T1[(s3 >> 16) & 0xFF] ^ T2[(s0 >> 8) & 0xFF] ^ T3[s1 & 0xFF] ^ rk[k + 2]
            n3 = T0[s3 >> 24] ^ T1[(s0 >> 16) & 0xFF] ^ T2[(s1 >> 8) & 0xFF] ^ T3[s2 & 0xFF] ^ rk[k + 3]
            s0, s1, s2, s3 = n0, n1, n2, n3
        S = SBOX
        out = []
        for i, (a, b, c, d) in enumerate(((s0, s1, s2, s3), (s1, s2, s3, s0), (s2, s3, s0, s1),
                                          (s3, s0, s1, s2))):
            out.append(((S[a >> 24] << 24) | (S[(b >> 16) & 0xFF] << 16) | (S[(c >> 8) & 0xFF] << 8)
                        | S[d & 0xFF]) ^ rk[40 + i])
        return struct.pack(">4I", *out)


def _gf_mult(x: int, y: int) -> int:
    """Multiplication in GF(2^128) with GCM's bit order (SP 800-38D, Algorithm 1)."""
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ (0xE1 << 120) if v & 1 else v >> 1
    return z


def aes_gcm_encrypt(key: bytes, iv: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-128-GCM with a 96-bit IV: ciphertext || 16-byte tag."""
    aes = AES128(key)
    h = int.from_bytes(aes.encrypt_block(b"\0" * 16), "big")
    j0 = iv + b"\0\0\0\1"
    out = bytearray()
    ctr = 2
    for off in range(0, len(plaintext), 16):
        ks = aes.encrypt_block(iv + struct.pack(">I", ctr))
        ctr += 1
        chunk = plaintext[off:off + 16]
        out += bytes(a ^ b for a, b in zip(chunk, ks))
    ghash = 0
    for data in (aad, bytes(out)):
        for off in range(0, len(data), 16):
            ghash = _gf_mult(ghash ^ int.from_bytes(data[off:off + 16].ljust(16, b"\0"), "big"), h)
    ghash = _gf_mult(ghash ^ ((len(aad) * 8) << 64 | len(out) * 8), h)
    tag = (ghash ^ int.from_bytes(aes.encrypt_block(j0), "big")).to_bytes(16, "big")
    return bytes(out) + tag


# ---------------------------------------------------------------------------- QUIC v1 Initials
QUIC_V1_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")


def _hkdf_expand_label(secret: bytes, label: str, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack(">HB", length, len(full)) + full + b"\0"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def initial_keys(dcid: bytes, client: bool) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) of the client's or the server's Initial packets (RFC 9001 5.2)."""
    initial = hmac.new(QUIC_V1_SALT, dcid, hashlib.sha256).digest()
    secret = _hkdf_expand_label(initial, "client in" if client else "server in", 32)
    return (_hkdf_expand_label(secret, "quic key", 16), _hkdf_expand_label(secret, "quic iv", 12),
            _hkdf_expand_label(secret, "quic hp", 16))


def varint(v: int) -> bytes:
    if v < 0x40:
        return bytes([v])
    if v < 0x4000:
        return struct.pack(">H", 0x4000 | v)
    if v < 0x40000000:
        return struct.pack(">I", 0x80000000 | v)
    return struct.pack(">Q", 0xC000000000000000 | v)


def protect_long(ptype: int, dcid: bytes, scid: bytes, pn: int, payload: bytes,
                 keys: tuple[bytes, bytes, bytes], token: bytes | None = b"", pn_len: int = 2,
                 version: int = 1) -> bytes:
    """One protected long-header packet (Initial: ptype 0, with a token field)."""
    key, iv, hp = keys
    first = 0xC0 | (ptype << 4) | (pn_len - 1)
    length = pn_len + len(payload) + 16
    hdr = bytes([first]) + struct.pack(">I", version) + bytes([len(dcid)]) + dcid + \
        bytes([len(scid)]) + scid
    if token is not None:
        hdr += varint(len(token)) + token
    hdr += struct.pack(">H", 0x4000 | length)  # always the 2-byte varint form
    pn_off = len(hdr)
    hdr += pn.to_bytes(pn_len, "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    body = aes_gcm_encrypt(key, nonce, payload, hdr)
    sample = body[4 - pn_len:4 - pn_len + 16]
    mask = AES128(hp).encrypt_block(sample)
    out = bytearray(hdr + body)
    out[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        out[pn_off + i] ^= mask[1 + i]
    return bytes(out)


# ---------------------------------------------------------------------------- TLS messages
GREASE = [0x0A0A + 0x1010 * i for i in range(16)]
TLDS = ["com", "net", "org", "io", "de", "dev", "app", "cloud", "co.uk", "fr"]
SYLL = ["ar", "bel", "cin", "dor", "el", "fa", "gor", "hix", "ion", "jun", "kel", "lum", "mar",
        "nox", "or", "pel", "quo", "ras", "sil", "tor", "ul", "vex", "wyn", "yar", "zo"]
SUBS = ["www", "api", "cdn", "static", "img", "auth", "app", "edge", "m", "video", "assets"]


def _ext(etype: int, data: bytes) -> bytes:
    return struct.pack(">HH", etype, len(data)) + data


def client_hello(r: random.Random, sni: str, target: int, quic: bool) -> tuple[bytes, int]:
    """A TLS 1.3 ClientHello handshake message of about `target` bytes, and the offset of
    the SNI's last byte within it."""
    grease = r.random() < 0.5
    g = r.sample(GREASE, 4) if grease else None
    ciphers = [0x1301, 0x1302, 0x1303]
    if not quic:
        ciphers += [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D,
                    0x002F, 0x0035]
    if g:
        ciphers.insert(0, g[0])
    host = sni.encode()
    pq = target > 1400
    ks = b""
    if g:
        ks += struct.pack(">HH", g[1], 1) + b"\0"
    if pq:
        ks += struct.pack(">HH", 0x11EC, 1216) + r.randbytes(1216)  # X25519MLKEM768
    ks += struct.pack(">HH", 0x001D, 32) + r.randbytes(32)
    groups = ([g[1]] if g else []) + ([0x11EC] if pq else []) + [0x001D, 0x0017, 0x0018]
    sigalgs = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]
    alpn = [b"h3"] if quic else [b"h2", b"http/1.1"]
    versions = ([g[2]] if g else []) + [0x0304] + ([] if quic else [0x0303])
    alpn_b = b"".join(bytes([len(p)]) + p for p in alpn)
    exts = [
        _ext(0x0000, struct.pack(">HBH", len(host) + 3, 0, len(host)) + host),
        _ext(0x000A, struct.pack(">H%dH" % len(groups), 2 * len(groups), *groups)),
        _ext(0x000D, struct.pack(">H%dH" % len(sigalgs), 2 * len(sigalgs), *sigalgs)),
        _ext(0x0010, struct.pack(">H", len(alpn_b)) + alpn_b),
        _ext(0x0033, struct.pack(">H", len(ks)) + ks),
        _ext(0x002D, b"\x01\x01"),
        _ext(0x002B, bytes([2 * len(versions)]) + struct.pack(">%dH" % len(versions), *versions)),
        _ext(0x001B, b"\x02\x00\x02"),  # compress_certificate: brotli
        _ext(0x0017, b""),
        _ext(0x0005, b"\x01\x00\x00\x00\x00"),
        _ext(0x0012, b""),
    ]
    if not quic:
        exts += [_ext(0xFF01, b"\x00"), _ext(0x000B, b"\x01\x00"), _ext(0x0023, b"")]
    else:
        tp = b"".join(varint(k) + varint(len(v)) + v for k, v in (
            (0x01, varint(30000)), (0x04, varint(15728640)), (0x05, varint(6291456)),
            (0x06, varint(6291456)), (0x07, varint(6291456)), (0x08, varint(100)),
            (0x09, varint(103)), (0x0F, r.randbytes(8))))
        exts.append(_ext(0x0039, tp))
    r.shuffle(exts)
    if g:
        exts.insert(0, _ext(g[3], b""))
        exts.append(_ext(g[3] ^ 0x1010, b"\0"))
    sid = b"" if quic else r.randbytes(32)
    head = struct.pack(">H", 0x0303) + r.randbytes(32) + bytes([len(sid)]) + sid + \
        struct.pack(">H%dH" % len(ciphers), 2 * len(ciphers), *ciphers) + b"\x01\x00"
    body_len = len(head) + 2 + sum(map(len, exts))
    pad = target - 4 - body_len - 4  # the padding extension's own header is 4 bytes
    if pad >= 0:
        exts.append(_ext(0x0015, b"\0" * pad))
    ext_b = b"".join(exts)
    body = head + struct.pack(">H", len(ext_b)) + ext_b
    msg = struct.pack(">I", 0x01000000 | len(body)) + body
    sni_ext = next(e for e in exts if e[:2] == b"\0\0")
    sni_end = 4 + len(head) + 2 + sum(map(len, exts[:exts.index(sni_ext)])) + len(sni_ext)
    assert msg[sni_end - len(host):sni_end] == host
    return msg, sni_end


def server_hello(r: random.Random, sid: bytes) -> bytes:
    exts = _ext(0x002B, b"\x03\x04") + _ext(0x0033, struct.pack(">HH", 0x001D, 32) + r.randbytes(32))
    body = struct.pack(">H", 0x0303) + r.randbytes(32) + bytes([len(sid)]) + sid + \
        struct.pack(">HB", 0x1301, 0) + struct.pack(">H", len(exts)) + exts
    return struct.pack(">I", 0x02000000 | len(body)) + body


def record(ctype: int, data: bytes, version: int = 0x0303) -> bytes:
    return struct.pack(">BHH", ctype, version, len(data)) + data


# ---------------------------------------------------------------------------- packets
def _csum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Endpoints:
    def __init__(self, client: bytes, cport: int, server: bytes, sport: int, r: random.Random):
        self.c, self.cp, self.s, self.sp = client, cport, server, sport
        self.v6 = len(client) == 16
        self.cmac = b"\x02\x42" + hashlib.md5(client).digest()[:4]
        self.smac = b"\x00\x1b\x21\x0a\x0b\x0c"  # the generator's gateway
        self.ttl = {True: 64, False: 40 + r.randrange(20)}
        self.ipid = {True: r.randrange(65536), False: r.randrange(65536)}
        self.flow = r.randrange(1 << 20)

    def frame(self, from_client: bool, proto: int, l4: bytes) -> bytes:
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        eth = (self.smac + self.cmac if from_client else self.cmac + self.smac)
        if self.v6:
            pseudo = src + dst + struct.pack(">IxxxB", len(l4), proto)
        else:
            pseudo = src + dst + struct.pack(">xBH", proto, len(l4))
        ck = _csum(pseudo + l4)
        if proto == 17 and ck == 0:
            ck = 0xFFFF
        off = 16 if proto == 6 else 6
        l4 = l4[:off] + struct.pack(">H", ck) + l4[off + 2:]
        if self.v6:
            ip = struct.pack(">IHBB", 0x60000000 | self.flow, len(l4), proto, self.ttl[from_client])
            return eth + b"\x86\xdd" + ip + src + dst + l4
        self.ipid[from_client] = (self.ipid[from_client] + 1) & 0xFFFF
        hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ipid[from_client], 0x4000,
                          self.ttl[from_client], proto, 0, src, dst)
        hdr = hdr[:10] + struct.pack(">H", _csum(hdr)) + hdr[12:]
        return eth + b"\x08\x00" + hdr + l4

    def tcp(self, from_client: bool, seq: int, ack: int, flags: int, data: bytes = b"",
            opts: bytes = b"") -> bytes:
        sp, dp = (self.cp, self.sp) if from_client else (self.sp, self.cp)
        win = 64240 if from_client else 65160
        l4 = struct.pack(">HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                         (20 + len(opts)) << 2, flags, win, 0, 0) + opts + data
        return self.frame(from_client, 6, l4)

    def udp(self, from_client: bool, data: bytes) -> bytes:
        sp, dp = (self.cp, self.sp) if from_client else (self.sp, self.cp)
        return self.frame(from_client, 17, struct.pack(">HHHH", sp, dp, 8 + len(data), 0) + data)


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Maker:
    def __init__(self, seed: int):
        self.r = random.Random("fastpkt-tls-bench/%d" % seed)
        self.used = set()
        self.names = set()

    def name(self) -> str:
        r = self.r
        while True:
            base = "".join(r.choice(SYLL) for _ in range(2 + r.randrange(3)))
            sub = r.choice(SUBS)
            n = "%s.%s.%s" % (sub, base, r.choice(TLDS))
            if n not in self.names:
                self.names.add(n)
                return n

    def endpoints(self, v6: bool, proto: int) -> Endpoints:
        r = self.r
        while True:
            if v6:
                c = bytes.fromhex("fd000000000000020000") + r.randbytes(6)
                s = bytes.fromhex("20010db8ffff") + r.randbytes(10)
            else:
                c = bytes([10, 210 + r.randrange(40), r.randrange(256), 1 + r.randrange(254)])
                s = bytes([198, 18 + r.randrange(2), r.randrange(256), 1 + r.randrange(254)])
            cp = 49152 + r.randrange(16384)  # the IANA ephemeral range
            if (proto, c, cp, s) not in self.used:
                self.used.add((proto, c, cp, s))
                return Endpoints(c, cp, s, 443, r)

    def tcp_conn(self) -> tuple[list[tuple[int, bytes]], dict]:
        """[(gap in base packets before this packet, frame)], truth."""
        r = self.r
        v6 = r.random() < 0.10
        ep = self.endpoints(v6, 6)
        mss = 1440 if v6 else 1460
        sni = self.name()
        target = 600 + r.randrange(4401)
        hello, sni_end = client_hello(r, sni, target, quic=False)
        ch = record(0x16, hello, 0x0301)
        sni_end += 5
        cs, ss = r.randrange(1 << 32), r.randrange(1 << 32)
        opts = struct.pack(">BBHBBBBBBBB", 2, 4, mss, 1, 3, 3, 7, 1, 1, 4, 2)
        rtt = 2 + r.randrange(30)
        pk = [(0, ep.tcp(True, cs, 0, SYN, opts=opts)),
              (rtt, ep.tcp(False, ss, cs + 1, SYN | ACK, opts=opts)),
              (rtt, ep.tcp(True, cs + 1, ss + 1, ACK))]
        cs, ss = cs + 1, ss + 1
        segs = [ch[i:i + mss] for i in range(0, len(ch), mss)]
        for i, seg in enumerate(segs):
            flags = ACK | (PSH if i == len(segs) - 1 else 0)
            pk.append((0 if i else r.randrange(3), ep.tcp(True, cs, ss, flags, seg)))
            cs += len(seg)
        if len(segs) > 1:
            pk.append((rtt, ep.tcp(False, ss, cs, ACK)))
        sh = record(0x16, server_hello(r, hello[4 + 2 + 32 + 1:4 + 2 + 32 + 1 + 32])) + \
            record(0x14, b"\x01") + record(0x17, r.randbytes(1500 + r.randrange(3000)))
        for i in range(0, len(sh), mss):
            seg = sh[i:i + mss]
            pk.append((rtt if i == 0 and len(segs) == 1 else 1, ep.tcp(False, ss, cs, ACK | PSH, seg)))
            ss += len(seg)
        fin = record(0x14, b"\x01") + record(0x17, r.randbytes(53)) + \
            record(0x17, r.randbytes(100 + r.randrange(400)))
        pk.append((rtt, ep.tcp(True, cs, ss, ACK | PSH, fin)))
        cs += len(fin)
        for _ in range(1 + r.randrange(2)):
            d = record(0x17, r.randbytes(200 + r.randrange(1200)))
            pk.append((rtt, ep.tcp(False, ss, cs, ACK | PSH, d)))
            ss += len(d)
        pk.append((rtt, ep.tcp(True, cs, ss, ACK)))
        pk.append((1 + r.randrange(50), ep.tcp(True, cs, ss, FIN | ACK)))
        pk.append((rtt, ep.tcp(False, ss, cs + 1, FIN | ACK)))
        pk.append((rtt, ep.tcp(True, cs + 1, ss + 1, ACK)))
        truth = {"transport": "tcp", "ip_version": 6 if v6 else 4, "sni": sni,
                 "hello_size": len(hello), "segments": len(segs),
                 "sni_segment": (sni_end - 1) // mss + 1}
        return pk, truth

    def quic_conn(self) -> tuple[list[tuple[int, bytes]], dict]:
        r = self.r
        v6 = r.random() < 0.10
        ep = self.endpoints(v6, 17)
        sni = self.name()
        target = 600 + r.randrange(1500)
        hello, sni_end = client_hello(r, sni, target, quic=True)
        dcid, scid, server_cid = r.randbytes(8), r.randbytes(8), r.randbytes(8)
        ck, sk = initial_keys(dcid, True), initial_keys(dcid, False)
        # CRYPTO data per Initial: what fits in a 1200-byte datagram
        hdr_len = 1 + 4 + 1 + 8 + 1 + 8 + 1 + 2 + 2  # long header with 8-byte CIDs, 2-byte PN
        room = 1200 - hdr_len - 16 - 5  # the tag and the CRYPTO frame's header
        parts = [hello[i:i + room] for i in range(0, len(hello), room)]
        rtt = 2 + r.randrange(30)
        pk = []
        off = 0
        for pn, part in enumerate(parts):
            frame = b"\x06" + varint(off) + varint(len(part)) + part
            off += len(part)
            payload = frame + b"\0" * max(0, 1200 - hdr_len - 16 - len(frame))
            pk.append((0, ep.udp(True, protect_long(0, dcid, scid, pn, payload, ck))))
        sh = server_hello(r, b"")
        # ACK of the client's Initials 0..n-1: largest, delay 0, no extra ranges, first range
        ack = b"\x02" + varint(len(parts) - 1) + b"\x00\x00" + varint(len(parts) - 1)
        s_init = protect_long(0, scid, server_cid, 0, ack + b"\x06\x00" + varint(len(sh)) + sh, sk)
        # Handshake packet: its keys come from the TLS handshake, so random bytes stand in
        hs_body = r.randbytes(900 + r.randrange(300))
        s_hs = bytes([0xE1]) + struct.pack(">I", 1) + bytes([8]) + scid + bytes([8]) + server_cid + \
            struct.pack(">H", 0x4000 | (len(hs_body) + 2)) + r.randbytes(2) + hs_body
        pk.append((rtt, ep.udp(False, s_init + s_hs)))
        for i in range(2 + r.randrange(4)):
            frm_client = i % 2 == 0
            cid = server_cid if frm_client else scid
            pk.append((rtt if i < 2 else r.randrange(4),
                       ep.udp(frm_client, bytes([0x40 | r.randrange(64)]) + cid +
                              r.randbytes(30 + r.randrange(1200)))))
        truth = {"transport": "quic", "ip_version": 6 if v6 else 4, "sni": sni,
                 "hello_size": len(hello), "initials": len(parts),
                 "sni_segment": (sni_end - 1) // room + 1}
        return pk, truth


def synthesize(seed: int, n_tcp: int, n_quic: int):
    m = Maker(seed)
    kinds = ["tcp"] * n_tcp + ["quic"] * n_quic
    m.r.shuffle(kinds)
    conns = [m.tcp_conn() if k == "tcp" else m.quic_conn() for k in kinds]
    return conns, m.r


def read_pcap(path: str):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or struct.unpack("<I", head[:4])[0] != 0xA1B2C3D4:
            sys.exit("make_tls_pcap: %s is not a little-endian microsecond pcap" % path)
        if struct.unpack("<I", head[20:24])[0] != 1:
            sys.exit("make_tls_pcap: %s is not Ethernet" % path)
        yield head
        rec = struct.Struct("<IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            ts, us, incl, orig = rec.unpack(h)
            yield h, f.read(incl), ts, us


def count_base(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        f.seek(24)
        while True:
            h = f.read(16)
            if len(h) < 16:
                return n
            f.seek(struct.unpack("<I", h[8:12])[0], 1)
            n += 1


def build(base: str, out: str, seed: int, n_tcp: int, n_quic: int, synthesized=None) -> dict:
    """Write OUT (+ OUT.truth.json); `synthesized` is synthesize()'s result when the caller
    already made it (to size the base capture)."""
    conns, r = synthesized or synthesize(seed, n_tcp, n_quic)
    nbase = count_base(base)
    # place every connection: a start among the base records, then its gaps in base packets
    after: dict[int, list[bytes]] = {}
    for pk, _t in conns:
        pos = r.randrange(nbase)
        for gap, frame in pk:
            pos = min(pos + gap, nbase - 1)
            after.setdefault(pos, []).append(frame)
    added = sum(len(pk) for pk, _ in conns)
    tmp = out + ".tmp"
    rec = struct.Struct("<IIII")
    with open(tmp, "wb") as f:
        it = read_pcap(base)
        f.write(next(it))
        for i, (h, data, ts, us) in enumerate(it):
            f.write(h)
            f.write(data)
            for frame in after.get(i, ()):
                f.write(rec.pack(ts, us, len(frame), len(frame)))
                f.write(frame)
    os.replace(tmp, out)
    truth_base = base + ".truth.json"
    bt = json.load(open(truth_base)) if os.path.exists(truth_base) else {}
    hellos = [t for _, t in conns]
    snis = list(bt.get("snis", [])) + [t["sni"] for t in hellos]
    truth = {
        "generator": "make_tls_pcap.py",
        "args": {"base": os.path.basename(base), "seed": seed, "tcp_hellos": n_tcp,
                 "quic_hellos": n_quic},
        "total_packets": nbase + added, "base_packets": nbase, "added_packets": added,
        "base_client_hellos": bt.get("sni_count"),
        "client_hellos": (bt.get("sni_count") or 0) + len(hellos),
        "sni_count": len(snis), "snis": snis,
        "added": {
            "tcp": sum(t["transport"] == "tcp" for t in hellos),
            "tcp_multi_segment": sum(t.get("segments", 1) > 1 for t in hellos),
            "tcp_sni_past_first_segment": sum(t["transport"] == "tcp" and t["sni_segment"] > 1
                                              for t in hellos),
            "quic": sum(t["transport"] == "quic" for t in hellos),
            "quic_two_initials": sum(t.get("initials", 1) > 1 for t in hellos),
        },
        "hellos": hellos,
        "base_truth": {k: v for k, v in bt.items() if k != "snis"},
    }
    with open(out + ".truth.json", "w") as f:
        json.dump(truth, f, indent=1)
    return truth


def added_packets(seed: int, n_tcp: int, n_quic: int) -> int:
    conns, _ = synthesize(seed, n_tcp, n_quic)
    return sum(len(pk) for pk, _ in conns)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="Ethernet/usec pcap from gen_capture.py")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tcp-hellos", type=int, default=400)
    ap.add_argument("--quic-hellos", type=int, default=100)
    ap.add_argument("--count-only", action="store_true",
                    help="print how many packets would be added and exit")
    a = ap.parse_args(argv)
    if a.count_only:
        print(added_packets(a.seed, a.tcp_hellos, a.quic_hellos))
        return 0
    if not a.base or not a.out:
        ap.error("--base and --out are required")
    t = build(a.base, a.out, a.seed, a.tcp_hellos, a.quic_hellos)
    print("%s: %d packets (%d base + %d added), %d ClientHellos (added: %s)" % (
        a.out, t["total_packets"], t["base_packets"], t["added_packets"], t["client_hellos"],
        t["added"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
