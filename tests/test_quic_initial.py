"""QUIC v1/v2 Initial decryption (csrc/dissect/quic.c) against independent references.

* RFC 9001 Appendix A and RFC 9369 Appendix A: keys, the client Initial (CRYPTO frame +
  PADDING), the server Initial (ACK + CRYPTO), Retry, the short-header sample. The hex
  below is typed from the RFC texts (quicwg/base-drafts rfc9001.txt, quicwg/quic-v2
  rfc/rfc9369.txt).
* Real captures of the shared corpus: the ClientHello's SNI after decryption and CRYPTO
  reassembly must equal tshark's tls.handshake.extensions_server_name on the same frame
  (tshark is run here when installed) and Zeek's quic.log server_name.
* Hostile input: every truncation, lying varints and lengths, DCID length 255, random bytes.
"""
from __future__ import annotations

import random
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

import fastpkt as fp

from _fphelpers import CORPUS_SKIP_REASON, corpus_dir, have
from _fptest import quic_crypto_collect, quic_crypto_streams, quic_frames, quic_initial


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


V1 = 0x00000001
V2 = 0x6B3343CF
DCID = h("8394c8f03e515708")

# ---- RFC 9001 Appendix A ---------------------------------------------------------------
RFC9001_KEYS = {
    "initial_secret": "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44",
    "client": {
        "secret": "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
        "key": "1f369613dd76d5467730efcbe3b1a22d",
        "iv": "fa044b2f42a3fd3b46fb255c",
        "hp": "9f50449e04a0e810283a1e9933adedd2",
    },
    "server": {
        "secret": "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
        "key": "cf3a5331653c364c88f0f379b6067e37",
        "iv": "0ac1493ca1905853b0bba03e",
        "hp": "c206b8d9b9f0f37644430b490eeaa314",
    },
}

# A.2: the CRYPTO frame of the client Initial (same bytes in RFC 9369 A.2).
CLIENT_CRYPTO_FRAME = h("""
060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
0d0010000e0403050306030203080408 050806002d00020101001c0002400100
3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
75300901100f088394c8f03e51570806 048000ffff
""")
CLIENT_PAYLOAD = CLIENT_CRYPTO_FRAME + bytes(1162 - len(CLIENT_CRYPTO_FRAME))
RFC9001_CLIENT_HEADER = h("c300000001088394c8f03e5157080000449e00000002")

RFC9001_CLIENT_PACKET = h("""
c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
e221af44860018ab0856972e194cd934
""")

# A.3: the server Initial's payload (ACK + CRYPTO, no padding, same in RFC 9369 A.3).
SERVER_PAYLOAD = h("""
02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
020304
""")
RFC9001_SERVER_HEADER = h("c1000000010008f067a5502a4262b50040750001")
RFC9001_SERVER_PACKET = h("""
cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a
5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3
dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84
022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4
2158407dd074ee
""")
RFC9001_RETRY = h("ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba")
RFC9001_SHORT = h("4cfe4189655e5cd55c41f69080575d7999c25a5bfb")

