"""Network-namespace capture harness for the kernel-TCP tests (no pytest import here).

`NetnsCapture` creates a private network namespace, brings its loopback up with MTU 1500 and
segmentation/receive offloads off (so the capture holds wire-sized segments, not 64 KiB GSO
super-segments), and records `lo` with tcpdump into a pcap. Everything the tests run inside it
talks to 127.0.0.1 / ::1 only, and the namespace is deleted on exit.

On loopback the capture tap sits on the transmit path (dev_queue_xmit), before the receive
path's netfilter INPUT hook: a segment dropped by an iptables INPUT rule is in the capture, and
so is its retransmission (test_flows_netns.test_drop_happens_after_capture checks this).
For the receiver's view, `add_capture("nflog:N", ...)` records what an iptables NFLOG rule
placed after the drop rule logs: only the segments that were delivered, so a dropped segment
is a real hole that its retransmission fills later (fastpkt reads LINKTYPE_NFLOG as written;
libpcap compiles no BPF filter for it, so tests select with display filters).

test_flows_netns.py has its own copy of the same steps; this module is the shared version for
the newer tests (tests/test_streams_netns.py). `Netns` is the same namespace with no capture
running, for tests that start their own (tests/test_live_netns.py).

No fixed sleeps: a tcpdump is armed once it prints "listening on" (the socket, ring and
filter are in place), and before it is stopped `stop_capture()` waits until its file holds
every packet the kernel has handed it. tcpdump (-U, packet-buffered) flushes each packet it
processes, but on SIGINT it leaves whatever is still queued in its ring, so the harness
counts instead of guessing: for `lo`, the loopback device's packet counter (each packet
crosses lo once and libpcap keeps one copy, the incoming one); for `nflog:N`, the packet
counters of the iptables/ip6tables NFLOG rules of group N; any other device, its rx + tx
packet counters. All are read relative to the moment the capture was armed. A capture that
never catches up (kernel drops) is recorded in `incomplete` after a generous guard, for the
tests' completeness checks to report.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import time
from pathlib import Path

# Failure guards only: the expected path returns as soon as the awaited event happens.
READY_GUARD_S = 60.0


def wait_until(predicate, timeout: float = READY_GUARD_S, interval: float = 0.01) -> bool:
    """Poll `predicate()` until it is true (True) or `timeout` seconds pass (False). The
    timeout is a failure guard, never the expected way out."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class PcapCounter:
    """Counts the complete records of a pcap file that another process is still writing
    (incrementally: each call reads only what was appended since the last one)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.count = 0
        self._pos = 0
        self._endian: str | None = None

    def __call__(self) -> int:
        try:
            with open(self.path, "rb") as f:
                if self._endian is None:
                    magic = f.read(4)
                    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                        self._endian = "<"
                    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                        self._endian = ">"
                    else:
                        return self.count  # header not written yet
                    self._pos = 24
                f.seek(self._pos)
                data = f.read()
        except FileNotFoundError:
            return self.count
        off = 0
        while off + 16 <= len(data):
            incl = struct.unpack_from(self._endian + "I", data, off + 8)[0]
            if off + 16 + incl > len(data):
                break  # the writer is in the middle of this record
            off += 16 + incl
            self.count += 1
        self._pos += off
        return self.count


def run(cmd, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def requirements(tools=("ip", "tcpdump")) -> str | None:
    """None when namespaces can be used here, else the reason to skip."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, iptables, tcpdump)"
    for tool in tools:
        if not shutil.which(tool):
            return "%s is not installed" % tool
    r = run(["ip", "netns", "list"])
    if r.returncode != 0:
        return "`ip netns` is unavailable: %s" % r.stderr.strip()
    return None


class NetnsError(RuntimeError):
    """The namespace or the capture could not be set up (callers turn this into a skip)."""


