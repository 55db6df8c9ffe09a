"""core.fingerprint: the one rule for code keys -- what a module, a user's file or a config table runs."""

from __future__ import annotations

from pathlib import Path

from core.fingerprint import CodeFingerprints, module_file


def _package(root: Path) -> None:
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "helper.py").write_text("def helper():\n    return 1\n")
    (root / "core" / "other.py").write_text("X = 2\n")


def test_a_user_file_is_keyed_with_the_project_modules_it_imports(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    _package(code)
    user = tmp_path / "plugin.py"
    user.write_text("from core.helper import helper\n")
    fps = CodeFingerprints(code)
    files = {p.name for p in fps.file_files(user)}
    assert files == {"plugin.py", "helper.py"}  # `from a.b import` runs a/b.py (a package __init__ is not followed)
    before = fps.files([user])
    (code / "core" / "other.py").write_text("X = 3\n")  # not run by the plug-in
    assert fps.files([user]) == before
    (code / "core" / "helper.py").write_text("def helper():\n    return 22\n")
    assert fps.files([user]) != before  # remembered only while its files are unchanged


def test_import_paths_in_a_table_name_files_under_the_roots_only(tmp_path):
    (tmp_path / "my_nets.py").write_text("def make():\n    pass\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("class Est:\n    pass\n")
    search = [str(tmp_path)]
    assert module_file("my_nets:make", search=search) == (tmp_path / "my_nets.py").resolve()
    assert module_file("pkg.mod.Est", search=search) == (tmp_path / "pkg" / "mod.py").resolve()
    assert module_file("nowhere.mod:f", search=search) is None
    table = {"type": "net", "params": {"factory": "my_nets:make", "lr": 0.1}, "estimator": "pkg.mod.Est",
             "note": "sklearn.linear_model.Ridge"}
    fps = CodeFingerprints(tmp_path)
    found = fps.named_in(table, roots=[tmp_path], search=search)
    assert sorted(p.name for p in found) == ["mod.py", "my_nets.py"]
    assert fps.named_in(table, roots=[tmp_path / "elsewhere"], search=search) == []


def test_an_installed_library_under_a_root_is_not_the_users_code(tmp_path):
    """The README's `.venv` lies in the project folder: `sklearn.linear_model.Ridge` found there is an installed
    library, not code of the project's, so a cv unit's key does not hold it (the same workspace run by a checkout
    elsewhere saw its linear member as changed)."""
    site = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    (site / "sklearn" / "linear_model").mkdir(parents=True)
    for folder in (site / "sklearn", site / "sklearn" / "linear_model"):
        (folder / "__init__.py").write_text("")
    (site / "sklearn" / "linear_model" / "_ridge.py").write_text("class Ridge:\n    pass\n")
    (tmp_path / "mine.py").write_text("class Est:\n    pass\n")
    search = [str(site), str(tmp_path)]
    assert module_file("sklearn.linear_model._ridge.Ridge", search=search) is not None
    found = CodeFingerprints(tmp_path).named_in({"estimator": "sklearn.linear_model._ridge.Ridge", "other": "mine.Est"},
                                                roots=[tmp_path], search=search)
    assert [p.name for p in found] == ["mine.py"]
