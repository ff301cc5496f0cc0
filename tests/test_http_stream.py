"""HTTP/1.x on reassembled TCP streams (csrc/stream/http_stream.c, fastpkt/http.py).

References: hand-computed RFC 9112 examples, Python's http.client.HTTPResponse reading the
same server bytes through a fake socket, h11 (client and server roles) over randomly
generated conversations whose ground truth the generator also knows, zlib/gzip round trips.
Robustness: every truncation point, gaps in every part of a message, lying lengths, header
floods and a seeded mutation loop (the C parser is also fuzzed: csrc/fuzz/fuzz_http.c)."""
from __future__ import annotations

import gzip
import http.client
import importlib
import io
import random
import string
import zlib
from typing import Any

import pytest

from fastpkt.http import HttpHeaders, HttpRequest, HttpResponse, messages, to_pandas

fh = importlib.import_module("fastpkt.http")  # the module even once fastpkt.http is the function

h11 = pytest.importorskip("h11")

CRLF = b"\r\n"


def reqs(msgs: list) -> list[HttpRequest]:
    return [m for m in msgs if isinstance(m, HttpRequest)]


def rsps(msgs: list) -> list[HttpResponse]:
    return [m for m in msgs if isinstance(m, HttpResponse)]


def one_response(server: bytes, method: str = "GET", closed: bool = True) -> HttpResponse:
    req = f"{method} / HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    out = rsps(messages(req, server, server_closed=closed))
    assert len(out) == 1
    return out[0]


# ---- references --------------------------------------------------------------------


class _KeepOpen(io.BytesIO):
    def close(self) -> None:  # HTTPResponse closes its file after each message
        pass


class _FakeSocket:
    def __init__(self, data: bytes) -> None:
        self.file = _KeepOpen(data)

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return self.file


def stdlib_responses(server: bytes, methods: list[str]) -> list[tuple[int, str, list, bytes]]:
    """Parse pipelined responses with http.client (1xx interim responses are skipped by it)."""
    sock = _FakeSocket(server)
    out = []
    for method in methods:
        r = http.client.HTTPResponse(sock, method=method)  # type: ignore[arg-type]
        r.begin()
        out.append((r.status, r.reason, r.getheaders(), r.read()))
    return out


def h11_requests(client: bytes) -> list[tuple[str, str, list, bytes]]:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(client)
    out: list[Any] = []
    while True:
        ev = conn.next_event()
        if isinstance(ev, h11.Request):
            out.append([ev.method.decode(), ev.target.decode(),
                        [(n.decode(), v.decode("latin-1")) for n, v, in _raw(ev.headers)], b""])
        elif isinstance(ev, h11.Data):
            out[-1][3] += ev.data
        elif isinstance(ev, h11.EndOfMessage):
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            conn.start_next_cycle()
        else:
            return [tuple(x) for x in out]


def h11_responses(server: bytes, methods: list[str], closed: bool) -> list[tuple[int, bytes, list, bytes]]:
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(server)
    if closed:
        conn.receive_data(b"")
    out: list[Any] = []
    for method in methods:
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "h"), ("Content-Length", "0")]))
        conn.send(h11.EndOfMessage())
        while True:
            ev = conn.next_event()
            if isinstance(ev, (h11.InformationalResponse, h11.Response)):
                out.append([ev.status_code, ev.reason, [(n.decode(), v.decode("latin-1")) for n, v in _raw(ev.headers)], b""])
            elif isinstance(ev, h11.Data):
                out[-1][3] += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"h11 stopped early: {ev!r}")
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            break
        conn.start_next_cycle()
    return [tuple(x) for x in out]


def _raw(headers: Any) -> list[tuple[bytes, bytes]]:
    return list(headers.raw_items())


# ---- RFC 9112 examples, expected values computed by hand ----------------------------


def test_request_line_and_fields():
    client = b"GET /where?q=now HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent:  curl/8 \r\nAccept: */*\r\n\r\n"
    msgs = messages(client, b"")
    (req,) = msgs
    assert (req.method, req.uri, req.version, req.host) == ("GET", "/where?q=now", "HTTP/1.1", "www.example.com")
    assert req.headers.fields == [("Host", "www.example.com"), ("User-Agent", "curl/8"), ("Accept", "*/*")]
    assert req.body == b"" and req.body_complete and req.framing == "none"
    assert (req.index, req.data_start, req.data_end) == (0, 0, len(client))
    assert req.response is None and req.anomalies == ()
    assert msgs.client == ("end", len(client), 0, ())
    assert msgs.server.stop == "end"


