"""Engines on every core: ``workers=N`` of ``flows``, ``streams``, ``client_hellos``, ``http`` and ``dns``.

Each worker is one C engine on its own thread (the engines release the GIL while they read,
dissect and track packets), configured as shard i of N: it keeps only the flows whose
endpoints hash to i, but sees every packet, so every flow, stream and ClientHello sees
all of its packets in order, and its clock, expiry decisions and fragment table are the
single engine's. Each plain TCP/UDP record is keyed from its first bytes (the shard key
pass, csrc/dissect/keypass.c): a worker dissects only its own packets (and those the key
pass cannot key: tunnels, fragments, ICMP, non-IP), and another shard's packet moves only
its counters and clock. One mapped file is walked and keyed once (the split walk: chunks
walked by whichever worker needs them first, read by every worker as entries in file
order); other inputs are read whole by every worker with its own Readers. Every record
carries its place in the single engine's output (the packet at which it left and its rank
among that packet's departures), so the merge (``_merge_live`` in C, while the workers run)
gives the same records, in the same order, with the same flow ids, as ``workers=1``. See
docs/DESIGN.md, "Parallel engines", for the cases where that cannot hold (evictions, time
going backwards).
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterator, Sequence

from ._fastpkt import DEFAULT_MAX_MEMORY, Error, Reader

#: Inputs smaller than this run on one worker when ``workers`` is not given (threads would
#: cost more than they save).
AUTO_MIN_BYTES = 64 << 20

# Counters every worker computes identically (each reads every packet) ...
_SAME = ("packets", "bytes", "non_ip_packets", "fragments", "fragment_misses",
         "bad_transport", "time_reversals", "reversal_risks", "finished",
         "defrag",  # every worker reassembles every datagram before keeping its share
         "split_walk_memory_peak_bytes")  # one split walk for every worker


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _reopenable(source: Any) -> bool:
    """Each worker needs its own Readers: paths (not stdin) and in-memory captures."""
    if isinstance(source, (list, tuple)):
        return bool(source) and all(_reopenable(s) for s in source)
    if isinstance(source, (bytearray, memoryview)):
        return True
    if isinstance(source, (str, bytes, os.PathLike)):
        return os.fsdecode(source) != "-"
    return False


def _input_bytes(source: Any) -> int:
    if isinstance(source, (list, tuple)):
        return sum(_input_bytes(s) for s in source)
    if isinstance(source, (bytearray, memoryview)):
        return len(source)
    try:
        return os.stat(source).st_size
    except (OSError, TypeError, ValueError):
        return 0


# gzip, zstd, xz, bzip2: every worker would decompress the whole file
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\xfd7zXZ\x00", b"BZh")


def _compressed(source: Any) -> bool:
    if isinstance(source, (list, tuple)):
        return any(_compressed(s) for s in source)
    if isinstance(source, (bytearray, memoryview)):
        head = bytes(memoryview(source)[:6])
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(6)
        except (OSError, TypeError, ValueError):
            return False
    return head.startswith(_COMPRESSED_MAGIC)


#: Environment variable giving the worker count used when ``workers`` is None ("1": one engine).
WORKERS_ENV = "FASTPKT_WORKERS"


def _env_workers() -> int | None:
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError("%s must be an integer >= 1 (unset it for the default), not %r" % (WORKERS_ENV, value))
    return min(n, 4096)


def resolve_workers(workers: int | None, source: Any, *, on_data: Any = None, ranges: bool = False) -> int:
    """How many workers to run: ``workers``; when None, $FASTPKT_WORKERS if set, else the
    usable cores for inputs of at least ``AUTO_MIN_BYTES`` (64 MiB) that fastpkt can open once
    per worker (paths, in-memory captures; not compressed files, which every worker would
    decompress whole), else 1. A default never asks for what ``workers=N`` would refuse: a
    Reader, file object or stdin, or ``on_data``, runs on one worker. ``ranges``: packets read
    by record-aligned ranges (``read_frames``), where a compressed file is read whole anyway.

    The output is the same with any count; two workers ran flows, client_hellos and streams
    1.1-1.4x faster than one on a quiet 2-vCPU machine (docs/DESIGN.md, "Workers by default")."""
    if workers is None:
        if not _reopenable(source) or on_data is not None:
            return 1
        env = _env_workers()
        if env is not None:
            return env
        if _input_bytes(source) < AUTO_MIN_BYTES or (not ranges and _compressed(source)):
            return 1
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError("workers must be an integer >= 1 (or None: the default), not %r" % (workers,))
    if workers > 1 and not _reopenable(source):
        raise ValueError("workers > 1 needs paths or in-memory captures (each worker opens the input "
                         "itself); a Reader, a file object or stdin is read by one worker")
    if workers > 1 and on_data is not None:
        raise ValueError("on_data takes chunks in the order one engine makes them: use workers=1")
    return min(workers, 4096)


def _sum(values: Sequence[Any]) -> Any:
    if isinstance(values[0], dict):
        return {k: _sum([v[k] for v in values]) for k in values[0]}
    return sum(values)


def merge_stats(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The counters of the whole run: per-packet ones from any worker (they all read every
    packet), per-flow ones summed, and so are ``anomalies`` (a packet is counted by the
    shard that keeps it: the others skip it undissected) and ``key_pass_skips``. Memory and
    max_flows_seen are sums over workers (each had its own table and share of max_memory)."""
    out = {k: (parts[0][k] if k in _SAME else _sum([p[k] for p in parts])) for k in parts[0]}
    out["workers"] = len(parts)
    out["worker_memory_peak_bytes"] = [p["memory_peak_bytes"] for p in parts]
    return out