# ---- RFC 9369 Appendix A ---------------------------------------------------------------
RFC9369_KEYS = {
    "initial_secret": "2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba",
    "client": {
        "secret": "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
        "key": "8b1a0bc121284290a29e0971b5cd045d",
        "iv": "91f73e2351d8fa91660e909f",
        "hp": "45b95e15235d6f45a6b19cbcb0294ba9",
    },
    "server": {
        "secret": "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
        "key": "82db637861d55e1d011f19ea71d5d2a7",
        "iv": "dd13c276499c0249d3310652",
        "hp": "edf6d05c83121201b436e16877593c3a",
    },
}
RFC9369_CLIENT_HEADER = h("d36b3343cf088394c8f03e5157080000449e00000002")
RFC9369_CLIENT_PACKET = h("""
d76b3343cf088394c8f03e5157080000 449ea0c95e82ffe67b6abcdb4298b485
dd04de806071bf03dceebfa162e75d6c 96058bdbfb127cdfcbf903388e99ad04
9f9a3dd4425ae4d0992cfff18ecf0fdb 5a842d09747052f17ac2053d21f57c5d
250f2c4f0e0202b70785b7946e992e58 a59ac52dea6774d4f03b55545243cf1a
12834e3f249a78d395e0d18f4d766004 f1a2674802a747eaa901c3f10cda5500
cb9122faa9f1df66c392079a1b40f0de 1c6054196a11cbea40afb6ef5253cd68
18f6625efce3b6def6ba7e4b37a40f77 32e093daa7d52190935b8da58976ff33
12ae50b187c1433c0f028edcc4c2838b 6a9bfc226ca4b4530e7a4ccee1bfa2a3
d396ae5a3fb512384b2fdd851f784a65 e03f2c4fbe11a53c7777c023462239dd
6f7521a3f6c7d5dd3ec9b3f233773d4b 46d23cc375eb198c63301c21801f6520
bcfb7966fc49b393f0061d974a2706df 8c4a9449f11d7f3d2dcbb90c6b877045
636e7c0c0fe4eb0f697545460c806910 d2c355f1d253bc9d2452aaa549e27a1f
ac7cf4ed77f322e8fa894b6a83810a34 b361901751a6f5eb65a0326e07de7c12
16ccce2d0193f958bb3850a833f7ae43 2b65bc5a53975c155aa4bcb4f7b2c4e5
4df16efaf6ddea94e2c50b4cd1dfe060 17e0e9d02900cffe1935e0491d77ffb4
fdf85290fdd893d577b1131a610ef6a5 c32b2ee0293617a37cbb08b847741c3b
8017c25ca9052ca1079d8b78aebd4787 6d330a30f6a8c6d61dd1ab5589329de7
14d19d61370f8149748c72f132f0fc99 f34d766c6938597040d8f9e2bb522ff9
9c63a344d6a2ae8aa8e51b7b90a4a806 105fcbca31506c446151adfeceb51b91
abfe43960977c87471cf9ad4074d30e1 0d6a7f03c63bd5d4317f68ff325ba3bd
80bf4dc8b52a0ba031758022eb025cdd 770b44d6d6cf0670f4e990b22347a7db
848265e3e5eb72dfe8299ad7481a4083 22cac55786e52f633b2fb6b614eaed18
d703dd84045a274ae8bfa73379661388 d6991fe39b0d93debb41700b41f90a15
c4d526250235ddcd6776fc77bc97e7a4 17ebcb31600d01e57f32162a8560cacc
7e27a096d37a1a86952ec71bd89a3e9a 30a2a26162984d7740f81193e8238e61
f6b5b984d4d3dfa033c1bb7e4f0037fe bf406d91c0dccf32acf423cfa1e70710
10d3f270121b493ce85054ef58bada42 310138fe081adb04e2bd901f2f13458b
3d6758158197107c14ebb193230cd115 7380aa79cae1374a7c1e5bbcb80ee23e
06ebfde206bfb0fcbc0edc4ebec30966 1bdd908d532eb0c6adc38b7ca7331dce
8dfce39ab71e7c32d318d136b6100671 a1ae6a6600e3899f31f0eed19e3417d1
34b90c9058f8632c798d4490da498730 7cba922d61c39805d072b589bd52fdf1
e86215c2d54e6670e07383a27bbffb5a ddf47d66aa85a0c6f9f32e59d85a44dd
5d3b22dc2be80919b490437ae4f36a0a e55edf1d0b5cb4e9a3ecabee93dfc6e3
8d209d0fa6536d27a5d6fbb17641cde2 7525d61093f1b28072d111b2b4ae5f89
d5974ee12e5cf7d5da4d6a31123041f3 3e61407e76cffcdcfd7e19ba58cf4b53
6f4c4938ae79324dc402894b44faf8af bab35282ab659d13c93f70412e85cb19
9a37ddec600545473cfb5a05e08d0b20 9973b2172b4d21fb69745a262ccde96b
a18b2faa745b6fe189cf772a9f84cbfc
""")
RFC9369_SERVER_HEADER = h("d16b3343cf0008f067a5502a4262b50040750001")
RFC9369_SERVER_PACKET = h("""
dc6b3343cf0008f067a5502a4262b500 4075d92faaf16f05d8a4398c47089698
baeea26b91eb761d9b89237bbf872630 17915358230035f7fd3945d88965cf17
f9af6e16886c61bfc703106fbaf3cb4c fa52382dd16a393e42757507698075b2
c984c707f0a0812d8cd5a6881eaf21ce da98f4bd23f6fe1a3e2c43edd9ce7ca8
4bed8521e2e140
""")
RFC9369_RETRY = h("cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436 65dcc7b6")
RFC9369_SHORT = h("5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba")

