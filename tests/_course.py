"""Run the course's scripts (examples/course/) under real Scapy and under fastpkt.scapy.

The fastpkt form is the file as it is; the Scapy form is the same file with
``from fastpkt.scapy import`` switched back to ``from scapy.all import``, the course's own
line. Each run gets a fresh working directory (the scripts write capture.pcap, CSVs, stream
files there) and a fixed PYTHONHASHSEED (the PCAP article prints a set). What is compared:
stdout with the wall-clock stamps masked, how the script ended (exit code and exception
class), and the files it wrote (pcaps by their records, the rest byte for byte).

No pytest here: ``python tests/_course.py FILE...`` prints the differences for exploring.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
COURSE = ROOT / "examples" / "course"

# Offline scripts, each run on a capture with --pcap (the sniffers read it with
# sniff(offline=...)): what test_course_scripts compares on every capture.
READERS = [
    "basic_sniffer", "dns_sniffer", "timed_capture_to_pcap", "save_pcap", "dns_analyzer",
    "tcp_session_tracker", "read_pcap_summary", "handshake_tracker", "arp_monitor",
    "http_requests", "tls_sni", "flow_report", "verify_checksums", "signature_matcher",
    "reconstruct_streams", "port_scan_detector", "protocol_counter", "bandwidth_monitor",
    "read_pcap_ips_http", "lab1_packet_sniffer", "lab3_dns_analyzer", "lab5_tcp_flow_report",
]
# Building only, no input.
BUILDERS = ["packet_anatomy", "layer_stacks"]
# No Scapy import at all: the course runs them unchanged on the other scripts' output.
PLAIN = ["chart_top_destinations", "find_http"]
# Sending (tests/test_probe_netns.py runs them in its namespace lab).
SENDERS = ["send_syn", "syn_demo", "udp_sender", "arp_scan", "ping_sweep", "traceroute", "rtt",
           "lab2_arp_scanner", "lab4_syn_flood_demo"]

SWAP = ("from fastpkt.scapy import", "from scapy.all import")
_STAMPS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"), "<utcnow>"),
    (re.compile(r"capture_\d+\.pcap"), "capture_<time>.pcap"),
]


def scapy_copy(dest: Path) -> Path:
    """examples/course/ with the course's import put back, in dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in COURSE.glob("*.py"):
        text = f.read_text()
        (dest / f.name).write_text(text.replace(*SWAP) if f.name != "_course.py" else text)
    return dest


def mask(text: str) -> str:
    for rx, sub in _STAMPS:
        text = rx.sub(sub, text)
    return text


def _pcap_records(data: bytes) -> list[str]:
    """A classic pcap's records as 'sec.usec len/caplen sha1', whatever the header says
    (Scapy's wrpcap and ours may pick a different snaplen); other data as one sha1."""
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                                          b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        return [hashlib.sha1(data).hexdigest()]
    end = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    out = ["linktype %d" % struct.unpack(end + "I", data[20:24])[0]]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(end + "IIII", data[off:off + 16])
        body = data[off + 16: off + 16 + caplen]
        usec = frac // 1000 if nano else frac
        out.append("%d.%06d %d/%d %s" % (sec, usec, wirelen, caplen, hashlib.sha1(body).hexdigest()))
        off += 16 + caplen
    return out


def written(cwd: Path) -> dict[str, Any]:
    files: dict[str, Any] = {}
    for f in sorted(cwd.iterdir()):
        if f.suffix == ".png":
            files[mask(f.name)] = "png" if f.read_bytes()[:4] == b"\x89PNG" else "not a png"
        elif f.suffix == ".pcap":
            files[mask(f.name)] = _pcap_records(f.read_bytes())
        elif f.is_file():
            files[mask(f.name)] = mask(f.read_text(errors="replace")).splitlines()
    return files


def _run_here(script: Path, args: list[str], cwd: Path) -> dict[str, Any]:
    """One run of a course script in this process (a fresh module namespace each time; the
    Scapy or fastpkt import is paid once per process, not once per run)."""
    import contextlib
    import io
    import runpy
    import warnings

    cwd.mkdir(parents=True, exist_ok=True)
    sys.modules.pop("_course", None)  # it parses the command line when imported
    out, err = io.StringIO(), io.StringIO()
    end = "exit 0"
    here = os.getcwd()
    sys.argv = [str(script)] + args
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        end = "exit %s" % (e.code or 0)
    except Exception as e:  # noqa: BLE001  (how the script ended is part of what is compared)
        end = type(e).__name__
        err.write("%s: %s" % (type(e).__name__, e))
    finally:
        os.chdir(here)
    return {"stdout": mask(out.getvalue()).splitlines(), "end": end, "files": written(cwd),
            "stderr": err.getvalue()[-2000:]}


