"""Code fingerprints: which project source files a module runs, derived from its imports (never a typed list).

The runner keys every stage on the files its module reaches (`code_inputs`), the feature blocks key
their cache on the files their class's module reaches, and model tables on the files of the plug-ins
and import paths they name: one rule for every code key. Source is read, never imported.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from pathlib import Path
from typing import Any, Callable

PACKAGES_ROOT = Path(__file__).resolve().parent.parent  # holds core/, features/, models/, pipeline/
PROJECT_PACKAGES = ("core", "features", "models", "pipeline")
# A "package.module:function" string names a module the lazily-imported registries load on demand
# (models/_types.py: "models.lgbm:build"); it counts as an import of the module and a use of the name.
_REGISTRY_REF = re.compile(r"((?:core|features|models|pipeline)(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)")


def code_inputs(module: str, *, root: Path = PACKAGES_ROOT, memo: dict | None = None,
                modules: dict[str, Path] | None = None) -> list[Path]:
    """The project source files `module` runs: its own file and every project module it imports,
    transitively, sorted.

    An import anywhere in the module's own file counts (inside functions too: that is how heavy
    modules load here), and so does a "package.module:function" registry string. In the modules it
    reaches, a module-level import always counts; an import inside a function or method counts once
    that function's name is used (called, referenced, named as an attribute or a string) by code
    already reached, so a lazy import in a helper only some stages call (config validation reading
    every registry, the model stages' `ctx.training()`) does not tie every stage to every module.
    Dunder methods and the methods of classes with base classes (called by frameworks: torch's
    `forward`) always count. Only core, features, models and pipeline under `root` are followed
    (`modules`: their files by name, from `project_modules`); `import a.b` counts as importing a.b,
    not a/__init__.py (else the stage registry, pipeline/stages/__init__.py, would tie every stage
    to every other). Each file's summary is kept in `memo` by (size, mtime): a no-op run parses
    nothing."""
    if modules is None:
        modules = project_modules(root)
    summaries: dict[str, dict] = {}
    used: set[str] = set()  # names used by the code reached so far
    waiting: dict[str, list] = {}  # name -> bodies of reached functions so named, not yet followed
    todo_modules, todo_bodies = [module], []

    def follow(imports: tuple, uses: frozenset) -> None:
        todo_modules.extend(imports)
        new = uses - used
        used.update(new)
        for name in new & waiting.keys():
            todo_bodies.extend(waiting.pop(name))

    while todo_modules or todo_bodies:
        if not todo_modules:
            follow(*todo_bodies.pop())
            continue
        name = todo_modules.pop()
        if name in summaries or name not in modules:  # not a module (`from pkg import function`)
            continue
        top, always, functions = summaries[name] = _parsed_summary(modules[name], name, memo)
        follow(*top)
        for func, body in functions.items():
            if name == module or func in used or func in always:
                follow(*body)
            else:
                waiting.setdefault(func, []).append(body)
    return sorted(modules[name] for name in summaries)


def project_modules(root: Path = PACKAGES_ROOT) -> dict[str, Path]:
    """Every module of the project packages under `root`, by dotted name (a package: its __init__.py)."""
    found: dict[str, Path] = {}
    for package in PROJECT_PACKAGES:
        for dirpath, dirnames, filenames in os.walk(root / package):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            parts = Path(dirpath).relative_to(root).parts
            for f in filenames:
                if f.endswith(".py"):
                    name = parts if f == "__init__.py" else (*parts, f[:-3])
                    found[".".join(name)] = Path(dirpath) / f
    return found


def project_digest(root: Path = PACKAGES_ROOT) -> str:
    """sha256 over every project module's dotted name and source under `root`: which code a process imports."""
    import hashlib

    digest = hashlib.sha256()
    for name, path in sorted(project_modules(root).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


_PARSED: dict[str, tuple] = {}  # file -> (its summary in the memo, that summary as sets)


def _parsed_summary(path: Path, module: str, memo: dict | None) -> tuple:
    """The file's summary as ((imports, uses), always, {function: (imports, uses)}), sets not strings."""
    summary = _file_summary(path, module, memo)
    cached = _PARSED.get(str(path))
    if cached is None or cached[0] is not summary:  # once per memo entry, not once per stage
        def body(imports: str, uses: str) -> tuple:
            return tuple(imports.split()), frozenset(uses.split())

        cached = _PARSED[str(path)] = (summary, (
            body(summary["imports"], summary["uses"]), frozenset(summary["always"].split()),
            {f: body(*b) for f, b in summary["functions"].items()}))
    return cached[1]


def _file_summary(path: Path, module: str, memo: dict | None) -> dict:
    """What a file imports (project modules) and uses (names): at module level, which runs on import,
    and per function or method name, which runs when called. Memoised by (size, mtime)."""
    st = path.stat()
    key = f"code:{path}"
    hit = memo.get(key) if memo is not None else None
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: tuple[set, set] = (set(), set())
    functions: dict[str, tuple[set, set]] = {}
    always: set[str] = set()

    def scan(node: ast.AST, into: tuple[set, set]) -> None:
        imports, uses = into
        for n in ast.walk(node):
            if isinstance(n, ast.Import):
                imports.update(alias.name for alias in n.names)
            elif isinstance(n, ast.ImportFrom):
                try:
                    base = importlib.util.resolve_name("." * n.level + (n.module or ""), package)
                except (ImportError, ValueError):  # a relative import beyond the top-level package
                    continue
                imports.add(base)  # `from a import b`: b may be a submodule
                imports.update(f"{base}.{alias.name}" for alias in n.names if alias.name != "*")
                uses.update(alias.name for alias in n.names)
            elif isinstance(n, ast.Name):
                uses.add(n.id)
            elif isinstance(n, ast.Attribute):
                uses.add(n.attr)
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                match = _REGISTRY_REF.fullmatch(n.value)
                if match:
                    imports.add(match.group(1))
                    uses.add(match.group(2))
                elif n.value.isidentifier():  # getattr(obj, "name")
                    uses.add(n.value)

    def visit(body: list[ast.stmt], framework_called: bool) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in [*stmt.decorator_list, *stmt.args.defaults, *stmt.args.kw_defaults]:
                    if node is not None:  # evaluated when the def runs
                        scan(node, top)
                into = functions.setdefault(stmt.name, (set(), set()))
                for node in stmt.body:
                    scan(node, into)
                if framework_called or (stmt.name.startswith("__") and stmt.name.endswith("__")):
                    always.add(stmt.name)
            elif isinstance(stmt, ast.ClassDef):
                for node in [*stmt.bases, *stmt.keywords, *stmt.decorator_list]:
                    scan(node, top)
                visit(stmt.body, framework_called or bool(stmt.bases))
            else:  # module-level code (a def nested in an `if` or `try` counts as module-level)
                scan(stmt, top)

    visit(ast.parse(path.read_bytes(), filename=str(path)).body, False)

    def project(imports: set) -> str:
        return " ".join(sorted(n for n in imports if n.split(".")[0] in PROJECT_PACKAGES))

    # space-separated strings, not lists: a memo of a few thousand small lists costs a full garbage
    # collection pass to load in a process that has imported pandas
    summary = {"imports": project(top[0]), "uses": " ".join(sorted(top[1])),
               "always": " ".join(sorted(always)),
               "functions": {f: [project(i), " ".join(sorted(u))] for f, (i, u) in sorted(functions.items())}}
    if memo is not None:
        memo[key] = [st.st_size, st.st_mtime_ns, summary]
    return summary


# A string naming code by import path: "pkg.mod:function", "pkg.mod.Class" or "module:function".
_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?::[A-Za-z_]\w*)?")


class CodeFingerprints:
    """Content digests of the code a module, a user's file or a config table runs, by one rule.

    `module(name)`: the project files `code_inputs` derives for it. `files(paths)`: users' files
    (plug-ins, factories) plus the project modules they import. `named_in(table, search)`: every
    file that an import path in a config table names, when it lies under one of `roots` (the
    project's packages, the workspace, the competition folder; a library's code is its version's).
    Digests are memoised per instance; `memo` keeps file summaries across runs (by size and mtime),
    `hash_memo` file digests (core.io.hash_file)."""

    def __init__(self, root: Path = PACKAGES_ROOT, *, memo: dict | None = None, hash_memo: dict | None = None):
        self.root = Path(root)
        self.memo = {} if memo is None else memo
        self.hash_memo = hash_memo
        self._modules: dict[str, Path] | None = None
        self._digests: dict[Any, tuple] = {}  # key -> (files, their (size, mtime), digest)

    @property
    def modules(self) -> dict[str, Path]:
        """The project's modules by dotted name (listed once)."""
        if self._modules is None:
            self._modules = project_modules(self.root)
        return self._modules

    def _digest(self, files: list[Path]) -> str:
        from core import io as _io

        def name(p: Path) -> str:
            return p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else p.name

        return _io.hash_obj({name(p): _io.hash_file(p, memo=self.hash_memo) for p in sorted(set(files))})

    def module_files(self, module: str) -> list[Path]:
        """The project files `module` runs (`code_inputs`)."""
        return code_inputs(module, root=self.root, memo=self.memo, modules=self.modules)

    def _remembered(self, key: Any, files: Callable[[], list[Path]]) -> str:
        """The digest of `files()`, remembered while none of the files it covered changed (size, mtime)."""
        hit = self._digests.get(key)
        if hit is not None and _stamps(hit[0]) == hit[1]:
            return hit[2]
        found = files()
        digest = self._digest(found)
        self._digests[key] = (found, _stamps(found), digest)
        return digest

    def module(self, module: str) -> str:
        """Digest of the project files `module` runs."""
        return self._remembered(("module", module), lambda: self.module_files(module))

    def file_files(self, path: Path) -> list[Path]:
        """A user's file and the project files it runs (every function of it counts)."""
        path = Path(path).resolve()
        for name, known in self.modules.items():
            if known == path:
                return self.module_files(name)
        name = f"_user_code.{path.stem}"
        return code_inputs(name, root=self.root, memo=self.memo, modules={**self.modules, name: path})

    def files(self, paths: list[Path]) -> str:
        """Digest of users' files and the project files they run ("" for none)."""
        paths = [Path(p) for p in paths if Path(p).is_file()]
        if not paths:
            return ""
        key = ("files", tuple(sorted(str(p) for p in paths)))
        return self._remembered(key, lambda: [f for p in paths for f in self.file_files(p)])

    def named_in(self, table: Any, *, roots: list[Path], search: list[str] | None = None) -> list[Path]:
        """The files under `roots` that import paths in `table` (nested dicts / lists of strings) name."""
        found: list[Path] = []
        stack = [table]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, (list, tuple)):
                stack.extend(value)
            elif isinstance(value, str) and ("." in value or ":" in value) and _IMPORT_PATH.fullmatch(value):
                path = module_file(value, search=search)
                if path is not None and not _installed(path) and any(path.is_relative_to(Path(r).resolve())
                                                                     for r in roots):
                    found.append(path)
        return sorted(set(found))


