"""fastpkt on Dask: captures as ``dask.dataframe``s, local or on a cluster.

    import fastpkt.dask as fpd
    df = fpd.flows(["s3://bucket/sensor1.pcap", "s3://bucket/sensor2.pcap"], npartitions=8)
    df.groupby("dst_port").bytes.sum().compute()

- ``read_packets(paths)``: the columns of ``PacketList.to_pandas()``, one partition per
  record-aligned byte range of about 64 MiB of a local file (csrc/source/chunk.c, as
  ``read_frames(workers=N)``), one per file for URLs and display filters; the rows and index
  are those of one partition per file.
- ``flows(paths)``, ``client_hellos(paths)``, ``http(paths)``, ``dns(paths)``: ``npartitions``
  shards of the flow engine, each keeping the flows whose key hashes to it (see
  ``fastpkt.parallel``) over every file merged in time order (as ``fastpkt.flows(list)``).
  Local files are walked once, in two stages: one task per record-aligned byte range of
  about 64 MiB keys its records into 32-byte entries, then each shard reads from the files
  only the records it keeps (and those the key pass declines), the others moving its clock.
  The entries go to spill files (32 bytes a record of the input) in a new ``fastpkt-spill-*``
  directory under ``spill_dir`` (default: Dask's temporary-directory, else the system's), read
  by each shard through a 1 MiB window a file and removed when the graph finishes, a task
  fails or Dask drops the run (a cancelled compute); one whose maker died (a worker killed)
  is removed by the next run under the same root (``_remove_stale``).
  On a cluster, ``spill_dir`` must be a directory every worker sees: when one does not
  (asked at run time), or with ``spill_dir=False``, the entries travel in memory, every shard
  holding them all while they fit in a quarter of its ``max_memory``.
  URLs, compressed files and filters keep one task per shard reading every byte of every
  file. A flow, stream, ClientHello or DNS transaction spanning files, ranges or
  partitions is whole in one partition; a small merge step gives every record the flow id
  (``flow_id``/``stream_id``) one engine gives it, so the rows are
  ``fastpkt.flows(paths).to_pandas()``'s (in partition order; sort by ``flow_id`` for one
  engine's), also for rotated files whose time ranges overlap. When a packet older than the
  one before it may have changed an expiry, partition 0 holds one engine's rows and the
  others are empty. Several shards run the same input: give each its own core. Fragments are
  reassembled and tunnels opened unless ``defragment=False``/``decapsulate=False``, as the
  engines' own wrappers do.

Paths are local paths or any fsspec URL (``s3://``, ``hdfs://``, ``gcs://``, ``http://``...),
opened with ``storage_options`` on the worker that reads them and read in the filesystem's
blocks (range requests over HTTP); a failed read raises ``RemoteReadError`` naming the URL and
the offset. A task's exception reaches the client as raised, attributes and all (``_task``).
``meta`` has exactly fastpkt's dtypes.
Needs ``pip install fastpkt[dask]`` (dask[dataframe], distributed, fsspec).
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import io
import os
import pickle
import re
import shutil
import socket
import tempfile
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Sequence, TypeVar, Union, cast

import numpy as np

from . import tables
from ._fastpkt import ClientHellos, DnsTransactions, Error, Flows, Reader, Streams

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas

__all__ = ["read_packets", "flows", "client_hellos", "http", "dns", "RemoteReadError"]

Paths = Any  # a path or URL, or a list of them

#: Where the engines' first stage writes its entries: a directory (every worker must see it),
#: None for Dask's temporary-directory or the system's, False to keep them in memory.
SpillDir = Union[str, "os.PathLike[str]", Literal[False], None]


def _paths(paths: Paths) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise ValueError("fastpkt.dask needs at least one path")
    return out


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _open(path: str, storage_options: dict[str, Any] | None, filter: str | None,  # noqa: A002
          display_filter: str | None, **reassembly: Any) -> Reader:
    """A Reader of one path or URL: local files are mapped, others read through fsspec.
    reassembly: defragment/decapsulate, as the engine wrappers open their sources."""
    if _is_local(path):
        src: Any = path[len("file://"):] if path.startswith("file://") else path
    else:
        fsspec = _untyped("fsspec")
        failed = None
        try:
            of = fsspec.open(path, "rb", **(storage_options or {}))
            # memory:// hands every opener the same file object: read its bytes instead (they
            # are in memory already), so shards on threads do not share a position
            src = memoryview(of.fs.cat_file(of.path)) if of.fs.protocol in ("memory", ("memory",)) \
                else _UrlFile(path, of.open())
        except (FileNotFoundError, PermissionError):
            raise
        except Exception as e:  # noqa: BLE001  (a filesystem's own errors: see RemoteReadError)
            failed = e
        if failed is not None:
            raise RemoteReadError(path, 0, _reason(failed))  # outside the handler: no context to pickle
    return Reader(src, filter=filter, display_filter=display_filter, **reassembly)


class RemoteReadError(Error, OSError):
    """Reading a capture through fsspec failed (a connection lost mid-file, a body shorter
    than its ``Content-Length``, a server error): ``path`` is the URL, ``offset`` the file
    offset the failed read started at (the packets before the block holding it were read)
    and ``reason`` the filesystem's error as text. Raised in the filesystem's place because
    its errors may not survive pickling on their way from a Dask worker to the client
    (arguments holding sessions, headers, open files); made of text and integers, this one
    does, attributes and all."""

    def __init__(self, path: str, offset: int, reason: str) -> None:
        super().__init__("reading %s failed at offset %d: %s (read it again once the server answers, or copy "
                         "the file where the workers can read it)" % (path, offset, reason))
        self.path, self.offset, self.reason = path, offset, reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.offset, self.reason))


def _reason(e: BaseException) -> str:
    return "%s: %s" % (type(e).__name__, e)


class _UrlFile:
    """An fsspec file object as the Reader's input: reads of at most one of its blocks (a
    range request over HTTP, with the filesystem's read-ahead), so that a failure keeps from
    the Reader only the packets of the read that failed, and the filesystem's errors as
    ``RemoteReadError`` naming the URL and the offset that read started at."""

    def __init__(self, url: str, f: Any) -> None:
        self._url, self._f = url, f
        self._pos = 0
        self._step = int(getattr(f, "blocksize", 0) or 0) or 1 << 20

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        try:
            data = self._f.read(min(len(view), self._step))
        except Exception as e:  # noqa: BLE001
            failed: BaseException = e
        else:
            view[:len(data)] = data
            self._pos += len(data)
            return len(data)
        raise RemoteReadError(self._url, self._pos, _reason(failed))  # outside the handler: no context

    def close(self) -> None:
        self._f.close()


_F = TypeVar("_F", bound=Callable[..., Any])


def _task(fn: _F) -> _F:
    """A task whose exception reaches the Dask client as it was raised (``_portable``)."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            failed = e
        raise _portable(failed)

    return cast(_F, run)


