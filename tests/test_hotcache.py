"""The per-packet attribute path (csrc/py/hotcache.c, the packet's own layer views in
csrc/py/layer.c): shared address text and ints stay bounded and equal to independent
references (socket.inet_ntop, struct on the bytes written), and views handed out from a
packet's block stay valid however long they are kept."""
from __future__ import annotations

import gc
import random
import socket
import struct
import sys

import fastpkt as fp
from fastpkt import _fastpkt


def _pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)))
            f.write(frame)


def _udp4(src, dst, sport, dport, payload=b"x"):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def _tcp6(src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 1024, 0, 0)
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x86\xdd" + ip + tcp


def _expected(frames):
    out = []
    for fr in frames:
        if fr[12:14] == b"\x08\x00":
            ip = fr[14:34]
            out.append((socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20]),
                        *struct.unpack("!HH", fr[34:38]), len(fr)))
        else:
            ip = fr[14:54]
            out.append((socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]),
                        *struct.unpack("!HH", fr[54:58]), len(fr)))
    return out


def _many_frames(n, seed=7):
    rnd = random.Random(seed)
    frames = []
    for i in range(n):
        if i % 3 == 2:
            frames.append(_tcp6(rnd.randbytes(16), rnd.randbytes(16), rnd.randrange(65536), rnd.randrange(65536)))
        else:
            frames.append(_udp4(rnd.randbytes(4), rnd.randbytes(4), rnd.randrange(65536), rnd.randrange(65536),
                                b"y" * rnd.randrange(1, 1400)))
    return frames