#: One mapped file is read by the split walk (csrc/py/engine_split.c); False: every worker
#: reads the whole file, as several files, compressed inputs and filters are read.
SPLIT_WALK = True
#: The split walk cuts a file into chunks of about this many bytes and holds the entries of
#: at most SPLIT_WINDOW of them (or 4 per worker): a record's time (8 bytes) and its entry in
#: one shard's list (32 bytes; the lists' room at most twice the records), 12 bytes more for a
#: time reversal, so at worst (16-byte records) 76 bytes per 16 bytes of file, at most
#: SPLIT_WINDOW x SPLIT_CHUNK_BYTES x 4.75 bytes, taken from max_memory (the chunks shrink to
#: keep it within a sixteenth of it).
SPLIT_CHUNK_BYTES = 512 << 10
SPLIT_WINDOW = 32
#: A record's bytes in the split walk at most: its time, room for two entries, a reversal.
SPLIT_RECORD_BYTES = 8 + 2 * 32 + 4
#: Smallest chunk worth a split walk: below it the shards read the whole file each.
SPLIT_MIN_CHUNK = 16 << 10


def _split_plan(n: int, max_memory: int) -> tuple[int, int] | None:
    """(chunk bytes, window) of a split walk whose entries stay within max_memory / 16."""
    window = max(SPLIT_WINDOW, 4 * n)
    chunk = min(SPLIT_CHUNK_BYTES, max_memory // (SPLIT_RECORD_BYTES * window))
    return (chunk, window) if chunk >= min(SPLIT_MIN_CHUNK, SPLIT_CHUNK_BYTES) else None


def _split_reserve(chunk: int, window: int) -> int:
    """What a split walk takes from max_memory: its entries (SPLIT_RECORD_BYTES per record of
    at least 16 bytes in the window's chunks) and the bounds of the chunks from the slowest
    shard's on (8 bytes each: the window's, those being walked, the first not ready)."""
    return window * (chunk // 16 + 1) * SPLIT_RECORD_BYTES + (2 * window + 2) * 8


def run(engine: Callable[..., Any], open_readers: Callable[[], list[Reader]], n: int,
        options: dict[str, Any], *, split: bool = True) -> Any:
    """Run ``n`` shards of an engine type on threads, merged into one engine while they run
    (``_run_live``).

    One mapped capture is walked once (the split walk, csrc/py/engine_split.c): the shard
    that needs a chunk of it first walks and keys its records into entries every shard reads
    in file order. Otherwise (several files, compressed inputs, filters, count, a walk
    abandoned by an interface declared mid-file or an error) every worker reads the whole
    input with its own Readers. Either way a shard dissects
    only its own packets (the others are keyed from their first bytes and skipped). max_memory and
    max_flows are divided between the workers (one budget for the run). When the shards
    cannot give the single engine's result (a flow was evicted or an allocation failed: the
    budget differs; a shard's state and the records of its batch passed its share of
    max_memory, ``budget_stops``: it stopped there (its queued records only make it wait
    for the consumer); a packet out of time order may have changed an expiry decision,
    ``reversal_risks``; the input is corrupt or cut, which one engine reports after the
    records before it), the merge goes on with a single engine over fresh Readers past the
    records already handed out."""
    single = dict(options)
    whole = dict(options)  # the same run, each worker reading the whole input
    max_memory = options.pop("max_memory", None)
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    plan = _split_plan(n, max_memory) if split and SPLIT_WALK else None
    reserve = _split_reserve(*plan) if plan else 0
    options["max_memory"] = max(1, (max_memory - reserve) // n)
    if options.get("max_flows") is not None:
        options["max_flows"] = max(1, options["max_flows"] // n)
    progress = options.pop("progress", None)
    readers = [open_readers() for _ in range(n)]
    for rs in readers[1:]:  # one mapping per file: its pages fault in once, not once per worker
        for r, first in zip(rs, readers[0]):
            r._share_mapping(first)
    shards = [engine(readers[i], _shard=(i, n, True), progress=progress if i == 0 else None, **options)
              for i in range(n)]
    if plan and len(readers[0]) == 1 and not type(shards[0])._split_walk(tuple(shards), *plan):
        plan = None
    return _run_live(engine, shards, open_readers, single, whole if plan else None)


#: A test hook: a shard of a live merge also waits for the consumer once its queued records
#: pass this many bytes (0: only when they fill its share of max_memory); 1 makes every
#: shard wait after every batch that left records the consumer cannot take yet.
LIVE_QUEUE_BYTES = 0


def _run_live(engine: Any, shards: list[Any], open_readers: Callable[[], list[Reader]],
              single: dict[str, Any], whole: dict[str, Any] | None) -> Any:
    """Streams, ClientHellos, flows and DNS transactions handed out while the workers run:
    every shard on its own thread, the merged engine (``_merge_live``, csrc/py/engine.c) hands out each record
    once every shard is past it, in the single engine's order and with its ids; a shard whose
    queued records fill its share of max_memory waits for the consumer (``live_room_waits``).
    When a shard cannot finish as the single engine would (see ``run``, or Ctrl+C), the
    workers stop and the merged engine goes on with
    ``fallback(k)``: one engine, whose first k records (those already handed out) it skips.
    With a split walk (``whole`` given) that was abandoned, the fallback is the same run with
    every worker reading the whole file, past its first k records."""
    state: list[Any] = [None]

    def fallback(k: int) -> Any:
        for t in threads:  # their shards' memory goes before one engine takes its own
            t.join()
        if whole is not None and state[0] is not None and state[0][0] is not None:
            return run(engine, open_readers, len(threads), dict(whole), split=False)
        return engine(open_readers(), **single)

    def live(i: int, shard: Any) -> None:
        try:
            shard._live()
        finally:
            shard._split_leave()
            if i == 0:
                state[0] = shard._split_state()

    merged = engine._merge_live(tuple(shards), fallback, LIVE_QUEUE_BYTES)
    threads = [threading.Thread(target=live, args=(i, s), name="fastpkt-worker-%d" % i, daemon=True)
               for i, s in enumerate(shards)]
    del shards
    for t in threads:
        t.start()
    return merged


# ---- packets by record-aligned byte ranges ------------------------------------------------

#: Packet tables are read in ranges of about this many bytes (at least one per worker), so
#: that every worker has work while the consumer takes the batches in file order.
RANGE_BYTES = 64 << 20


def rangeable(source: Any, on_error: str, display_filter: Any) -> bool:
    """Whether packets of ``source`` can be read by ranges: a path fastpkt maps (checked
    when it opens), read under on_error "raise" or "stop" (a resync under "skip" depends on
    what came before), without a display filter (its frame.number counts from the start)."""
    return (isinstance(source, (str, bytes, os.PathLike)) and os.fsdecode(source) != "-"
            and on_error in ("raise", "stop") and display_filter is None)


def packet_batches(source: Any, workers: int, batch_size: int, convert: Callable[[Any], Any], *,
                   filter: str | None = None, on_error: str = "raise",  # noqa: A002
                   progress: Callable[[int, int], Any] | None = None) -> Iterator[Any]:
    """``convert(PacketList)`` of every batch of at most ``batch_size`` packets of a capture, in
    file order, with ``workers`` threads each reading and converting a record-aligned byte
    range (csrc/source/chunk.c). A batch never spans two ranges. Ranges are trusted up to
    the first whose end is not proven a record boundary (``_range_exact``): that one is read
    on to the end of the file here and the ranges after it are dropped. A range that ends in
    an error is read again here, numbered from its first record's place in the file, so the
    error (or, under "stop", the end) is the sequential read's. Memory: the batches of at most
    ``workers + 1`` ranges. ``progress(position, size)`` is told as the ranges are handed out."""
    opts: dict[str, Any] = {"filter": filter, "on_error": on_error}
    first = Reader(source, **opts)
    size = first.size
    n = max(workers, -(-(size - first.position) // RANGE_BYTES)) if size else 1
    n = -(-n // workers) * workers  # whole rounds: the last range is not one worker's alone
    bounds = first._split(min(n, 4096))
    if len(bounds) <= 2:
        with first:
            yield from _reader_batches(first, batch_size, convert, progress)
        return
    first.close()

    def work(i: int) -> tuple[Reader, list[Any], BaseException | None]:
        r = Reader(source, **opts)
        r._set_range(bounds[i], bounds[i + 1])
        out: list[Any] = []
        try:
            out += _reader_batches(r, batch_size, convert)
        except Error as e:
            return r, out, e
        return r, out, None

    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(workers, thread_name_prefix="fastpkt-range")
    pending: deque[Any] = deque()
    try:
        ahead = 0
        index = 0  # records before the current range
        for i in range(len(bounds) - 1):
            while ahead < len(bounds) - 1 and len(pending) <= workers:
                pending.append(pool.submit(work, ahead))
                ahead += 1
            r, out, err = pending.popleft().result()
            if err is not None or r.error is not None:
                for f in pending:
                    f.cancel()
                r.close()
                with Reader(source, **opts) as again:
                    again._set_range(bounds[i], bounds[-1], index)
                    yield from _reader_batches(again, batch_size, convert)
                if progress is not None:
                    progress(bounds[-1], bounds[-1])
                return
            yield from out
            del out
            if progress is not None:
                progress(bounds[i + 1], bounds[-1])
            index += r.frame_number
            if i < len(bounds) - 2 and not r._range_exact:
                for f in pending:
                    f.cancel()
                with r:
                    r._set_range(r.position, bounds[-1])
                    yield from _reader_batches(r, batch_size, convert)
                if progress is not None:
                    progress(bounds[-1], bounds[-1])
                return
            r.close()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True)


def _reader_batches(reader: Reader, batch_size: int, convert: Callable[[Any], Any],
                    progress: Callable[[int, int], Any] | None = None) -> Iterator[Any]:
    while True:
        chunk = reader.read_all(batch_size, progress=progress)
        if not len(chunk):
            return
        yield convert(chunk)
        del chunk
