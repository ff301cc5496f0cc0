"""sr/srp/send, arping and traceroute in a lab of namespaces (tests/_netns.py Lab), each
scenario run twice in the prober's namespace, once with fastpkt and once with Scapy, while
tcpdump records the prober's wire. References: Scapy's results in the same lab, and the
wire: every answer we report was on the wire, and every packet on the wire that Scapy's
``answers()`` pairs with a probe is among our answers. Only the lab's private addresses are
ever probed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _netns import Lab, NetnsError, requirements

ROOT = Path(__file__).resolve().parent.parent
scapy_all = pytest.importorskip("scapy.all")

H1, H2, H3 = Lab.HOSTS["h1"], Lab.HOSTS["h2"], Lab.HOSTS["h3"]
OPEN_PORT, CLOSED_PORT, UDP_CLOSED, UDP_TWICE = 8080, 8081, 9999, 7777

# Runs in the prober's namespace: builds the probes with Scapy (both runs send the same
# bytes), runs them through `tool`, prints the pairs and unanswered probes as hex.
RUNNER = r'''
import json, sys
sys.path.insert(0, %(root)r)
from scapy.all import IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest, Ether, ARP, conf
conf.verb = 0
tool = %(tool)r
probes = %(probes)s
kw = %(kw)r
l2 = kw.pop("l2", False)
if tool == "fastpkt":
    import fastpkt as fp
    ans, unans = (fp.srp if l2 else fp.sr)(probes, verbose=0, **kw)
else:
    import scapy.all as s
    if l2:
        kw["iface"] = "eth0"
    ans, unans = (s.srp if l2 else s.sr)(probes, verbose=0, **kw)
print(json.dumps({"ans": [[bytes(a).hex(), bytes(b).hex()] for a, b in ans],
                  "unans": [bytes(u).hex() for u in unans]}))
'''


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = requirements(("ip", "tcpdump"))
    if why:
        pytest.skip(why)
    try:
        with Lab("fpsr") as lab:
            # an open TCP port on h2 (the kernel answers SYNs with SYN-ACK; closed ports RST)
            srv = lab.ns("h2").popen([sys.executable, "-c",
                                      "import socket,time; s=socket.socket(); "
                                      "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                                      "s.bind(('0.0.0.0', %d)); s.listen(1024); print('up', flush=True); "
                                      "time.sleep(3600)" % OPEN_PORT],
                                     stdout=subprocess.PIPE, text=True)
            assert srv.stdout.readline().strip() == "up"
            # a UDP service on h2 that answers every datagram twice (for multi=True)
            twice = lab.ns("h2").popen([sys.executable, "-c",
                                        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                                        "s.bind(('0.0.0.0', %d)); print('up', flush=True)\n"
                                        "while True:\n    d, a = s.recvfrom(2048); s.sendto(d, a); s.sendto(d, a)"
                                        % UDP_TWICE], stdout=subprocess.PIPE, text=True)
            assert twice.stdout.readline().strip() == "up"
            lab.tmp = tmp_path_factory.mktemp("probe")
            try:
                yield lab
            finally:
                for p in (srv, twice):
                    p.kill()
                    p.wait()
    except NetnsError as e:
        pytest.skip("cannot build the lab: %s" % e)


def run_in_h1(lab, tool: str, probes: str, pcap: Path | None = None, **kw) -> dict:
    """Run RUNNER in h1 with `tool`; with `pcap`, tcpdump records h1's eth0 meanwhile."""
    ns = lab.ns("h1")
    if pcap is not None:
        ns.add_capture("eth0", pcap)
    try:
        r = ns.exec([sys.executable, "-c", RUNNER % {"root": str(ROOT), "tool": tool, "probes": probes,
                                                    "kw": kw}], timeout=300)
    finally:
        if pcap is not None:
            ns.stop_capture()
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert not ns.incomplete, ns.incomplete
    return out


