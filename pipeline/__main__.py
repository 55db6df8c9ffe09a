"""`python -m pipeline`.

The process leaves through `os._exit` once its output is flushed, skipping the interpreter's teardown:
- after a failed command, so that the C++ static destructors of native libraries cannot turn exit code 2
  into an abort while a native worker thread still runs after an error unwound the stack (seen once after
  an invalid import bundle: "terminate called without an active exception", exit 134);
- after a successful one, once the exit handlers have run (log handlers, temporary folders, tracking
  clients), because tearing down the modules of pandas, scikit-learn and the rest took 0.7 s after every run.
Every file the pipeline writes is complete or removed before this point (atomic writers).
"""

import atexit
import os
import sys

from pipeline.cli import console

if __name__ == "__main__":  # a spawned process (a stage run alongside) imports this module without running it
    code = console()
    if not code:
        atexit._run_exitfuncs()  # what the interpreter's exit would run; os._exit runs none
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
