"""Scapy's own text for packets, computed in a fresh interpreter: ``python _scapy_text_ref.py
IN OUT`` reads [{"linktype", "time", "hex"}...] and writes [{"repr", "summary", "show",
"sprintf": [...], "hexdump", "ls"}...]. A fresh process sees only the layers ``scapy.all`` loads
by default, as a user's script does (a test that imported ``scapy.layers.http`` would make
Scapy decode port 80 as HTTP for everyone after it). Nothing here imports fastpkt."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import sys

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
import scapy.all as sa  # noqa: E402


def texts(item: dict, formats: list[str]) -> dict:
    p = sa.conf.l2types[item["linktype"]](bytes.fromhex(item["hex"]))
    if item["time"] is not None:
        p.time = item["time"]
    listing = io.StringIO()
    with contextlib.redirect_stdout(listing):
        sa.ls(p)
    return {"repr": repr(p), "summary": p.summary(), "show": p.show(dump=True),
            "ls": listing.getvalue(),
            "sprintf": [p.sprintf(f) if item["time"] is not None or "%.time%" not in f else None
                        for f in formats],
            "hexdump": sa.hexdump(p, dump=True)}


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    out = [texts(item, job["formats"]) for item in job["packets"]]
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
