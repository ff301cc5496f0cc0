"""Helpers shared by the tests and by the subprocess harnesses (no pytest import here)."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"


def corpus_dir() -> Path | None:
    """The real-capture corpus: $FASTPKT_CORPUS, else the whole shared corpus at
    ../shared/corpus next to the repo, else its permissively licensed part vendored in
    tests/corpus (see its README)."""
    env = os.environ.get("FASTPKT_CORPUS")
    cands = [Path(env)] if env else [TESTS.parents[1] / "shared" / "corpus", TESTS / "corpus"]
    for cand in cands:
        if (cand / "MANIFEST.tsv").is_file():
            return cand
    return None


CORPUS_SKIP_REASON = (
    "real-capture corpus not found: set FASTPKT_CORPUS or place it at ../shared/corpus "
    "(it is not part of this repository)"
)


def corpus_files() -> list[str]:
    d = corpus_dir()
    if d is None:
        return []
    with open(d / "MANIFEST.tsv", newline="") as f:
        return sorted(row["file"] for row in csv.DictReader(f, delimiter="\t"))


def tshark_status(name: str) -> str:
    """'ok', 'unreadable' (empty refs tsv + .stderr) or 'cut' (frames, then cut short)."""
    refs = corpus_dir() / "refs"
    if not (refs / f"{name}.stderr").exists():
        return "ok"
    return "cut" if read_tsv(refs / f"{name}.tsv") else "unreadable"


def manifest() -> dict[str, dict[str, str]]:
    d = corpus_dir()
    if d is None:
        return {}
    with open(d / "MANIFEST.tsv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return parse_tsv(f.read())


def parse_tsv(text: str) -> list[dict[str, str]]:
    """tshark -T fields -E header=y output: one dict per frame."""
    if not text.strip():
        return []
    lines = text.splitlines()
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        cells = line.split("\t")
        cells += [""] * (len(header) - len(cells))
        rows.append(dict(zip(header, cells)))
    return rows


def load_expected() -> dict[str, Any]:
    with open(DATA / "expected.json") as f:
        return json.load(f)


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for an outside tool (tshark, mergecap, editcap, tcpdump): without
    `make sanitize`'s LD_PRELOAD, which hangs glib-threaded tools such as mergecap."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(extra)
    return env


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


# Attributes of every layer type, from fastpkt/_fastpkt.pyi. Touching all of them on
# every packet exercises the lazy parsers on hostile input.
LAYER_ATTRS = {
    "eth": ("src", "dst", "type"),
    "sll": ("pkttype", "hatype", "addr", "proto", "ifindex"),
    "loopback": ("type",),
    "radiotap": ("version", "pad", "len", "present", "Flags", "Rate", "ChannelFrequency", "ChannelFlags",
                 "dBm_AntSignal"),
    "wlan": ("subtype", "type", "proto", "FCfield", "ID", "addr1", "addr2", "addr3", "SC", "addr4", "ra",
             "ta", "da", "sa", "bssid", "seq", "frag", "type_subtype", "retry", "protected", "frame_name"),
    "vlan": ("vlan", "prio", "id", "tpid", "type"),
    "arp": ("hwtype", "ptype", "hwlen", "plen", "op", "hwsrc", "psrc", "hwdst", "pdst"),
    "ip": ("version", "ihl", "tos", "len", "id", "flags", "DF", "MF", "frag", "frag_bytes",
           "ttl", "proto", "chksum", "src", "dst", "options"),
    "ip6": ("version", "tc", "fl", "plen", "nh", "hlim", "src", "dst", "ext_headers", "proto",
            "frag", "MF", "ttl"),
    "tcp": ("sport", "dport", "seq", "ack", "dataofs", "reserved", "flags", "window", "chksum",
            "urgptr", "options", "mss", "wscale", "sack_permitted", "sack", "timestamp"),
    "udp": ("sport", "dport", "len", "chksum"),
    "icmp": ("type", "code", "chksum", "id", "seq"),
    "icmp6": ("type", "code", "chksum", "id", "seq"),
    "dns": ("id", "qr", "opcode", "aa", "tc", "rd", "ra", "z", "ad", "cd", "rcode", "qdcount",
            "ancount", "nscount", "arcount", "qd", "an", "ns", "ar", "qname", "malformed"),
    "http": ("is_request", "method", "uri", "path", "version", "status", "reason", "headers",
             "host", "headers_complete", "body"),
    "tls": ("type", "version", "len", "handshake_type", "is_client_hello", "hello_version",
            "sni", "hello_complete"),
}
# PPP's control packets (no Layer subclasses, the same common attributes)
PPP_CONTROL_ATTRS = ("protocol", "code", "identifier", "length", "options", "magic_number", "rejected_protocol",
                     "malformed")
LAYER_ATTRS.update({name: PPP_CONTROL_ATTRS for name in ("lcp", "ipcp", "ipv6cp", "ccp")})
COMMON_LAYER_ATTRS = ("name", "fields", "offset", "header_len", "payload", "raw")
PACKET_ATTRS = ("time", "time_ns", "wirelen", "caplen", "linktype", "interface", "raw", "vlans",
                "src", "dst", "sport", "dport", "proto", "payload", "anomalies", "layers", "fragments",
                "wire")


def touch_layer(layer: Any) -> None:
    for a in COMMON_LAYER_ATTRS:
        getattr(layer, a)
    bytes(layer)
    layer.fields_dict()
    repr(layer)
    str(layer)


def touch_all(pkt: Any) -> None:
    """Read every attribute of every layer of a packet, and the whole-packet views."""
    for a in PACKET_ATTRS:
        getattr(pkt, a)
    for key, attrs in LAYER_ATTRS.items():
        layer = getattr(pkt, key)
        if layer is None:
            continue
        for a in attrs:
            v = getattr(layer, a)
            if key == "tcp" and a == "flags":
                str(v), int(v), v.S, v.A, v.F, v.R, v.P, v.U, v.E, v.C, v.N, v.value
                "S" in v
            if key == "dns" and a in ("qd", "an", "ns", "ar"):
                for rec in v:
                    for ra in (("qname", "qtype", "qclass") if a == "qd" else
                               ("rrname", "type", "rclass", "ttl", "rdlen", "rdata",
                                "rdata_raw")):
                        getattr(rec, ra)
                    repr(rec)
        if key == "ip" or key == "tcp" or key == "udp" or key == "icmp" or key == "icmp6":
            layer.checksum_ok()
        touch_layer(layer)
    for v in pkt.vlans:
        touch_layer(v)
    for name in pkt.layers:
        # tunnel and link names without a view of their own (GRE, PPP, MPLS...) are listed
        # but not layers to index: `in` and [] agree on every name
        if pkt.haslayer(name) and name in pkt:
            touch_layer(pkt[name])
        else:
            try:
                pkt[name]
            except KeyError:
                continue
            raise AssertionError("%r: pkt[name] works where `in` says no" % name)
    pkt.haslayer("NoSuchLayer")
    repr(pkt)
    pkt.summary()
    pkt.show(dump=True)
    pkt.verify_checksums()
    bytes(pkt)
    len(pkt)


_CACHE: dict[str, Any] = {}


def fixture_packets(name: str):
    """fastpkt's PacketList for a tests/data fixture (cached per process)."""
    import fastpkt as fp

    if name not in _CACHE:
        _CACHE[name] = fp.read(str(DATA / name))
    return _CACHE[name]


