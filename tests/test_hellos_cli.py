"""`fastpkt sni` and examples/tls_sni.py against independent references:

- tests/data/tls.pcap: tshark's SNI, JA3 and frame time per ClientHello (tshark run here) and
  Scapy's TLS layer (ClientHello extensions parsed by Scapy);
- the shared corpus (../shared/corpus/fingerprints): tshark's SNI and JA3 per ClientHello frame
  (*.tshark.tsv, TCP and QUIC) and the JA4 reference implementation's JA4 per connection
  (*.expected.tsv), for a few captures; skipped when the corpus is absent.
"""
from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fastpkt import cli
from fastpkt._fastpkt import HELLO_FIELDS

from _fphelpers import CORPUS_SKIP_REASON, DATA, corpus_dir, have, read_tsv

ROOT = Path(__file__).resolve().parents[1]
TLS = DATA / "tls.pcap"
SAMPLE = ROOT / "examples" / "data" / "sample.pcap"
EXAMPLES = ROOT / "examples"

LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{6}) (\S+) -> (\S+)  (tcp |quic)  (\S+)  alpn (\S+)  "
                  r"(.+?)(?:  ja3 (\S+)  ja4 (\S+))?$")
# captures of the fingerprint corpus used here: TCP + QUIC with GREASE; QUIC with a key log;
# current browsers; TLS through a SOCKS proxy on port 1080
CORPUS_CAPTURES = ["ja4-tls3.pcapng", "ja4-chrome-cloudflare-quic-with-secrets.pcapng",
                   "ja4-latest.pcapng", "ja4-socks-https-example.pcap"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _ep(text: str) -> tuple[str, int]:
    ip, port = text.rsplit(":", 1)
    return ip.strip("[]"), int(port)


def parse_lines(out: str) -> list[dict]:
    rows = []
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, "unexpected line: %r" % line
        (cip, cport), (sip, sport) = _ep(m[2]), _ep(m[3])
        rows.append({"time": m[1], "client": (cip, cport), "server": (sip, sport),
                     "transport": m[4].strip(), "sni": m[5], "alpn": m[6], "version": m[7],
                     "ja3": m[8], "ja4": m[9]})
    return rows


def _stamp(epoch: str) -> str:
    t = dt.datetime.fromtimestamp(float(epoch), dt.timezone.utc)
    return t.strftime("%H:%M:%S.%f")


def tshark_hellos(path: Path) -> list[dict]:
    """tshark's ClientHello frames: time, client port, SNI, JA3 hash, JA3 string."""
    cmd = ["tshark", "-r", str(path), "-n", "-Y", "tls.handshake.type==1", "-T", "fields",
           "-E", "separator=/t", "-e", "frame.time_epoch", "-e", "tcp.srcport",
           "-e", "tls.handshake.extensions_server_name", "-e", "tls.handshake.ja3",
           "-e", "tls.handshake.ja3_full"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    keys = ("time", "port", "sni", "ja3", "ja3_full")
    return [dict(zip(keys, line.split("\t"))) for line in out.splitlines()]


SCAPY_HELLOS = r"""
import json, sys
from scapy.all import TCP, load_layer, rdpcap
load_layer("tls")
from scapy.layers.tls.extensions import TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS as ScapyTLS
out = {}
for pkt in rdpcap(sys.argv[1]):
    if TCP not in pkt or not bytes(pkt[TCP].payload):
        continue
    try:
        ch = ScapyTLS(bytes(pkt[TCP].payload)).getlayer(TLSClientHello)
    except Exception:  # Scapy raises many kinds on cut records
        continue
    if ch is None:
        continue
    out[pkt[TCP].sport] = [s.servername.decode() for e in (ch.ext or [])
                           if isinstance(e, TLS_Ext_ServerName) for s in e.servernames]
print(json.dumps(out))
"""


def scapy_hellos(path: Path) -> dict[int, list[str] | None]:
    """{client port: SNIs} of every segment Scapy's TLS layer reads as a ClientHello.

    In a fresh interpreter: load_layer("tls") rebinds port 443 in Scapy for the rest of the
    process, which would change the dissection other tests compare against."""
    pytest.importorskip("scapy")
    out = subprocess.run([sys.executable, "-c", SCAPY_HELLOS, str(path)], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


# ---------------------------------------------------------------------------- tests/data/tls.pcap
@pytest.mark.tshark
@pytest.mark.skipif(not have("tshark"), reason="tshark not installed")
def test_sni_lines_match_tshark(capsys):
    rc, out, err = run_cli(capsys, "sni", TLS, "--ja")
    assert rc == 0, err
    rows = parse_lines(out)
    theirs = tshark_hellos(TLS)
    assert len(theirs) == 5  # one per hello; the one cut after 60 bytes is not a hello
    assert [r["client"][1] for r in rows] == [int(t["port"]) for t in theirs]
    for r, t in zip(rows, theirs):
        assert r["sni"] == (t["sni"] or "-"), (r, t)
        assert r["ja3"] == t["ja3"], (r, t)
        assert r["time"] == _stamp(t["time"])
        assert r["transport"] == "tcp" and r["server"] == ("93.184.216.34", r["server"][1])
    assert {r["server"][1] for r in rows} == {443, 8443}  # hellos are found on any port
    assert "5 ClientHellos (5 TCP, 0 QUIC), 3 with an SNI" in err


def test_sni_lines_match_scapy(capsys):
    theirs = scapy_hellos(TLS)
    rc, out, err = run_cli(capsys, "sni", TLS)
    assert rc == 0, err
    rows = parse_lines(out)
    assert sorted(r["client"][1] for r in rows) == sorted(theirs)
    for r in rows:
        names = theirs[r["client"][1]]
        if r["client"][1] == 51002:
            # the server_name list length lies (+200): Scapy reads the name anyway, fastpkt
            # (like tshark) reports no SNI for a malformed extension
            assert r["sni"] == "-" and names == ["liar.example"]
        else:
            assert r["sni"] == (names[0] if names else "-")
        assert r["alpn"] == "h2" and r["version"] == "TLS 1.3" and r["ja3"] is None


def test_sni_filter(capsys):
    rc, out, err = run_cli(capsys, "sni", TLS, "--filter", "tcp port 8443")
    assert rc == 0, err
    rows = parse_lines(out)
    assert [(r["server"][1], r["sni"]) for r in rows] == [(8443, "www.example.org")]


@pytest.mark.tshark
@pytest.mark.skipif(not have("tshark"), reason="tshark not installed")
def test_sni_csv(capsys, tmp_path):
    out_csv = tmp_path / "hellos.csv"
    rc, out, err = run_cli(capsys, "sni", TLS, "--csv", out_csv)
    assert rc == 0, err
    assert out == "" and "wrote 5 ClientHellos" in err
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(HELLO_FIELDS)
    theirs = tshark_hellos(TLS)
    assert [int(r["client_port"]) for r in rows] == [int(t["port"]) for t in theirs]
    for r, t in zip(rows, theirs):
        assert r["sni"] == t["sni"]
        assert r["ja3"] == t["ja3_full"] and r["ja3_hash"] == t["ja3"]
        # tuple columns are joined with ',': JA3's cipher field is the same list, '-'-joined
        assert r["ciphers"] == t["ja3_full"].split(",")[1].replace("-", ",")
        assert r["alpn"] == "h2" and r["transport"] == "tcp"
        assert "(" not in r["extensions"] and "(" not in r["versions"]
    assert rows[2]["anomalies"] == "tls_hello_ext_malformed" and rows[0]["anomalies"] == ""


def test_sni_stdin():
    with open(TLS, "rb") as f:
        r = subprocess.run([sys.executable, "-m", "fastpkt.cli", "sni", "-"], stdin=f,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [row["sni"] for row in parse_lines(r.stdout)] == [
        "www.example.org", "grease.example", "-", "-", "www.example.org"]


def test_sni_missing_file(capsys, tmp_path):
    rc, out, err = run_cli(capsys, "sni", tmp_path / "nope.pcap")
    assert rc == 2
    assert "fastpkt sni" in err


def test_sni_bad_filter(capsys):
    rc, out, err = run_cli(capsys, "sni", TLS, "--filter", "tcp port")
    assert rc == 2 and "fastpkt sni" in err


def test_sni_help_lists_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "sni" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["sni", "--help"])
    text = capsys.readouterr().out
    assert "--csv" in text and "--ja" in text and "--filter" in text


# ---------------------------------------------------------------------------- the corpus
def _corpus_params():
    d = corpus_dir()
    if d is None:
        return [pytest.param(None, marks=pytest.mark.skip(CORPUS_SKIP_REASON), id="no-corpus")]
    return [pytest.param(d / "fingerprints" / name, id=name) for name in CORPUS_CAPTURES]


def _tshark_first_per_stream(capture: Path) -> dict:
    """tshark.tsv: {(transport, stream): (SNI, JA3 hash)} of each stream's first full hello
    (a retransmitted copy or the hello after a HelloRetryRequest is another row there;
    rows without a JA3 string are hellos tshark only saw the start of)."""
    first = {}
    rows = read_tsv(Path(str(capture) + ".tshark.tsv"))
    for r in sorted(rows, key=lambda r: int(r["frame.number"])):
        if not r["tls.handshake.ja3_full"]:
            continue
        key = ("tcp", r["tcp.stream"]) if r["tcp.stream"] else ("quic", r["udp.stream"])
        first.setdefault(key, (r["tls.handshake.extensions_server_name"].split(",")[0] or "-",
                               r["tls.handshake.ja3"]))
    return first


@pytest.mark.parametrize("capture", _corpus_params())
def test_sni_corpus_matches_tshark_and_ja4(capsys, capture):
    rc, out, err = run_cli(capsys, "sni", capture, "--ja")
    assert rc == 0, err
    rows = parse_lines(out)
    # tshark: SNI and JA3 per ClientHello, TCP and QUIC, as multisets
    tsh = _tshark_first_per_stream(capture)
    theirs = collections.Counter((k[0], sni, ja3) for k, (sni, ja3) in tsh.items())
    ours = collections.Counter((r["transport"], r["sni"], r["ja3"]) for r in rows)
    assert ours == theirs, "fastpkt only: %s\ntshark only: %s" % (ours - theirs, theirs - ours)
    # the JA4 reference: JA4 and SNI per connection
    by_conn = {("udp" if r["transport"] == "quic" else "tcp",) + r["client"] + r["server"]: r
               for r in rows}
    expected = [e for e in read_tsv(Path(str(capture) + ".expected.tsv")) if e["ja4"]]
    assert expected
    for e in expected:
        key = (e["transport"], e["src"], int(e["src_port"]), e["dst"], int(e["dst_port"]))
        r = by_conn.get(key)
        assert r is not None, "no line for %s" % (key,)
        assert r["ja4"] == e["ja4"] and r["sni"] == (e["sni"] or "-"), (r, e)
        assert (r["transport"] == "quic") == (e["quic"] == "true")
    # lines come in capture-time order (none of these captures crosses midnight UTC)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


# ---------------------------------------------------------------------------- the example
def run_example(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLES / "tls_sni.py")] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


SUMMARY = re.compile(r"^per packet: (\d+) SNIs; client_hellos: (\d+) ClientHellos, (\d+) with an "
                     r"SNI \((\d+) over QUIC\); missed by the per-packet approach: (\d+)$", re.M)


def test_example_tls_sni_sample(tmp_path):
    theirs = scapy_hellos(SAMPLE)
    names = sorted(n for v in theirs.values() for n in v)
    assert names == ["api.fastpkt.test", "sample.fastpkt.test"]
    r = run_example(cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    course, _, rest = r.stdout.partition("== fp.client_hellos()")
    assert sorted(re.findall(r"^TLS SNI: (\S+)", course, re.M)) == names
    assert sorted(re.findall(r"SNI (\S+)  ALPN", rest)) == names
    assert rest.count("     JA3 ") == 2 and "JA4 t13" in rest
    m = SUMMARY.search(r.stdout)
    assert m and m.groups() == ("2", "2", "2", "0", "0")


@pytest.mark.skipif(corpus_dir() is None, reason=CORPUS_SKIP_REASON)
def test_example_tls_sni_quic_is_missed_per_packet(tmp_path):
    capture = corpus_dir() / "fingerprints" / "ja4-tls3.pcapng"
    tsh = _tshark_first_per_stream(capture)
    tcp = sorted(sni for (t, _), (sni, _) in tsh.items() if t == "tcp")
    quic = sorted(sni for (t, _), (sni, _) in tsh.items() if t == "quic")
    assert tcp and quic
    r = run_example("--pcap", capture, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout
    assert m.groups() == tuple(map(str, (len(tcp), len(tsh), len(tsh), len(quic), len(quic))))
    course = r.stdout.partition("== fp.client_hellos()")[0]
    assert sorted(re.findall(r"^TLS SNI: (\S+)", course, re.M)) == tcp
    missed = re.findall(r"^  missed: (\S+)  \(quic .*encrypted Initial$", r.stdout, re.M)
    assert sorted(missed) == quic
