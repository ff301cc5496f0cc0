"""A view's descriptors called by hand on a builder (`fp.IP.src.__get__(fp.IP())`,
`fp.TCP.checksum_ok(b)`): the descriptor accepts any instance of its class, and a builder
has no packet to read. Each must answer as the builder's own attribute does (`b.src`),
never read through a missing packet (a crash before csrc/py/layer.c's builder guard)."""
from __future__ import annotations

import pytest

import fastpkt as fp


def _builders():
    stack = fp.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / fp.IP(src="192.0.2.1", dst="198.51.100.7") \
        / fp.TCP(sport=1234, dport=80, flags="S")
    yield from (stack, stack[fp.IP], stack[fp.TCP])
    yield fp.IPv6(src="2001:db8::1", dst="2001:db8::2") / fp.UDP(sport=53, dport=5353)
    for cls in (fp.ARP, fp.DNS, fp.ICMP, fp.Dot1Q):
        yield fp.IP(src="192.0.2.1", dst="198.51.100.7") / cls() if cls is fp.ICMP else cls()


def _answer(fn):
    try:
        return "value", fn()
    except Exception as e:  # the same refusal either way is the point
        return "error", type(e)


@pytest.mark.parametrize("builder", list(_builders()), ids=repr)
def test_descriptors_by_hand_answer_as_the_builder(builder):
    assert builder._packet is None  # a builder, not a view
    seen = 0
    for cls in type(builder).__mro__:
        for name, d in vars(cls).items():
            kind = type(d).__name__
            if kind == "getset_descriptor" and not name.startswith("__"):
                got = _answer(lambda: d.__get__(builder))
                want = _answer(lambda: getattr(builder, name))
            elif kind == "method_descriptor" and name == "checksum_ok":
                got = _answer(lambda: d(builder))
                want = _answer(lambda: getattr(builder, name)())
            else:
                continue
            seen += 1
            if got[0] == "value" and want[0] == "value" and isinstance(want[1], fp.Layer):
                got, want = (got[0], repr(got[1])), (want[0], repr(want[1]))
            assert got == want, (type(builder).__name__, name)
    assert seen >= 5
