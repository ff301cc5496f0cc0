"""Display filters in the shared dissection feed (engine_feed.c): a filter that does not read
frame.number is decided where a window is dissected, by its producer, so filtered runs keep
the feed; one that reads frame.number (counted from the start of the input) does not use
it. Windows of 4 KiB (test_parallel_feed's `feeds`), results against one engine and the
packet counts against tshark -Y."""
from __future__ import annotations

import subprocess

import pytest

import fastpkt as fp
from test_parallel import generated, stream_rows  # noqa: F401
from test_parallel_feed import feeds, proven  # noqa: F401


def tshark_count(tshark: str, path: str, expr: str) -> int:
    out = subprocess.run([tshark, "-r", path, "-Y", expr, "-T", "fields", "-e", "frame.number"],
                         check=True, capture_output=True, text=True).stdout
    return len(out.split())


@pytest.mark.parametrize("expr", ["tcp.port == 443 || udp", "ip.len > 500 && tcp", "tcp.flags.syn == 1"])
def test_filtered_flows_are_fed(generated, feeds, tshark, expr):  # noqa: F811
    src = str(generated)
    one = fp.flows(src, workers=1, display_filter=expr)
    want = one.to_pandas()
    two = fp.flows(src, workers=2, display_filter=expr)
    assert two.to_pandas().equals(want)
    assert "workers" in two.stats and two.stats["fed"] and proven(feeds) == len(feeds) == 1
    assert two.stats["packets"] == one.stats["packets"] == tshark_count(tshark, src, expr) > 0


def test_filters_reading_application_layers_are_fed(generated, feeds):  # noqa: F811
    """The stored dissection is the filter's, whole: the hello search and the streams read
    their payloads from it."""
    src = str(generated)
    expr = "tls || tcp.len > 0"
    for n in (2, 3):
        feeds.clear()
        assert [repr(tuple(h)) for h in fp.client_hellos(src, workers=n, display_filter=expr)] == \
            [repr(tuple(h)) for h in fp.client_hellos(src, workers=1, display_filter=expr)]
        one = stream_rows(fp.streams(src, workers=1, display_filter=expr))
        many = fp.streams(src, workers=n, display_filter=expr)
        assert stream_rows(many) == one and len(one) > 100
        assert many.stats["fed"] and proven(feeds) == len(feeds) == 2


def test_frame_number_keeps_every_worker_reading(generated, feeds):  # noqa: F811
    src = str(generated)
    expr = "frame.number > 100 && tcp"
    one = fp.flows(src, workers=1, display_filter=expr).to_pandas()
    two = fp.flows(src, workers=2, display_filter=expr)
    assert two.to_pandas().equals(one) and not two.stats["fed"]
    assert feeds == [None]