def test_status_line_forms():
    rsp = one_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert (rsp.version, rsp.status, rsp.reason, rsp.body) == ("HTTP/1.1", 404, "Not Found", b"")
    rsp = one_response(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")  # empty reason
    assert (rsp.status, rsp.reason) == (200, "")
    rsp = one_response(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")  # SP omitted (tolerated)
    assert (rsp.status, rsp.reason) == (200, "")


def test_absolute_form_host():
    (req,) = messages(b"GET http://example.org:8080/a?b HTTP/1.1\r\n\r\n", b"")
    assert req.host == "example.org:8080" and req.uri == "http://example.org:8080/a?b"


def test_chunked_classic_example():
    # 4 + 5 + 14 bytes = "Wikipedia in\r\n\r\nchunks." (23 bytes)
    server = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n")
    rsp = one_response(server)
    assert rsp.body == b"Wikipedia in\r\n\r\nchunks." and len(rsp.body) == 23
    assert rsp.framing == "chunked" and rsp.body_complete and rsp.data_end == len(server)


def test_chunk_extensions_and_trailers():
    server = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n"
              b"5;name=value;flag\r\nhello\r\n6 ; q=\"x;y\"\r\n world\r\n000\r\n"
              b"Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\nX-Sum: 11\r\n\r\n")
    rsp = one_response(server)
    assert rsp.body == b"hello world"
    assert rsp.trailers.fields == [("Expires", "Wed, 21 Oct 2015 07:28:00 GMT"), ("X-Sum", "11")]
    assert rsp.trailers["x-sum"] == "11" and "X-Sum" not in rsp.headers
    assert rsp.body_complete and rsp.anomalies == ()


def test_content_length_lists():
    assert one_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc").body == b"abc"
    rsp = one_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc")
    assert rsp.body == b"abc" and rsp.anomalies == ()
    for value, anomaly in ((b"3, 4", "conflicting_content_length"), (b"abc", "bad_content_length"),
                           (b"-1", "bad_content_length"), (b"", "bad_content_length"),
                           (b"99999999999999999999999", "bad_content_length"), (b"1 2", "bad_content_length")):
        msgs = messages(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nabcd")
        (rsp,) = rsps(msgs)
        assert anomaly in rsp.anomalies, value
        assert not rsp.body_complete and msgs.server.stop == "error"


def test_transfer_encoding_overrides_content_length():
    client = (b"POST /a HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    first, second = messages(client, b"")
    assert first.body == b"abc" and first.framing == "chunked" and "te_and_cl" in first.anomalies
    assert second.uri == "/b"


def test_request_transfer_encoding_without_chunked_is_fatal():
    msgs = messages(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxxxxGET / HTTP/1.1\r\n\r\n", b"")
    (req,) = msgs
    assert "bad_transfer_encoding" in req.anomalies and not req.body_complete
    assert msgs.client.stop == "error"
    msgs = messages(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", b"")
    assert "bad_transfer_encoding" in msgs[0].anomalies


def test_response_transfer_encoding_without_chunked_reads_to_close():
    rsp = one_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes")
    assert rsp.framing == "close" and rsp.body == b"raw bytes" and rsp.body_complete
    assert rsp.anomalies == ()


def test_obs_fold_bare_lf_and_bad_fields():
    client = (b"\r\n\r\nGET / HTTP/1.1\nHost: a\r\nX-Long: one\r\n  two\r\n\tthree \r\nX-Empty:\r\n later\r\n"
              b"Bad Name: v\r\nNoColon\r\nSpace : v\r\n\r\n")
    (req,) = messages(client, b"")
    assert req.headers["x-long"] == "one two three"
    assert req.headers["x-empty"] == "later"
    assert req.headers.get("space") == "v"
    assert "Bad Name" not in req.headers and "NoColon" not in req.headers
    assert set(req.anomalies) == {"obs_fold", "bare_lf", "bad_header"}
    assert req.data_start == 4  # leading empty lines skipped (RFC 9112 section 2.2)
    (req,) = messages(b"GET / HTTP/1.1\r\n folded-first: x\r\nA: b\r\n\r\n", b"")
    assert req.headers.fields == [("A", "b")] and "bad_header" in req.anomalies


def test_bad_start_lines_stop_the_direction():
    for client in (b"GET  / HTTP/1.1\r\n\r\n", b"GET / HTTP/x.1\r\n\r\n", b"\x16\x03\x01\x02\x00",
                   b"GET /\r\n\r\n", b"G\x00T / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1 \r\n\r\n"):
        msgs = messages(client, b"")
        assert list(msgs) == [] and msgs.client.stop == "error", client
        assert msgs.client.anomalies == ("bad_start_line",) and msgs.client.parsed == 0
    msgs = messages(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 099 Low\r\n\r\n")
    assert rsps(msgs) == [] and msgs.server.stop == "error"


# ---- pairing ----------------------------------------------------------------------


def test_pipelining_pairs_in_order():
    client = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(3))
    server = b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr%d" % i for i in range(3))
    msgs = messages(client, server)
    assert [type(m).__name__ for m in msgs] == ["HttpRequest", "HttpResponse"] * 3
    for i, (req, rsp) in enumerate(zip(msgs[::2], msgs[1::2])):
        assert req.uri == f"/{i}" and rsp.body == b"r%d" % i
        assert req.response is rsp and rsp.request is req and req.index == rsp.index == i


def test_head_response_has_no_body():
    client = b"HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    r1, r2 = rsps(messages(client, server))
    assert (r1.body, r1.framing, r1.body_complete, r1.content_type) == (b"", "none", True, "text/html")
    assert r2.body == b"hello" and r2.request.uri == "/b"
    ref = stdlib_responses(server, ["HEAD", "GET"])
    assert [(s, b) for s, _, _, b in ref] == [(r1.status, r1.body), (r2.status, r2.body)]


@pytest.mark.parametrize("status", [204, 304])
def test_204_304_have_no_body(status):
    client = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
    server = (b"HTTP/1.1 %d X\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n" % status
              + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    r1, r2 = rsps(messages(client, server))
    assert r1.status == status and r1.body == b"" and r1.framing == "none"
    assert r2.body == b"ok" and r2.request.uri == "/b"


def test_interim_responses_do_not_consume_the_request():
    client = (b"PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"
              b"GET /next HTTP/1.1\r\n\r\n")
    server = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
              b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    msgs = messages(client, server)
    kinds = [(type(m).__name__, getattr(m, "status", getattr(m, "uri", None))) for m in msgs]
    assert kinds == [("HttpRequest", "/up"), ("HttpResponse", 100), ("HttpResponse", 103),
                     ("HttpResponse", 201), ("HttpRequest", "/next"), ("HttpResponse", 200)]
    put = msgs[0]
    assert msgs[1].interim and msgs[2].interim and not msgs[3].interim
    assert msgs[1].request is put and msgs[2].request is put and put.response is msgs[3]
    assert msgs[2].headers["link"] == "</s.css>; rel=preload"
    assert msgs[5].request is msgs[4]


def test_connect_tunnel_and_refusal():
    client = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\xa5GET / HTTP/1.1\r\n\r\n"
    server = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x31"
    msgs = messages(client, server)
    assert len(msgs) == 2 and msgs[1].body == b"" and msgs[1].framing == "none"
    assert msgs.client.stop == msgs.server.stop == "tunnel"
    assert msgs.client.parsed == client.index(b"\x16") and msgs.server.parsed == server.index(b"\x16")
    client = b"CONNECT example.com:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    server = b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    msgs = messages(client, server)
    assert [getattr(m, "status", None) for m in msgs] == [None, 407, None, 200]


def test_upgrade_101_is_a_tunnel():
    client = (b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85abcdGET / HTTP/1.1\r\n\r\n")
    server = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
    msgs = messages(client, server)
    assert len(msgs) == 2 and msgs[1].status == 101 and not msgs[1].interim
    assert msgs[0].response is msgs[1] and msgs.client.stop == "tunnel"


def test_unanswered_and_unsolicited():
    msgs = messages(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    a, ra, b = msgs
    assert a.response is ra and b.response is None
    msgs = messages(b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert all(m.request is None and "unsolicited" in m.anomalies for m in msgs) and len(msgs) == 2


# ---- connection close, truncation, lies ----------------------------------------------


def test_connection_close_body():
    server = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\r\nof the stream"
    rsp = one_response(server, closed=True)
    assert rsp.framing == "close" and rsp.body == b"until the end\r\nof the stream" and rsp.body_complete
    assert stdlib_responses(server, ["GET"])[0][3] == rsp.body
    msgs = messages(b"GET / HTTP/1.0\r\n\r\n", server, server_closed=False)
    assert not msgs[1].body_complete and msgs.server.stop == "incomplete"


def test_lying_content_length_longer_than_data():
    server = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    rsp = one_response(server, closed=True)
    assert rsp.body == b"only this" and not rsp.body_complete and "truncated" in rsp.anomalies
    msgs = messages(b"GET / HTTP/1.1\r\n\r\n", server, server_closed=False)
    assert not msgs[1].body_complete and "truncated" not in msgs[1].anomalies
    assert msgs.server.stop == "incomplete"


def test_lying_content_length_shorter_than_data():
    client = b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    server = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdefHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    msgs = messages(client, server)
    assert msgs[1].body == b"abc" and msgs[1].body_complete
    assert msgs.server.stop == "error" and "bad_start_line" in msgs.server.anomalies
    assert msgs.server.parsed == server.index(b"def")
    assert msgs[2].response is None


def test_chunk_size_overflow_and_huge_sizes():
    base = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for size in (b"ffffffffffffffffff", b"10000000000000000", b"4000000000000001"):  # beyond 2**62
        msgs = messages(b"GET / HTTP/1.1\r\n\r\n", base + size + b"\r\nabc")
        assert "chunk_size_overflow" in msgs[1].anomalies and msgs.server.stop == "error"
        assert not msgs[1].body_complete and msgs[1].body == b""
    # representable but larger than the data: bounded by what is there, never over-read
    for size in (b"3fffffffffffffff", b"4000000000000000", b"0000000000000000000000000000000003"):
        rsp = one_response(base + size + b"\r\nabc", closed=True)
        assert rsp.body == b"abc"
        assert rsp.body_complete is False and "truncated" in rsp.anomalies
    for bad in (b"-1", b"0x10", b"g", b"", b"5 5"):
        msgs = messages(b"GET / HTTP/1.1\r\n\r\n", base + bad + b"\r\nhello\r\n0\r\n\r\n")
        assert "bad_chunk" in msgs[1].anomalies and msgs.server.stop == "error", bad
    msgs = messages(b"GET / HTTP/1.1\r\n\r\n", base + b"3\r\nabcXX0\r\n\r\n")
    assert "bad_chunk" in msgs[1].anomalies and msgs[1].body == b"abc"
    msgs = messages(b"GET / HTTP/1.1\r\n\r\n", base + b"3;" + b"e" * 5000 + b"\r\nabc\r\n0\r\n\r\n")
    assert "bad_chunk" in msgs[1].anomalies


def test_header_flood():
    many = b"".join(b"X-%d: v\r\n" % i for i in range(129))
    msgs = messages(b"GET / HTTP/1.1\r\n" + many + b"\r\nGET /2 HTTP/1.1\r\n\r\n", b"")
    (req,) = msgs
    assert len(req.headers) == 128 and "too_many_headers" in req.anomalies
    assert msgs.client.stop == "error" and not req.body_complete
    ok = b"".join(b"X-%d: v\r\n" % i for i in range(128))
    assert len(messages(b"GET / HTTP/1.1\r\n" + ok + b"\r\nGET /2 HTTP/1.1\r\n\r\n", b"")) == 2
    huge = b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n"
    msgs = messages(huge, b"")
    assert list(msgs) == [] and msgs.client.stop == "error" and msgs.client.anomalies == ("head_too_large",)
    # no LF at all within the limit
    msgs = messages(b"GET /" + b"a" * 70000, b"")
    assert msgs.client.anomalies == ("head_too_large",)
    msgs = messages(b"GET /" + b"a" * 1000, b"", client_closed=True)
    assert msgs.client.stop == "incomplete" and msgs.client.anomalies == ("truncated",)


# ---- gaps -----------------------------------------------------------------------------


def test_gap_inside_content_length_body_keeps_sync():
    body = b"0123456789" * 10
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body
              + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    start = server.index(b"0123")
    holed = server[:start + 30] + server[start + 50:]  # 20 body bytes missing
    client = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    msgs = messages(client, holed, server_gaps=[(start + 30, 20)])
    r1, r2 = rsps(msgs)
    assert r1.body == body[:30] + body[50:] and r1.body_missing == 20 and not r1.body_complete
    assert "gap" in r1.anomalies and "resync" not in r2.anomalies
    assert r2.body == b"ok" and r2.body_complete and r2.request.uri == "/2"


def test_gap_ending_exactly_at_body_end():
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
              b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    cut = server.index(b"56789")
    holed = server[:cut] + server[cut + 5:]
    r1, r2 = rsps(messages(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", holed, server_gaps=[(cut, 5)]))
    assert r1.body == b"01234" and r1.body_missing == 5 and r2.body == b"ok" and r2.anomalies == ()


def test_gap_over_body_end_and_next_head_resyncs():
    parts = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
             b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
             b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nz"]
    server = b"".join(parts)
    lo = server.index(b"56789")
    hi = server.index(b"Length: 3")  # the second head is cut
    holed = server[:lo] + server[hi:]
    client = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"
    msgs = messages(client, holed, server_gaps=[(lo, hi - lo)])
    got = rsps(msgs)
    assert got[0].body == b"01234" and got[0].body_missing == 5 and not got[0].body_complete
    assert got[1].status == 404 and "resync" in got[1].anomalies and got[1].body == b"z"
    assert msgs.server.skipped == len(b"Length: 3\r\n\r\nabc")
    assert "gap" in msgs.server.anomalies


def test_gap_inside_head_drops_that_message():
    client = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n"
    cut = client.index(b"Host: a")
    holed = client[:cut] + client[cut + 4:]
    msgs = messages(holed, b"", client_gaps=[(cut, 4)])
    (req,) = msgs
    assert req.uri == "/2" and "resync" in req.anomalies
    assert msgs.client.skipped == holed.index(b"GET /2")


def test_gap_inside_chunk_data_keeps_sync():
    server = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"a\r\n0123456789\r\n5\r\nabcde\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    cut = server.index(b"3456")
    holed = server[:cut] + server[cut + 4:]
    r1, r2 = rsps(messages(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", holed, server_gaps=[(cut, 4)]))
    assert r1.body == b"012789abcde" and r1.body_missing == 4 and not r1.body_complete
    assert r2.body == b"x" and r2.anomalies == ()


def test_gap_in_chunk_size_line_resyncs_by_scanning():
    server = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"a\r\n0123456789\r\n5\r\nabcde\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
    cut = server.index(b"5\r\nabcde")
    holed = server[:cut + 1] + server[cut + 3:]  # the CRLF after "5" is missing
    msgs = messages(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", holed, server_gaps=[(cut + 1, 2)])
    r1, r2 = rsps(msgs)
    assert r1.body == b"0123456789" and not r1.body_complete and "gap" in r1.anomalies
    assert r2.body == b"x" and "resync" in r2.anomalies


def test_gap_in_close_delimited_body_and_at_the_end():
    server = b"HTTP/1.0 200 OK\r\n\r\nabcdef"
    rsp = one_response(server)
    holed = server[:-3]
    (r,) = rsps(messages(b"GET / HTTP/1.0\r\n\r\n", holed, server_gaps=[(len(holed) - 1, 7), (len(holed), 3)]))
    assert r.body == b"abc" and r.body_missing == 10 and not r.body_complete and rsp.body_complete
    server = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc"
    (r,) = rsps(messages(b"GET / HTTP/1.1\r\n\r\n", server, server_gaps=[(len(server), 3)]))
    assert r.body == b"abc" and r.body_missing == 3 and not r.body_complete


def test_gap_with_no_start_line_after_it_desyncs():
    client = b"GET / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"
    msgs = messages(client + b"garbage without a request", b"", client_gaps=[(len(client), 9)])
    assert msgs[0].body_missing == 2 and msgs.client.stop == "desync"
    assert msgs.client.skipped == len(b"garbage without a request")


def test_gap_arguments_are_checked():
    with pytest.raises(ValueError):
        messages(b"abc", b"", client_gaps=[(4, 1)])
    with pytest.raises(ValueError):
        messages(b"abc", b"", client_gaps=[(-1, 1)])
    with pytest.raises(ValueError):
        messages(b"abc", b"", server_gaps=[(0, -1)])
    with pytest.raises(TypeError):
        messages(b"abc", b"", client_gaps=[(1, 2, 3)])
    with pytest.raises(TypeError):
        messages(b"abc", b"", client_gaps=[("1", 2)])
    with pytest.raises(TypeError):
        messages("text", b"")  # type: ignore[arg-type]
    # unsorted gaps, zero lengths and gaps at one offset are normalised
    server = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd"
    (r,) = rsps(messages(b"GET / HTTP/1.1\r\n\r\n", server,
                         server_gaps=[(len(server), 2), (len(server) - 2, 0), (len(server) - 2, 1), (len(server), 3)]))
    assert r.body_missing == 6 and r.body == b"abcd"


# ---- Content-Encoding -------------------------------------------------------------------


def _encoded_response(coding: str, body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
            % (coding.encode(), len(body)) + body)


PLAIN = b"The quick brown fox jumps over the lazy dog. " * 50


@pytest.mark.parametrize("coding, encode", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda d: zlib.compress(d)[2:-4]),  # raw deflate, as some servers send
    ("gzip, deflate", lambda d: zlib.compress(gzip.compress(d))),
    ("identity", lambda d: d),
])
def test_decode_round_trips(coding, encode):
    encoded = encode(PLAIN)
    msgs = messages(b"GET / HTTP/1.1\r\n\r\n", _encoded_response(coding, encoded), decode=True)
    rsp = msgs[1]
    assert rsp.body == PLAIN and rsp.decode_error is None
    assert rsp.raw_body == encoded
    assert messages(b"GET / HTTP/1.1\r\n\r\n", _encoded_response(coding, encoded))[1].body == encoded


def test_decode_gzip_multi_member_and_chunked():
    encoded = gzip.compress(b"first ") + gzip.compress(b"second")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(encoded[i:i + 7]), encoded[i:i + 7]) for i in range(0, len(encoded), 7))
    server = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n" + chunks + b"0\r\n\r\n"
    rsp = messages(b"GET / HTTP/1.1\r\n\r\n", server, decode=True)[1]
    assert rsp.body == b"first second" and rsp.raw_body == encoded


@pytest.mark.parametrize("coding, body, why", [
    ("gzip", b"not gzip at all", "gzip"),
    ("gzip", gzip.compress(PLAIN)[:-20], "ends early"),
    ("deflate", b"\xff\xfe\xfd", "deflate"),
    ("zstd", b"\x28\xb5\x2f\xfd", "unsupported content-encoding 'zstd'"),
])
def test_decode_failures_keep_the_raw_body(coding, body, why):
    rsp = messages(b"GET / HTTP/1.1\r\n\r\n", _encoded_response(coding, body), decode=True)[1]
    assert rsp.body == body and rsp.raw_body is None
    assert rsp.decode_error is not None and why in rsp.decode_error


def test_decode_brotli():
    if fh._brotli is None:
        rsp = messages(b"GET / HTTP/1.1\r\n\r\n", _encoded_response("br", b"\x0b\x02\x80hi\x03"), decode=True)[1]
        assert rsp.decode_error and "brotli" in rsp.decode_error and rsp.body == b"\x0b\x02\x80hi\x03"
    else:
        encoded = fh._brotli.compress(PLAIN)
        rsp = messages(b"GET / HTTP/1.1\r\n\r\n", _encoded_response("br", encoded), decode=True)[1]
        assert rsp.body == PLAIN


def test_decode_request_bodies_and_limit(monkeypatch):
    body = gzip.compress(b"x" * 5000)
    client = b"POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    assert messages(client, b"", decode=True)[0].body == b"x" * 5000
    monkeypatch.setattr(fh, "DECODE_LIMIT", 1000)
    req = messages(client, b"", decode=True)[0]
    assert req.body == body and "exceeds 1000" in (req.decode_error or "")


# ---- the headers mapping and objects ---------------------------------------------------


def test_headers_mapping():
    h = HttpHeaders([("Set-Cookie", "a=1"), ("Host", "x"), ("set-cookie", "b=2")])
    assert h["SET-COOKIE"] == "a=1, b=2" and h.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert h.get("host") == "x" and h.get("missing") is None and h.get_all("missing") == []
    assert "HOST" in h and 3 not in h and list(h) == ["Set-Cookie", "Host"] and len(h) == 2
    assert dict(h) == {"Set-Cookie": "a=1, b=2", "Host": "x"}
    assert h.fields[2] == ("set-cookie", "b=2")
    assert h == HttpHeaders(h.fields) and h != HttpHeaders(h.fields[:2])
    with pytest.raises(KeyError):
        h["nope"]
    assert repr(h).startswith("HttpHeaders([('Set-Cookie', 'a=1')")


def test_reprs_and_latin1():
    client = b"GET /caf\xe9 HTTP/1.1\r\nHost: ex.com\r\nX-Name: J\xfcrgen\r\n\r\n"
    server = b"HTTP/1.1 200 \xd6K\r\nContent-Type: Text/HTML; charset=utf-8\r\nContent-Length: 100\r\n\r\nshort"
    req, rsp = messages(client, server, server_closed=False)
    assert req.uri == "/caf\xe9" and req.headers["x-name"] == "J\xfcrgen" and rsp.reason == "\xd6K"
    assert repr(req) == "<HttpRequest GET ex.com/caf\xe9 HTTP/1.1 body=0B>"
    assert repr(rsp) == "<HttpResponse 200 \xd6K text/html body=5B incomplete>"
    assert rsp.content_type == "text/html"


# ---- independent references over generated conversations --------------------------------


def _token(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, n)))


def _fields(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for _ in range(rng.randint(0, 5)):
        value = "".join(rng.choice(string.ascii_letters + string.digits + " ,;=/\"()") for _ in range(rng.randint(0, 20)))
        out.append(("X-" + _token(rng), value.strip()))
    return out


def _body(rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 7, 100, 1500])))


def _frame(rng: random.Random, fields: list, body: bytes, allow_close: bool) -> tuple[list, bytes, str]:
    """Headers and encoded body for `body`, with the framing picked."""
    modes = ["length", "chunked"] + (["close"] if allow_close else [])
    mode = rng.choice(modes)
    if mode == "length":
        return fields + [("Content-Length", str(len(body)))], body, mode
    if mode == "close":
        return fields, body, mode
    out, i = b"", 0
    while i < len(body):
        n = rng.randint(1, max(1, len(body) - i))
        ext = rng.choice([b"", b";a=b", b";x", b';q="v"'])  # h11 rejects BWS before ";"
        out += b"%x%s\r\n%s\r\n" % (n, ext, body[i:i + n])
        i += n
    out += b"0\r\n"
    if rng.random() < 0.3:
        out += b"X-Trailer: t\r\n"
    return fields + [("Transfer-Encoding", "chunked")], out + b"\r\n", mode


def _head(start: str, fields: list) -> bytes:
    return (start + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n").encode()


def generate(rng: random.Random) -> tuple[bytes, bytes, list[dict]]:
    """A conversation and what each request/response should parse to."""
    client, server, truth = b"", b"", []
    n = rng.randint(1, 5)
    for i in range(n):
        method = rng.choice(["GET", "POST", "PUT", "HEAD", "DELETE"])
        target = "/" + _token(rng)
        body = _body(rng) if method in ("POST", "PUT") else b""
        fields = [("Host", "h")] + _fields(rng)
        if body or method in ("POST", "PUT"):
            fields, wire, _ = _frame(rng, fields, body, allow_close=False)
        else:
            wire = b""
        client += _head(f"{method} {target} HTTP/1.1", fields) + wire
        interim = []
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            code = rng.choice([100, 102, 103])
            ifields = _fields(rng)
            server += _head(f"HTTP/1.1 {code} Info", ifields)
            interim.append((code, ifields))
        status = rng.choice([200, 200, 201, 204, 304, 404, 500])
        rbody = _body(rng)
        rfields = _fields(rng)
        last = i == n - 1
        if method == "HEAD" or status in (204, 304):
            if method == "HEAD" and status not in (204, 304):
                rfields.append(("Content-Length", str(len(rbody))))
            rbody, rwire, mode = b"", b"", "none"
        else:
            rfields, rwire, mode = _frame(rng, rfields, rbody, allow_close=last)
        server += _head(f"HTTP/1.1 {status} R{status}", rfields) + rwire
        truth.append(dict(method=method, target=target, fields=fields, body=body,
                          interim=interim, status=status, rfields=rfields, rbody=rbody, mode=mode))
    return client, server, truth


@pytest.mark.parametrize("seed", range(200))
def test_generated_conversations_against_h11_and_http_client(seed):
    rng = random.Random(seed)
    client, server, truth = generate(rng)
    msgs = messages(client, server)
    assert msgs.client.stop == msgs.server.stop == "end" and msgs.client.anomalies == ()
    requests = reqs(msgs)
    assert len(requests) == len(truth)
    ref_req = h11_requests(client)
    ref_rsp = h11_responses(server, [t["method"] for t in truth], closed=True)
    ref_rsp_iter = iter(ref_rsp)
    # http.client skips 100 Continue only: other 1xx would be taken as final responses
    stdlib_ok = all(code == 100 for t in truth for code, _ in t["interim"])
    stdlib = stdlib_responses(server, [t["method"] for t in truth]) if stdlib_ok else [None] * len(truth)
    for req, t, (hm, ht, hh, hb), std in zip(requests, truth, ref_req, stdlib):
        assert (req.method, req.uri, req.body) == (t["method"], t["target"], t["body"]) == (hm, ht, hb)
        assert req.headers.fields == t["fields"] == hh
        assert req.body_complete and req.anomalies == ()
        rsp = req.response
        assert rsp is not None and rsp.request is req
        for code, ifields in t["interim"]:
            hcode, _, hfields, _ = next(ref_rsp_iter)
            assert hcode == code and hfields == ifields
        hcode, hreason, hfields, hbody = next(ref_rsp_iter)
        assert (rsp.status, rsp.body, rsp.framing) == (t["status"], t["rbody"], t["mode"])
        assert (rsp.status, rsp.reason.encode(), rsp.body) == (hcode, hreason, hbody)
        assert rsp.headers.fields == t["rfields"] == hfields
        if std is not None:
            assert (rsp.status, rsp.reason, rsp.body) == std[:2] + (std[3],)
        assert rsp.body_complete
        interim = [m for m in msgs if isinstance(m, HttpResponse) and m.request is req and m.interim]
        assert [m.status for m in interim] == [c for c, _ in t["interim"]]
    # stream order: each request is followed by its interim and final responses
    position = {id(m): i for i, m in enumerate(msgs)}
    for req in requests:
        assert position[id(req.response)] > position[id(req)]


# ---- robustness ---------------------------------------------------------------------------


def _check_invariants(msgs: Any, client: bytes, server: bytes) -> None:
    data = {False: client, True: server}
    last_end = {False: 0, True: 0}
    counts = {False: 0, True: 0}
    for m in msgs:
        is_rsp = isinstance(m, HttpResponse)
        assert 0 <= m.data_start <= m.data_end <= len(data[is_rsp])
        assert m.data_start >= last_end[is_rsp]
        last_end[is_rsp] = m.data_end
        assert m.index == counts[is_rsp]
        counts[is_rsp] += 1
        assert isinstance(m.body, bytes) and len(m.body) <= len(data[is_rsp])
        assert not (m.body_complete and m.body_missing)
        assert m.framing in ("none", "length", "chunked", "close")
        if is_rsp:
            assert 100 <= m.status <= 999
            if m.request is not None:
                assert m.interim or m.request.response is m
        elif m.response is not None:
            assert m.response.request is m
    for d in (msgs.client, msgs.server):
        assert d.stop in ("end", "incomplete", "error", "tunnel", "desync", "limit")
    assert 0 <= msgs.client.parsed <= len(client) and 0 <= msgs.server.parsed <= len(server)


def _rich_conversation() -> tuple[bytes, bytes]:
    client = (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
              b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"
              b"HEAD /c HTTP/1.1\r\n\r\n"
              b"PUT /d HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    server = (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchunk\r\n2\r\ned\r\n0\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
              b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 201 Created\r\n\r\nclosing body")
    return client, server


@pytest.mark.parametrize("closed", [False, True])
def test_every_truncation_point(closed):
    client, server = _rich_conversation()
    full = messages(client, server)
    assert [getattr(m, "status", None) or m.method for m in full] == [
        "GET", 200, "POST", 200, "HEAD", 200, "PUT", 100, 201]
    full_by_side = {False: reqs(full), True: rsps(full)}
    for side in (False, True):
        data = server if side else client
        for cut in range(len(data) + 1):
            args = (client, data[:cut]) if side else (data[:cut], server)
            kw = {"server_closed": closed} if side else {"client_closed": closed}
            msgs = messages(*args, **kw)
            _check_invariants(msgs, *args)
            got = rsps(msgs) if side else reqs(msgs)
            for m in got:
                ref = full_by_side[side][m.index]
                assert m.headers == ref.headers and m.data_start == ref.data_start
                assert ref.body.startswith(m.body)
                if m.body_complete and m.framing != "close":
                    assert m.body == ref.body and m.data_end == ref.data_end
            if side and got:
                assert [(m.status, m.request and m.request.index) for m in got] == [
                    (r.status, r.request and r.request.index) for r in full_by_side[True][:len(got)]]


def test_mutation_loop():
    rng = random.Random(9112)
    client0, server0 = _rich_conversation()
    tokens = [b"\r\n", b"\n", b"\r\n\r\n", b"0\r\n", b"ffffffffffffffffff", b"Content-Length: 3\r\n",
              b"Transfer-Encoding: chunked\r\n", b"HTTP/1.1 100 Continue\r\n\r\n", b" ", b":", b";", b"\x00"]
    for _ in range(3000):
        sides = []
        for data in (bytearray(client0), bytearray(server0)):
            for _ in range(rng.randint(0, 6)):
                op = rng.randrange(5)
                pos = rng.randint(0, len(data))
                if op == 0 and data:
                    data[min(pos, len(data) - 1)] = rng.getrandbits(8)
                elif op == 1:
                    data[pos:pos] = rng.choice(tokens)
                elif op == 2:
                    del data[pos:pos + rng.randint(1, 20)]
                elif op == 3:
                    a = rng.randint(0, len(data))
                    data[pos:pos] = data[a:a + rng.randint(1, 40)]
                else:
                    data[pos:pos] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
            gaps = [(rng.randint(0, len(data)), rng.randint(0, 50)) for _ in range(rng.choice([0, 0, 1, 3]))]
            sides.append((bytes(data), gaps))
        (client, cgaps), (server, sgaps) = sides
        msgs = messages(client, server, cgaps, sgaps, rng.random() < 0.5, rng.random() < 0.5,
                        decode=rng.random() < 0.2)
        _check_invariants(msgs, client, server)


def test_truncated_chunked_never_reads_past_the_data():
    base = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for tail in (b"5", b"5\r", b"5\r\nab", b"5\r\nabcde", b"5\r\nabcde\r", b"5\r\nabcde\r\n0", b"5\r\nabcde\r\n0\r\n",
                 b"5\r\nabcde\r\n0\r\nT: 1", b"5\r\nabcde\r\n0\r\nT: 1\r\n"):
        msgs = messages(b"GET / HTTP/1.1\r\n\r\n", base + tail, server_closed=True)
        rsp = msgs[1]
        assert not rsp.body_complete and "truncated" in rsp.anomalies and msgs.server.stop == "incomplete", tail
        assert b"abcde".startswith(rsp.body)


# ---- tables and the capture-level iterator --------------------------------------------------


def test_to_pandas():
    client = b"GET /a HTTP/1.1\r\nHost: one\r\n\r\nPOST /b HTTP/1.1\r\nHost: two\r\nContent-Length: 3\r\n\r\nxyz"
    server = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 100\r\n\r\nabc"
    msgs = [*messages(client, server, server_closed=False), *messages(b"", b"HTTP/1.1 204 No Content\r\n\r\n")]
    df = to_pandas(msgs)
    assert list(df["method"].astype(object).where(df["method"].notna(), None)) == ["GET", "POST", None]
    assert list(df["status"].astype(object).where(df["status"].notna(), None)) == [200, None, 204]
    assert str(df["status"].dtype) == "UInt16" and str(df["request_body_len"].dtype) == "Int64"
    assert str(df["method"].dtype) == "category" and str(df["body_complete"].dtype) == "boolean"
    assert df["content_type"].iloc[0] == "text/html"
    assert list(df["body_complete"]) == [False, True, True]
    assert df["response_body_len"].iloc[0] == 3 and df["request_body_len"].iloc[1] == 3
    assert df["host"].iloc[1] == "two" and df["anomalies"].iloc[2] == "unsolicited"
    assert len(to_pandas([])) == 0


class _FakeStream:
    def __init__(self, stream_id: int, client: bytes, server: bytes) -> None:
        self.stream_id, self.client_data, self.server_data = stream_id, client, server
        self.client_ip, self.client_port, self.server_ip, self.server_port = "10.0.0.1", 40000 + stream_id, "10.0.0.2", 80

    def http_messages(self, decode: bool = False) -> list:
        return messages(self.client_data, self.server_data, decode=decode)


def test_http_iterates_streams(monkeypatch):
    import fastpkt

    body = gzip.compress(b"zipped")
    fake = [_FakeStream(0, b"GET / HTTP/1.1\r\n\r\n", _encoded_response("gzip", body)),
            _FakeStream(1, b"not http", b"")]
    seen: dict = {}

    def fake_streams(source, **options):
        seen.update(options, source=source)
        return iter(fake)

    monkeypatch.setattr(fastpkt, "streams", fake_streams)
    out = list(fh.http("x.pcap", decode=True, idle_timeout=5))
    assert seen == {"source": "x.pcap", "idle_timeout": 5}
    assert [type(m).__name__ for m in out] == ["HttpRequest", "HttpResponse"]
    assert out[1].body == b"zipped" and all(m.stream_id == 0 and m.client_port == 40000 for m in out)
    assert out[0].server_ip == "10.0.0.2" and out[1].server_port == 80
    df = to_pandas(out)
    assert (df["stream_id"].iloc[0], df["client_port"].iloc[0], df["server_ip"].iloc[0]) == (0, 40000, "10.0.0.2")
    assert df["response_body_len"].iloc[0] == len(b"zipped")


def test_buffer_inputs_and_gap_records():
    client = bytearray(b"GET / HTTP/1.1\r\n\r\n")
    server = memoryview(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")

    class Gap(tuple):  # like fastpkt.Gap: a struct sequence (offset, length)
        pass

    msgs = messages(client, server, [], [Gap((server.nbytes, 2))])
    assert msgs[1].body == b"ab" and msgs[1].body_missing == 2 and msgs.server.stop == "end"


def test_http_on_a_capture():
    from pathlib import Path

    out = list(fh.http(Path(__file__).parent / "data" / "http.pcap"))
    get = next(m for m in out if isinstance(m, HttpRequest) and m.method == "GET")
    assert get.host == "www.example.com" and get.response is not None and get.response.status == 404
    assert get.stream_id is not None and get.client_ip and get.server_port == 80