def ip_pairs(out: dict) -> set:
    """(probe, answer) as comparable facts, parsed by Scapy."""
    IP = scapy_all.IP
    facts = set()
    for s, r in out["ans"]:
        sp, rp = IP(bytes.fromhex(s)), IP(bytes.fromhex(r))
        if rp.haslayer(scapy_all.TCP) and not rp.haslayer(scapy_all.ICMP):
            what = ("tcp", str(rp[scapy_all.TCP].flags))
        elif rp.haslayer(scapy_all.ICMP):
            what = ("icmp", rp[scapy_all.ICMP].type, rp[scapy_all.ICMP].code)
        else:
            what = ("other", rp.proto)
        facts.add((sp.dst, sp.proto, sp.payload.fields.get("dport", sp.payload.fields.get("seq")), rp.src) + what)
    return facts


def wire_answers(pcap: Path, probes_hex: list[str], l2: bool = False, v6: bool = False) -> set:
    """Frames of tcpdump's capture that Scapy's answers() pairs with one of the probes:
    their IP (or, l2, Ethernet) bytes, hex."""
    first = scapy_all.Ether if l2 else scapy_all.IPv6 if v6 else scapy_all.IP
    probes = [first(bytes.fromhex(h)) for h in probes_hex]
    found = set()
    for frame in scapy_all.rdpcap(str(pcap)):
        pkt = frame if l2 else frame.getlayer(first)
        if pkt is None:
            continue
        if any(pkt.answers(p) for p in probes):
            found.add(bytes(pkt).hex())
    return found


def sent_hex(out: dict) -> list[str]:
    return [s for s, _ in out["ans"]] + out["unans"]


def check_against_wire(out: dict, pcap: Path, l2: bool = False, v6: bool = False) -> None:
    ours = {r for _, r in out["ans"]}
    wire = wire_answers(pcap, sent_hex(out), l2, v6)
    assert ours <= wire, "answers not on the wire: %s" % (ours - wire)
    assert wire <= ours, "answers on the wire we did not report: %s" % (wire - ours)


def test_arping_finds_the_present_hosts(lab):
    probes = ('[Ether(dst="ff:ff:ff:ff:ff:ff", src=conf.ifaces["eth0"].mac)/ARP(pdst="10.13.1.%%d" %% i, '
              'psrc=%r, hwsrc=conf.ifaces["eth0"].mac) for i in range(1, 64)]' % H1)
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "arp.pcap", timeout=2, l2=True)
    theirs = run_in_h1(lab, "scapy", probes, timeout=2, l2=True)
    Ether = scapy_all.Ether
    found = lambda out: {(Ether(bytes.fromhex(r)).psrc, Ether(bytes.fromhex(r)).hwsrc) for _, r in out["ans"]}  # noqa: E731
    assert {ip for ip, _ in found(ours)} == {Lab.ROUTER_LAN, H2, H3}
    assert found(ours) == found(theirs)
    check_against_wire(ours, lab.tmp / "arp.pcap", l2=True)


def test_arp_scan_with_unset_sources(lab):
    """The course's ARP scan builds Ether()/ARP(pdst=net) and leaves the sources to the tool:
    zero sources take h1's MAC and address, so the hosts answer h1."""
    probes = '[Ether(dst="ff:ff:ff:ff:ff:ff", src="00:00:00:00:00:00")/ARP(pdst="10.13.1.%d" % i, ' \
             'psrc="0.0.0.0", hwsrc="00:00:00:00:00:00") for i in (1, 20, 30, 40)]'
    ours = run_in_h1(lab, "fastpkt", probes, timeout=2, l2=True)
    Ether = scapy_all.Ether
    assert sorted(Ether(bytes.fromhex(r)).psrc for _, r in ours["ans"]) == [Lab.ROUTER_LAN, H2, H3]
    assert {Ether(bytes.fromhex(r)).pdst for _, r in ours["ans"]} == {H1}


