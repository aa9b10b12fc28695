"""What both sides of the sandbox agree on: the names of files in a worker's scratch folder, and
a few kernel constants.  Cheap to import: the worker imports it before it locks itself down."""
from __future__ import annotations

import os
import signal

MAX_INCIDENTS = 20
WORKER_FDS = (3, 4, 5)         # a worker's descriptors: requests in, replies out, incidents out
PROGRESS_FILE = ".loading"      # "<block>:<statement>\t<cell, line>" of the statement the worker is loading
PR_SET_CHILD_SUBREAPER = 36     # prctl: orphans of our descendants come back to us
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # autograder/
PROJECT_ROOT = os.path.dirname(PACKAGE_DIR)


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9: how a signal is named in flags and messages."""
    try:
        return signal.Signals(number).name
    except (ValueError, TypeError):
        return f"signal {number}"
