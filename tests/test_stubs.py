"""fastpkt/_fastpkt.pyi against the runtime: every attribute the stubs promise on the
record types exists on real objects, and the Flow stub lists FLOW_COLUMNS in order."""
from __future__ import annotations

import ast
from pathlib import Path

import fastpkt as fp
from fastpkt import _fastpkt

from test_stream_reassembly import ACK, FIN, Conn

STUB = Path(fp.__file__).with_name("_fastpkt.pyi")


def stub_attrs(cls: str) -> list[str]:
    tree = ast.parse(STUB.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return [n.target.id for n in node.body if isinstance(n, ast.AnnAssign)
                    and not ast.unparse(n.annotation).startswith("ClassVar")]  # instance fields only
    raise AssertionError("no class %s in the stub" % cls)


def test_flow_stub_matches_columns():
    assert tuple(stub_attrs("Flow")) == _fastpkt.FLOW_COLUMNS


def test_stream_stubs_match_runtime():
    c = Conn().handshake()
    c.c(0, b"x")
    c.c(3, b"y")
    c.c(4, flags=FIN | ACK)
    chunks = []
    (s,) = list(fp.streams(Conn.pcap_of(c), on_data=chunks.append))
    for cls, obj in (("Stream", s), ("Gap", s.client_gaps[0]), ("StreamChunk", chunks[0])):
        missing = [a for a in stub_attrs(cls) if not hasattr(obj, a)]
        assert not missing, (cls, missing)
    st = fp.streams(Conn.pcap_of(c))
    assert all(hasattr(st, a) for a in stub_attrs("Streams"))


def test_hello_stub_matches_fields():
    assert tuple(stub_attrs("ClientHello")) == _fastpkt.HELLO_FIELDS