def hand(name: str) -> list[dict[str, Any]]:
    """The hand-computed expectations of a fixture, one dict per packet ({} if none)."""
    return [p.get("hand") or {} for p in load_expected()[name]["packets"]]


def zeek_rows(path: Path) -> list[dict[str, str]]:
    """A Zeek TSV log's rows as dicts keyed by its #fields line."""
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def indexed_udp_frame(i: int, payload_len: int) -> bytes:
    """An Ethernet/IPv4/UDP frame whose payload repeats its index i (big-endian), so a reader's
    every delivered packet can be checked against what was written, whatever its position."""
    payload = struct.pack(">I", i) * (payload_len // 4)
    udp = struct.pack(">HHHH", 40000 + i % 1000, 9000, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 1, (i % 200) + 1]))
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


# The head of a script run in a fresh interpreter where `import scapy` fails, as where Scapy
# is not installed: what fastpkt.scapy renders without Scapy.
NO_SCAPY_HEAD = """import sys

class NoScapy:
    def find_spec(self, name, path=None, target=None):
        if name == "scapy" or name.startswith("scapy."):
            raise ImportError("Scapy is blocked in this test")

sys.meta_path.insert(0, NoScapy())
"""


_TSHARK_CONV = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) bytes\s+(\d+)\s+(\d+) bytes")


def tshark_conv(path: Path, *tables: str, disable: str = "") -> dict:
    """tshark -q -z <table>... (conv,ip / conv,ipv6 / conv,udp[,filter]), optionally with one
    dissector off: {sorted endpoints: {endpoint: (frames, bytes) it sent}}; tshark's "<-"
    columns are B -> A, "->" A -> B (endpoints 'addr' or 'addr:port')."""
    args = ["tshark", "-r", str(path), "-n", "-q"] + (["--disable-protocol", disable] if disable else [])
    for z in tables:
        args += ["-z", z]
    out = subprocess.run(args, capture_output=True, text=True, check=True,
                         env=tool_env(WIRESHARK_CONFIG_DIR="/nonexistent")).stdout
    conv: dict = {}
    for line in out.splitlines():
        m = _TSHARK_CONV.match(line)
        if m:
            a, b = m.group(1), m.group(2)
            conv[tuple(sorted((a, b)))] = {a: (int(m.group(5)), int(m.group(6))),
                                           b: (int(m.group(3)), int(m.group(4)))}
    return conv