class NetnsCapture:
    """with NetnsCapture("fpstreams", pcap) as ns: ns.exec([...]) ... -> pcap is complete.

    `exec(cmd)` runs a command inside the namespace; `iptables(args, v6=False)` adds a rule
    and returns False (with `ns.iptables_error`) when the rule cannot be installed.
    """

    def __init__(self, prefix: str, pcap: Path, buffer_kib: int = 65536):
        self.name = "%s-%d" % (prefix, os.getpid())
        self.pcap = Path(pcap)
        self.buffer_kib = buffer_kib
        self.dumps: list[tuple[str, subprocess.Popen]] = []
        self.tcpdump_stderr: dict[str, str] = {}
        # iface -> (pcap, kernel packet counter when the capture was armed)
        self._armed_at: dict[str, tuple[Path, int | None]] = {}
        # iface -> "N of M packets in the file": captures that never caught up
        self.incomplete: dict[str, str] = {}
        self.has_ipv6 = False
        self.iptables_error: str | None = None
        self._created = False

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def exec(self, cmd, timeout: float = 120) -> subprocess.CompletedProcess:
        return run(self.prefix + list(cmd), timeout=timeout)

    def iptables(self, args, v6: bool = False) -> bool:
        tool = "ip6tables" if v6 else "iptables"
        if not shutil.which(tool):
            self.iptables_error = "%s is not installed" % tool
            return False
        r = self.exec([tool] + list(args))
        if r.returncode != 0:
            self.iptables_error = "%s: %s" % (tool, r.stderr.strip())
            return False
        return True

    def counters(self, v6: bool = False) -> list[tuple[int, str]]:
        """(packets, rule text) for every rule of the INPUT chain."""
        r = self.exec(["ip6tables" if v6 else "iptables", "-L", "INPUT", "-v", "-n", "-x"])
        out = []
        for ln in r.stdout.splitlines():
            parts = ln.split()
            if parts and parts[0].isdigit():
                out.append((int(parts[0]), ln))
        return out

    def add_capture(self, iface: str, pcap: Path) -> None:
        """Start `tcpdump -i iface -w pcap` in the namespace and wait until it is armed."""
        dump = subprocess.Popen(
            self.prefix + ["tcpdump", "-i", iface, "-n", "-U", "-s", "0", "-Z", "root",
                           "-B", str(self.buffer_kib), "--immediate-mode", "-w", str(pcap)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.dumps.append((iface, dump))
        # "listening on IFACE, ..." is printed once the socket, its ring and the filter are
        # in place: from then on every packet is queued for tcpdump, no grace period needed
        line = dump.stderr.readline()
        if "listening" not in line:
            raise NetnsError("tcpdump -i %s did not start in the namespace: %s"
                             % (iface, line.strip()))
        self._armed_at[iface] = (Path(pcap), self._kernel_count(iface))

    def _kernel_count(self, iface: str) -> int | None:
        """Packets the kernel has handed a capture of `iface` so far (see the module
        docstring), or None when that cannot be known."""
        if iface == "lo":
            r = self.exec(["cat", "/sys/class/net/lo/statistics/tx_packets"])
            return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else None
        if re.fullmatch(r"[\w.-]+", iface):  # a device: its capture sees both directions
            r = self.exec(["cat", "/sys/class/net/%s/statistics/tx_packets" % iface,
                           "/sys/class/net/%s/statistics/rx_packets" % iface])
            counts = r.stdout.split()
            ok = r.returncode == 0 and len(counts) == 2 and all(c.isdigit() for c in counts)
            return sum(map(int, counts)) if ok else None
        m = re.fullmatch(r"nflog:(\d+)", iface)
        if m:
            group = re.compile(r"\bnflog-group %s\b" % m.group(1))
            total = 0
            for v6 in (False, True):
                if shutil.which("ip6tables" if v6 else "iptables"):
                    total += sum(n for n, ln in self.counters(v6=v6)
                                 if "NFLOG" in ln and group.search(ln))
            return total
        return None

    def lo_dropped(self) -> int:
        """Packets the kernel dropped on this namespace's lo before the receive path (and so
        before any capture): lo's rx_dropped counts the per-CPU backlog overflowing, which
        happens when something floods loopback on the machine - in any namespace, as the
        backlog is shared. Tests that expect every packet use it to say why one is missing."""
        r = self.exec(["cat", "/sys/class/net/lo/statistics/rx_dropped"])
        return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else 0

    def wait_written(self, timeout: float = READY_GUARD_S) -> None:
        """Wait until every capture's file holds all the packets the kernel has handed it
        so far; a capture that does not get there within the guard goes into `incomplete`."""
        for iface, dump in self.dumps:
            if iface not in self._armed_at or dump.poll() is not None:
                continue  # never armed, or already gone: nothing more will be written
            pcap, armed = self._armed_at[iface]
            now = self._kernel_count(iface)
            if armed is None or now is None:
                self.incomplete[iface] = "no kernel counter to compare %s with" % pcap.name
                continue
            want = now - armed
            counter = PcapCounter(pcap)
            wait_until(lambda: counter() >= want or dump.poll() is not None, timeout)
            if counter() < want:
                self.incomplete[iface] = "%d of %d packets in %s%s" % (
                    counter.count, want, pcap.name,
                    " (tcpdump exited)" if dump.poll() is not None else
                    " after %.0f s" % timeout)

    def __enter__(self) -> "NetnsCapture":
        self._create()
        try:
            self.add_capture("lo", self.pcap)
        except BaseException:
            self._teardown()
            raise
        return self

    def _create(self) -> None:
        """Create the namespace and bring lo up (MTU 1500, offloads off)."""
        r = run(["ip", "netns", "add", self.name])
        if r.returncode != 0:
            raise NetnsError("cannot create a network namespace: %s" % r.stderr.strip())
        self._created = True
        try:
            r = self.exec(["ip", "link", "set", "lo", "up", "mtu", "1500"])
            if r.returncode != 0:
                raise NetnsError("cannot bring lo up: %s" % r.stderr.strip())
            if shutil.which("ethtool"):
                self.exec(["ethtool", "-K", "lo", "tso", "off", "gso", "off", "gro", "off"])
            self.has_ipv6 = "::1" in self.exec(["ip", "-6", "addr", "show", "dev", "lo"]).stdout
        except BaseException:
            self._teardown()
            raise

    def stop_capture(self) -> dict[str, str]:
        """Stop the tcpdumps this object started; returns their final stderr per interface
        (with the "N packets dropped by kernel" line)."""
        if self.dumps:
            self.wait_written()
        for iface, dump in self.dumps:
            dump.send_signal(signal.SIGINT)  # tcpdump closes its file and prints its counters
            try:
                _, err = dump.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                dump.kill()
                _, err = dump.communicate()
            self.tcpdump_stderr[iface] = err or ""
        self.dumps = []
        self._armed_at = {}
        return self.tcpdump_stderr

    def _teardown(self) -> None:
        self.stop_capture()
        if self._created:
            run(["ip", "netns", "del", self.name])
            self._created = False

    def __exit__(self, *exc) -> None:
        self._teardown()

    def left_behind(self) -> bool:
        return self.name in run(["ip", "netns", "list"]).stdout.split()


class Netns(NetnsCapture):
    """with Netns("fplive") as ns: the same namespace (lo up, MTU 1500, offloads off, deleted
    on exit) with no capture running; `add_capture()` starts tcpdumps when a test needs them
    and `popen(cmd)` starts a process inside the namespace."""

    def __init__(self, prefix: str, buffer_kib: int = 65536):
        super().__init__(prefix, Path(os.devnull), buffer_kib=buffer_kib)

    def __enter__(self) -> "Netns":
        self._create()
        return self

    def popen(self, cmd, **kw) -> subprocess.Popen:
        return subprocess.Popen(self.prefix + list(cmd), **kw)


class Lab:
    """A routed lab of namespaces for the probing tests (tests/test_probe_netns.py):

        h1 10.13.1.10 (the prober)  h2 10.13.1.20 (answers)  h3 10.13.1.30 (ignores pings)
           fd13:1::10                  fd13:1::20                 fd13:1::30
              \\_________ bridge br0 in namespace "sw" ___________/
                                  |
                  r 10.13.1.1 | 10.13.2.1 (router, forwarding)
                                  |
                            far 10.13.2.20 (two hops from h1)

    Every host's default route is the router. ICMP rate limits are off in every namespace
    (a burst of probes must get all its errors), and offloads are off on every veth so
    captures hold wire-sized frames. Only these private addresses exist in the lab; the
    namespaces and their links are deleted on exit. `ns(name)` is the Netns of a host
    ("h1", "h2", "h3", "r", "far"); `exec(host, cmd)` runs a command there.
    """

    HOSTS = {"h1": "10.13.1.10", "h2": "10.13.1.20", "h3": "10.13.1.30"}
    HOSTS6 = {"h1": "fd13:1::10", "h2": "fd13:1::20", "h3": "fd13:1::30"}  # on-link, no DAD
    ROUTER_LAN, ROUTER_FAR, FAR = "10.13.1.1", "10.13.2.1", "10.13.2.20"
    LAN, FAR_NET = "10.13.1.0/24", "10.13.2.0/24"

    def __init__(self, prefix: str = "fplab"):
        self.prefix = "%s%d" % (prefix, os.getpid() % 100000)
        self.spaces: dict[str, Netns] = {}

    def ns(self, name: str) -> Netns:
        return self.spaces[name]

    def exec(self, name: str, cmd, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.spaces[name].exec(cmd, timeout=timeout)

    def _must(self, name: str, cmd) -> None:
        r = self.exec(name, cmd)
        if r.returncode != 0:
            raise NetnsError("%s in %s: %s" % (" ".join(cmd), name, r.stderr.strip()))

    def _sysctl(self, name: str, key: str, value: str) -> None:
        self._must(name, ["sh", "-c", "echo %s > /proc/sys/%s" % (value, key.replace(".", "/"))])

    def _link(self, a: str, a_if: str, b: str, b_if: str) -> None:
        """A veth pair from namespace a (a_if) to namespace b (b_if)."""
        tmp_a, tmp_b = "%s%sa" % (self.prefix[-6:], a), "%s%sb" % (self.prefix[-6:], a)
        r = run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
        if r.returncode != 0:
            raise NetnsError("cannot create a veth pair: %s" % r.stderr.strip())
        for tmp, ns, final in ((tmp_a, a, a_if), (tmp_b, b, b_if)):
            r = run(["ip", "link", "set", tmp, "netns", self.spaces[ns].name])
            if r.returncode != 0:
                raise NetnsError("cannot move %s: %s" % (tmp, r.stderr.strip()))
            self._must(ns, ["ip", "link", "set", tmp, "name", final])
            if shutil.which("ethtool"):
                self.exec(ns, ["ethtool", "-K", final, "tso", "off", "gso", "off", "gro", "off",
                               "tx", "off", "rx", "off"])
            self._must(ns, ["ip", "link", "set", final, "up"])

    def __enter__(self) -> "Lab":
        try:
            for name in ("sw", "h1", "h2", "h3", "r", "far"):
                ns = Netns("%s%s" % (self.prefix, name))
                ns.name = "%s%s" % (self.prefix, name)  # one lab per process: no pid suffix
                ns.__enter__()
                self.spaces[name] = ns
                for key, value in (("net.ipv4.icmp_ratelimit", "0"), ("net.ipv6.icmp.ratelimit", "0"),
                                   ("net.ipv4.icmp_msgs_per_sec", "1000000"),
                                   ("net.ipv4.icmp_msgs_burst", "1000000")):
                    self.exec(name, ["sh", "-c", "echo %s > /proc/sys/%s" % (value, key.replace(".", "/"))])
            self._must("sw", ["ip", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                              "forward_delay", "0"])
            self._must("sw", ["ip", "link", "set", "br0", "up"])
            for i, name in enumerate(("h1", "h2", "h3", "r")):
                self._link(name, "eth0", "sw", "p%d" % i)
                self._must("sw", ["ip", "link", "set", "p%d" % i, "master", "br0"])
            self._link("far", "eth0", "r", "eth1")
            for name, addr in self.HOSTS.items():
                self._must(name, ["ip", "addr", "add", addr + "/24", "dev", "eth0"])
                self._must(name, ["ip", "route", "add", "default", "via", self.ROUTER_LAN])
                self._must(name, ["ip", "-6", "addr", "add", self.HOSTS6[name] + "/64", "dev", "eth0", "nodad"])
            self._must("r", ["ip", "addr", "add", self.ROUTER_LAN + "/24", "dev", "eth0"])
            self._must("r", ["ip", "addr", "add", self.ROUTER_FAR + "/24", "dev", "eth1"])
            self._sysctl("r", "net.ipv4.ip_forward", "1")
            self._must("far", ["ip", "addr", "add", self.FAR + "/24", "dev", "eth0"])
            self._must("far", ["ip", "route", "add", "default", "via", self.ROUTER_FAR])
            self._sysctl("h3", "net.ipv4.icmp_echo_ignore_all", "1")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for ns in reversed(list(self.spaces.values())):
            ns.__exit__()
        self.spaces = {}


class Dnsmasq:
    """with Dnsmasq(ns, ["10.13.1.20"], conf): dnsmasq (a real DNS server) in namespace `ns`,
    answering from the records of `conf` (a dnsmasq configuration file) over UDP and TCP on
    port 53 of the given addresses only (never the namespace's loopback), forwarding nothing.
    Ready once its sockets are listening; stopped (SIGTERM) on exit, then `log` holds its
    query log (what it was asked and answered, for a failing test's message)."""

    def __init__(self, ns: Netns, addrs, conf: Path):
        self.ns, self.addrs, self.conf = ns, list(addrs), Path(conf)
        self.proc: subprocess.Popen | None = None
        self.log = ""

    def _listening(self) -> bool:
        out = self.ns.exec(["ss", "-Hlnut"]).stdout
        return all(sum(("%s:53 " % a) in ln or ("[%s]:53 " % a) in ln for ln in out.splitlines()) >= 2
                   for a in self.addrs)  # a UDP and a TCP socket per address

    def __enter__(self) -> "Dnsmasq":
        cmd = ["dnsmasq", "--keep-in-foreground", "--conf-file=%s" % self.conf, "--bind-interfaces",
               "--no-resolv", "--no-hosts", "--user=root", "--pid-file=", "--log-facility=-",
               "--log-queries"] + ["--listen-address=%s" % a for a in self.addrs]
        self.proc = self.ns.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not wait_until(lambda: self._listening() or self.proc.poll() is not None, 10):
            self.__exit__()
            raise NetnsError("dnsmasq did not start listening on %s" % self.addrs)
        if self.proc.poll() is not None:
            self.__exit__()
            raise NetnsError("dnsmasq exited: %s" % self.log.strip())
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, self.log = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.log = self.proc.communicate()
        self.proc = None
