"""The core imports in one direction: a walk over qdaconv/'s imports (function-level ones included) finds no cycle.

Imports under `if TYPE_CHECKING:` are left out: they never run. `from package import module` is an
import of that module; the package's own `__init__` runs first anyway and is not a dependency of it.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "qdaconv"

#: Layers from the bottom; a module may import its own layer and those below, never one above.
LAYERS = [
    {"qdaconv.errors", "qdaconv.issues", "qdaconv.progress", "qdaconv.values", "qdaconv.files", "qdaconv.sqlite"},
    {"qdaconv.model", "qdaconv.safety"},
    {"qdaconv.formats", "qdaconv.positions", "qdaconv.hookspecs", "qdaconv.registry", "qdaconv.figures",
     "qdaconv.references"},
    {"qdaconv.api"},
    {"qdaconv.validation", "qdaconv.diff", "qdaconv.agreement", "qdaconv.merge", "qdaconv.redaction"},
    {"qdaconv.cli", "qdaconv.__main__", "qdaconv"},
]


def module_names() -> dict[str, Path]:
    names = {}
    for path in CORE.rglob("*.py"):
        parts = path.relative_to(CORE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (getattr(node.test, "id", None) == "TYPE_CHECKING"
                                          or getattr(node.test, "attr", None) == "TYPE_CHECKING")


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The core modules `path` imports anywhere in it (module level or inside functions)."""
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(known)
            found.update(submodules or {node.module})
            if len(submodules) < len(node.names):
                found.add(node.module)
        stack.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    known = module_names()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of modules (the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(edges):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def layer_of(name: str) -> int:
    for number, layer in enumerate(LAYERS):
        if name in layer or any(name.startswith(member + ".") for member in layer if member != "qdaconv"):
            return number
    raise AssertionError(f"{name} is in no layer of the core; add it to LAYERS")


def test_the_core_has_no_import_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_core_imports_downwards():
    upward = [f"{name} -> {target}" for name, targets in graph().items() for target in targets
              if layer_of(target) > layer_of(name)]
    assert upward == []


def test_the_walk_sees_cycles_and_lazy_imports(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import qdaconv.cli\n"
                      "def f():\n    from qdaconv.validation import rules\n    import qdaconv.api\n")
    assert imports_of(module, module_names()) == {"qdaconv.validation.rules", "qdaconv.api"}