VECTORS = {
    "v1": (V1, RFC9001_KEYS, RFC9001_CLIENT_PACKET, RFC9001_CLIENT_HEADER, RFC9001_SERVER_PACKET,
           RFC9001_SERVER_HEADER, RFC9001_RETRY, RFC9001_SHORT),
    "v2": (V2, RFC9369_KEYS, RFC9369_CLIENT_PACKET, RFC9369_CLIENT_HEADER, RFC9369_SERVER_PACKET,
           RFC9369_SERVER_HEADER, RFC9369_RETRY, RFC9369_SHORT),
}


# ---- A minimal ClientHello SNI reader (RFC 8446 4.1.2, RFC 6066 3) -------------------------
def client_hello_sni(msg: bytes) -> str | None:
    """SNI host_name of a handshake message that must be a ClientHello (type 1)."""
    assert msg[0] == 1, f"handshake type {msg[0]} is not a ClientHello"
    body = msg[4:4 + int.from_bytes(msg[1:4], "big")]
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # legacy_session_id
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher_suites
    pos += 1 + body[pos]  # legacy_compression_methods
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        etype = int.from_bytes(body[pos:pos + 2], "big")
        elen = int.from_bytes(body[pos + 2:pos + 4], "big")
        ext = body[pos + 4:pos + 4 + elen]
        if etype == 0:
            p = 2  # server_name_list length
            while p + 3 <= len(ext):
                ntype, nlen = ext[p], int.from_bytes(ext[p + 1:p + 3], "big")
                if ntype == 0:
                    return ext[p + 3:p + 3 + nlen].decode("ascii")
                p += 3 + nlen
        pos += 4 + elen
    return None


# ---- RFC vectors -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rfc_keys(name):
    version, keys, client_pkt, *_ = VECTORS[name]
    r = quic_initial(client_pkt)
    assert r["version"] == version
    assert r["keys"][version] == keys


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rfc_client_initial(name):
    version, _, client_pkt, client_hdr, *_ = VECTORS[name]
    assert len(client_pkt) == 1200
    r = quic_initial(client_pkt, from_client=True)
    assert r["flags"] == []
    assert r["dcid"] == DCID and r["scid"] == b""
    assert r["packet_numbers"] == [2]
    (pkt,) = r["packets"]
    assert pkt["type"] == "initial" and pkt["status"] == "ok" and pkt["version"] == version
    assert pkt["pn_len"] == 4 and pkt["size"] == 1200 and pkt["token"] == b""
    assert pkt["header"] == client_hdr
    assert pkt["payload"] == CLIENT_PAYLOAD
    assert sorted(pkt["frames"]) == ["crypto", "padding"]
    assert r["crypto"] == [(0, CLIENT_CRYPTO_FRAME[4:])]  # type 06, offset 00, length 40f1
    assert client_hello_sni(CLIENT_CRYPTO_FRAME[4:]) == "example.com"
    assert r["cache_dcid"] == DCID


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rfc_server_initial(name):
    version, keys, _, _, server_pkt, server_hdr, *_ = VECTORS[name]
    r = quic_initial(server_pkt, from_client=False, dcid=DCID)
    assert r["flags"] == []
    assert r["scid"] == h("f067a5502a4262b5") and r["dcid"] == b""
    assert r["packet_numbers"] == [1]
    (pkt,) = r["packets"]
    assert pkt["status"] == "ok" and pkt["pn_len"] == 2
    assert pkt["header"] == server_hdr
    assert pkt["payload"] == SERVER_PAYLOAD
    assert sorted(pkt["frames"]) == ["ack", "crypto"]
    (frag,) = r["crypto"]
    assert frag == (0, SERVER_PAYLOAD[9:])  # ACK is 02 00 00 00 00; CRYPTO 06 00 405a
    assert frag[1][0] == 2 and len(frag[1]) == 0x5A  # ServerHello
    assert r["keys"][version]["server"] == keys["server"]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rfc_server_initial_without_client_dcid(name):
    server_pkt = VECTORS[name][4]
    r = quic_initial(server_pkt, from_client=False)
    assert r["packets"][0]["status"] == "no_keys" and "no_keys" in r["flags"]
    assert r["crypto"] == []
    # keyed on the wrong DCID: a clear authentication failure
    r = quic_initial(server_pkt, from_client=False, dcid=b"\x01\x02\x03\x04")
    assert r["packets"][0]["status"] == "auth_failed" and "auth_failed" in r["flags"]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_rfc_retry_and_short_header_are_skipped(name):
    version, *_, retry, short = VECTORS[name]
    r = quic_initial(retry, from_client=False, dcid=DCID)
    (pkt,) = r["packets"]
    assert pkt["type"] == "retry" and pkt["status"] == "skipped" and pkt["version"] == version
    assert pkt["scid"] == h("f067a5502a4262b5") and pkt["size"] == len(retry)
    assert "retry" in r["flags"]
    r = quic_initial(short)
    assert [p["type"] for p in r["packets"]] == ["short"]
    assert r["flags"] == ["short_header"] and r["version"] is None


