"""Display filters (csrc/filter, fp.compile_filter, display_filter=) against tshark -Y.

The reference: every corpus capture tshark reads cleanly, concatenated by mergecap into one
pcapng (one tshark run per expression instead of one per file and expression), read by
tshark with reassembly and defragmentation off (test_fields.TSHARK_PREFS: fastpkt dissects
one segment, one datagram). For each expression the frames fastpkt's Reader passes must be
the frames `tshark -Y expr` prints.

The expressions: a hand-written table (the course's filters, every operator and literal
form) plus a table generated from the values tshark shows for every registry field in that
capture (existence, each comparison, any/all forms, sets with ranges, CIDR, slices,
contains, matches, len, bitwise and).

Excluded, by name: a frame where a field the expression names has different values in
fastpkt and tshark (FIELD_DIFFERS). test_fields.py checks those fields frame by frame and
names each legitimate difference (tunnels, fragments, application layers tshark assigns by
port, ...); a filter over a field cannot agree where the field does not. Also TIME_2038:
tshark 4.0 orders absolute times from 2^31 s on as negative (`frame.time_epoch < 0` matches
a 2106 timestamp), and TS_OVERFLOW (test_fields): frame.time_epoch is not compared there.
"""
from __future__ import annotations

import ipaddress
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import corpus_dir, corpus_files, have, tshark_status
from test_fields import SEP, TSHARK_PREFS, _env, tshark_rows, values_equal

NAMES = [n for n in fp.field_names() if n != "frame.number"]

