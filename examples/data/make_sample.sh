#!/usr/bin/env bash
# Record examples/data/sample.pcap: a small capture made on the loopback interface only.
#
#   sudo examples/data/make_sample.sh [OUT.pcap]
#
# Everything runs inside a private network namespace (fpsample) that has nothing but `lo`,
# so only 127.0.0.0/8 and ::1 can appear and no traffic ever leaves the machine.
# Traffic generated (all local):
#   * DNS over UDP: a tiny responder on 127.0.0.53:53 answering A/AAAA/CNAME/MX/TXT for
#     *.example.test (compression pointers, one NXDOMAIN), queried with Python sockets
#   * HTTP/1.0 to `python3 -m http.server` on port 80 over IPv4 and IPv6: GETs, a 404
#     (with an IDS-style URI), a POST (501 from http.server)
#   * TLS: `openssl s_server` with a throw-away self-signed certificate on 127.0.0.1:443,
#     `openssl s_client -servername sample.fastpkt.test`, plus a Python ssl client (SNI
#     api.fastpkt.test)
#   * ICMP echo to 127.0.0.1 and ICMPv6 echo to ::1 (raw sockets; the kernel answers)
#   * a refused TCP connection (SYN -> RST/ACK) and a small port sweep from 127.0.0.66
#   * two ARP replies for 127.0.0.2 with different MACs, injected on lo (ARP monitor demo)
# Needs root, tcpdump, openssl, python3, iproute2.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${1:-$HERE/sample.pcap}"
NS=fpsample
WORK="$(mktemp -d /tmp/fpsample.XXXXXX)"
PIDS=()

if [ "$(id -u)" != 0 ]; then
    echo "make_sample.sh: needs root (network namespace + tcpdump)" >&2
    exit 1
fi
for tool in tcpdump openssl python3 ip; do
    command -v "$tool" >/dev/null || { echo "make_sample.sh: $tool not found" >&2; exit 1; }
done

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
# 127.0.0.0/8 is all routed to lo already; nothing else exists in this namespace.

# ---------------------------------------------------------------- helpers (Python, stdlib only)
cat > "$WORK/dns_server.py" <<'EOF'
"""Tiny authoritative DNS responder for *.example.test on 127.0.0.53:53 (UDP)."""
import socket, struct

ZONE = {
    ("example.test", 1): [("A", "127.0.0.10")],
    ("example.test", 28): [("AAAA", "::1")],
    ("example.test", 15): [("MX", (10, "mail.example.test"))],
    ("example.test", 16): [("TXT", "v=fastpkt sample capture")],
    ("www.example.test", 1): [("CNAME", "example.test"), ("A", "127.0.0.10")],
    ("mail.example.test", 1): [("A", "127.0.0.25")],
    ("api.example.test", 28): [("AAAA", "::1")],
}
TYPES = {"A": 1, "AAAA": 28, "CNAME": 5, "MX": 15, "TXT": 16}


def enc_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def parse_q(msg):
    i, labels = 12, []
    while msg[i]:
        labels.append(msg[i + 1:i + 1 + msg[i]].decode())
        i += 1 + msg[i]
    qtype, qclass = struct.unpack("!HH", msg[i + 1:i + 5])
    return ".".join(labels), qtype, i + 5


def rdata(kind, value):
    if kind == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if kind == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    if kind == "CNAME":
        return enc_name(value)
    if kind == "MX":
        return struct.pack("!H", value[0]) + enc_name(value[1])
    if kind == "TXT":
        return bytes([len(value)]) + value.encode()
    raise ValueError(kind)


def answer(msg):
    qid, flags = struct.unpack("!HH", msg[:4])
    name, qtype, end = parse_q(msg)
    records = ZONE.get((name.lower(), qtype), [])
    known = any(n == name.lower() for n, _ in ZONE)
    rcode = 0 if known else 3
    out = b""
    for kind, value in records:
        rd = rdata(kind, value)
        # owner name: a compression pointer to the question name at offset 12
        out += struct.pack("!HHHIH", 0xC00C, TYPES[kind], 1, 300, len(rd)) + rd
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | 0x0080 | rcode,
                      1, len(records), 0, 0)
    return hdr + msg[12:end] + out


sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.53", 53))
while True:
    data, peer = sock.recvfrom(4096)
    try:
        sock.sendto(answer(data), peer)
    except Exception:
        pass
EOF

cat > "$WORK/traffic.py" <<'EOF'
"""Generate the sample traffic (loopback only). Run inside the fpsample namespace."""
import http.client, os, random, socket, ssl, struct, subprocess, sys, time

random.seed(7)


def dns_query(name, qtype, qid):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    q += struct.pack("!HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    s.sendto(q, ("127.0.0.53", 53))
    try:
        s.recvfrom(4096)
    except socket.timeout:
        print("dns: no answer for", name, file=sys.stderr)
    s.close()


def http_req(host, method, path, body=None, src=None):
    kw = {"source_address": (src, 0)} if src else {}
    c = http.client.HTTPConnection(host, 80, timeout=5, **kw)
    headers = {"User-Agent": "fastpkt-sample/1.0"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def tcp_connect(dst, port, src=None):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1)
    if src:
        s.bind((src, 0))
    try:
        s.connect((dst, port))
        ok = True
    except OSError:
        ok = False
    s.close()
    return ok


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping4(dst, seq):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(1)
    payload = b"fastpkt-ping-" + bytes(range(32))
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x4650, seq)
    hdr = struct.pack("!BBHHH", 8, 0, checksum(hdr + payload), 0x4650, seq)
    s.sendto(hdr + payload, (dst, 0))
    try:
        while True:
            data, _ = s.recvfrom(2048)
            if data[20] == 0:          # echo reply (raw v4 sockets include the IP header)
                break
    except socket.timeout:
        print("ping4: timeout", file=sys.stderr)
    s.close()