def test_what_the_prober_sends_never_answers(lab):
    """h2 keeps forgetting h1's MAC and pinging it, so h1's kernel keeps sending 'H1 is-at'
    replies while h1 probes its own address: those leave h1 and must not answer the probe
    (Scapy's Linux sockets drop outgoing packets; nothing else here answers for H1)."""
    chatter = lab.ns("h2").popen([sys.executable, "-c",
                                  "import socket, subprocess, time\n"
                                  "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                  "while True:\n"
                                  "    subprocess.run(['ip', 'neigh', 'flush', 'dev', 'eth0'])\n"
                                  "    s.sendto(b'x', (%r, 9)); time.sleep(0.05)" % H1])
    try:
        probes = '[Ether(dst="ff:ff:ff:ff:ff:ff", src=conf.ifaces["eth0"].mac)/ARP(pdst=%r, psrc=%r, ' \
                 'hwsrc=conf.ifaces["eth0"].mac)]' % (H1, H1)
        ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "self.pcap", timeout=2, l2=True)
    finally:
        chatter.kill()
        chatter.wait()
    Ether = scapy_all.Ether
    own_replies = [f for f in scapy_all.rdpcap(str(lab.tmp / "self.pcap"))
                   if f.haslayer(scapy_all.ARP) and f[scapy_all.ARP].op == 2 and f[scapy_all.ARP].psrc == H1]
    assert own_replies, "h1 sent no ARP reply during the probe: the test proves nothing"
    assert ours["ans"] == [], [Ether(bytes.fromhex(r)).summary() for _, r in ours["ans"]]


def test_arping_helper(lab):
    code = ("import sys, json; sys.path.insert(0, %r); import fastpkt as fp; "
            "ans, unans = fp.arping('10.13.1.0/26', timeout=2, verbose=0); "
            "print(json.dumps(sorted(r.arp.psrc for _, r in ans)), len(unans))" % str(ROOT))
    r = lab.exec("h1", [sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr
    found, unans = r.stdout.rsplit(None, 1)
    assert json.loads(found) == sorted([Lab.ROUTER_LAN, H2, H3])
    assert int(unans) == 64 - 3


def test_ping_sweep(lab):
    targets = [Lab.ROUTER_LAN, H2, H3, "10.13.1.40", "10.13.1.41", Lab.FAR]
    probes = "[IP(dst=d)/ICMP(id=7, seq=i) for i, d in enumerate(%r)]" % targets
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "ping.pcap", timeout=2)
    theirs = run_in_h1(lab, "scapy", probes, timeout=2)
    responders = {f[3] for f in ip_pairs(ours)}
    assert responders == {Lab.ROUTER_LAN, H2, Lab.FAR}  # h3 ignores pings, .40/.41 absent
    assert ip_pairs(ours) == ip_pairs(theirs)
    assert len(ours["unans"]) == len(theirs["unans"]) == 3
    check_against_wire(ours, lab.tmp / "ping.pcap")


def test_sweep_of_a_whole_24_in_one_call(lab):
    probes = "[IP(dst='10.13.1.%%d' %% i)/ICMP(id=9, seq=i) for i in range(1, 255) if i != %s]" % H1.split(".")[-1]
    ours = run_in_h1(lab, "fastpkt", probes, timeout=2)
    assert {f[3] for f in ip_pairs(ours)} == {Lab.ROUTER_LAN, H2}
    assert len(ours["unans"]) == 253 - 2


def test_ipv6_echo_and_syn(lab):
    h2 = Lab.HOSTS6["h2"]
    probes = ("[IPv6(dst=%r)/ICMPv6EchoRequest(id=3, seq=1, data=b'v6'), "
              "IPv6(dst=%r)/TCP(sport=40010, dport=%d, flags='S'), IPv6(dst=%r)/TCP(sport=40011, dport=%d, flags='S'),"
              "IPv6(dst=%r)/UDP(sport=40012, dport=%d)]" % (h2, h2, OPEN_PORT, h2, CLOSED_PORT, h2, UDP_CLOSED))
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "v6.pcap", timeout=2)
    theirs = run_in_h1(lab, "scapy", probes, timeout=2)
    IPv6 = scapy_all.IPv6
    facts = lambda out: {(IPv6(bytes.fromhex(s)).nh, IPv6(bytes.fromhex(r)).summary()) for s, r in out["ans"]}  # noqa: E731
    assert len(ours["ans"]) == 4, facts(ours)
    assert facts(ours) == facts(theirs)
    check_against_wire(ours, lab.tmp / "v6.pcap", v6=True)