def test_client_initial_wrong_version_keys_do_not_authenticate():
    # The v1 packet relabelled as v2 (version field only) must fail cleanly, not crash.
    pkt = bytearray(RFC9001_CLIENT_PACKET)
    pkt[1:5] = V2.to_bytes(4, "big")
    pkt[0] = (pkt[0] & 0xCF) | 0x10  # v2 Initial type bits 0b01
    r = quic_initial(bytes(pkt))
    assert r["packets"][0]["status"] == "auth_failed"


@pytest.mark.parametrize("where", [30, 600, 1199])
def test_corrupted_payload_fails_authentication(where):
    pkt = bytearray(RFC9001_CLIENT_PACKET)
    pkt[where] ^= 0x01
    r = quic_initial(bytes(pkt))
    assert r["packets"][0]["status"] == "auth_failed"
    assert r["crypto"] == [] and r["packet_numbers"] == []


def test_coalesced_packets_and_trailing_padding():
    # server Initial, then a Handshake packet delimited by its Length, then 1-RTT.
    handshake = h("e0 00000001 00 08 f067a5502a4262b5 05 0102030405")
    one_rtt = h("40") + bytes(range(30))
    r = quic_initial(RFC9001_SERVER_PACKET + handshake + one_rtt, from_client=False, dcid=DCID)
    assert [p["type"] for p in r["packets"]] == ["initial", "handshake", "short"]
    assert [p["status"] for p in r["packets"]] == ["ok", "skipped", "skipped"]
    assert r["packets"][1]["offset"] == len(RFC9001_SERVER_PACKET)
    assert r["packets"][1]["size"] == len(handshake)
    assert r["packets"][2]["size"] == len(one_rtt)
    assert "short_header" in r["flags"] and "dcid_mismatch" not in r["flags"]
    # zero padding after the last packet (datagram padding) is tolerated
    r = quic_initial(RFC9001_SERVER_PACKET + bytes(100), from_client=False, dcid=DCID)
    assert r["trailing"] == 100 and r["flags"] == ["trailing"]
    assert r["packet_numbers"] == [1]
    # two Initials coalesced: both decrypt, fragments in datagram order
    r = quic_initial(RFC9001_SERVER_PACKET * 2, from_client=False, dcid=DCID)
    assert r["decrypted_count"] == 2 and len(r["crypto"]) == 2
    # a coalesced packet with another DCID is flagged (RFC 9000 12.2)
    other = h("e0 00000001 04 01020304 00 01 00")
    r = quic_initial(RFC9001_SERVER_PACKET + other, from_client=False, dcid=DCID)
    assert "dcid_mismatch" in r["flags"]