# The course's filters and every operator and literal form, written by hand.
HAND = [
    "tcp.flags.reset == 1", "dns.flags.response == 0", "dns.flags.response == 1", "http.request",
    "http.response", "ip.addr == 192.168.0.0/16", "ip.addr == 10.0.0.0/8",
    "tcp.flags.syn == 1 and tcp.flags.ack == 0", "tcp.port in {80, 443, 8000..8080}",
    "udp.port == 53 || tcp.port == 53", "!(ip.addr == 10.0.0.0/8)", "not arp and not ip",
    "eth.dst == ff:ff:ff:ff:ff:ff", "eth.dst eq ff-ff-ff-ff-ff-ff", "tcp.flags & 0x02",
    "tcp.flags & 0x12 == 0x12", "tcp.flags bitwise_and 0x04", "eth.addr[0] & 0x01",
    "frame.len > 1000", "frame.number <= 10 or frame.number > 2000", "frame.number == 77",
    "frame.number in {1..5, 100, 1000..1010}", "count(ip.addr) == 2", "count(dns.qry.name) >= 1",
    "len(http.host) > 10", "len(tcp.port) == 2", "dns.qry.name contains \"google\"",
    "dns.qry.name matches \"\\\\.com$\"", "dns.qry.name matches \"(?-i)COM\"",
    "dns.qry.name matches \"COM\"", "http.request.method in {\"GET\", \"HEAD\"}",
    "tls.handshake.extensions_server_name", "tcp.srcport == tcp.dstport",
    "udp.srcport > udp.dstport", "ip.src == ip.dst", "ip.src != ip.dst", "ip.src < ip.dst",
    "tcp.len > 0 && !(tcp.port == 80)", "frame[12:2] == 08:00", "frame[12:2] == 86:dd",
    "frame[-4:] == 00:00:00:00", "frame[0] == 0x45", "frame[0] == 45", "frame[6-8] == 00:00:0c",
    "frame[:2] == ff:ff", "eth.src[0:3] == 00:00:0c", "eth.src[1:] contains 00",
    "ipv6.addr == fe80::/10", "ipv6.dst == ff02::/16", "icmp.type == 8", "icmp.type eq 0",
    "icmpv6.type in {128 .. 129}", "vlan.id == 100", "vlan", "ieee8021ad", "arp.opcode == 1",
    "arp", "sll.pkttype == 0", "sll", "tcp.window_size_value < 1000", "ip.ttl le 64",
    "ip.ttl ge 128", "ip.flags.df eq 1", "ip.flags.mf == 1 or ip.frag_offset > 0",
    "any ip.addr != 1.1.1.1", "all tcp.port > 1024", "all ip.addr == 10.0.0.0/8",
    "ip.addr !== 192.168.1.1", "ip.addr ~= 192.168.1.1", "ip.addr any_ne 192.168.1.1",
    "ip.addr all_eq 192.168.1.1", "ip.addr === 10.1.1.1", "tcp.port != 80", "tcp.port ne 80",
    "not tcp.port == 80", "http.host == \"x\" or http.user_agent contains \"Mozilla\"",
    "(tcp or udp) and not (dns or http)", "dns.a", "dns.aaaa", "dns.resp.ttl > 3600",
    "dns.qry.type == 28", "dns.qry.type == 1 && dns.flags.response == 0",
    "ip.proto == 17 && udp.length < 100", "tcp.options.mss_val >= 1460",
    "frame.time_epoch > 1000000000", "frame.time_epoch < 1300000000.5", "mdns", "llmnr",
    "tls.record.content_type == 22", "tls.record.version in {0x0301..0x0303}",
    "http.response.code >= 400", "http.request.uri matches \"^/[a-z]+\"",
    "http.content_length > 100", "tls.handshake.extensions_server_name contains \".\"",
    "http.request.method == GET", "http.request.method == \"\\x47ET\"",
    "http.request.method == \"\\107ET\"", "http.request.uri matches r\"\\d\"",
    "http.request.uri contains 2f", "http.request.uri contains \"/\"",
    "ip.dst == 224.0.0.0/4", "eth.dst.ig == 1", "eth.dst.ig == True", "eth.dst.ig == FALSE",
    "ip.src in {10.0.0.0/8, 192.168.0.0/16}", "ip.src in {10.0.0.1 .. 10.0.0.200}",
    "tcp contains \"HTTP\"", "frame contains \"GET \"", "udp contains 00:00:00",
    "tcp.flags.syn == 1 && tcp.flags.ack == 1 || tcp.flags.fin == 1",
    "not not tcp", "!(!udp)", "((((ip))))", "tcp.port==80&&ip.ttl>=64", "tcp.flags.syn == 2",
    "ip.id == 0", "ip.checksum > 0x8000", "ipv6.flow != 0", "ipv6.hlim == 255",
    "tcp.seq_raw > 4000000000", "tcp.ack_raw == 0", "tcp.hdr_len > 20", "tcp.flags.ae == 1",
    "ip.dsfield.dscp != 0", "udp.checksum == 0", "dns.count.answers > 3",
    "dns.resp.name == dns.qry.name", "dns.cname", "dns.flags.rcode != 0", "icmp.ident",
    "eth.type == 0x8100", "eth.len", "ipv6.nxt == 0", "ipv6.routing.type == 0",
    "ipv6.fraghdr.more == 1", "http.server contains \"Apache\"",
    "http.user_agent matches \"curl|wget\"", "frame.cap_len < frame.len",
    "upper(http.request.method) == \"GET\"", "lower(http.request.method) == \"get\"",
    "upper(http.host) contains \"YNET\"", "lower(http.host) == http.host",
    "upper(dns.qry.name) contains \"GOOGLE\"", "lower(dns.qry.name) contains \"GOOGLE\"",
    "upper(tls.handshake.extensions_server_name) matches \"(?-i)^[A-Z0-9.-]+$\"",
    "upper(http.user_agent) contains \"MOZILLA\"",
]

