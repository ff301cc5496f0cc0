"""Shared bits of the example scripts: the --pcap argument with the bundled sample as default."""
from __future__ import annotations

import argparse
import os

SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sample.pcap")


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0])
    p.add_argument("--pcap", default=SAMPLE, help="capture to read (default: %(default)s)")
    return p
