"""``python -m fastpkt``: the command line (fastpkt.cli)."""
import sys

from .cli import main

sys.exit(main())