def test_version_negotiation_and_unknown_version():
    vn = h("80 00000000 08 8394c8f03e515708 08 f067a5502a4262b5 00000001 6b3343cf")
    r = quic_initial(vn)
    assert r["packets"][0]["type"] == "version_negotiation" and r["flags"] == ["version_negotiation"]
    # unknown version: CIDs are read per the invariants (up to 255 bytes), the rest skipped
    unk = h("c0 1a2a3a4a") + bytes([40]) + bytes(40) + b"\x00" + bytes(50)
    r = quic_initial(unk)
    assert r["packets"][0]["type"] == "unknown_version"
    assert r["flags"] == ["unsupported_version"] and r["keys"] == {}


# ---- Frames -------------------------------------------------------------------------------------
def test_frames_ack_ecn_close_ping():
    payload = (
        h("01")  # PING
        + h("02 05 00 02 01 01 00 02 01")  # ACK: 2 extra ranges
        + h("03 40ff 4001 00 03 01 02 03")  # ACK_ECN: no ranges, ECN counts 1,2,3
        + h("06 00 03 616263")  # CRYPTO offset 0 "abc"
        + h("06 4010 02 6465")  # CRYPTO offset 16 "de"
        + h("1c 0a 06 03 626164")  # CONNECTION_CLOSE code 10, frame type 6, "bad"
        + bytes(7)  # PADDING
    )
    r = quic_frames(payload)
    assert sorted(r["frames"]) == ["ack", "connection_close", "crypto", "padding", "ping"]
    assert r["crypto"] == [(0, b"abc"), (16, b"de")]
    assert r["close_error"] == 10 and r["close_frame_type"] == 6
    r = quic_frames(h("1d 4123 00"))  # application CONNECTION_CLOSE, no frame type
    assert r["frames"] == ["connection_close"] and r["close_error"] == 0x123


def test_frames_unknown_type_stops():
    r = quic_frames(h("06 00 01 41 08 00 00 06 00 01 42"))  # CRYPTO, STREAM(0x08), CRYPTO
    assert r["crypto"] == [(0, b"A")]
    assert sorted(r["frames"]) == ["crypto", "unknown_frame"]


@pytest.mark.parametrize("payload", [
    "06 00 05 6162",              # CRYPTO length past the payload
    "06 00 bfffffffffffffff 00",  # CRYPTO length varint lies (2^62-1)
    "06 bfffffffffffffff 01 41",  # offset + length beyond 2^62 - 1
    "02 00 00 bfffffffffffffff 00 00 00",  # ACK range count lies
    "03 00 00 00 00 01",          # ACK_ECN without all three counts
    "1c 00 00 4100",              # CONNECTION_CLOSE reason length past the end
    "40",                         # a two-byte varint cut short
])
def test_frames_lying_lengths(payload):
    r = quic_frames(h(payload))
    assert "frame_malformed" in r["frames"]


# ---- CRYPTO stream collector ----------------------------------------------------------------
def test_crypto_collector_any_order_and_message():
    msg = b"\x01\x00\x00\x10" + bytes(range(16))
    frags = [(12, msg[12:]), (0, msg[:5]), (5, msg[5:12])]
    r = quic_crypto_collect(frags[:2])
    assert r["contiguous"] == 5 and r["message"] is None and r["ranges"] == [(0, 5), (12, 20)]
    r = quic_crypto_collect(frags)
    assert r["data"] == msg and r["message"] == msg and r["ranges"] == [(0, 20)]
    # overlap: first data wins, a differing copy is counted
    r = quic_crypto_collect([(0, msg), (2, b"\xff\xff"), (4, msg[4:8])])
    assert r["data"] == msg and r["inconsistent_bytes"] == 2
    # bounded: bytes past cap dropped and counted, range table bounded
    r = quic_crypto_collect([(0, b"abcd"), (60, b"x" * 10)], cap=64)
    assert r["bytes_over_cap"] == 6 and r["contiguous"] == 4
    r = quic_crypto_collect([(2 * i + 10, b"z") for i in range(40)])
    assert r["ranges_dropped"] == 40 - 32 and len(r["ranges"]) == 32
    r = quic_crypto_collect([(1 << 40, b"far")])
    assert r["bytes_over_cap"] == 3 and r["contiguous"] == 0


