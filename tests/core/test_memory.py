"""glibc malloc thresholds: a large buffer freed and allocated again stays in the heap instead of faulting
its pages back in every time; the user's own glibc settings win."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from core import memory

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="glibc's mallopt")

# 40 MB (above glibc's largest automatic mmap threshold, 32 MB) allocated, written and freed 20 times
_LOOP = """
import resource
import core
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    a = bytearray(40_000_000)  # malloc, then written (zeroed) page by page
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in memory.USER_SETTINGS}
    out = subprocess.run([sys.executable, "-c", _LOOP], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@glibc
def test_import_core_keeps_freed_buffers_in_the_heap():
    ours, glibcs = _page_faults(), _page_faults(GLIBC_TUNABLES="")  # any glibc variable: left as glibc has it
    pages = 40_000_000 // 4096
    assert glibcs >= 15 * pages  # every allocation maps fresh pages
    assert ours <= 3 * pages  # the first one does; the rest reuse them


@glibc
def test_the_users_glibc_settings_win(monkeypatch):
    for name in memory.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    assert memory.configure_malloc() is True
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert memory.configure_malloc() is False
