"""The package's shape, as docs/architecture.md draws it: imports go one way (checked by
import-linter's contracts in pyproject.toml), no module reaches into another's private names,
and no folder is a flat bag of modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "llmpresets"
MAX_MODULES_PER_FOLDER = 15


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def test_no_module_imports_another_modules_private_names() -> None:
    """A helper two modules need is public inside the package; `_name` stays in its module."""
    offenders = []
    for path in _modules():
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _absolute(module, path, node)
            if not source.startswith("llmpresets"):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and source != module:
                    offenders.append(f"{module}:{node.lineno} imports {source}.{alias.name}")
    assert offenders == []


# Private attributes read on purpose: NamedTuple's own API, and tiktoken's tables, which it
# offers no public accessor for (read in one place: tokens.encodings.bpe_tables).
_NAMEDTUPLE_API = frozenset({"_asdict", "_replace", "_fields", "_make"})
_ALLOWED_PRIVATE_READS = {
    ("llmpresets.tokens.encodings", "_mergeable_ranks"),
    ("llmpresets.tokens.encodings", "_pat_str"),
    ("llmpresets.tokens.encodings", "_special_tokens"),
}


def _defined_privates(tree: ast.Module) -> set[str]:
    """The ``_names`` a module defines itself: functions, classes, assignments, attributes
    set on ``self`` and slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {name for name in names if name.startswith("_")}


def test_no_module_reads_another_modules_private_attributes() -> None:
    """``obj._name`` is read only where ``_name`` is defined (a class reaching into another
    module's objects goes through a public name instead)."""
    offenders = []
    for path in _modules():
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = _defined_privates(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__") or node.attr in _NAMEDTUPLE_API:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in own or (module, node.attr) in _ALLOWED_PRIVATE_READS:
                continue
            offenders.append(f"{module}:{node.lineno} reads {ast.unparse(node)}")
    assert offenders == []


def test_no_folder_is_a_flat_bag_of_modules() -> None:
    """Each folder holds at most about 15 modules; a bigger one is split by responsibility."""
    folders: dict[Path, int] = {}
    for path in _modules():
        if path.name != "__init__.py":
            folders[path.parent] = folders.get(path.parent, 0) + 1
    crowded = {str(f.relative_to(PACKAGE.parent)): n for f, n in folders.items()}
    assert {f: n for f, n in crowded.items() if n > MAX_MODULES_PER_FOLDER} == {}


def test_every_module_says_what_it_is_for() -> None:
    """Every module opens with a docstring naming its job (a newcomer reads that first)."""
    undocumented = [
        _module_name(path)
        for path in _modules()
        if path.read_text(encoding="utf-8").strip()
        and ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) is None
    ]
    assert undocumented == []


# import-linter's command: on PATH, or beside this interpreter (a venv run without activating).
LINT_IMPORTS = shutil.which("lint-imports") or shutil.which(
    "lint-imports", path=os.path.dirname(sys.executable)
)


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter not installed")
def test_layer_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml): layers one way down, no cycles."""
    assert LINT_IMPORTS is not None
    run = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:]
