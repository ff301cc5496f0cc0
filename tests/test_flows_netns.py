"""fp.flows on real kernel TCP: loopback inside a network namespace this test creates.

Root only (skips otherwise, or without `ip netns`/tcpdump). Everything happens on 127.0.0.1 inside
the namespace `fpflows-<pid>`, deleted at the end (tests/_netns.NetnsCapture): lo is brought up
with MTU 1500 and offloads off (so the capture holds wire-sized segments), `tcpdump -i lo -U`
records it, and one Python process per scenario runs a real server and client. Each step waits
for the event it needs (a thread has read the data, the kernel has retransmitted the SYN, the
capture file holds every packet), never for a fixed time:

  port 5001  completed connection with data both ways           -> SF, 'ShADadFf' letters
  port 5002  connection to a closed port                         -> REJ, 'Sr'
  port 5003  server aborts (SO_LINGER 0) after reading data      -> RSTR ('r')
  port 5004  client aborts (SO_LINGER 0) after sending data      -> RSTO ('R')
  port 5005  SYN dropped by iptables INPUT (half-open, no answer)-> S0, 'S'
  port 5006  10 % of data segments dropped by iptables INPUT     -> retransmissions ('T')
             (1 MB, paced, tcpdump -B 64 MiB: the capture itself must lose nothing)

On loopback the capture tap runs on transmit (dev_queue_xmit), before the receive path's
netfilter INPUT hook: a segment dropped in INPUT is captured, then dropped, so its
retransmission shows up as a second copy in the capture (OUTPUT would drop before the tap;
`test_drop_happens_after_capture` checks this empirically). Retransmit counts are checked
against the iptables drop counter (every dropped data segment is retransmitted) and against
tshark's tcp.analysis.retransmission when tshark is installed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

import fastpkt as fp
from _netns import NetnsCapture, NetnsError, requirements

pd = pytest.importorskip("pandas")

PORTS = {"sf": 5001, "rej": 5002, "rst_resp": 5003, "rst_orig": 5004, "s0": 5005, "retrans": 5006}

SCENARIO = r'''
import socket, struct, sys, threading, time
scenario, port = sys.argv[1], int(sys.argv[2])
ADDR = ("127.0.0.1", port)
GUARD = 30  # seconds; bounds a failure only, every wait below ends on its event

def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(ADDR)
    s.listen(4)
    return s

def drain(c):
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            return n
        n += len(b)

def abort(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()

if scenario in ("sf", "retrans"):
    ls = listener()
    size = 5000 if scenario == "sf" else 1_000_000
    def serve():
        c, _ = ls.accept()
        got = drain(c)
        assert got == size, got
        c.sendall(b"r" * 1000)
        c.close()
    th = threading.Thread(target=serve)
    th.start()
    cl = socket.create_connection(ADDR, timeout=60)
    for _ in range(size // 5000):
        cl.sendall(b"q" * 5000)
        time.sleep(0.0005)                # traffic shaping: paced so that tcpdump keeps up
    cl.shutdown(socket.SHUT_WR)
    assert drain(cl) == 1000
    cl.close()
    th.join()
elif scenario == "rej":
    try:
        socket.create_connection(ADDR, timeout=GUARD)
        raise SystemExit("connected to a closed port")
    except ConnectionRefusedError:
        pass
elif scenario == "rst_resp":
    ls = listener()
    def serve():
        c, _ = ls.accept()
        got = b""
        while len(got) < 100:             # the originator's data is in: then abort
            got += c.recv(100)
        abort(c)                          # RST from the responder
    th = threading.Thread(target=serve)
    th.start()
    cl = socket.create_connection(ADDR, timeout=GUARD)
    cl.sendall(b"q" * 100)
    th.join()
    try:
        cl.recv(10)
    except ConnectionResetError:
        pass
    cl.close()
elif scenario == "rst_orig":
    ls = listener()
    read = threading.Event()
    def serve():
        c, _ = ls.accept()
        got = b""
        while len(got) < 100:
            got += c.recv(100)
        read.set()                        # the responder has the data (and ACKed it)
        try:
            c.recv(10)                    # blocks until the originator's RST arrives
        except ConnectionResetError:
            pass
        c.close()                         # after the RST: no FIN from the responder
    th = threading.Thread(target=serve)
    th.start()
    cl = socket.create_connection(ADDR, timeout=GUARD)
    cl.sendall(b"q" * 100)
    if not read.wait(GUARD):
        raise SystemExit("the responder never read the data")
    abort(cl)                             # RST from the originator
    th.join()
elif scenario == "s0":
    ls = listener()                       # listening, but iptables drops the SYN in INPUT
    cl = socket.socket()
    cl.setblocking(False)
    cl.connect_ex(ADDR)
    def tcp_info():
        # struct tcp_info: tcpi_state is byte 0; after 8 bytes come u32 fields, of which
        # tcpi_total_retrans is the 24th
        info = cl.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return info[0], struct.unpack_from("I", info, 8 + 23 * 4)[0]
    deadline = time.monotonic() + GUARD
    while True:                           # until the kernel sends the SYN again (1 s RTO)
        state, retrans = tcp_info()
        if state != 2:                    # TCP_SYN_SENT
            raise SystemExit("SYN was answered (TCP state %d)" % state)
        if retrans >= 1:
            break
        if time.monotonic() > deadline:
            raise SystemExit("no SYN retransmission within %d s" % GUARD)
        time.sleep(0.01)
    cl.close()
print("ok")
'''


@pytest.fixture(scope="module")
def netns_capture(tmp_path_factory):
    why = requirements()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("netns")
    os.chmod(tmp, 0o755)
    pcap = tmp / "lo.pcap"
    info: dict = {"pcap": pcap, "iptables": bool(shutil.which("iptables")),
                  "drops": None, "ran": set(), "errors": {}}
    ns = NetnsCapture("fpflows", pcap)
    try:
        with ns:
            info["ns"] = ns.name
            for rule in (["-A", "INPUT", "-p", "tcp", "--dport", str(PORTS["s0"]),
                          "--tcp-flags", "SYN,ACK", "SYN", "-j", "DROP"],
                         ["-A", "INPUT", "-p", "tcp", "--dport", str(PORTS["retrans"]),
                          "-m", "length", "--length", "200:65535",
                          "-m", "statistic", "--mode", "random", "--probability", "0.1",
                          "-j", "DROP"]):
                if info["iptables"] and not ns.iptables(rule):
                    info["iptables"] = False
                    info["iptables_error"] = ns.iptables_error
            for name, port in PORTS.items():
                if name in ("s0", "retrans") and not info["iptables"]:
                    continue
                rr = ns.exec([sys.executable, "-c", SCENARIO, name, str(port)], timeout=120)
                if rr.returncode == 0:
                    info["ran"].add(name)
                else:
                    info["errors"][name] = (rr.stdout + rr.stderr)[-1500:]
            if info["iptables"]:
                info["drops"] = sum(n for n, ln in ns.counters()
                                    if "dpt:%d" % PORTS["retrans"] in ln)
            info["lo_dropped"] = ns.lo_dropped()  # lost before the capture (see below)
            info["tcpdump"] = ns.stop_capture()  # once the file holds every packet
            info["incomplete"] = ns.incomplete
    except NetnsError as e:
        pytest.skip(str(e))
    assert not ns.left_behind(), "namespace %s left behind" % ns.name
    flows = fp.flows(str(pcap), progress=False)
    info["df"] = flows.to_pandas()
    info["stats"] = flows.stats
    return info


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 60), **kw)


def test_capture_is_complete(netns_capture):
    """tcpdump lost nothing and wrote every packet before it was stopped."""
    assert not netns_capture["incomplete"], netns_capture["incomplete"]
    for iface, err in netns_capture["tcpdump"].items():
        m = re.search(r"(\d+) packets? dropped by kernel", err)
        assert m and int(m.group(1)) == 0, (iface, err)


@pytest.fixture(autouse=True)
def _loopback_lossless(request):
    """The scenarios expect a lossless loopback: when a test failed and the kernel had dropped
    packets on lo before the capture (shared netdev backlog full: loopback flooded on this
    machine), say so next to the failure."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed and "netns_capture" in request.fixturenames:
        dropped = request.getfixturevalue("netns_capture")["lo_dropped"]
        assert dropped == 0, "the kernel dropped %d packets on lo before the capture" % dropped