def test_crypto_streams_rfc_pair():
    r = quic_crypto_streams([(RFC9001_CLIENT_PACKET, True), (RFC9001_SERVER_PACKET, False)])
    assert r["client_message"] == CLIENT_CRYPTO_FRAME[4:]
    assert r["server_message"] == SERVER_PAYLOAD[9:]
    assert r["client_hello_index"] == 0 and r["server_hello_index"] == 1
    assert r["initial_dcid"] == DCID and r["decrypted"] == 2 and r["rekeys"] == 0
    # v1 client answered in v2 (compatible version negotiation): both keys come from the
    # same client DCID
    r = quic_crypto_streams([(RFC9001_CLIENT_PACKET, True), (RFC9369_SERVER_PACKET, False)])
    assert r["decrypted"] == 2 and sorted(r["keys"]) == [V1, V2]


# ---- Hostile input ------------------------------------------------------------------------------
def test_truncated_at_every_byte():
    for pkt, from_client in ((RFC9001_CLIENT_PACKET, True), (RFC9369_SERVER_PACKET, False)):
        for n in range(len(pkt)):
            r = quic_initial(pkt[:n], from_client=from_client, dcid=DCID)
            assert r["crypto"] == [] and r["decrypted_count"] == 0
            if n:
                assert r["packets"][0]["status"] in ("truncated", "too_short")


def test_dcid_length_255_and_lying_lengths():
    body = bytes(300)
    cases = [
        h("c3 00000001") + b"\xff" + body,                       # DCID length 255 (v1 max 20)
        h("c3 00000001 15") + bytes(21) + b"\x00" + body,        # 21 bytes: too long
        h("c3 00000001 08") + DCID + h("00 bfffffffffffffff") + body,  # token length lies
        h("c3 00000001 08") + DCID + h("00 00 bfffffffffffffff") + body,  # Length lies
        h("c3 00000001 08") + DCID + h("00 00 44"),              # varint cut short
        h("c3 00000001 08") + DCID + h("00 00 05") + bytes(5),   # too short for the sample
        h("80"),
        h("c3 00000001 ff"),
    ]
    for data in cases:
        for from_client in (True, False):
            r = quic_initial(data, from_client=from_client, dcid=DCID)
            assert r["decrypted_count"] == 0 and r["crypto"] == []
    r = quic_initial(cases[0])
    assert r["packets"][0]["status"] == "bad_header" and "cid_too_long" in r["flags"]
    assert len(r["dcid"]) == 20
    assert quic_initial(cases[5])["packets"][0]["status"] == "too_short"
    assert quic_initial(b"")["flags"] == ["empty"]
    with pytest.raises(ValueError):
        quic_initial(RFC9001_CLIENT_PACKET, dcid=bytes(21))


def test_many_tiny_initials_are_bounded():
    tiny = h("c3 00000001 08") + DCID + h("00 00 14") + bytes(20)  # Length 20: one sample
    r = quic_initial(tiny * 60)
    assert r["packet_count"] == 60 and r["initial_count"] == 60 and len(r["packets"]) == 8
    assert "many_packets" in r["flags"] and "decrypt_limit" in r["flags"]
    assert r["decrypted_count"] == 0


def test_random_and_mutated_datagrams():
    rng = random.Random(9001)
    seeds = [RFC9001_CLIENT_PACKET, RFC9369_SERVER_PACKET, RFC9001_RETRY, RFC9369_SHORT]
    for i in range(1500):
        if i % 3 == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
            data = bytes([0xC0 | data[0]]) + data[1:] if data else data
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
            data = bytes(data[: rng.randrange(1, len(data) + 1)])
        r = quic_initial(data, from_client=bool(i & 1), dcid=DCID)
        for off, frag in r["crypto"]:
            assert isinstance(off, int) and len(frag) <= len(data)