def test_retry_resends_the_unanswered(lab):
    """retry=2: h3 ignores pings, so its probe leaves three times (tcpdump counts them, as
    for Scapy's run); h2's answered probe leaves once."""
    probes = "[IP(dst=%r)/ICMP(id=11, seq=1), IP(dst=%r)/ICMP(id=11, seq=2)]" % (H2, H3)
    counts = {}
    for tool in ("fastpkt", "scapy"):
        pcap = lab.tmp / ("retry-%s.pcap" % tool)
        out = run_in_h1(lab, tool, probes, pcap, timeout=0.5, retry=2)
        assert len(out["ans"]) == 1 and len(out["unans"]) == 1
        requests = [p[scapy_all.IP].dst for p in scapy_all.rdpcap(str(pcap))
                    if p.haslayer(scapy_all.ICMP) and p[scapy_all.ICMP].type == 8 and p[scapy_all.ICMP].id == 11]
        counts[tool] = (requests.count(H2), requests.count(H3))
    assert counts["fastpkt"] == counts["scapy"] == (1, 3)


def test_multi_keeps_collecting(lab):
    """h2 answers each datagram to UDP_TWICE twice: multi=True pairs both with the probe,
    multi=False the first only; Scapy agrees."""
    probes = "[IP(dst=%r)/UDP(sport=40020, dport=%d)/b'twice']" % (H2, UDP_TWICE)
    for multi, n in ((True, 2), (False, 1)):
        ours = run_in_h1(lab, "fastpkt", probes, timeout=1, multi=multi)
        theirs = run_in_h1(lab, "scapy", probes, timeout=1, multi=multi)
        assert len(ours["ans"]) == len(theirs["ans"]) == n


def test_filter_and_iface_limit_the_capture(lab):
    """filter= is BPF on the capture: "icmp" hides the SYN-ACK, "tcp" keeps it; iface= captures
    on that interface only (the answer arrives on eth0, not lo)."""
    probes = "[IP(dst=%r)/TCP(sport=40030, dport=%d, flags='S')]" % (H2, OPEN_PORT)
    assert len(run_in_h1(lab, "fastpkt", probes, timeout=1, filter="icmp")["ans"]) == 0
    assert len(run_in_h1(lab, "fastpkt", probes, timeout=1, filter="tcp", iface="eth0")["ans"]) == 1
    assert len(run_in_h1(lab, "fastpkt", probes, timeout=1, iface="lo")["ans"]) == 0


def test_syn_open_and_closed(lab):
    probes = "[IP(dst=%r)/TCP(sport=40000, dport=p, flags='S', seq=1000) for p in (%d, %d)]" % (
        H2, OPEN_PORT, CLOSED_PORT)
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "syn.pcap", timeout=2)
    theirs = run_in_h1(lab, "scapy", probes, timeout=2)
    facts = ip_pairs(ours)
    assert (H2, 6, OPEN_PORT, H2, "tcp", "SA") in facts
    assert (H2, 6, CLOSED_PORT, H2, "tcp", "RA") in facts
    assert facts == ip_pairs(theirs)
    check_against_wire(ours, lab.tmp / "syn.pcap")


def test_udp_closed_port_gets_port_unreachable(lab):
    probes = "[IP(dst=%r)/UDP(sport=40001, dport=%d)/b'probe', IP(dst=%r)/UDP(sport=40002, dport=%d)]" % (
        H2, UDP_CLOSED, Lab.FAR, UDP_CLOSED)
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "udp.pcap", timeout=2)
    theirs = run_in_h1(lab, "scapy", probes, timeout=2)
    facts = ip_pairs(ours)
    assert facts == {(H2, 17, UDP_CLOSED, H2, "icmp", 3, 3), (Lab.FAR, 17, UDP_CLOSED, Lab.FAR, "icmp", 3, 3)}
    assert facts == ip_pairs(theirs)
    check_against_wire(ours, lab.tmp / "udp.pcap")