def _flow(info, name):
    if name in ("s0", "retrans") and not info["iptables"]:
        pytest.skip("iptables unavailable: %s" % info.get("iptables_error", "not installed"))
    assert name in info["ran"], "scenario %s failed: %s" % (name, info["errors"].get(name))
    df = info["df"]
    sub = df[(df["protocol"] == 6) & (df["dst_port"] == PORTS[name])]
    assert len(sub) == 1, "expected one flow to port %d, got %d:\n%s" % (
        PORTS[name], len(sub), sub.to_string())
    f = sub.iloc[0]
    assert str(f["src_ip"]) == "127.0.0.1" and str(f["dst_ip"]) == "127.0.0.1"
    return f


def test_completed_connection_sf(netns_capture):
    f = _flow(netns_capture, "sf")
    assert f["conn_state"] == "SF"
    assert f["history"].startswith("ShA")
    assert sorted(f["history"]) == sorted("ShADadFf")
    assert int(f["fwd_payload_bytes"]) == 5000 and int(f["rev_payload_bytes"]) == 1000
    assert int(f["retransmits"]) == 0
    assert (int(f["syn"]), int(f["synack"])) == (1, 1)
    assert str(f["expiration"]) == "fin"
    assert float(f["rtt_syn_synack"]) >= 0 and float(f["rtt_synack_ack"]) >= 0