# ---- Real captures --------------------------------------------------------------------------------
QUIC_CAPTURES = [
    "ndpi-quic-v2.pcapng",
    "ndpi-quic_frags_ch_in_multiple_packets.pcapng",
    "suricata-quic-frag-unordered.pcap",
    "suricata-quic-ietf.pcap",
    "tcpdump-quic_handshake.pcap",
    "tcpdump-quic_retry.pcap",
    "zeek-chromium-115.0.5790.110-api-cirrus-com.pcap",
    "fingerprints/ja4-chrome-cloudflare-quic-with-secrets.pcapng",
    "fingerprints/ja4-quic-tls-handshake.pcapng",
    "fingerprints/ja4-quic-with-several-tls-frames.pcapng",
    "zeek-baselines/curl-8.1.2-dev-http3-www-google-de.pcap",
    "zeek-baselines/quic-39264-rand.pcap",
    "zeek-baselines/quic-multiple-initial-fragmented-crypto.pcap",
    "zeek-baselines/quicv2-echo-443.pcap",
    "zeek-baselines/retry.pcap",
]


LINKTYPE_PPP = 9  # RFC 1661 protocol field first (0x0021 IPv4, 0x0057 IPv6); not decoded by fastpkt


def udp_packets(path: Path):
    """(frame number, packet) for each packet with a UDP layer. LINKTYPE_PPP frames (the
    quic-interop-runner traces) are re-read as raw IP, since fastpkt does not decode PPP."""
    for n, pkt in enumerate(fp.open(str(path)), 1):
        if pkt.linktype == LINKTYPE_PPP and not pkt.layers and pkt.raw[:2] in (b"\x00\x21", b"\x00\x57"):
            pkt = fp.Packet(pkt.raw[2:], linktype=101)
        if pkt.udp is not None and pkt.sport is not None:
            yield n, pkt


def quic_connections(path: Path):
    """UDP flows of a capture: {key: [(frame_number, payload, from_client)]}, the client being
    the sender of the flow's first datagram."""
    flows: dict[tuple, list] = defaultdict(list)
    client: dict[tuple, tuple] = {}
    for n, pkt in udp_packets(path):
        a, b = (pkt.src, pkt.sport), (pkt.dst, pkt.dport)
        key = tuple(sorted((a, b)))
        client.setdefault(key, a)
        flows[key].append((n, pkt.udp.payload, a == client[key]))
    return flows


def decrypt_capture(path: Path):
    """[(flow key, frame number where the ClientHello completed, SNI, result)]."""
    out = []
    for key, dgrams in quic_connections(path).items():
        r = quic_crypto_streams([(p, c) for _, p, c in dgrams])
        if r["client_message"] is None:
            continue
        i = r["server_hello_index"]
        r["server_hello_frame"] = dgrams[i][0] if i is not None else None
        out.append((key, dgrams[r["client_hello_index"]][0], client_hello_sni(r["client_message"]), r))
    return out


def tshark_hellos(path: Path) -> tuple[dict[int, str | None], set[int]]:
    """({frame number: SNI or None} of every QUIC frame in which tshark shows a ClientHello,
    {frame numbers showing a ServerHello}). tshark decrypts Initials itself and reassembles
    their CRYPTO frames; a hello shows on the frame that completes it."""
    env = {"WIRESHARK_CONFIG_DIR": "/nonexistent", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        ["tshark", "-r", str(path), "-n", "-Y", "quic", "-T", "fields", "-e", "frame.number",
         "-e", "tls.handshake.type", "-e", "tls.handshake.extensions_server_name",
         "-E", "occurrence=a", "-E", "aggregator=,"],
        capture_output=True, text=True, check=True, env=env).stdout
    hellos, server = {}, set()
    for line in out.splitlines():
        num, types, names = (line.split("\t") + ["", ""])[:3]
        if "1" in types.split(","):
            hellos[int(num)] = names.split(",")[0] or None
        if "2" in types.split(","):
            server.add(int(num))
    return hellos, server


