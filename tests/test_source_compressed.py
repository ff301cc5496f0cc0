"""Compressed captures and file objects (csrc/source/decompress.c, input.c, csrc/py/pyinput.c).

References, never fastpkt's own output: the packets the test itself writes with `struct`
(times, lengths, bytes), tshark reading the uncompressed original (frame count, lengths,
times), and Python's zlib/gzip/lzma/bz2 modules (or the zstd library through ctypes) for
the compressed side: which packets a cut .gz still holds is what Python's zlib decompresses.
"""
from __future__ import annotations

import bz2
import ctypes
import ctypes.util
import gzip
import io
import json
import lzma
import os
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import fastpkt as fp
from _fphelpers import DATA, have

REPO = Path(__file__).resolve().parents[1]


def need_tool(tool: str) -> None:
    """Skip without the reference tool (a failure under FASTPKT_REQUIRE_REFS=1: conftest)."""
    if not have(tool):
        pytest.skip(f"{tool} not installed: it is the reference for this test")


# ---------------------------------------------------------------- the capture we write

def make_packets(n: int, seed: int) -> list[tuple[int, int, bytes]]:
    """(seconds, microseconds, frame bytes): Ethernet/IPv4/UDP, sizes 42..1514, part of
    the payload random (so it spans many compressed blocks), part repetitive."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        size = rng.randrange(0, 1473)
        payload = rng.randbytes(size // 2) + b"x" * (size - size // 2)
        udp = struct.pack(">HHHH", 1024 + i % 50000, 53, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip
        out.append((1_700_000_000 + i, (i * 37) % 1_000_000, eth))
    return out


def pcap_bytes(packets) -> bytes:
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for sec, usec, data in packets:
        parts.append(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    return b"".join(parts)


def complete_records(blob: bytes) -> int:
    """How many whole records a (decompressed) pcap prefix holds: an independent parser."""
    off, n = 24, 0
    while off + 16 <= len(blob):
        caplen = struct.unpack_from("<I", blob, off + 8)[0]
        if off + 16 + caplen > len(blob):
            break
        off += 16 + caplen
        n += 1
    return n


def zstd_compress(data: bytes) -> bytes:
    """The zstd library fastpkt links, called through ctypes (no Python binding needed)."""
    name = ctypes.util.find_library("zstd")
    if name is None:
        pytest.skip("libzstd not found by ctypes")
    lib = ctypes.CDLL(name)
    lib.ZSTD_compressBound.restype = ctypes.c_size_t
    lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    lib.ZSTD_compress.restype = ctypes.c_size_t
    lib.ZSTD_compress.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p,
                                  ctypes.c_size_t, ctypes.c_int]
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    cap = lib.ZSTD_compressBound(len(data))
    out = ctypes.create_string_buffer(cap)
    n = lib.ZSTD_compress(out, cap, data, len(data), 3)
    assert not lib.ZSTD_isError(n)
    return out.raw[:n]


COMPRESS = {
    "gz": lambda b: gzip.compress(b, 6),
    "zst": zstd_compress,
    "xz": lambda b: lzma.compress(b),
    "bz2": lambda b: bz2.compress(b, 9),
}
PACKETS = make_packets(3000, seed=11)   # ~2.3 MB: many decoder reads and buffer refills
PLAIN = pcap_bytes(PACKETS)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("compressed")
    (d / "t.pcap").write_bytes(PLAIN)
    out = {"pcap": d / "t.pcap"}
    for ext, fn in COMPRESS.items():
        out[ext] = d / f"t.pcap.{ext}"
        out[ext].write_bytes(fn(PLAIN))
    return out


def ours(pkts) -> list[tuple[int, int, bytes]]:
    return [(p.time_ns, p.wirelen, p.raw) for p in pkts]


EXPECTED = [((s * 1_000_000 + us) * 1000, len(d), d) for s, us, d in PACKETS]


# ---------------------------------------------------------------- tests

def test_reference_tshark_reads_the_original(files):
    """The uncompressed original is what tshark says it is: the reference the others meet."""
    need_tool("tshark")
    r = subprocess.run(["tshark", "-r", str(files["pcap"]), "-T", "fields", "-e", "frame.len",
                        "-e", "frame.time_epoch"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert len(rows) == len(PACKETS)
    for (ln, t), (sec, usec, data) in zip(rows, PACKETS):
        assert int(ln) == len(data)
        assert t.startswith("%d.%06d" % (sec, usec))


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_compressed_path(files, ext):
    with fp.open(str(files[ext])) as r:
        got = ours(r)
        assert r.position == len(PLAIN)   # decompressed bytes consumed
        assert r.compression == {"gz": "gzip", "zst": "zstd", "xz": "xz", "bz2": "bzip2"}[ext]
    assert fp.open(str(files["pcap"])).compression is None
    assert got == EXPECTED


@pytest.mark.parametrize("ext", sorted(COMPRESS))
@pytest.mark.parametrize("how", ["open", "bufferedreader", "bytesio", "read_only",
                                 "readinto_only", "memoryview"])
def test_compressed_file_objects(files, ext, how):
    path = files[ext]
    blob = path.read_bytes()

    class ReadOnly:            # a file-like with read() alone
        def __init__(self):
            self.f = io.BytesIO(blob)

        def read(self, n=-1):
            return self.f.read(min(n, 777) if n > 0 else n)   # short reads too

    class ReadintoOnly:
        def __init__(self):
            self.f = io.BytesIO(blob)

        def readinto(self, b):
            return self.f.readinto(memoryview(b)[:4093])

    sources = {
        "open": lambda: open(path, "rb"),
        "bufferedreader": lambda: io.BufferedReader(io.FileIO(path), buffer_size=4096),
        "bytesio": lambda: io.BytesIO(blob),
        "read_only": ReadOnly,
        "readinto_only": ReadintoOnly,
        "memoryview": lambda: memoryview(blob),
    }
    src = sources[how]()
    assert ours(fp.read(src)) == EXPECTED
    if hasattr(src, "close"):
        src.close()


def test_gzip_open_object_is_read_through_python(files):
    """gzip.open() has a fileno() of the compressed file: fastpkt must read what Python
    decompresses, not the descriptor (this failed with 'unknown magic 1f 8b')."""
    with gzip.open(files["gz"]) as g:
        assert ours(fp.read(g)) == EXPECTED


def test_partly_read_file_object_continues_where_python_is(files):
    """The Reader starts at the object's position, with Python's buffered bytes."""
    with open(files["pcap"], "rb") as f:
        f.read(0)
        f.peek(100)          # Python's buffer now holds bytes the descriptor has passed
        assert ours(fp.read(f)) == EXPECTED


def test_engines_and_cli_take_compressed_paths(files):
    n_flows = len(fp.flows(str(files["pcap"])).to_pandas())
    for ext in COMPRESS:
        assert len(fp.flows(str(files[ext])).to_pandas()) == n_flows
        assert sum(1 for _ in fp.streams(str(files[ext]))) == 0   # UDP only
        assert list(fp.client_hellos(str(files[ext]))) == []
        assert list(fp.http(str(files[ext]))) == []
        assert len(fp.read(str(files[ext]), filter="udp port 53")) == len(PACKETS)
        with open(files[ext], "rb") as f:
            assert fp.flows(f).to_pandas()["packets"].sum() == len(PACKETS)


def test_concatenated_gzip_members_split_inside_a_record(tmp_path):
    """gzip(1) and Python read concatenated members (and zero padding) as one stream."""
    cut = 24 + 16 + 300          # inside the first record's data
    members = gzip.compress(PLAIN[:cut]) + gzip.compress(PLAIN[cut:])
    assert gzip.decompress(members) == PLAIN   # the reference's view
    blob = members + b"\0" * 16
    p = tmp_path / "two.pcap.gz"
    p.write_bytes(blob)
    assert ours(fp.read(str(p))) == EXPECTED


def test_concatenated_xz_bz2_zstd(tmp_path):
    half = len(PLAIN) // 2
    for ext in ("xz", "bz2", "zst"):
        blob = COMPRESS[ext](PLAIN[:half]) + COMPRESS[ext](PLAIN[half:])
        p = tmp_path / f"two.pcap.{ext}"
        p.write_bytes(blob)
        assert ours(fp.read(str(p))) == EXPECTED, ext


@pytest.mark.parametrize("frac", [0.13, 0.5, 0.77, 0.999])
@pytest.mark.parametrize("as_file", [False, True])
def test_truncated_gzip_delivers_every_complete_packet(tmp_path, frac, as_file):
    gz = gzip.compress(PLAIN)
    cut = gz[: int(len(gz) * frac)]
    prefix = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut)   # what the cut holds
    whole = complete_records(prefix)
    p = tmp_path / "cut.pcap.gz"
    p.write_bytes(cut)
    got = []
    with pytest.raises(fp.TruncatedError) as ei:
        for pkt in fp.open(open(p, "rb") if as_file else str(p)):
            got.append((pkt.time_ns, pkt.wirelen, pkt.raw))
    assert got == EXPECTED[:whole]
    assert ei.value.packet_index == whole
    assert "decompressed" in str(ei.value)
    # the offset is the decompressed offset of the first incomplete record
    assert ei.value.offset == 24 + sum(16 + len(d) for _, _, d in PACKETS[:whole])
    r = fp.open(str(p), on_error="stop")
    assert len(list(r)) == whole and isinstance(r.error, fp.TruncatedError)
    assert "pass on_error" not in str(r.error)
    assert "the %d packets before it were delivered" % whole in str(r.error)


PARTIAL = {  # what the reference decoder makes of a cut stream
    "xz": lambda b: lzma.LZMADecompressor().decompress(b),
    "bz2": lambda b: bz2.BZ2Decompressor().decompress(b),
}


@pytest.mark.parametrize("ext", ["xz", "bz2", "zst"])
@pytest.mark.parametrize("frac", [0.5, 0.99])
def test_truncated_other_formats(tmp_path, ext, frac):
    blob = COMPRESS[ext](PLAIN)
    cut = blob[: int(len(blob) * frac)]
    p = tmp_path / f"cut.pcap.{ext}"
    p.write_bytes(cut)
    got = []
    with pytest.raises(fp.TruncatedError) as ei:   # at open when no header came out
        for pkt in fp.open(str(p)):
            got.append((pkt.time_ns, pkt.wirelen, pkt.raw))
    if ext in PARTIAL:
        assert len(got) == complete_records(PARTIAL[ext](cut))
    assert got == EXPECTED[: len(got)] and len(got) < len(EXPECTED)
    assert ei.value.packet_index == len(got)


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_corrupt_compressed_data_is_a_format_error(tmp_path, ext):
    blob = bytearray(COMPRESS[ext](PLAIN))
    for i in range(len(blob) // 3, len(blob) // 3 + 64):
        blob[i] ^= 0x5A
    p = tmp_path / f"bad.pcap.{ext}"
    p.write_bytes(bytes(blob))
    n = 0
    with pytest.raises(fp.FormatError):
        for _ in fp.open(str(p)):
            n += 1
    assert n < len(PACKETS)


def test_compressed_garbage_is_not_a_capture(tmp_path):
    p = tmp_path / "text.gz"
    p.write_bytes(gzip.compress(b"hello, not a capture"))
    with pytest.raises(fp.FormatError, match="inside the compressed data"):
        fp.open(str(p))
    p.write_bytes(gzip.compress(b""))
    with pytest.raises(fp.FormatError, match="decompresses to 0 bytes"):
        fp.open(str(p))


def test_pcapng_gz_from_the_data_dir(tmp_path):
    p = tmp_path / "two_if.pcapng.gz"
    p.write_bytes(gzip.compress((DATA / "two_if.pcapng").read_bytes()))
    want = [(q.time_ns, q.interface, q.raw) for q in fp.read(str(DATA / "two_if.pcapng"))]
    assert [(q.time_ns, q.interface, q.raw) for q in fp.read(str(p))] == want


def test_file_object_exception_is_reraised():
    class Broken:
        def readinto(self, b):
            raise KeyError("disk on fire")

    with pytest.raises(KeyError, match="disk on fire"):
        fp.open(Broken())

    class Late:               # fails after the header and two packets
        def __init__(self):
            self.f = io.BytesIO(PLAIN[:24 + sum(16 + len(d) for _, _, d in PACKETS[:2])])

        def readinto(self, b):
            n = self.f.readinto(b)
            if n == 0:
                raise ValueError("connection reset")
            return n

    got = []
    with pytest.raises(ValueError, match="connection reset"):
        for p in fp.open(Late()):
            got.append(p.raw)
    assert got == [d for _, _, d in PACKETS[:2]]


def test_text_file_is_refused(files):
    with open(files["pcap"], encoding="latin-1") as f, pytest.raises(TypeError, match="binary"):
        fp.open(f)

    class Text:
        def read(self, n=-1):
            return "abc"

    with pytest.raises(TypeError, match="binary"):
        fp.open(Text())


CLI = [sys.executable, "-c", "import sys; from fastpkt.cli import main; sys.exit(main())"]


@pytest.mark.parametrize("ext", sorted(COMPRESS))
def test_cli_reads_compressed_paths(files, ext):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(CLI + ["read", str(files[ext])], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(PACKETS)


def test_cli_reads_zcat_pipe_and_compressed_stdin(files):
    """`zcat f.gz | fastpkt read -` and `fastpkt read - < f.gz` (decompressed by us)."""
    need_tool("zcat")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    zcat = subprocess.Popen(["zcat", str(files["gz"])], stdout=subprocess.PIPE)
    r = subprocess.run(CLI + ["read", "-"], stdin=zcat.stdout, capture_output=True, text=True,
                       env=env, timeout=120)
    zcat.stdout.close()
    zcat.wait(30)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(PACKETS)
    with open(files["xz"], "rb") as f:
        r = subprocess.run(CLI + ["read", "-"], stdin=f, capture_output=True, text=True,
                           env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == len(PACKETS)


def test_file_object_reader_cycle_is_collected():
    """A file object that references its own Reader (a cycle through C) is garbage."""
    import gc
    import weakref

    class F(io.BytesIO):
        pass

    f = F(PLAIN)
    f.reader = fp.open(f)
    next(f.reader)
    ref = weakref.ref(f)
    del f
    gc.collect()
    assert ref() is None


RSS_CHILD = r"""
import json, resource, sys
import fastpkt as fp
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = fp.Reader(sys.argv[1]).count()
with open(sys.argv[1], "rb") as f:
    m = sum(1 for _ in fp.open(f))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps([n, m, after - before]))
"""


@pytest.mark.parametrize("ext", ["gz", "zst"])
def test_large_compressed_capture_streams_in_bounded_memory(tmp_path, ext):
    """80 MB of packets decompressed from a path and from a file object: peak RSS grows by
    the stream buffer and the decoder, not by the capture."""
    body = PLAIN[24:]
    copies = 80_000_000 // len(body) + 1
    plain = PLAIN[:24] + body * copies
    p = tmp_path / f"big.pcap.{ext}"
    p.write_bytes(gzip.compress(plain, 1) if ext == "gz" else zstd_compress(plain))
    del plain
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", RSS_CHILD, str(p)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    n, m, grew_kib = json.loads(r.stdout)
    assert n == m == len(PACKETS) * copies
    assert grew_kib < 32 * 1024, grew_kib
