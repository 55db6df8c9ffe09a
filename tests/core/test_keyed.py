"""core.keyed: one folder per key, written whole or not at all, the newest kept."""

from __future__ import annotations

import os

import pytest

from core.keyed import KeyedFolders


def test_an_entry_is_read_back_by_its_full_key_only(tmp_path):
    entries = KeyedFolders(tmp_path, keep=3)
    key = "a" * 64
    with entries.writing(key, {"rows": 3}) as tmp:
        (tmp / "data.txt").write_text("x")
    assert entries.meta(key) == {"key": key, "rows": 3}
    assert (entries.path(key) / "data.txt").read_text() == "x"
    assert entries.meta("a" * 32 + "b" * 32) is None  # same folder name, another key


def test_a_failure_while_writing_leaves_nothing(tmp_path):
    entries = KeyedFolders(tmp_path, keep=3)
    with pytest.raises(RuntimeError):
        with entries.writing("k" * 64) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_only_the_most_recently_used_entries_are_kept(tmp_path):
    entries = KeyedFolders(tmp_path, keep=2)
    keys = [str(i) * 64 for i in range(3)]
    for n, key in enumerate(keys[:2]):
        with entries.writing(key):
            pass
        os.utime(entries.path(key) / "meta.json", (1000 + n, 1000 + n))
    assert entries.meta(keys[0]) is not None  # used now: the newest
    with entries.writing(keys[2]):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(entries.path(k).name for k in (keys[0], keys[2]))