def zeek_quic_rows(path: Path) -> list[dict[str, str]] | None:
    """Rows of Zeek's committed quic.log (or its zeek-cut subset) for a capture."""
    base = path.parent if path.parent.name == "zeek-baselines" else path.parent / "zeek-baselines"
    stem = path.name[len("zeek-"):] if path.name.startswith("zeek-") else path.name
    for suffix in (".quic.log", ".quic.log.cut"):
        log = base / (stem + suffix)
        if not log.exists():
            continue
        text = log.read_text().splitlines()
        lines = [ln for ln in text if not ln.startswith("#")]
        if suffix == ".quic.log":
            fields = next(ln for ln in text if ln.startswith("#fields"))
            lines = ["\t".join(fields.split("\t")[1:])] + lines
        return read_tsv_text(lines)  # zeek-cut -m: the header is the first line
    return None


def read_tsv_text(lines: list[str]) -> list[dict[str, str]]:
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"))) for ln in lines[1:] if ln.strip()]


def corpus_path(name: str) -> Path:
    d = corpus_dir()
    if d is None:
        pytest.skip(CORPUS_SKIP_REASON)
    p = d / name
    if not p.exists():
        pytest.skip(f"{name} not in the corpus")
    return p


@pytest.mark.parametrize("name", QUIC_CAPTURES)
def test_capture_sni_matches_tshark(name):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    path = corpus_path(name)
    results = decrypt_capture(path)
    ours = {frame: sni for _, frame, sni, _ in results}
    ours_server = {r["server_hello_frame"] for *_, r in results if r["server_hello_frame"]}
    theirs, theirs_server = tshark_hellos(path)
    # Same frames, same SNI (None: the hello has no server_name, as in
    # ndpi-quic_frags_ch_in_multiple_packets, where tshark shows the hello but no SNI).
    assert ours == theirs
    assert ours, "no ClientHello decrypted"
    # The server's Initials decrypt with the "server in" keys of the client's DCID: the
    # ServerHello completes on the frame where tshark shows it.
    assert ours_server == theirs_server


@pytest.mark.parametrize("name", [n for n in QUIC_CAPTURES if "zeek" in n])
def test_capture_sni_matches_zeek(name):
    path = corpus_path(name)
    rows = zeek_quic_rows(path)
    if rows is None:
        pytest.skip(f"no Zeek quic.log for {name}")
    results = decrypt_capture(path)
    assert {sni for _, _, sni, _ in results} == {row["server_name"] for row in rows}
    if "client_initial_dcid" in rows[0]:
        # the DCID our keys came from is the one Zeek logs (after a Retry: the second entry)
        zeek_dcids = {row["client_initial_dcid"] for row in rows}
        assert {r["initial_dcid"].hex() for *_, r in results} <= zeek_dcids
        zeek_versions = {row["version"] for row in rows}
        ours = {{V1: "1", V2: "quicv2"}[v] for *_, r in results for v in r["keys"]}
        assert ours == zeek_versions


def test_capture_retry_rekeys():
    path = corpus_path("zeek-baselines/retry.pcap")
    results = decrypt_capture(path)
    (_, _, sni, r) = results[0]
    assert sni == "server4:443"
    assert "retry" in r["flags"] and r["rekeys"] >= 1
    assert r["initial_dcid"] == h("1b036a11")  # the Retry's SCID, as in Zeek's second entry
    assert r["server_message"] is not None and r["server_message"][0] == 2  # ServerHello


def test_capture_v2_and_unordered_fragments():
    (_, _, sni, r) = decrypt_capture(corpus_path("ndpi-quic-v2.pcapng"))[0]
    assert sni == "test" and V2 in r["keys"]
    (_, frame, sni, r) = decrypt_capture(corpus_path("suricata-quic-frag-unordered.pcap"))[0]
    assert sni == "mastodon.social" and frame == 2
    assert r["client_ranges"] == [(0, len(r["client"]))]
