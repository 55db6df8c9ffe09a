"""The neutral layer: errors, tasks, metrics, atomic file IO, parameter validation, thread settings.

It imports nothing of `pipeline`, `features` or `models`; `features` and `models` import only it
(never each other, never the runner), and `pipeline` sits on top. tests/test_layers.py enforces it.
Importing it sets the OpenMP wait policy, before LightGBM or torch can load anywhere in the process,
and glibc's malloc thresholds (core.memory).
"""

from core.memory import configure_malloc as _configure_malloc
from core.threads import configure_openmp as _configure_openmp

_configure_openmp()
_configure_malloc()