# Wireshark 4.0's arithmetic (`+ - * / %`, unary signs, `{}`, `&` among them), the layer
# operator, max()/min()/abs()/string() and ${} references (no selected frame in tshark: no
# value), each operator over several fields; tshark's integer rules show in the negative
# results, dropped overflows and divisions by zero, and `!=` over what is left.
ARITH = [
    "frame.len - 1000 < 0", "frame.len - 1000 == -938", "frame.len - 1000 > 4000000000",
    "-frame.len < 0", "-frame.len == -60", "- frame.len == -60", "+frame.len == 60",
    "frame.len + 1", "frame.len - 60", "frame.len * 0", "frame.len % 7", "frame.len / 0",
    "frame.len / 0 == 1", "frame.len / 0 != 1", "frame.len / 0 === 1", "frame.len / 0 !== 1",
    "all frame.len / 0 < 1", "frame.len % 0 == 0", "frame.len -1 == 59", "frame.len+1 == 61",
    "frame.len*2 == 120", "frame.len/2 == 30", "frame.len == 61 - 1", "frame.len == {61 - 1}",
    "{frame.len} == 60", "{frame.len}+1 == 61", "frame.len + +1 == 61", "frame.len - 1 - 1 == 58",
    "frame.len - 10 * 2 == 40", "frame.len / 7 * 7 == 56", "frame.len % 7 == 4",
    "frame.len == frame.len + 0", "frame.len == -1", "frame.len > -1", "frame.len != -1",
    "frame.len !== -1", "frame.len + -1 == 59", "frame.len - -1 == 61", "frame.len * -1 == -60",
    "frame.len / -1", "frame.len in {-1, 60}", "frame.len & 0xff + 1 == 61",
    "frame.len + 1 & 0xff == 61", "frame.len & 0x3c + 0 == 60", "frame.cap_len - frame.len < 0",
    "frame.number + 1 == 3", "frame.number % 2 == 0 && tcp", "tcp.srcport - tcp.dstport",
    "tcp.srcport - tcp.dstport > 1000", "tcp.port + 1 == 81", "tcp.port - 1 == 79",
    "tcp.port - tcp.port != 0", "any tcp.port - tcp.port != 0", "tcp.port - tcp.port == 0",
    "tcp.dstport >= 4 * {tcp.srcport + 3}", "tcp.srcport + ip.ttl > 0",
    "frame.len + tcp.srcport > 0", "frame.len - 1000 == tcp.srcport",
    "tcp.srcport / {tcp.port - tcp.srcport} >= 0", "frame.len * {tcp.srcport - tcp.dstport} != 0",
    "frame.len * {tcp.srcport - tcp.dstport} > 0", "{tcp.srcport - tcp.dstport} * frame.len < 0",
    "tcp.len - 1 - tcp.len == -1", "tcp.hdr_len / 4 == 8", "tcp.hdr_len + tcp.len == 32",
    "tcp.window_size_value * 2 > 60000", "tcp.seq_raw + 4000000000 > 0", "tcp.ack_raw - tcp.seq_raw < 0",
    "ip.ttl + 1 == 65", "ip.ttl - 100 == -36", "ip.ttl * 4 == 0", "ip.len - ip.hdr_len == 40",
    "ip.len % 2 == 1", "ip.id / 256 == 0", "ip.proto * 2 == 34", "ipv6.plen - 8 == 0",
    "ipv6.hlim - 64 < 0", "ipv6.flow % 2 == 1", "udp.length - 8 == 0", "udp.dstport >= udp.srcport + 1",
    "udp.srcport - udp.dstport == 0", "dns.count.answers - dns.count.queries > 1",
    "dns.count.answers * 2 >= 4", "dns.qry.type % 27 == 1", "icmp.type + icmp.code == 3",
    "icmpv6.type - 128 <= 1", "eth.type + 1 == 0x801", "eth.type & 0xff00 == 0x0800",
    "vlan.id - 1 == 99", "http.content_length / 2 > 100", "http.content_length - 1000000 < 0",
    "http.response.code / 100 == 4", "tls.record.length - 5 > 100", "count(tcp.port) * 2 == 4",
    "len(http.host) - 10 > 0", "len(dns.qry.name) % 2 == 0",
    "abs(frame.len - 1000) == 938", "abs(-frame.len) == 60", "abs(tcp.srcport) == 80",
    "abs(tcp.len - 1 - tcp.len) == 1", "abs(ip.ttl - 128) < 10", "abs(tcp.srcport) != 80",
    "max(frame.len, 0) == 60", "max(frame.len, -1) == 60", "min(frame.len - 1000, 0) == -938",
    "max(tcp.srcport, tcp.dstport) == 80", "min(tcp.srcport, tcp.dstport) == 80",
    "max(tcp.port) == 80", "max(tcp.port) > 1024", "max(tcp.srcport, 80) == 80",
    "min(tcp.srcport, tcp.dstport) + 1 == 81", "max(frame.len, frame.cap_len) == 60",
    "max(tcp.srcport) != 80", "max(tcp.srcport + 0, 1) != 80", "max(ip.src) == 192.168.1.1",
    "max(ip.src, ip.dst) == 10.0.0.0/8", "max(ip.src, ip.dst) > 10.0.0.0", "max(ip.addr) == 192.168.0.0/16",
    "min(eth.src) == 00:00:00:00:00:00", "max(eth.addr) == ff:ff:ff:ff:ff:ff",
    "max(dns.qry.name) == \"a\"", "max(dns.qry.name) contains \"a\"", "min(dns.resp.ttl) < 300",
    "max(udp.srcport, udp.dstport) == 53", "min(ipv6.src, ipv6.dst) == fe80::/10",
    "string(frame.number) matches \"[13579]$\"", "string(ip.src) == \"192.168.1.1\"",
    "string(tcp.srcport) contains \"80\"", "string(eth.src) contains \"00:\"",
    "string(ipv6.src) contains \"::\"", "string(tcp.flags) == \"18\"", "string(tcp.srcport) == 80",
    "string(tcp.port) == \"80\"", "string(dns.qry.type) == \"1\"", "string(ip.proto) == \"6\"",
    "string(tcp.srcport) != \"80\"", "string(ip.dst) matches \"^10\\\\.\"",
    "string(udp.dstport) matches \"^5\"", "string(eth.dst) == \"ff:ff:ff:ff:ff:ff\"",
    "ip.src#1 == 192.168.1.1", "ip.addr#1", "ip.addr#2", "ip#2", "ip.src#0", "ip.src#[1-2]",
    "ip.src#[2:]", "ip.src#[1]", "ip.src#[1:2]", "tcp.port#1 == 80", "tcp.port#2 == 80",
    "ip.src#1[0] == c0", "len(ip.src#1) == 4", "count(ip.src#1) == 1", "ip.src#1 == ip.dst#1",
    "ip.src #1 == 192.168.1.1", "dns.qry.name#1 contains \"google\"", "vlan.id#1", "vlan.id#2",
    "vlan.id#[1-2] == 100", "vlan.id#2 == 200", "eth.src#2", "tcp.flags.syn#1 == 1",
    "ipv6.src#1 == fe80::/10", "string(ip.src#1) == \"192.168.1.1\"", "frame.len == ${frame.len}",
    "frame.len != ${frame.len}", "${frame.len} == 3", "frame.len >= ${frame.len} - 300",
]