def test_hot_values_match_references_and_tables_stay_bounded(tmp_path):
    frames = _many_frames(12_000)
    _pcap(tmp_path / "many.pcap", frames)
    before = _fastpkt._hot_cache_info()
    got = []
    # random UDP ports hit tunnel ports (VXLAN, GTP-U...): read the headers as written
    for pkt in fp.open(tmp_path / "many.pcap", decapsulate=False):
        ip = pkt.ip or pkt.ip6
        l4 = pkt.tcp or pkt.udp
        got.append((ip.src, ip.dst, l4.sport, l4.dport, pkt.wirelen))
        assert (pkt.src, pkt.dst, pkt.sport, pkt.dport) == got[-1][:4]
    assert got == _expected(frames)
    info = _fastpkt._hot_cache_info()
    # every address and most ports are distinct: far more values than slots went through
    assert info["address_misses"] - before["address_misses"] > info["address_slots"]
    assert 0 < info["addresses"] <= info["address_slots"]
    assert 0 < info["ints"] <= info["int_slots"]
    assert 0 < info["field_sets"] <= info["field_slots"]
    assert info["field_misses"] - before["field_misses"] > info["field_slots"]
    # the bytes counted are the objects held: at most a slot's worth of the longest text each
    longest_str = sys.getsizeof("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert info["address_bytes"] <= info["address_slots"] * longest_str
    assert info["int_bytes"] <= info["int_slots"] * 32  # a one-digit int: a 32-byte block
    assert info["bytes"] > info["address_bytes"] + info["int_bytes"] + info["field_bytes"]  # plus the tables


def test_repeated_values_are_shared(tmp_path):
    a, b = socket.inet_pton(socket.AF_INET, "192.0.2.1"), socket.inet_pton(socket.AF_INET, "198.51.100.7")
    _pcap(tmp_path / "same.pcap", [_udp4(a, b, 40000, 443) for _ in range(50)])
    before = _fastpkt._hot_cache_info()
    pkts = list(fp.open(tmp_path / "same.pcap"))
    srcs = {id(p.ip.src) for p in pkts}
    ports = {id(p.udp.sport) for p in pkts}
    assert [p.ip.src for p in pkts] == ["192.0.2.1"] * 50 and len(srcs) == 1
    assert [p.udp.sport for p in pkts] == [40000] * 50 and len(ports) == 1
    # the first packet made the text; the others took it from a table (a plain packet's IP
    # view takes its src, dst and proto together, keyed by the header's bytes)
    after = _fastpkt._hot_cache_info()
    assert sum(after[k] - before[k] for k in ("address_hits", "field_hits")) >= 49


def test_small_int_references_balance(tmp_path):
    """Values below 256 (lengths, ports, TTLs) are CPython's own ints, referenced by the hot
    table and handed out with a reference each: reading them from many packets, keeping some
    and dropping all leaves each int's reference count where it was."""
    a, b = socket.inet_pton(socket.AF_INET, "192.0.2.1"), socket.inet_pton(socket.AF_INET, "198.51.100.7")
    frames = [_udp4(a, b, 53, 100 + i % 7, b"z" * (i % 5)) for i in range(400)]
    _pcap(tmp_path / "small.pcap", frames)
    list(fp.open(tmp_path / "small.pcap"))  # the tables exist before counting
    lens = sorted({len(f) for f in frames})
    ints = lens + [53, 64] + [100 + k for k in range(7)]
    assert max(ints) < 256
    gc.collect()
    gc.disable()
    try:
        before = [sys.getrefcount(v) for v in ints]
        kept = []
        for pkt in fp.open(tmp_path / "small.pcap"):
            got = (pkt.wirelen, pkt.udp.sport, pkt.udp.dport, pkt.ip.ttl, pkt.sport, pkt.dport)
            assert got[0] in lens and got[1:3] == got[4:] and got[3] == 64
            if pkt.udp.dport == 101:
                kept.append((pkt, got))
        assert len(kept) == 400 // 7 + (400 % 7 > 1)
        assert all(pkt.wirelen == got[0] for pkt, got in kept)
        del kept, pkt, got
        assert [sys.getrefcount(v) for v in ints] == before
    finally:
        gc.enable()


def test_views_kept_after_reader_moves_on_closes_and_file_goes(tmp_path):
    frames = _many_frames(300, seed=3)
    path = tmp_path / "keep.pcap"
    _pcap(path, frames)
    kept = []
    with fp.open(path, decapsulate=False) as r:
        for pkt in r:  # the packet itself is dropped at the next iteration
            kept.append(((pkt.ip or pkt.ip6), (pkt.tcp or pkt.udp), pkt.eth))
    del pkt
    gc.collect()
    path.unlink()
    assert [(ip.src, ip.dst, l4.sport, l4.dport) for ip, l4, _ in kept] == [e[:4] for e in _expected(frames)]
    assert all(eth.src == "04:04:04:04:04:04" for _, _, eth in kept)


def test_views_of_one_packet(tmp_path):
    path = tmp_path / "one.pcap"
    _pcap(path, _many_frames(1))
    pkt = next(iter(fp.open(path)))
    ip = pkt.ip
    assert pkt.ip is ip  # the view already out is handed out again
    eth, udp = pkt.eth, pkt.udp  # the third view held at once is made on its own
    assert (eth.type, ip.proto, udp.dport) == (0x0800, 17, struct.unpack("!H", _many_frames(1)[0][36:38])[0])
    del pkt
    gc.collect()
    assert ip.raw == udp._packet.ip.raw and ip.payload == udp.raw
    assert ip._packet.udp.len == udp.len == len(udp.raw)
    del ip, udp
    gc.collect()
    assert eth.type == 0x0800


def test_hot_views_are_slots_of_the_packet(tmp_path):
    """pkt.ip/ip6/tcp/udp/wirelen and the views' src/dst/proto/sport/dport are member slots
    (CPython specialises reading them); the values are the bytes written, as the protocol's
    own getters read them."""
    a, b = socket.inet_pton(socket.AF_INET6, "2001:db8::1"), socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    frames = [_udp4(socket.inet_pton(socket.AF_INET, "192.0.2.1"), socket.inet_pton(socket.AF_INET, "192.0.2.2"),
                    5353, 53), _tcp6(a, b, 443, 50000)]
    _pcap(tmp_path / "two.pcap", frames)
    pkts = list(fp.open(tmp_path / "two.pcap"))
    member = type(fp.Packet.__dict__["wirelen"])
    assert all(type(fp.Packet.__dict__[n]) is member
               for n in ("ip", "ip6", "tcp", "udp", "wirelen", "src", "dst", "proto", "sport", "dport"))
    for pkt, want in zip(pkts, _expected(frames)):
        assert (pkt.src, pkt.dst, pkt.sport, pkt.dport, pkt.wirelen) == want  # the flat form
        ip, l4 = pkt.ip or pkt.ip6, pkt.tcp or pkt.udp
        # one class per pair of families (a loop's ip.src meets both), answering as its own
        assert type(ip).__name__ == "IP_or_IPv6" and type(l4).__name__ == "TCP_or_UDP"
        assert ip.__class__ is (fp.IP if ip.version == 4 else fp.IPv6)
        assert l4.__class__ is (fp.UDP if pkt.udp is not None else fp.TCP)
        assert all(type(type(ip).__dict__[n]) is member for n in ("src", "dst", "proto"))
        assert all(type(type(l4).__dict__[n]) is member for n in ("sport", "dport"))
        assert (ip.src, ip.dst, l4.sport, l4.dport, pkt.wirelen) == want
        # an edit gives the views their protocol's class, whose getters read the same
        edited = fp.Packet(bytes(pkt))
        eip, el4 = edited.ip or edited.ip6, edited.tcp or edited.udp
        setattr(eip, "ttl" if eip.version == 4 else "hlim", 9)
        assert (type(eip), type(el4)) == (ip.__class__, l4.__class__)
        base = ip.__class__
        assert (base.src.__get__(eip), base.dst.__get__(eip), base.proto.__get__(eip)) == (ip.src, ip.dst, ip.proto)
        assert (l4.__class__.sport.__get__(el4), l4.__class__.dport.__get__(el4)) == want[2:4]
    assert (pkts[0].ip.proto, pkts[1].ip6.proto, pkts[0].ip6, pkts[0].tcp, pkts[1].ip, pkts[1].udp) == (
        17, 6, None, None, None, None)
    assert (pkts[0].proto, pkts[1].proto) == (17, 6)


def test_hot_views_of_cut_headers_read_what_is_there():
    """A header cut by the snaplen: the fields past the end read None (the protocol's getters,
    not the shared field table of whole headers)."""
    src, dst = socket.inet_pton(socket.AF_INET, "198.51.100.1"), socket.inet_pton(socket.AF_INET, "198.51.100.2")
    frame = _udp4(src, dst, 1234, 4321)
    for cut in range(14, len(frame) + 1):
        pkt = fp.Packet(frame[:cut], wirelen=len(frame))
        ip, udp = pkt.ip, pkt.udp
        if ip is not None:
            have = cut - 14
            assert ip.src == ("198.51.100.1" if have >= 16 else None), cut
            assert ip.dst == ("198.51.100.2" if have >= 20 else None), cut
            assert ip.proto == (17 if have >= 10 else None), cut
        if udp is not None:
            assert (udp.sport, udp.dport) == (1234 if cut >= 36 else None, 4321 if cut >= 38 else None), cut
        assert pkt.wirelen == len(frame)
        if cut >= 34 + 8:  # whole IP and UDP headers: the flat form reads the same values
            assert (pkt.src, pkt.dst, pkt.proto, pkt.sport, pkt.dport) == (
                "198.51.100.1", "198.51.100.2", 17, 1234, 4321), cut


def test_hot_view_outlives_its_packet_and_comes_back(tmp_path):
    """A view kept past its packet holds the packet's block; the packet it hands out again
    answers with that same view, and both stay valid in any order of release."""
    frames = _many_frames(3, seed=5)
    _pcap(tmp_path / "three.pcap", frames)
    want = _expected(frames)
    for order in range(2):
        pkt = next(iter(fp.open(tmp_path / "three.pcap")))
        ip, l4 = pkt.ip, pkt.udp
        del pkt
        gc.collect()
        again = ip._packet
        assert again.ip is ip and again.udp is l4
        if order:
            del ip
            assert (again.ip.src, again.udp.sport) == (want[0][0], want[0][2])
            del again
            assert (l4.sport, l4.dport, l4._packet.ip.dst) == want[0][2:4] + (want[0][1],)
        else:
            del again, l4
            assert (ip.src, ip.dst, ip._packet.udp.dport) == want[0][:2] + (want[0][3],)


def test_loop_locals_hold_the_previous_packets_views(tmp_path):
    """The benchmark loop's pattern: when next() comes, the loop's locals still hold the previous
    packet's views (both, one, or the other) while the packet itself goes. Each held view keeps
    reading its own record (inet_ntop/struct of the bytes written) whichever hot slot it is
    (IPv4/IPv6, TCP/UDP, mixed in one file), holds its packet once, and gives it back when
    rebound; the blocks are reused as the loop goes on."""
    frames = _many_frames(300, seed=13)
    path = tmp_path / "locals.pcap"
    _pcap(path, frames)
    want = _expected(frames)
    ids = set()
    ip = l4 = None
    with fp.open(path) as r:
        base = sys.getrefcount(r)
        for i, pkt in enumerate(r):
            if i:  # the views of packet i - 1 held across next(): the packet lives through them
                prev = want[i - 1]
                if ip is not None:
                    assert (ip.src, ip.dst, ip._packet.wirelen) == (prev[0], prev[1], prev[4])
                if l4 is not None:
                    assert (l4.sport, l4.dport) == prev[2:4]
                # enumerate's, this packet's, and the previous packet's (kept by its views)
                assert sys.getrefcount(r) == base + 3
            ids.add(id(pkt))
            ip = pkt.ip or pkt.ip6 if i % 4 != 1 else None
            l4 = pkt.tcp or pkt.udp if i % 4 != 2 else None
        del pkt
        ip = l4 = None
        assert sys.getrefcount(r) == base  # every block given back (parked blocks hold no reference)
    assert len(ids) <= 3


def test_edit_of_a_hot_view_reads_back():
    """An edit through a hot view shows in it and in the packet's bytes (written with
    socket.inet_pton and struct as the reference)."""
    src, dst = socket.inet_pton(socket.AF_INET, "192.0.2.1"), socket.inet_pton(socket.AF_INET, "192.0.2.2")
    pkt = fp.Packet(_udp4(src, dst, 1000, 2000))
    ip, udp = pkt.ip, pkt.udp
    ip.src = "203.0.113.9"
    udp.dport = 53
    assert (ip.src, ip.dst, pkt.ip.src, udp.dport, pkt.udp.sport) == ("203.0.113.9", "192.0.2.2", "203.0.113.9", 53, 1000)
    raw = bytes(pkt)
    assert raw[26:30] == socket.inet_pton(socket.AF_INET, "203.0.113.9") and struct.unpack("!HH", raw[34:38]) == (1000, 53)


def _mapped(path) -> bool:
    with open("/proc/self/maps") as f:
        return any(line.rstrip().endswith(str(path)) for line in f)


def test_kept_packets_never_change_while_iteration_reuses_blocks(tmp_path):
    """A Reader's iteration reuses the block of a packet nobody holds any more (packet.c's
    parking); a packet kept in a list or a dict, or only through one of its views or field
    values, must keep reading its own record (inet_ntop/struct of the bytes written)."""
    frames = _many_frames(400, seed=11)
    path = tmp_path / "keep.pcap"
    _pcap(path, frames)
    want = _expected(frames)
    listed, by_index, views, values = [], {}, {}, {}
    with fp.open(path) as r:
        base = sys.getrefcount(r)
        for i, pkt in enumerate(r):
            if i % 7 == 0:
                listed.append(pkt)
            elif i % 7 == 1:
                by_index[i] = pkt
            elif i % 7 == 2:
                views[i] = (pkt.ip or pkt.ip6, pkt.tcp or pkt.udp)  # the packet itself goes
            elif i % 7 == 3:
                ip = pkt.ip or pkt.ip6
                values[i] = (ip.src, ip.dst, (pkt.tcp or pkt.udp).sport, pkt.wirelen)
            # the others are dropped: their blocks are reused by the packets after them
        del pkt, ip
        # each packet kept, or kept alive by its views, holds the Reader once; parked blocks do not
        assert sys.getrefcount(r) == base + len(listed) + len(by_index) + len(views)
    got = lambda p: ((p.ip or p.ip6).src, (p.ip or p.ip6).dst, (p.tcp or p.udp).sport, (p.tcp or p.udp).dport,
                     p.wirelen)
    assert [got(p) for p in listed] == want[::7]
    assert [(p.src, p.dst, p.sport, p.dport, p.wirelen) for p in listed] == want[::7]  # the flat form
    assert len({id(p) for p in listed}) == len(listed)
    assert {i: got(p) for i, p in by_index.items()} == {i: want[i] for i in by_index}
    assert {i: (ip.src, ip.dst, l4.sport, l4.dport) for i, (ip, l4) in views.items()} == \
        {i: want[i][:4] for i in views}
    assert values == {i: (want[i][0], want[i][1], want[i][2], want[i][4]) for i in values}
    assert [bytes(p) for p in listed] == frames[::7]


def test_dropped_packets_reuse_their_blocks_and_the_reader_goes_at_once(tmp_path):
    """Packets dropped as the loop goes are made in a few blocks again and again; the parked
    blocks hold no reference to their Reader, so a Reader abandoned mid-iteration is freed (and
    its file unmapped) by reference counting alone, with the collector off."""
    frames = _many_frames(200, seed=12)
    path = tmp_path / "drop.pcap"
    _pcap(path, frames)
    want = _expected(frames)
    r = fp.open(path)
    base = sys.getrefcount(r)
    ids, seen = set(), []
    for pkt in r:
        ids.add(id(pkt))
        seen.append(got := ((pkt.ip or pkt.ip6).src, (pkt.tcp or pkt.udp).dport))
        assert got == (want[len(seen) - 1][0], want[len(seen) - 1][3])
    del pkt
    assert len(ids) <= 3 and len(seen) == len(frames)
    assert sys.getrefcount(r) == base  # the parked blocks do not hold it
    r.close()
    gc.disable()
    try:
        r = fp.open(path)
        for i, pkt in enumerate(r):
            if i == 50:
                break
        del pkt
        assert _mapped(path)
        del r
        assert not _mapped(path)
    finally:
        gc.enable()


def test_edited_packet_is_not_reused(tmp_path):
    """An edited packet keeps its builder stack: its block is freed, never parked (the next
    packet's views must read their own record)."""
    frames = _many_frames(6, seed=13)
    path = tmp_path / "edit.pcap"
    _pcap(path, frames)
    want = _expected(frames)
    out = []
    for i, pkt in enumerate(fp.open(path)):
        ip = pkt.ip or pkt.ip6
        if i == 0:
            ip.ttl = 9
        out.append((ip.src, ip.dst, (pkt.tcp or pkt.udp).sport))
        del ip
    assert out == [w[:3] for w in want]


# --------------------------------------------------------------- one class per pair of families

_PAIRS = ((fp.IP, fp.IPv6), (fp.TCP, fp.UDP))
_EDIT = {fp.IP: "ttl", fp.IPv6: "hlim", fp.TCP: "window", fp.UDP: "sport"}


def _getsets(cls):
    return sorted(n for n, d in vars(cls).items() if type(d).__name__ == "getset_descriptor")


def _answer(get):
    try:
        return "ok", get()
    except Exception as e:  # noqa: BLE001 - the same exception type is the answer
        return "error", type(e)


def _pair_views_match_protocol_classes(pkt):
    """The hot views of one packet (one class for IP and IPv6, one for TCP and UDP) answer as
    their protocol's class: isinstance, __class__, pkt[...] and `in`, every getter of their
    family and AttributeError for the other's names; then an edit gives them that class back
    and its own getters, on the same bytes, must read what the pair's class answered.
    Returns how many views were compared field for field."""
    views = [v for v in (pkt.ip or pkt.ip6, pkt.tcp or pkt.udp) if v is not None]
    before = []
    for view in views:
        cls = view.__class__
        pair = next(p for p in _PAIRS if cls in p)
        other = pair[1] if cls is pair[0] else pair[0]
        assert isinstance(view, cls) and isinstance(view, fp.Layer) and not isinstance(view, other)
        assert pkt[cls] is view and pkt[type(view)] is view and type(view) in pkt and cls in pkt
        assert view.name == cls.__name__ and view.fields == cls.fields and view.fields_desc == cls.fields_desc and cls.__name__ in repr(view)
        for name in set(vars(other)) - set(vars(cls)):
            assert not hasattr(view, name), (cls, name)
        assert [n for n in dir(view) if not n.startswith("_")] == [n for n in dir(cls) if not n.startswith("_")]
        before.append((view, cls, {n: _answer(lambda n=n: getattr(view, n)) for n in _getsets(cls)}))
    if not views:
        return 0
    edit = views[0]
    try:
        setattr(edit, _EDIT[edit.__class__], getattr(edit, _EDIT[edit.__class__]))
    except (AttributeError, TypeError, ValueError):  # a stack the builder cannot take (tunnels, garbage)
        return 0
    for view, cls, fast in before:
        assert type(view) is cls
        general = {n: _answer(lambda n=n: vars(cls)[n].__get__(view)) for n in _getsets(cls)}
        assert fast == general, (cls, {n for n in fast if fast[n] != general[n]})
    return len(before)


def _fixture_paths():
    from _fphelpers import DATA
    return sorted(p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng", ".cap"))


def test_pair_classes_on_a_mixed_capture(tmp_path):
    """IPv4/UDP and IPv6/TCP interleaved, as one loop site meets them."""
    frames = _many_frames(30, seed=11) + [b"\x02" * 12 + b"\x08\x06" + b"\x00" * 28]  # ARP: no IP
    _pcap(tmp_path / "mixed.pcap", frames)
    pkts = list(fp.open(tmp_path / "mixed.pcap"))
    assert len({type(p.ip or p.ip6) for p in pkts if p.ip or p.ip6}) == 1
    assert len({type(p.tcp or p.udp) for p in pkts if p.tcp or p.udp}) == 1
    assert sum(_pair_views_match_protocol_classes(p) for p in pkts) == 60
    assert pkts[-1].ip is None and pkts[-1].ip6 is None and type(pkts[0].ip) not in pkts[-1]


def test_pair_classes_on_fixtures():
    """Every fixture (IPv6 extension headers and fragments, VLANs, loopback, SLL, ICMP...),
    read as tunnels and fragments come by default and without them."""
    from _fphelpers import DATA
    compared = 0
    for name in _fixture_paths():
        for kw in ({}, {"decapsulate": False, "defragment": False}):
            compared += sum(_pair_views_match_protocol_classes(p) for p in fp.open(str(DATA / name), **kw))
    assert compared > 100


def test_pair_classes_on_corpus(corpus_file):
    """Real captures: tunnels, fragments, cut and malformed headers."""
    import pytest

    from _fphelpers import corpus_dir
    try:
        pkts = list(fp.open(str(corpus_dir() / corpus_file), on_error="skip"))
    except fp.Error as e:
        pytest.skip("unreadable: %s" % e)
    for pkt in pkts:
        _pair_views_match_protocol_classes(pkt)


def test_pair_class_descriptors_refuse_other_objects():
    """A pair class's per-family descriptors, taken from its dict and called by hand on
    anything but its own views, raise TypeError (they read a view's layer id)."""
    import pytest

    pkt = fp.Packet(bytes(fp.Ether() / fp.IP(ttl=7) / fp.UDP(sport=5)))
    ttl, sport_len = vars(type(pkt.ip))["ttl"], vars(type(pkt.udp))["len"]
    for other in (b"x" * 200, pkt, pkt.udp, object(), 3):
        with pytest.raises(TypeError):
            ttl.__get__(other)
    assert ttl.__get__(pkt.ip) == 7 and sport_len.__get__(pkt.udp) == 8
    assert ttl.__get__(None, type(pkt.ip)) is ttl