def _portable(e: Exception) -> Exception:
    """e when it is Python's or fastpkt's and comes back from pickle as itself (type, args,
    attributes such as offset, packet_index, path), else a ``fastpkt.Error`` with its type and
    text. Its cause and context are dropped (their text is in its message, their traceback
    in the worker's log): distributed pickles the chain with it (tblib's reducer, which it
    installs for the types it sent), and a foreign exception there may not unpickle on the
    client, or unpickle by reopening a file or a URL."""
    e.__cause__ = e.__context__ = None
    vars(e).pop("packets", None)  # fp.read's partial list: pickled without it, and not needed here
    same = type(e).__module__ in ("builtins", "fastpkt", __name__)
    if same:
        try:
            back = pickle.loads(pickle.dumps(e))
            same = type(back) is type(e) and back.args == e.args and vars(back) == vars(e)
        except Exception:  # noqa: BLE001
            same = False
    return e if same else Error("%s.%s: %s" % (type(e).__module__, type(e).__qualname__, e))


#: The UDP tunnel ports of a graph's tasks (``fastpkt.tunnel_ports()``, on the client).
Ports = dict[str, tuple[int, ...]]


def _client_ports() -> Ports:
    from .tunnel_ports import tunnel_ports

    return tunnel_ports()


def _use_ports(ports: Ports | None) -> None:
    """Dissect and key with the tunnel ports of the client that built the graph
    (``fp.set_tunnel_ports``): a worker in another process has its own table, and a shard
    keyed there would keep other flows than one engine on the client (a VXLAN port it does
    not know is plain UDP to it). The worker keeps them after the task: the tasks of one
    graph run at once there, and putting its own back would change them under the others."""
    from .tunnel_ports import set_tunnel_ports, tunnel_ports

    if ports is not None and tunnel_ports() != ports:
        set_tunnel_ports(**ports)