def test_traceroute_reports_the_router_then_the_far_host(lab):
    code = ("import sys, json; sys.path.insert(0, %r); import fastpkt as fp; "
            "res, _ = fp.traceroute(%r, maxttl=4, dport=%d, timeout=2, verbose=0); "
            "print(json.dumps({t: list(h) for t, h in res.get_trace()[%r].items()}))"
            % (str(ROOT), Lab.FAR, UDP_CLOSED, Lab.FAR))
    r = lab.exec("h1", [sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr
    ours = {int(k): tuple(v) for k, v in json.loads(r.stdout).items()}
    assert ours == {1: (Lab.ROUTER_LAN, False), 2: (Lab.FAR, True)}
    code = ("import json; from scapy.all import traceroute, conf; conf.verb = 0; "
            "res, _ = traceroute(%r, maxttl=4, dport=%d, timeout=2, verbose=0); "
            "print(json.dumps({t: list(h) for t, h in res.get_trace()[%r].items()}))"
            % (Lab.FAR, UDP_CLOSED, Lab.FAR))
    r = lab.exec("h1", [sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr
    theirs = {int(k): tuple(v) for k, v in json.loads(r.stdout).items()}
    assert ours == theirs


def test_send_puts_the_packets_on_the_wire(lab):
    """send() of a UDP datagram and sendp() of a frame: tcpdump on h2 sees them byte for byte."""
    ns = lab.ns("h2")
    pcap = lab.tmp / "send.pcap"
    code = ("import sys; sys.path.insert(0, %r); import fastpkt as fp; "
            "from scapy.all import IP, UDP, Ether, conf; "
            "fp.send(bytes(IP(src=%r, dst=%r)/UDP(sport=5000, dport=9)/b'fastpkt-send'), count=3, verbose=0); "
            "fp.sendp(bytes(Ether(src=conf.ifaces['eth0'].mac, dst='ff:ff:ff:ff:ff:ff')/IP(src=%r, dst=%r)/"
            "UDP(sport=5001, dport=9)/b'fastpkt-sendp'), iface='eth0', verbose=0)" % (str(ROOT), H1, H2, H1, H2))
    ns.add_capture("eth0", pcap)
    try:
        r = lab.exec("h1", [sys.executable, "-c", code])
    finally:
        ns.stop_capture()
    assert r.returncode == 0, r.stderr
    udp = [p for p in scapy_all.rdpcap(str(pcap)) if p.haslayer(scapy_all.UDP) and p[scapy_all.UDP].dport == 9]
    loads = [bytes(p[scapy_all.UDP].payload) for p in udp]
    assert loads.count(b"fastpkt-send") == 3 and loads.count(b"fastpkt-sendp") == 1
    sent = scapy_all.IP(src=H1, dst=H2) / scapy_all.UDP(sport=5000, dport=9) / b"fastpkt-send"
    assert bytes(udp[0][scapy_all.IP]) == bytes(sent)


def test_5000_probes_lose_nothing_the_wire_saw(lab, capsys):
    """inter=0 burst: every echo reply tcpdump saw reach h1 is an answer; Scapy's count is
    printed for the record (it loses some when the machine is busy)."""
    probes = "[IP(dst=%r)/ICMP(id=4242, seq=i) for i in range(5000)]" % H2
    ours = run_in_h1(lab, "fastpkt", probes, lab.tmp / "load.pcap", timeout=3, inter=0)
    replies = [p for p in scapy_all.rdpcap(str(lab.tmp / "load.pcap"))
               if p.haslayer(scapy_all.ICMP) and p[scapy_all.ICMP].type == 0 and p[scapy_all.ICMP].id == 4242]
    assert len(ours["ans"]) == len({p[scapy_all.ICMP].seq for p in replies})
    assert len(ours["ans"]) + len(ours["unans"]) == 5000
    theirs = run_in_h1(lab, "scapy", probes, timeout=3, inter=0)
    with capsys.disabled():
        print("\n5000 probes: fastpkt %d answers, wire %d replies, Scapy %d answers"
              % (len(ours["ans"]), len(replies), len(theirs["ans"])))
    assert len(ours["ans"]) >= len(theirs["ans"])


def test_permission_error_says_how_to_grant_privileges(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); import fastpkt as fp\n"
            "try:\n    fp.sr1(b'E' + bytes(19), timeout=0.1, verbose=0)\n"
            "except PermissionError as e:\n    print('PermissionError', e)\n" % str(ROOT))
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is not installed")
        # root without CAP_NET_RAW/CAP_NET_ADMIN: still reads the tree wherever it lives
        cmd = ["setpriv", "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin",
               sys.executable, "-c", code]
    else:
        cmd = [sys.executable, "-c", code]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.stdout.startswith("PermissionError"), r.stdout + r.stderr
    assert "setcap cap_net_raw,cap_net_admin=eip" in r.stdout


# examples/: (script, arguments, lines the output must hold), in the lab. The course's
# version runs under fastpkt and, with its import switched back to scapy.all, under Scapy:
# both print the same (numbers aside); the idiomatic version must print the same facts.
EXAMPLES = [
    ("send_syn.py", ["--target", H2, "--port", str(OPEN_PORT)], ["Sent SYN to %s:%d" % (H2, OPEN_PORT)],
     ["%s:%d: open" % (H2, OPEN_PORT)]),
    ("syn_demo.py", ["--target", H2, "--port", str(CLOSED_PORT), "--count", "3"], ["Completed demo (3 packets)"],
     ["Completed demo (3 packets)"]),
    ("udp_sender.py", ["--target", H2, "--port", str(UDP_CLOSED)], ["Sent UDP payload to %s:%d" % (H2, UDP_CLOSED)],
     ["ICMP type 3 code 3 from %s" % H2]),
    ("arp_scan.py", ["--network", "10.13.1.0/26"], ["10.13.1.1 - ", "%s - " % H2, "%s - " % H3],
     ["10.13.1.1 - ", "%s - " % H2, "%s - " % H3]),
    ("ping_sweep.py", ["--network", "10.13.1.16/28", "--timeout", "0.5"], ["[+] Alive: %s" % H2],
     ["[+] Alive: %s" % H2]),
    ("traceroute.py", ["--target", Lab.FAR, "--max-hops", "4"], ["1: %s" % Lab.ROUTER_LAN, "2: %s" % Lab.FAR],
     ["1: %s" % Lab.ROUTER_LAN, "2: %s" % Lab.FAR]),
    ("rtt.py", ["--target", H2, "--count", "3"], ["Min:", "Max:", "Avg:"], ["Min:", "Max:", "Avg:"]),
    ("syn_port_scanner.py", ["--target", H2, "--ports", "%d,%d" % (OPEN_PORT, CLOSED_PORT)],
     ["Port  %d: open" % OPEN_PORT, "Port  %d: closed" % CLOSED_PORT],
     ["Port  %d: open" % OPEN_PORT, "Port  %d: closed" % CLOSED_PORT]),
]


def run_example(lab, script: Path, args: list[str]) -> str:
    r = lab.exec("h1", ["env", "PYTHONPATH=%s" % ROOT, sys.executable, str(script)] + args, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def normalized(out: str) -> list[str]:
    return sorted(re.sub(r"\d+\.\d+ ms", "N ms", ln) for ln in out.splitlines() if ln.strip())


@pytest.mark.parametrize("script,args,course_lines,idiomatic_lines", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples_in_the_lab(lab, tmp_path, script, args, course_lines, idiomatic_lines):
    path = ROOT / "examples" / script
    ours = run_example(lab, path, args)
    for line in course_lines:
        assert line in ours, ours
    assert "you own" in path.read_text()[:600]  # the warning opens the docstring
    under_scapy = tmp_path / script
    under_scapy.write_text(path.read_text().replace("from fastpkt.scapy import", "from scapy.all import"))
    # Scapy's sniffer thread drops answers on a loaded machine (CI's 2 cores under the whole
    # suite); a run of it that saw less is retried, but it may never see what we did not.
    for _ in range(3):
        theirs = normalized(run_example(lab, under_scapy, args))
        assert set(theirs) <= set(normalized(ours)), (theirs, ours)
        if theirs == normalized(ours):
            break
    assert theirs == normalized(ours)
    idiomatic = run_example(lab, path, args + ["--idiomatic"])
    for line in idiomatic_lines:
        assert line in idiomatic, idiomatic


# examples/course/: the course's sending scripts as written (only the import swapped; the lab's
# addresses come from --target/--network), run under fastpkt.scapy and under real Scapy.
# lab4_syn_flood_demo runs on its own below (its 60 s loop on a faster clock).
COURSE_SENDERS = [
    ("send_syn", ["--target", H2]),
    ("syn_demo", ["--target", H2]),
    ("udp_sender", ["--target", H2]),
    ("arp_scan", ["--network", "10.13.1.0/26"]),
    ("lab2_arp_scanner", ["--network", "10.13.1.0/26"]),
    ("ping_sweep", ["--network", "10.13.1.16/29"]),
    ("traceroute", ["--target", Lab.FAR]),
    ("rtt", ["--target", H2]),
]


def run_course(lab, script: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)  # lab2_arp_scanner writes arp_results.json there
    return lab.exec("h1", ["env", "-C", str(cwd), "PYTHONPATH=%s" % ROOT, sys.executable, str(script)] + args,
                    timeout=300)


@pytest.mark.parametrize("script,args", COURSE_SENDERS, ids=[c[0] for c in COURSE_SENDERS])
def test_course_senders_print_what_scapy_prints(lab, tmp_path, script, args):
    """As test_course_scripts, in the lab: a run that fails under fastpkt.scapy must be a
    failure listed in tests/data/scapy_differences.json (capture "lab"), and is an xfail."""
    import _course

    r = run_course(lab, _course.COURSE / (script + ".py"), args, tmp_path / "ours")
    if r.returncode:
        differences = json.loads((ROOT / "tests" / "data" / "scapy_differences.json").read_text())
        listed = differences["cases"].get("lab", {}).get(script, [])
        last = [ln for ln in r.stderr.splitlines() if ln and not ln.startswith(" ")][-1:]
        end = last[0].split(":", 1)[0] if last else "exit %d" % r.returncode
        if any(e == ["exit 0", end] for rid in listed for e in differences["reasons"][rid].get("end", [])):
            pytest.xfail("listed difference %s: %s" % (listed, last))
        raise AssertionError(r.stdout + r.stderr)
    ours = r.stdout
    assert ours.strip(), "the course script printed nothing"
    theirs_dir = _course.scapy_copy(tmp_path / "scapy")
    # As above: Scapy's sniffer thread may miss answers under load; retried, never more than ours.
    for _ in range(3):
        t = run_course(lab, theirs_dir / (script + ".py"), args, tmp_path / "theirs")
        assert t.returncode == 0, t.stdout + t.stderr
        theirs = normalized(t.stdout)
        assert set(theirs) <= set(normalized(ours)), (theirs, ours)
        if theirs == normalized(ours):
            break
    assert theirs == normalized(ours)


def test_lab4_syn_flood_demo_as_under_scapy(lab, tmp_path):
    """Lab Part 4 (60 s of SYNs to port 80, at most 10 a second, then the count) under
    fastpkt.scapy and under Scapy, with the script's clock 20 times faster (`--speedup`,
    examples/course/_course.py: it moves only with the script's sleeps, so both runs loop the
    same 600 times and each takes ~3 s). Both print the same lines (wall-clock stamps aside),
    and tcpdump on the target sees exactly the SYNs each run counted, the bytes Scapy builds
    for the lab's packet, each answered by the target's RST: the spike without disruption that
    the lab asks the target's logs to show."""
    import _course

    scapy_dir = _course.scapy_copy(tmp_path / "scapy")
    ns, outs = lab.ns("h2"), {}
    want = bytes(scapy_all.IP(src=H1, dst=H2) / scapy_all.TCP(dport=80, flags="S"))
    for tool, script in (("fastpkt", _course.COURSE / "lab4_syn_flood_demo.py"),
                         ("scapy", scapy_dir / "lab4_syn_flood_demo.py")):
        pcap = tmp_path / (tool + ".pcap")
        ns.add_capture("eth0", pcap)
        try:
            r = run_course(lab, script, ["--target", H2, "--speedup", "20"], tmp_path / tool)
        finally:
            ns.stop_capture()
        assert r.returncode == 0, r.stdout + r.stderr
        assert not ns.incomplete, ns.incomplete
        outs[tool] = _course.mask(r.stdout)
        sent = int(re.search(r"^Sent (\d+) packets$", r.stdout, re.M).group(1))
        frames = scapy_all.rdpcap(str(pcap))
        syns = [bytes(p[scapy_all.IP]) for p in frames if scapy_all.TCP in p and p[scapy_all.IP].dst == H2
                and p[scapy_all.TCP].dport == 80]
        rsts = [p for p in frames if scapy_all.TCP in p and p[scapy_all.IP].src == H2
                and p[scapy_all.TCP].sport == 80 and "R" in p[scapy_all.TCP].flags]
        assert sent == 600 and len(syns) == sent and set(syns) == {want}, (tool, sent, len(syns))
        assert len(rsts) == sent, (tool, len(rsts))
    assert outs["fastpkt"] == outs["scapy"], outs