# tshark field types (tshark -G fields) -> what the generator writes for them.
UINT = ("FT_UINT8", "FT_UINT16", "FT_UINT24", "FT_UINT32", "FT_UINT64", "FT_FRAMENUM")


def _printable(s: str) -> bool:
    return s != "" and all(" " <= c <= "~" for c in s)


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unescape(cell: str) -> str:
    return cell.replace("\\t", "\t").replace("\\r", "\r").replace("\\n", "\n").replace("\\\\", "\\")


def templates(name: str, ft: str, v: str, rare: str) -> list[str]:
    """Every form the generator writes for a field of tshark type `ft`, with the capture's
    most common value `v` and its rarest `rare` (tshark's text of them)."""
    if ft in UINT:
        a, b = sorted((int(v, 0), int(rare, 0)))
        low_bit = int(v, 0) & -int(v, 0) if int(v, 0) else 1
        return [f"{name} == {int(v, 0)}", f"{name} != {int(v, 0)}", f"{name} eq {hex(int(rare, 0))}",
                f"{name} > {a}", f"{name} <= {b}", f"{name} >= {b}", f"{name} lt {a}",
                f"{name} in {{{a}, {b}}}", f"{name} in {{{a}..{b}}}", f"all {name} == {a}",
                f"{name} === {a}", f"{name} !== {a}", f"not {name} == {b}", f"{name} & {low_bit}",
                f"any {name} != {b}", f"{name} ge {a} and {name} le {b}"]
    if ft == "FT_BOOLEAN":
        return [f"{name} == 1", f"{name} == 0", f"{name} != 1", f"{name} == True",
                f"{name} == FALSE", f"!{name}"]
    if ft == "FT_IPv4":
        net16 = ipaddress.ip_network(v + "/16", strict=False)
        return [f"{name} == {v}", f"{name} != {v}", f"{name} == {net16}", f"{name} != {net16}",
                f"{name} in {{{v}, {rare}}}", f"{name} > {v}", f"{name} <= {rare}",
                f"{name}[0] == {int(v.split('.')[0]):02x}", f"{name} === {v}",
                f"{name} !== {rare}", f"all {name} != {rare}", f"{name} in {{{net16}}}"]
    if ft == "FT_IPv6":
        net = ipaddress.ip_network(v + "/64", strict=False)
        b = ipaddress.IPv6Address(v).packed
        return [f"{name} == {v}", f"{name} != {v}", f"{name} == {net}", f"{name} ~= {rare}",
                f"{name}[0:2] == {b[0]:02x}:{b[1]:02x}", f"{name} in {{{v}, {rare}}}"]
    if ft == "FT_ETHER":
        return [f"{name} == {v}", f"{name} != {v}", f"{name} in {{{v}, {rare}}}",
                f"{name}[0:3] == {v[:8]}", f"{name} contains {v[-5:]}", f"{name} > {rare}"]
    if ft in ("FT_STRING", "FT_UINT_STRING"):
        s, r = _unescape(v), _unescape(rare)
        piece = s[: max(1, len(s) // 2)]
        return [f"{name} == {_quote(s)}", f"{name} != {_quote(s)}", f"{name} contains {_quote(piece)}",
                f"{name} matches {_quote('^' + re.escape(piece))}",
                f"{name} matches {_quote('(?-i)' + re.escape(piece.upper()) + '$')}",
                f"{name} in {{{_quote(s)}, {_quote(r)}}}", f"{name} > {_quote(r)}",
                f"len({name}) > {len(r)}", f"{name}[0:1] == {_quote(s[:1])}",
                f"{name}[-1:] == {ord(s[-1]):02x}"]
    return []


def generated(types: dict[str, str], rows: list[dict[str, str]], per_field: int = 1) -> list[str]:
    """`per_field` expressions over each registry field's values in the capture, taking the
    templates of each type in turn so that every form meets some field; protocols and
    fields without values are tested for existence."""
    out: list[str] = []
    turn: Counter[str] = Counter()
    for name in NAMES:
        ft = types.get(name)
        values = Counter(v for r in rows if r.get(name) for v in r[name].split(SEP))
        if ft in ("FT_STRING", "FT_UINT_STRING"):
            values = Counter({k: n for k, n in values.items() if _printable(_unescape(k))})
        forms = []
        if values and ft is not None:
            common = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
            forms = templates(name, ft, common[0][0], common[-1][0])
        if not forms:
            out.append(name)
            continue
        for _ in range(per_field):
            out.append(forms[turn[ft] % len(forms)])
            turn[ft] += 1
    return out


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """(merged capture, tshark field types, frames where a field differs, expressions)."""
    for tool in ("tshark", "mergecap"):
        if not have(tool):
            pytest.skip(f"{tool} not installed")
    d = corpus_dir()
    if d is None:
        pytest.skip("real-capture corpus not found")
    files = [d / f for f in corpus_files() if tshark_status(f) == "ok" and "pcapngtest" not in f]
    merged = tmp_path_factory.mktemp("filter") / "corpus.pcapng"
    subprocess.run(["mergecap", "-a", "-F", "pcapng", "-w", str(merged)] + [str(f) for f in files],
                   check=True, capture_output=True, env=_env())
    out = subprocess.run(["tshark", "-G", "fields"], capture_output=True, text=True, env=_env(),
                         check=True).stdout
    types = {x.split("\t")[2]: x.split("\t")[3] if x[0] == "F" else "FT_PROTOCOL"
             for x in out.splitlines() if x[:2] in ("F\t", "P\t")}
    rows = tshark_rows(merged, NAMES)
    pkts = list(fp.open(str(merged), defragment=False))  # tshark's reassembly is off too
    assert len(pkts) == len(rows)
    differs: dict[int, set[str]] = {}
    for i, (p, row) in enumerate(zip(pkts, rows), 1):
        for name in NAMES:
            if not values_equal(name, p.field(name, all=True), row.get(name, ""))[0]:
                differs.setdefault(i, set()).add(name)
        if p.time_ns >= 2**31 * 10**9:  # TS_OVERFLOW, TIME_2038
            differs.setdefault(i, set()).add("frame.time_epoch")
    return merged, types, differs, generated(types, rows)


def tshark_frames(path: Path, expr: str) -> list[int]:
    cmd = ["tshark", "-r", str(path), "-n", "-Y", expr, "-T", "fields", "-e", "frame.number"]
    for pref in TSHARK_PREFS:
        cmd += ["-o", pref]
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    assert r.returncode == 0, f"tshark refused {expr!r}: {r.stderr}"
    return [int(x) for x in r.stdout.split()]


def ours(path: Path, expr: str) -> list[int]:
    out = []
    with fp.open(str(path), display_filter=expr, defragment=False) as r:
        for _ in r:
            out.append(r.frame_number)
    return out


NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def check(capture, exprs: list[str]) -> list[str]:
    merged, _, differs, _ = capture
    bad = []
    for expr in exprs:
        names = {m for m in NAME_RE.findall(expr) if m in NAMES or m.split(".")[0] in ("frame",)}
        names |= {n for m in list(names) for n in NAMES if n == m.split(".")[0]}  # their protocol
        skip = {f for f, fields in differs.items() if fields & names}  # FIELD_DIFFERS
        theirs = [f for f in tshark_frames(merged, expr) if f not in skip]
        mine = [f for f in ours(merged, expr) if f not in skip]
        if theirs != mine:
            only_t = sorted(set(theirs) - set(mine))[:10]
            only_o = sorted(set(mine) - set(theirs))[:10]
            bad.append(f"{expr!r}: tshark only {only_t}, fastpkt only {only_o}")
    return bad


@pytest.mark.tshark
def test_hand_written_expressions_match_tshark(capture):
    bad = check(capture, HAND)
    assert not bad, f"{len(bad)} of {len(HAND)}:\n" + "\n".join(bad)


@pytest.mark.tshark
def test_generated_expressions_match_tshark(capture):
    exprs = capture[3]
    assert len(exprs) >= 150
    bad = check(capture, exprs)
    assert not bad, f"{len(bad)} of {len(exprs)}:\n" + "\n".join(bad)


@pytest.mark.tshark
def test_arithmetic_layers_functions_match_tshark(capture):
    bad = check(capture, ARITH)
    assert not bad, f"{len(bad)} of {len(ARITH)}:\n" + "\n".join(bad)


# Bad expressions: tshark's caret column (and, where it has one, its message) must be ours.
BAD = [
    "tcp.port ==", "tcp.port == 80 and", "tcp.prot == 80", "tcp.prot", "tcp.port == 80 && tcp.prot",
    "tcp.port == 80 xx", "tcp.port[0] == 00", "ip.addr == 1.2.3.4/33", "tcp.port == \"x\"",
    "tcp.port == foo", "(tcp", "tcp.port in {80 443}", "tcp.port contains 80",
    "http.host matches \"([\"", "tcp.port >== 3", "ip.src == 1.2.3", "tcp.flags.syn == yes",
    "dns.qry.name == \"a\" or", "!", "tcp.port == 99999999999", "ip.src == ::1",
    "eth.src == 00:11", "http.host matches foo", "tcp.port ==80)", "tcp.port in {80",
    "tcp.port in {80..}", "tcp.port == tcp.prot", "ipv6.src == 1::/129", "\"abc\"", "}",
    "tcp.port == 80 or or tcp", "http.request.method == \"GE", "ip.ttl == 256",
    "eth.dst == 00:11:22:33:44:55:66", "udp.port in {53, }", "dns.flags.response == 2x",
    "upper(ip.src) == \"x\"", "lower(frame.len) == 3",
    # arithmetic, functions, layers, references (tshark 4.0)
    "3 + 1 == frame.number", "3 + 1", "ip.src + 1 == 1.2.3.4", "-ip.src == 1.2.3.4",
    "ip.src - 1 == 1.2.3.4", "frame.len + ip.src == 3", "frame.len + \"a\" == 3",
    "tcp.flags.syn + 1 == 2", "frame[0] + 1 == 1", "frame.len + 0 in {60, 61}",
    "frame.len + 0 contains 3c", "frame.len in {59 + 1}", "-{frame.len} == -60", "--frame.len == 60",
    "{frame.len == 60}", "frame.len + {1", "frame.len == 60 +", "ip.ttl * 10 == 640",
    "frame.len * 4294967296 == 0", "max(tcp.srcport, ip.ttl) > 0", "max(frame.len, ip.src) == 3",
    "max(tcp.srcport, tcp.dstport)", "max(1, 2) == 2", "abs(ip.src) == 1.2.3.4",
    "abs(frame.len, 1) == 3", "string(frame.len, 1) == \"3\"", "string(http.host) == \"x\"",
    "string(frame.time_epoch) contains \".\"", "string(tcp.flags.syn) == \"1\"",
    "string(1) == \"1\"", "string(frame.number)", "len(string(tcp.srcport)) == 2",
    "upper(string(eth.src)) contains \"FF\"", "string(tcp.srcport) in {\"80\"}",
    "max(tcp.port) in {80}", "ip.src # 1", "ip.src#-1", "ip.src#a", "ip.src#", "ip.src#[a-b]",
    "ip.src#[1-2", "ip.src#[2-]", "ip.src#99999999999", "${frame.len}", "${frme.len} == 3",
    "frame[0] == 0x45 + 0", "ip.src == ip.dst + 1", "max(ip.ttl, 1) in {64}",
]


def tshark_error(expr: str) -> tuple[str, int | None]:
    r = subprocess.run(["tshark", "-r", str(Path(__file__).parent / "corpus" / "ppp-tls1_3.pcap"),
                        "-Y", expr], capture_output=True, text=True, env=_env())
    assert r.returncode != 0, expr
    lines = [x for x in r.stderr.splitlines() if not x.startswith("Running as user")]
    message = lines[0].removeprefix("tshark: ")
    caret = next((x.index("^") - 4 for x in lines[1:] if x.strip().startswith("^")), None)
    return message, caret


@pytest.mark.tshark
@pytest.mark.parametrize("expr", BAD)
def test_errors_point_where_tshark_points(expr):
    if not have("tshark"):
        pytest.skip("tshark not installed")
    message, caret = tshark_error(expr)
    with pytest.raises(fp.FilterError) as info:
        fp.compile_filter(expr)
    err = info.value
    assert isinstance(err, ValueError) and err.expression == expr
    if caret is None and message.startswith("Unexpected end"):  # no caret at the end in tshark
        assert (err.column, err.length) == (len(expr), 0), err
    elif caret is not None:  # (tshark has none for regex errors either: ours is the pattern)
        assert err.column == caret, f"{expr!r}: tshark {message!r} at {caret}, fastpkt {err}"
    if not message.startswith("Regex compilation error") and "possible values" not in message:
        assert err.reason.startswith(message), (err.reason, message)
    assert str(err).splitlines()[1:] == ["    " + expr, "    " + " " * err.column + "^" + "~" * max(err.length - 1, 0)]


def test_unknown_field_suggests_nearest():
    with pytest.raises(fp.FilterError, match='Did you mean "dns.qry.name"'):
        fp.compile_filter('dns.qry.nme == "example.com"')
    with pytest.raises(fp.FilterError, match='Did you mean "tcp.port"'):
        fp.compile_filter("tcp.prot")


def test_hostile_expressions_raise_cleanly():
    for expr in ["(" * 10000, "!" * 10000, "a" * 100000,
                 "frame[" + "9" * 40 + "]", "frame[1:2:3] == 00", "\"\\", "'", "tcp.port in {",
                 "ip.addr == 300.1.1.1/8", "frame.len == 0x", "frame.len == 0b2", "\x00",
                 "frame contains \"\\u12\"", "frame[-1-2] == 00", "tcp.port == 1..2",
                 "frame contains \"a\\", "frame[0] == '\\", "frame[0] == '\\x",
                 "frame.len == " + "{" * 100000, "frame.len == " + "max(" * 100000,
                 "frame.len" + " + 1" * 100000 + " == 3", "-" * 100000, "ip.src#" + "9" * 40,
                 "frame.len == ${" + "a" * 100000 + "}"]:
        with pytest.raises((fp.FilterError, ValueError)):
            fp.compile_filter(expr)
    long_and = fp.compile_filter(" and ".join(["tcp"] * 50000))  # evaluated by a loop
    pkt = fp.read(str(Path(__file__).parent / "corpus" / "ppp-tls1_3.pcap"))[0]
    assert long_and.match(pkt) is True


def test_api_everywhere_display_filter_goes():
    path = str(Path(__file__).parent / "corpus" / "ppp-twohttprequests.pcap")
    df = fp.compile_filter('http.request.method == "GET"')
    assert repr(df) == "DisplayFilter('http.request.method == \"GET\"')"
    assert df.expression == 'http.request.method == "GET"'
    pkts = fp.read(path)
    wanted = [p for p in pkts if p.http is not None and p.http.method == "GET"]
    assert wanted and [p.time_ns for p in pkts if df.match(p)] == [p.time_ns for p in wanted]
    for arg in (df, df.expression):
        assert [p.time_ns for p in fp.read(path, display_filter=arg)] == [p.time_ns for p in wanted]
        with fp.open(path, display_filter=arg) as r:
            assert r.count() == len(wanted) and r.display_filter is not None
    r = fp.open(path, display_filter="tcp")
    assert r.filtered == 0 and sum(1 for _ in r) == len(pkts)
    syn = fp.open(path, display_filter="tcp.flags.syn == 1")
    n = sum(1 for _ in syn)
    assert syn.filtered == len(pkts) - n and syn.frame_number == len(pkts)
    flows = fp.flows(path, display_filter="tcp.len > 0").to_pandas()
    assert flows["packets"].sum() == sum(
        1 for p in pkts if p.tcp is not None and len(p.tcp.payload) > 0)
    streams = list(fp.streams(path, display_filter="tcp.port == 80"))
    assert len(streams) == len({p.tcp.sport for p in pkts if p.tcp is not None})
    assert list(fp.streams(path, display_filter="udp")) == []
    msgs = list(fp.http(path, display_filter="tcp"))
    assert [m.method for m in msgs if hasattr(m, "method")] == ["GET", "GET"]
    assert len(fp.client_hellos(path, display_filter="tcp").to_pandas()) == 0
    assert len(fp.sniff(offline=path, display_filter="http.request")) == 2
    assert len(fp.sniff(offline=list(pkts), display_filter="http.request")) == 2
    with pytest.raises(fp.FilterError):
        fp.sniff(offline=path, display_filter="http.requst")
    with pytest.raises(TypeError):
        fp.open(path, display_filter=3)
    with pytest.raises(ValueError):
        fp.flows(fp.open(path), display_filter="tcp")


@pytest.mark.parametrize("expr", ["udp.port == 53", "dns", "tcp.port == 443", "tls", "ip.ttl > 60"])
def test_engines_read_the_filters_dissection(expr):
    """Engines take the dissection the display filter made of a passed packet (whole, with
    application layers) instead of dissecting again, and header-only filters dissect no
    application layer: the records must be those of the same engine over the packets the
    filter passes, written to a file first (the filter's selection is tshark's, above)."""
    import os
    import tempfile

    for name in ("suricata-dns-udp-google.com-a-aaaa-mx.pcap", "ppp-tls1_3.pcap", "ppp-ssl-clienthello1.pcap"):
        src = str(Path(__file__).parent / "corpus" / name)
        passed = fp.read(src, display_filter=expr)
        fd, tmp = tempfile.mkstemp(suffix=".pcap")
        os.close(fd)
        try:
            fp.write(tmp, passed)
            want = fp.flows(tmp).to_pandas().drop(columns=["flow_id"], errors="ignore")
            got = fp.flows(src, display_filter=expr).to_pandas().drop(columns=["flow_id"], errors="ignore")
            assert got.astype(str).values.tolist() == want.astype(str).values.tolist(), src
            assert fp.stats(src, display_filter=expr).dns().equals(fp.stats(tmp).dns()), src
            hellos = fp.client_hellos(src, display_filter=expr).to_pandas()
            assert hellos["sni"].astype(str).tolist() == fp.client_hellos(tmp).to_pandas()["sni"].astype(str).tolist()
        finally:
            os.unlink(tmp)
