"""`python -m pipeline`.

A failed command leaves through `os._exit` once its one-line message is flushed: the interpreter's
teardown (C++ static destructors of native libraries) is skipped, so a native worker thread still
running after an error unwound the stack cannot turn exit code 2 into an abort (seen once after an
invalid import bundle: "terminate called without an active exception", exit 134). Every file the
pipeline writes is complete or removed before the error reaches this point (atomic writers).
"""

import os
import sys

from pipeline.cli import console

if __name__ == "__main__":  # a spawned process (a stage run alongside) imports this module without running it
    code = console()
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