def _installed(path: Path) -> bool:
    """Whether `path` is an installed library's file (site-packages, dist-packages), though it may lie under a root:
    the README's `.venv` sits in the project folder, and scikit-learn's `Ridge` is not the user's code."""
    return not {"site-packages", "dist-packages"}.isdisjoint(path.parts)


def _stamps(files: list[Path]) -> list:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return out


def module_file(import_path: str, *, search: list[str] | None = None) -> Path | None:
    """The source file that "pkg.mod:name" or "pkg.mod.Name" names, found on `search` (sys.path) without
    importing anything; None when it is not a plain source file there (a library's compiled module, a
    typo: the import itself reports those)."""
    import sys

    module, sep, _ = import_path.partition(":")
    parts = module.split(".") if sep else module.split(".")[:-1] or [module]
    for base in (sys.path if search is None else search):
        folder = Path(base or ".").resolve()
        for i, part in enumerate(parts):
            package, single = folder / part, folder / f"{part}.py"
            last = i == len(parts) - 1
            if last and single.is_file():
                return single
            if package.is_dir() and (package / "__init__.py").is_file():
                if last:
                    return package / "__init__.py"
                folder = package
                continue
            if not sep and not last and single.is_file():  # "mod.Class": the module is mod.py
                return single
            break
    return None


_SHARED: CodeFingerprints | None = None


def shared() -> CodeFingerprints:
    """This process's code fingerprints of the project's packages (file summaries kept in memory)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = CodeFingerprints()
    return _SHARED
