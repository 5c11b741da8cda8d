"""``python -m bulkguard``: the same command line as ``bulkguard``."""

import sys

from bulkguard.cli import entry

sys.exit(entry())
