"""A capture truncated or rewritten by another process while fastpkt has it mapped
(tcpdump restarting, logrotate's copytruncate) ends with a clear error or a clean end,
never a SIGBUS: while iterating, through kept packets and PacketLists, inside engines.

The reference is the file we generate here with struct: every packet delivered before
the error must be exactly the one we wrote. Each truncation is done by `truncate(1)`,
another process, run to completion at a chosen point (no timing windows).
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

import fastpkt as fp
from _fphelpers import indexed_udp_frame

N_PACKETS = 3000
PAYLOAD = 1200          # ~3.7 MB: the truncation drops hundreds of resident pages


def udp_frame(i: int) -> bytes:
    return indexed_udp_frame(i, PAYLOAD)


@pytest.fixture()
def capture(tmp_path):
    frames = [udp_frame(i) for i in range(N_PACKETS)]
    offsets, blob, pos = [], bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)), 24
    for i, f in enumerate(frames):
        offsets.append(pos)
        rec = struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
        blob += rec
        pos += len(rec)
    path = tmp_path / "rotating.pcap"
    path.write_bytes(bytes(blob))
    return path, frames, offsets


def truncate(path, size: int) -> None:
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)


def test_iteration_ends_with_truncated_error(capture):
    path, frames, offsets = capture
    got = []
    with pytest.raises(fp.TruncatedError) as ei:
        for i, pkt in enumerate(fp.open(path)):
            got.append(pkt.raw)
            if i == 99:
                truncate(path, offsets[1500] + 10)
    assert "truncated by another process" in str(ei.value)
    # Everything delivered is what was written; the lost part is never handed out.
    assert got == frames[:len(got)]
    assert 100 <= len(got) <= 1500
    assert ei.value.packet_index == len(got)


def test_on_error_stop_ends_cleanly(capture):
    path, frames, offsets = capture
    r = fp.open(path, on_error="stop")
    head = [next(r).raw for _ in range(10)]
    truncate(path, offsets[20])
    rest = [p.raw for p in r]
    assert head + rest == frames[:len(head) + len(rest)]
    assert isinstance(r.error, fp.TruncatedError)


def test_kept_packets_and_packetlist(capture):
    path, frames, offsets = capture
    pl = fp.read(path)
    assert len(pl) == N_PACKETS
    kept = pl[N_PACKETS - 1]
    truncate(path, 24)
    # The vanished pages read as zeros: no signal, and the table refuses to pretend.
    assert kept.raw == bytes(len(frames[-1]))
    assert kept.summary()
    with pytest.raises(fp.TruncatedError, match="truncated by another process"):
        pl.to_pandas()


def test_read_on_two_threads_of_a_shrinking_file(tmp_path):
    """fp.read walks a file of 8 MiB or more on two threads (tests/test_source_chunks.py): the
    second half meeting the lost part stops and drops its records, the first half's end (which,
    as any range's end, asks the file system for the whole mapping) reports the truncation."""
    frames = [udp_frame(i) for i in range(8000)]
    offsets, blob = [], bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, f in enumerate(frames):
        offsets.append(len(blob))
        blob += struct.pack("<IIII", 1_700_000_000 + i, 0, len(f), len(f)) + f
    path = tmp_path / "big_rotating.pcap"
    path.write_bytes(bytes(blob))
    assert len(blob) > 8 << 20
    with fp.open(path) as r:
        head = [next(r).raw for _ in range(10)]
        truncate(path, offsets[6000] + 10)
        with pytest.raises(fp.TruncatedError, match="truncated by another process") as ei:
            r.read_all()
    got = head + [p.raw for p in ei.value.packets]
    assert got == frames[:len(got)] and 10 < len(got) <= 6000


def test_engines_over_a_shrinking_file(capture):
    path, frames, offsets = capture
    r = fp.open(path)
    for _ in range(50):
        next(r)
    truncate(path, offsets[700])
    with pytest.raises(fp.TruncatedError):
        for _ in fp.flows(r):
            pass


def test_rewritten_file_is_read_without_a_signal(capture):
    path, frames, offsets = capture
    r = fp.open(path, on_error="stop")
    next(r)
    # copytruncate then new data: the old length is gone, new bytes appear at its start.
    truncate(path, 0)
    with open(path, "ab") as f:
        f.write(os.urandom(offsets[10]))
    list(r)
    assert r.error is None or isinstance(r.error, fp.FormatError)


def test_unrelated_sigbus_still_kills(tmp_path):
    """Our handler chains: a bus error outside our mappings keeps its default action."""
    code = ("import fastpkt, mmap, os, sys\n"
            "fastpkt.read(sys.argv[1])\n"
            "f = open(sys.argv[2], 'w+b'); f.write(b'x' * 8192); f.flush()\n"
            "m = mmap.mmap(f.fileno(), 8192)\n"
            "os.truncate(sys.argv[2], 0)\n"
            "m[5000]\n")
    other = tmp_path / "other.bin"
    sample = os.path.join(os.path.dirname(__file__), "data", "le_usec.pcap")
    r = subprocess.run([sys.executable, "-c", code, sample, str(other)], capture_output=True)
    assert r.returncode == -7, r   # SIGBUS