def run_batch(form: str, jobs: list[tuple[str, list[str]]], work: Path, timeout: float = 900) -> list[dict[str, Any]]:
    """Run jobs [(script name, args)] of one form ('scapy' or 'fastpkt') in one child process."""
    import json

    work.mkdir(parents=True, exist_ok=True)
    src = scapy_copy(work / "scapy-src") if form == "scapy" else COURSE
    spec = work / (form + "-jobs.json")
    spec.write_text(json.dumps({"src": str(src), "jobs": jobs, "work": str(work / form)}))
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", MPLBACKEND="Agg", TZ="UTC")
    return _finish(subprocess.Popen([sys.executable, __file__, "--batch", str(spec)], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), timeout)


def _finish(proc: subprocess.Popen, timeout: float) -> list[dict[str, Any]]:
    import json

    out, err = proc.communicate(timeout=timeout)
    if proc.returncode:
        raise RuntimeError("course batch failed (%d): %s" % (proc.returncode, err[-3000:]))
    return json.loads(out)


def both(jobs: list[tuple[str, list[str]]], work: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(Scapy's runs, fastpkt.scapy's runs) of the same jobs, the two batches side by side."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        theirs = ex.submit(run_batch, "scapy", jobs, work)
        ours = ex.submit(run_batch, "fastpkt", jobs, work)
        return theirs.result(), ours.result()


def line_diff(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """Pairs (Scapy's line, ours) where they differ, in order; '' for a missing line."""
    import difflib

    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        left, right = a[i1:i2], b[j1:j2]
        for k in range(max(len(left), len(right))):
            out.append((left[k] if k < len(left) else "", right[k] if k < len(right) else ""))
    return out


def file_diffs(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Names of the files the two runs wrote differently (or only one wrote)."""
    names = sorted(set(theirs["files"]) | set(ours["files"]))
    return [n for n in names if theirs["files"].get(n) != ours["files"].get(n)]


def unexplained(theirs: dict[str, Any], ours: dict[str, Any], ids: list[str],
                reasons: dict[str, dict[str, Any]]) -> list[str]:
    """What in this pair of runs none of the listed reasons accounts for ([] if all is).

    A reason with ``end`` pairs accounts for a run that ended differently (and so for all of
    its output); ``lines`` pairs of regexes (Scapy's line, ours; '' for a missing line) account
    for stdout lines; ``files`` regexes for written files that differ."""
    import fnmatch

    chosen = [reasons[i] for i in ids]
    if theirs["end"] != ours["end"]:
        if any(fnmatch.fnmatch(theirs["end"], a) and fnmatch.fnmatch(ours["end"], b)
               for r in chosen for a, b in r.get("end", [])):
            return []
        return ["ended %s under Scapy, %s under fastpkt.scapy (%s)" % (
            theirs["end"], ours["end"], ours["stderr"].strip().splitlines()[-1:] or "")]
    problems = []
    pats = [(re.compile(a), re.compile(b)) for r in chosen for a, b in r.get("lines", [])]
    for left, right in line_diff(theirs["stdout"], ours["stdout"]):
        if not any(a.fullmatch(left) and b.fullmatch(right) for a, b in pats):
            problems.append("Scapy: %r / fastpkt.scapy: %r" % (left[:200], right[:200]))
    file_pats = [re.compile(f) for r in chosen for f in r.get("files", [])]
    for name in file_diffs(theirs, ours):
        if not any(f.fullmatch(name) for f in file_pats):
            problems.append("wrote %s differently" % name)
    return problems


def _batch_main(spec_path: str) -> None:
    import json

    spec = json.loads(Path(spec_path).read_text())
    src, work = Path(spec["src"]), Path(spec["work"])
    sys.path.insert(0, str(src))
    real_stdout = sys.stdout
    results = []
    for i, (name, args) in enumerate(spec["jobs"]):
        cwd = work / ("%04d-%s" % (i, name))
        results.append(_run_here(src / (name + ".py"), args, cwd))
        shutil.rmtree(cwd, ignore_errors=True)
    real_stdout.write(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--batch"]:
        _batch_main(sys.argv[2])
        sys.exit(0)
    names = [a for a in sys.argv[1:] if not os.path.exists(a)] or READERS
    pcaps = [os.path.abspath(a) for a in sys.argv[1:] if os.path.exists(a)]
    jobs = [(n, ["--pcap", p]) for p in pcaps for n in names]
    with tempfile.TemporaryDirectory() as tmp:
        theirs, ours = both(jobs, Path(tmp))
    for (name, args), t, o in zip(jobs, theirs, ours):
        diffs = line_diff(t["stdout"], o["stdout"])
        if diffs or t["end"] != o["end"] or t["files"] != o["files"]:
            print("== %s %s: end %s / %s, files %s" % (Path(args[1]).name, name, t["end"], o["end"],
                                                      "same" if t["files"] == o["files"] else "DIFFER"))
            for left, right in diffs[:6]:
                print("  S: %s\n  F: %s" % (left[:150], right[:150]))
            if o["end"] not in ("exit 0", t["end"]):
                print("  " + o["stderr"][-300:])