@_task
def _packets_part(path: str, storage_options: dict[str, Any] | None, filter: str | None,  # noqa: A002
                  display_filter: str | None, ports: Ports | None = None) -> pandas.DataFrame:
    from . import PacketList  # noqa: F401  (the package, loaded on the worker)

    _use_ports(ports)
    with _open(path, storage_options, filter, display_filter) as r:
        return r.read_all().to_pandas()


def _bounds(path: str, filter: str | None) -> list[int]:  # noqa: A002
    """Record-aligned cut points of a local capture ([] or two: one range)."""
    from . import parallel

    with Reader(path, filter=filter) as r:
        n = -(-(r.size - r.position) // parallel.RANGE_BYTES) if r.size else 1
        return r._split(min(n, 4096)) if n > 1 else []  # one range where the source is not mapped


@_task
def _range_read(path: str, start: int, end: int, last: bool, filter: str | None,  # noqa: A002
                ports: Ports | None = None) -> tuple[pandas.DataFrame | None, bool, int]:
    """The packets starting in [start, end), whether the range proved exact (the next one
    starts on the record the sequential read gives next) and the records it read. An error
    gives no frame: ``_settle`` reads again from ``start`` numbered as the sequential read."""
    from . import PacketList  # noqa: F401

    _use_ports(ports)
    with Reader(path, filter=filter) as r:
        r._set_range(start, end)
        try:
            df = r.read_all().to_pandas()
        except Error:
            return None, False, 0
        return df, r.error is None and (last or r._range_exact), r.frame_number


# The chain of ranges trusted so far: (all exact, records before, packets before).
_State = tuple[bool, int, int]


def _advance(state: _State, part: tuple[pandas.DataFrame | None, bool, int]) -> _State:
    trusted, records, packets = state
    df, exact, read = part
    return (trusted and exact, records + read, packets + (len(df) if df is not None else 0))


@_task
def _settle(part: tuple[pandas.DataFrame | None, bool, int], state: _State, path: str, start: int,
            filter: str | None, meta: pandas.DataFrame, ports: Ports | None = None  # noqa: A002
            ) -> pandas.DataFrame:
    """Range i as the sequential read has it: its frame when every range before was exact;
    the rest of the file when it is the first inexact (or failed) one, read from its start
    (a true record: the ranges before were exact) numbered from the records before it;
    nothing after that (the first inexact range read them)."""
    import pandas as pd

    trusted, records, packets = state
    if not trusted:
        return meta.copy()
    df, exact, _ = part
    if df is None or not exact:
        _use_ports(ports)
        with Reader(path, filter=filter) as r:
            r._set_range(start, r.size, records)
            df = r.read_all().to_pandas()
    df.index = pd.RangeIndex(packets, packets + len(df))
    return df


def read_packets(paths: Paths, *, filter: str | None = None, display_filter: str | None = None,  # noqa: A002
                 storage_options: dict[str, Any] | None = None) -> dd.DataFrame:
    """Every packet of every file (PacketList.to_pandas() columns), one partition per
    record-aligned byte range of about 64 MiB of a local file (a large capture is read by
    several workers), one per file for URLs, compressed files and display filters (whose
    frame.number counts from the file's start). Rows, order and index are those of one
    partition per file: a range not proven to end on a record boundary is read on to the
    end of its file by its partition and the ranges after it are empty."""
    dask_df, delayed = _untyped("dask.dataframe"), _untyped("dask.delayed").delayed
    meta = tables.to_pandas(_empty_packets())
    ports = _client_ports()
    frames = []
    for path in _paths(paths):
        bounds = _bounds(path, filter) if "://" not in path and display_filter is None else []
        if len(bounds) <= 2:
            frames.append(delayed(_packets_part, pure=True)(path, storage_options, filter, display_filter, ports))
            continue
        state: Any = (True, 0, 0)
        for i in range(len(bounds) - 1):
            part = delayed(_range_read, pure=True)(path, bounds[i], bounds[i + 1], i == len(bounds) - 2, filter,
                                                   ports)
            frames.append(delayed(_settle, pure=True)(part, state, path, bounds[i], filter, meta, ports))
            state = delayed(_advance, pure=True)(state, part)
    with _our_dtypes():
        return cast("dd.DataFrame", dask_df.from_delayed(frames, meta=meta, verify_meta=False))


def _untyped(module: str) -> Any:
    """fsspec ships no types and dask's from_map/from_delayed/delayed none that mypy --strict
    takes: they are used as Any, their results cast to the documented types."""
    return importlib.import_module(module)


def _our_dtypes() -> Any:
    """Dask would turn object columns (lists, bytes, optional strings) into pyarrow strings:
    the partitions keep fastpkt's dtypes, as meta says."""
    import dask

    return dask.config.set({"dataframe.convert-string": False})


def _empty_packets() -> Any:
    from . import read

    return read(io.BytesIO(_EMPTY_PCAP))


_EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")

# engine type, records -> DataFrame, the id column
_KINDS: dict[str, tuple[Any, str]] = {
    "flows": (Flows, "flow_id"),
    "client_hellos": (ClientHellos, "stream_id"),
    "http": (Streams, "stream_id"),
    "dns": (DnsTransactions, "flow_id"),
}


#: From this many shards up, local files are walked in two stages (ranges into entries, shards
#: fed them); with fewer, every shard reads every byte of every file. On one machine with the
#: capture in the page cache two stages took more CPU at 2 and 4 shards and the same at 8
#: (docs/DESIGN.md, "Dask"), while the whole-file walk they save grows with every shard.
TWO_STAGE_MIN_SHARDS = 8

#: Entries held in memory (no spill directory every worker sees, ``spill_dir=False``, a spill
#: file that could not be written, the walk after an inexact range) feed a shard only while
#: they fit in this fraction of its max_memory (fastpkt.DEFAULT_MAX_MEMORY when not given: 8M
#: records): the shard holds them for its whole run; past it the shards read the files whole.
#: Spilled entries count against nothing: a shard reads them through a 1 MiB window a file.
#: Entries in memory at an address not aligned for them (inside a pickle or network frame)
#: are read through the same window, not in place (fixed 1 MiB a Reader, as for spill files).
FEED_MEMORY_SHARE = 4

#: Spill files live in a directory of this prefix made for each run of a graph (``_spill_open``),
#: named ``fastpkt-spill-<pid>-<host>-<random>`` after the process that made it.
SPILL_PREFIX = "fastpkt-spill-"

#: A run directory of another host (whose processes cannot be looked at from here) is removed by
#: the next run under the same root once it was left untouched for this long.
SPILL_STALE_SECONDS = 24 * 3600

#: One record as the first stage of the engines' split walk gives it (fp_feed_entry,
#: csrc/py/engine.h): its data's offset in the file, time, lengths, link type, FCS bytes and
#: the key pass's shard (-1: every shard dissects it).
FEED_DTYPE = np.dtype([("offset", "<u8"), ("ts_ns", "<i8"), ("caplen", "<u4"), ("wirelen", "<u4"),
                       ("linktype", "<u4"), ("fcs_len", "u1"), ("pad", "u1"), ("shard", "<i2")])


def _ranges(path: str) -> list[int]:
    """Record-aligned cut points of a local capture for the engines' first stage (two: one range)."""
    from . import parallel

    with Reader(path) as r:
        n = -(-(r.size - r.position) // parallel.RANGE_BYTES) if r.size else 1
        return r._split(max(1, min(n, 4096)))


def _walk(path: str, start: int, end: int, n: int, options: dict[str, Any]) -> tuple[np.ndarray, bool]:
    """Stage 1: the records starting in [start, end) of a local capture keyed for n shards,
    and whether they are the sequential read's (the range ended on its cut, or at the end of
    the file, without error). When not, stage 2 reads the files whole."""
    with _engine_readers([path], None, dict(options))[0] as r:
        try:
            r._set_range(start, end)
        except ValueError:  # not mapped (a compressed file): read whole by every shard
            return np.empty(0, dtype=FEED_DTYPE), False
        entries, exact = Flows._walk_entries(r, n)
    return np.frombuffer(entries, dtype=FEED_DTYPE), exact


def _spill_root(spill_dir: str | None) -> str:
    """Where a run's spill directory goes: spill_dir, else Dask's temporary-directory (where its
    workers' local directories are), else the system's temporary directory."""
    if spill_dir is not None:
        return spill_dir
    import dask

    return cast("str | None", dask.config.get("temporary-directory", None)) or tempfile.gettempdir()


def _seen_by_every_worker(run: str) -> bool:
    """Whether every worker sees the directory made here. Off a distributed worker the tasks
    share this machine (threads, processes, sync); on one, every worker of the cluster is
    asked (``Client.run``): the test, not a guess from the path."""
    try:
        from distributed import get_client, get_worker

        get_worker()
    except (ImportError, ValueError):
        return True
    return all(get_client().run(_sees, run).values())


def _sees(run: str) -> bool:
    """On each worker (``Client.run``): whether it sees the run's spill directory."""
    return os.path.isdir(run)


class _SpillRun(str):
    """The path of a run's spill directory, owning it: Dask holds the object from ``_spill_open``
    as the run's key on the worker that made it until every task using it is done, and drops
    it when the run is cancelled or its graph is forgotten; the directory goes with it (a
    finalizer, ``_release``). Copies on other workers (pickled) are plain paths, owning nothing."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))


def _host() -> str:
    return socket.gethostname().replace("/", "_") or "localhost"


_RUN_NAME = re.compile(re.escape(SPILL_PREFIX) + r"(\d+)-(.+)-[a-z0-9_]{8}$")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's: alive
        return False
    # a zombie (killed, not yet reaped by its parent: a worker started without a nanny) is gone
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def _reading(run: str | None) -> Iterator[None]:
    """While a shard reads a run's spill files: a shared lock on the run's directory, so that
    ``_remove_stale`` leaves it (a worker that made it was killed, Dask made the run's
    directory again elsewhere, and the shards already reading this one go on)."""
    fd = None
    if run is not None:
        with contextlib.suppress(OSError):
            fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _remove_stale(root: str) -> list[str]:
    """Remove the run directories under root that no run will remove: made on this host by a
    process that is gone (a worker killed, a client that exited between the stages), or on
    another host and untouched for ``SPILL_STALE_SECONDS``, and that no shard is reading
    (``_reading``'s lock). Only names ``_spill_open`` makes are looked at, so a user's files in
    a ``spill_dir`` are never touched. Returns those removed."""
    removed: list[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    host, now = _host(), time.time()
    for name in names:
        m = _RUN_NAME.match(name)
        path = os.path.join(root, name)
        if m is None or os.path.islink(path):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            if m.group(2) == host:
                stale = _process_gone(int(m.group(1)))
            else:
                stale = now - os.fstat(fd).st_mtime > SPILL_STALE_SECONDS
            if stale:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a shard reading it: OSError, kept
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _release(run: str) -> None:
    """A run's directory once its owner is dropped: removed when no shard reads it (the
    ``_reading`` locks), on a thread of its own so the worker does not wait for them. The
    owner can also go while the run still goes on (a worker spilling the run's key to disk
    under memory pressure): a shard reading then finishes first, and one that starts after
    finds its spill files gone and reads the files whole, the same rows."""
    def remove() -> None:
        try:
            fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _spill_close(run)
        except OSError:
            pass
        finally:
            os.close(fd)

    threading.Thread(target=remove, name="fastpkt-spill-release", daemon=True).start()


def _spill_open(spill_dir: str | None) -> str | None:
    """A new directory for one run's spill files (never an existing name: mkdtemp), or None
    when it cannot be made or some worker does not see it: stage 1 then returns its entries
    in memory, as before spilling. The runs left behind under the same root are removed
    first (``_remove_stale``); this one is removed when the returned object is dropped."""
    root = _spill_root(spill_dir)
    _remove_stale(root)
    try:
        run = tempfile.mkdtemp(prefix="%s%d-%s-" % (SPILL_PREFIX, os.getpid(), _host()), dir=root)
    except OSError:
        return None
    try:
        if _seen_by_every_worker(run):
            owned = _SpillRun(run)
            weakref.finalize(owned, _release, run)
            return owned
    except Exception:  # a cluster that cannot be asked: in memory
        pass
    shutil.rmtree(run, ignore_errors=True)
    return None


def _spill_close(run: str | None) -> None:
    """Remove a run's spill directory: when every shard is done, or when a task of the run
    fails (Dask runs no task after it, so nothing else would)."""
    for _ in range(3 if run is not None else 0):  # again if a stage 1 task still running wrote into it
        shutil.rmtree(cast(str, run), ignore_errors=True)
        if not os.path.exists(cast(str, run)):
            break


#: Stage 1's result for one range: its entries (in memory, or the path of the spill file
#: holding them) and whether they are the sequential read's.
Walked = tuple["np.ndarray | str", bool]


@_task
def _walk_spill(run: str | None, path: str, start: int, end: int, n: int, options: dict[str, Any]) -> Walked:
    """Stage 1 of a run: ``_walk``'s entries written to a new file in the run's directory
    (the shards read them from there as they go), or kept in memory without one or when the
    file cannot be written (a full disk, the directory removed after another task failed).
    A failure removes the run's directory: no shard will run to do it."""
    try:
        entries, exact = _walk(path, start, end, n, options)
    except BaseException:
        _spill_close(run)
        raise
    if run is None or not exact or not len(entries):  # an inexact range's entries are not fed
        return entries, exact
    spill = None
    try:
        fd, spill = tempfile.mkstemp(suffix=".entries", dir=run)
        with os.fdopen(fd, "wb") as f:
            f.write(entries.data)
        return spill, exact
    except OSError:
        if spill is not None:
            with contextlib.suppress(OSError):
                os.unlink(spill)
        return entries, exact


def _feed_bound(options: dict[str, Any]) -> int:
    from . import DEFAULT_MAX_MEMORY

    return int(options.get("max_memory") or DEFAULT_MAX_MEMORY) // FEED_MEMORY_SHARE


def _file_entries(path: str, bounds: list[int], parts: list[Walked], n: int,
                  options: dict[str, Any]) -> tuple[tuple[np.ndarray | str, ...], bool]:
    """A file's entries as the sequential read has them, as pieces for ``_feed`` (arrays, and
    spill files read as the shard reaches them): its ranges' entries while each range proved
    exact; from the first that did not (a cut inside a record that imitates record headers,
    an interface declared), the rest of the file walked from that range's start (a true
    record: the ranges before ended exactly on their cuts), in memory. False when that walk
    fails too (an error), a spill file is not there (a worker that does not see the spill
    directory) or the entries in memory pass the feed's bound: the shards then read the files
    whole, which gives one engine's error."""
    k = next((k for k, (_, exact) in enumerate(parts) if not exact), len(parts))
    kept = [e for e, _ in parts[:k]]
    ok = True
    if k < len(parts):
        rest, ok = _walk(path, bounds[k], bounds[-1], n, options)
        kept.append(rest)
    ok = ok and all(os.path.isfile(e) for e in kept if isinstance(e, str))
    if not ok or _held(kept) > _feed_bound(options):
        return (), False
    return tuple(kept), True


def _held(pieces: Sequence[np.ndarray | str]) -> int:
    """Bytes of entries held in memory (spill files hold theirs on disk)."""
    return sum(e.nbytes for e in pieces if not isinstance(e, str))


def _frame(kind: str, eng: Any) -> pandas.DataFrame:
    if kind != "http":
        return cast("pandas.DataFrame", eng.to_pandas())
    from .http import HttpTable, stream_messages

    return HttpTable(stream_messages(eng)).to_pandas()


@_task
def _shard(kind: str, paths: list[str], i: int, n: int, storage_options: dict[str, Any] | None,
           options: dict[str, Any], walks: list[tuple[str, list[int], list[Walked]]] | None = None,
           run: str | None = None) -> tuple[pandas.DataFrame, np.ndarray, np.ndarray, np.ndarray, int]:
    """Shard i of n over every path: its records, its creation positions, per record the
    local id and creation position (for the single-engine ids), and its reversal risks (a
    packet out of time order may have made its expiries differ from one engine's). walks:
    per path, (local path, cut points, stage 1's result for each range): the shard is fed
    every file's entries (stage 2, ``_file_entries``: joined here, so that each shard fetches
    only the ranges walked elsewhere) when they are the sequential read's and the ones in
    memory within their bound, else it reads every path whole. run: the spill directory of
    stage 1's files, removed when this shard fails."""
    try:
        engine, _ = _KINDS[kind]
        opts = dict(options)
        readers = _engine_readers(paths, storage_options, opts)
        eng = engine(readers, _shard=(i, n), **opts)
        with _reading(run):
            files = [_file_entries(p, b, ranges, n, options) for p, b, ranges in walks or ()]
            if walks is not None and all(ok for _, ok in files) and \
                    sum(_held(e) for e, _ in files) <= _feed_bound(options):
                _fed(eng, tuple(e for e, _ in files))
            eng.flush() if kind == "flows" else eng._finish()
        creations, ids, at = (np.frombuffer(b, dtype=np.uint64) for b in eng._shard_ids())
        return _frame(kind, eng), creations, ids, at, int(eng.stats["reversal_risks"])
    except BaseException as e:
        _spill_close(run)
        if run is not None and isinstance(e, FileNotFoundError) and run in str(e):
            # a spill file _file_entries found is gone: another task failed and removed the
            # run's files (Dask runs nothing after a failure) and Dask may report this
            # shard's error first, so say whose it is
            raise Error(f"shard {i} of {n}: a spill file of this run ({run}) was removed while the shard read it: "
                        "another task of this run failed first (read its error in the workers' logs), "
                        "or the run was cancelled") from e
        raise


def _fed(eng: Any, files: tuple[tuple[np.ndarray | str, ...], ...]) -> None:
    """Stage 2: the shard takes its records from each file's entries (in memory, or spill
    files read through a window as it reaches them), not from reading the files."""
    eng._feed(files)


def _creations(parts: Sequence[np.ndarray], risks: Sequence[int], run: str | None = None
               ) -> tuple[list[np.ndarray], bool]:
    """Every shard's creations (after every shard ran: the run's spill files are removed)."""
    _spill_close(run)
    return list(parts), any(risks)


@_task
def _renumber(part: tuple[pandas.DataFrame, np.ndarray, np.ndarray, np.ndarray, int],
              gathered: tuple[list[np.ndarray], bool], column: str, i: int, kind: str, paths: list[str],
              storage_options: dict[str, Any] | None, options: dict[str, Any]) -> pandas.DataFrame:
    """A shard's records with their single-engine flow ids: the number of flows every shard
    created before each one. When a shard saw a packet out of time order that may have
    changed an expiry (as ``workers=N`` falls back to one engine), partition 0 runs one
    engine over every path and the others are empty."""
    all_creations, risky = gathered
    if risky:
        return _single(kind, paths, storage_options, options) if i == 0 else _meta(kind)
    df, _, ids, at, _ = part
    glob = np.zeros(len(at), dtype=np.uint64)
    for c in all_creations:
        glob += np.searchsorted(c, at, side="left").astype(np.uint64)
    if len(df):
        order = np.argsort(ids)
        pos = np.searchsorted(ids, df[column].to_numpy(dtype=np.uint64), sorter=order)
        dtype = df[column].dtype
        df[column] = glob[order[pos]]
        df[column] = df[column].astype(dtype)
    return df


def _engine_frame(kind: str, paths: Paths, npartitions: int | None, storage_options: dict[str, Any] | None,
                  options: dict[str, Any], spill_dir: SpillDir = None) -> dd.DataFrame:
    from .parallel import usable_cores

    dask_df, delayed = _untyped("dask.dataframe"), _untyped("dask.delayed").delayed

    paths = _paths(paths)
    n = usable_cores() if npartitions is None else npartitions
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError("npartitions must be an integer >= 1, not %r" % (n,))
    meta = _meta(kind)
    options = {**options, "_tunnel_ports": _client_ports()}  # for every task: see _use_ports
    if n == 1:
        frames = [delayed(_single)(kind, paths, storage_options, options)]
    else:
        column = _KINDS[kind][1]
        walks: Any = None
        run: Any = None
        if n >= TWO_STAGE_MIN_SHARDS and all(_is_local(p) for p in paths) and options.get("filter") is None and \
                options.get("display_filter") is None:
            local = [p[len("file://"):] if p.startswith("file://") else p for p in paths]
            # one directory per run of the graph (a key of its own: graphs computed together
            # never share one, and each compute makes its own)
            if spill_dir is not False:
                run = delayed(_spill_open, pure=False)(None if spill_dir is None else os.fspath(spill_dir))
            walks = []
            for p in local:
                b = _ranges(p)
                ranges = [delayed(_walk_spill, pure=True)(run, p, b[k], b[k + 1], n, options)
                          for k in range(len(b) - 1)]
                walks.append((p, b, ranges))
        parts = [delayed(_shard, pure=True)(kind, paths, i, n, storage_options, options, walks, run)
                 for i in range(n)]
        gathered = delayed(_creations)([p[1] for p in parts], [p[4] for p in parts], run)
        frames = [delayed(_renumber)(p, gathered, column, i, kind, paths, storage_options, options)
                  for i, p in enumerate(parts)]
    with _our_dtypes():
        return cast("dd.DataFrame", dask_df.from_delayed(frames, meta=meta, verify_meta=False))


@_task
def _single(kind: str, paths: list[str], storage_options: dict[str, Any] | None,
            options: dict[str, Any]) -> pandas.DataFrame:
    engine, _ = _KINDS[kind]
    opts = dict(options)
    return _frame(kind, engine(_engine_readers(paths, storage_options, opts), **opts))


def _engine_readers(paths: list[str], storage_options: dict[str, Any] | None, opts: dict[str, Any]) -> list[Reader]:
    """The Readers of an engine partition (every engine task opens its input here: stage 1's
    walks, the shards, one engine); takes the Reader options and the client's tunnel ports
    (applied, ``_use_ports``) out of opts. Fragments are reassembled and tunnels opened by
    default, as ``fastpkt.flows(path)`` and the other engine wrappers open their sources."""
    _use_ports(opts.pop("_tunnel_ports", None))
    filt, dfilt = opts.pop("filter", None), opts.pop("display_filter", None)
    defragment = opts.pop("defragment", None)
    decapsulate = opts.pop("decapsulate", None)
    reassembly = {"defragment": True if defragment is None else defragment,
                  "decapsulate": decapsulate is None or bool(decapsulate)}
    return [_open(p, storage_options, filt, dfilt, **reassembly) for p in paths]


def _meta(kind: str) -> pandas.DataFrame:
    """Zero rows with exactly the dtypes each kind's partitions have."""
    from . import client_hellos as _ch, dns as _dns, flows as _fl, http as _http

    empty = memoryview(_EMPTY_PCAP)
    if kind == "flows":
        return _fl(empty, workers=1).to_pandas()
    if kind == "client_hellos":
        return _ch(empty, workers=1).to_pandas()
    if kind == "dns":
        return _dns(empty, workers=1).to_pandas()
    return _http(empty, workers=1).to_pandas()


def flows(paths: Paths, *, npartitions: int | None = None, storage_options: dict[str, Any] | None = None,
          spill_dir: SpillDir = None, **flow_options: Any) -> dd.DataFrame:
    """``fastpkt.flows(paths).to_pandas()`` as a Dask DataFrame of ``npartitions`` shards
    (default: the usable cores). flow_options: those of ``fastpkt.flows`` (filter,
    display_filter, idle_timeout, tls, ...; max_memory and max_flows apply per partition).
    spill_dir: where the two stages' entries are spilled (see the module's docstring)."""
    return _engine_frame("flows", paths, npartitions, storage_options, flow_options, spill_dir)


def client_hellos(paths: Paths, *, npartitions: int | None = None, storage_options: dict[str, Any] | None = None,
                  spill_dir: SpillDir = None, **options: Any) -> dd.DataFrame:
    """``fastpkt.client_hellos(paths).to_pandas()`` as a Dask DataFrame of shards."""
    return _engine_frame("client_hellos", paths, npartitions, storage_options, options, spill_dir)


def http(paths: Paths, *, npartitions: int | None = None, storage_options: dict[str, Any] | None = None,
         spill_dir: SpillDir = None, **stream_options: Any) -> dd.DataFrame:
    """``fastpkt.http(paths).to_pandas()`` (one row per request with its response) as a Dask
    DataFrame of shards of the stream engine."""
    return _engine_frame("http", paths, npartitions, storage_options, stream_options, spill_dir)



def dns(paths: Paths, *, npartitions: int | None = None, storage_options: dict[str, Any] | None = None,
        spill_dir: SpillDir = None, **dns_options: Any) -> dd.DataFrame:
    """``fastpkt.dns(paths).to_pandas()`` (one row per DNS transaction) as a Dask DataFrame of
    shards: a connection's queries and responses are paired in one partition, and ``flow_id``
    is one engine's. dns_options: ``timeout``, ``idle_timeout``, ``max_flows``, ``max_memory``
    (per partition), ``on_memory_error``, ``filter`` (BPF), ``display_filter``, ``defragment``,
    ``decapsulate``."""
    return _engine_frame("dns", paths, npartitions, storage_options, dns_options, spill_dir)