def ping6(dst, seq):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.settimeout(1)
    payload = b"fastpkt-ping6-" + bytes(range(32))
    # the kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x4651, seq) + payload, (dst, 0))
    try:
        while True:
            data, _ = s.recvfrom(2048)
            if data[0] == 129:
                break
    except socket.timeout:
        print("ping6: timeout", file=sys.stderr)
    s.close()


def arp_reply(ip, mac):
    """Inject one ARP is-at frame on lo (the kernel ignores it: lo is NOARP)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("lo", 0))
    hw = bytes.fromhex(mac.replace(":", ""))
    frame = b"\0" * 6 + hw + b"\x08\x06"
    frame += struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + hw + socket.inet_aton(ip)
    frame += b"\0" * 6 + socket.inet_aton("127.0.0.1")
    s.send(frame.ljust(60, b"\0"))
    s.close()


tls_cmd = sys.argv[1]          # path of the openssl s_client wrapper script

# 1. DNS
qid = 0x1000
for name, qtype in [("example.test", 1), ("example.test", 28), ("www.example.test", 1),
                    ("example.test", 15), ("example.test", 16), ("mail.example.test", 1),
                    ("api.example.test", 28), ("nonexistent.example.test", 1),
                    ("www.example.test", 1)]:
    qid += 1
    dns_query(name, qtype, qid)
    time.sleep(0.02)

# 2. HTTP over IPv4 and IPv6 (http.server listens on :: port 80, dual stack)
print("http", http_req("127.0.0.1", "GET", "/", src="127.0.0.20"))
print("http", http_req("127.0.0.1", "GET", "/hello.txt", src="127.0.0.20"))
print("http", http_req("127.0.0.1", "GET", "/../../etc/passwd?q=1+union+select+2", src="127.0.0.21"))
print("http", http_req("127.0.0.1", "POST", "/submit", body=b"name=fastpkt&v=1", src="127.0.0.20"))
print("http", http_req("::1", "GET", "/hello.txt"))
print("http", http_req("::1", "GET", "/missing.html"))

# 3. TLS with SNI: openssl s_client, then Python's ssl module
subprocess.run([tls_cmd], check=False)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", 443), timeout=5, source_address=("127.0.0.30", 0))
with ctx.wrap_socket(raw, server_hostname="api.fastpkt.test") as t:
    t.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        t.recv(4096)
    except OSError:
        pass

# 4. ICMP echo
for seq in (1, 2, 3):
    ping4("127.0.0.1", seq)
    ping6("::1", seq)
    time.sleep(0.02)

# 5. a refused connection, then a small port sweep from 127.0.0.66
print("refused ok:", not tcp_connect("127.0.0.1", 9, src="127.0.0.1"))
for port in [21, 22, 23, 25, 53, 110, 111, 135, 139, 143, 445, 993, 995, 1433, 1723,
             3306, 3389, 5900, 8080, 8443]:
    tcp_connect("127.0.0.1", port, src="127.0.0.66")

# 6. ARP: 127.0.0.2 changes its MAC (what an ARP monitor flags)
arp_reply("127.0.0.2", "02:00:00:00:00:01")
time.sleep(0.1)
arp_reply("127.0.0.2", "02:00:00:00:00:02")
time.sleep(0.1)
arp_reply("127.0.0.2", "02:00:00:00:00:02")
time.sleep(0.5)
EOF

# ---------------------------------------------------------------- servers
mkdir -p "$WORK/www"
printf '<html><body><h1>fastpkt sample</h1></body></html>\n' > "$WORK/www/index.html"
printf 'hello from the fastpkt sample capture\n' > "$WORK/www/hello.txt"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sample.fastpkt.test" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

cat > "$WORK/tls_client.sh" <<EOF
#!/usr/bin/env bash
printf 'Q\n' | timeout 3 openssl s_client -connect 127.0.0.1:443 -servername sample.fastpkt.test \
    -ign_eof >/dev/null 2>&1 || true
EOF
chmod +x "$WORK/tls_client.sh"

ip netns exec "$NS" tcpdump -i lo -n -s 0 -U -w "$WORK/sample.pcap" >/dev/null 2>"$WORK/tcpdump.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done

ip netns exec "$NS" python3 "$WORK/dns_server.py" >/dev/null 2>&1 &
PIDS+=($!)
(cd "$WORK/www" && exec ip netns exec "$NS" python3 -m http.server 80 --bind :: >/dev/null 2>&1) &
PIDS+=($!)
ip netns exec "$NS" openssl s_server -accept 443 -cert "$WORK/cert.pem" -key "$WORK/key.pem" -www -quiet \
    >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

in_ns python3 "$WORK/traffic.py" "$WORK/tls_client.sh"
sleep 1

# stop tcpdump first (SIGINT flushes the file), then the servers
kill -INT "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
cp "$WORK/sample.pcap" "$OUT"
echo "wrote $OUT: $(stat -c %s "$OUT") bytes, $(tcpdump -r "$OUT" -n 2>/dev/null | wc -l) packets"