def test_closed_port_rej(netns_capture):
    f = _flow(netns_capture, "rej")
    assert f["conn_state"] == "REJ"
    assert f["history"] == "Sr"
    assert (int(f["fwd_packets"]), int(f["rev_packets"])) == (1, 1)
    assert str(f["expiration"]) == "rst"


def test_responder_reset_rstr(netns_capture):
    f = _flow(netns_capture, "rst_resp")
    assert f["conn_state"] == "RSTR"
    assert f["history"].startswith("ShAD")
    assert "r" in f["history"] and "R" not in f["history"]
    assert str(f["expiration"]) == "rst"


def test_originator_reset_rsto(netns_capture):
    f = _flow(netns_capture, "rst_orig")
    assert f["conn_state"] == "RSTO"
    assert f["history"].startswith("ShAD")
    assert "R" in f["history"] and "r" not in f["history"]
    assert str(f["expiration"]) == "rst"


def test_half_open_s0(netns_capture):
    f = _flow(netns_capture, "s0")
    assert f["conn_state"] == "S0"
    assert f["history"] == "S"
    assert int(f["rev_packets"]) == 0
    assert int(f["fwd_packets"]) >= 2  # the kernel retransmits the SYN after 1 s


def test_drop_happens_after_capture(netns_capture):
    """The INPUT-chain drop is after the capture tap: dropped segments are in the capture, so
    the same sequence number appears more than once among the client's data segments."""
    _flow(netns_capture, "retrans")
    info = netns_capture
    assert info["drops"], "iptables dropped nothing (drop counter %r)" % info["drops"]
    seqs = {}
    for pkt in fp.open(str(info["pcap"]), filter="tcp dst port %d and greater 200"
                       % PORTS["retrans"]):
        seqs[pkt.tcp.seq] = seqs.get(pkt.tcp.seq, 0) + 1
    dup = sum(n - 1 for n in seqs.values() if n > 1)
    assert dup > 0


def test_retransmissions_counted(netns_capture):
    f = _flow(netns_capture, "retrans")
    info = netns_capture
    drops = info["drops"]
    assert drops and drops > 0
    assert f["conn_state"] == "SF"
    assert "T" in f["history"]
    assert int(f["fwd_payload_bytes"]) >= 1_000_000
    # every dropped data segment was captured and its data sent again
    assert int(f["retransmits"]) >= drops, (int(f["retransmits"]), drops)
    if shutil.which("tshark"):
        # Wireshark calls a repeated segment "out-of-order" instead of "retransmission" when
        # it follows the previous segment within its reordering threshold (3 ms by default:
        # always the case on loopback). Those frames repeat bytes already seen, which is a
        # retransmission by fastpkt's (timing-free) definition, so compare the union: every
        # frame tshark flags, against every segment fastpkt classifies.
        r = _run(["tshark", "-r", str(info["pcap"]), "-n", "-Y",
                  "(tcp.analysis.retransmission || tcp.analysis.spurious_retransmission || "
                  "tcp.analysis.out_of_order) && tcp.port == %d" % PORTS["retrans"],
                  "-T", "fields", "-e", "frame.number"], timeout=300,
                 env=dict(os.environ, WIRESHARK_CONFIG_DIR="/nonexistent"))
        assert r.returncode == 0, r.stderr
        tshark_count = len([ln for ln in r.stdout.splitlines() if ln.strip()])
        ours = int(f["retransmits"]) + int(f["out_of_order"])
        assert ours == tshark_count, (int(f["retransmits"]), int(f["out_of_order"]), tshark_count)


def test_no_other_addresses(netns_capture):
    """Only 127.0.0.1 was used inside the namespace."""
    df = netns_capture["df"]
    ip = df[df["ip_version"] == 4]
    assert set(ip["src_ip"].astype(str)) | set(ip["dst_ip"].astype(str)) <= {"127.0.0.1"}
    assert re.match(r"fpflows-\d+$", netns_capture["ns"])
