"""The import boundaries: the core imports no plugin, a plugin imports no other plugin, and no
module imports another module's private names (not even within its own plugin). Every import
counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = "qdaconv.plugins"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[0] == "plugins":
        parts[0:1] = ["qdaconv", "plugins"]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names imported from it) for every import in the file, nested ones too."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base, [alias.name for alias in node.names]))
    return found


def _plugin_of(module: str) -> str | None:
    if module == PLUGINS or not module.startswith(PLUGINS + "."):
        return None
    return module.split(".")[2]


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def breaches() -> list[str]:
    found = []
    for path in _files("qdaconv") + _files("plugins"):
        module = _module_name(path)
        own_plugin = _plugin_of(module)
        for line, imported, names in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            target_plugin = _plugin_of(imported)
            if own_plugin is None and module.startswith("qdaconv") and target_plugin is not None:
                found.append(f"{where}: the core imports the plugin module {imported}")
            elif own_plugin is not None and target_plugin is not None and target_plugin != own_plugin:
                found.append(f"{where}: plugin {own_plugin} imports plugin {target_plugin} ({imported})")
            if not imported.startswith("qdaconv"):
                continue
            private = [name for name in names if name.startswith("_") and not name.startswith("__")]
            if private and imported != module:
                found.append(f"{where}: imports private names {private} of {imported}")
            if own_plugin is not None and target_plugin is None and imported.split(".")[-1].startswith("_"):
                found.append(f"{where}: imports the private core module {imported}")
    return found


def test_no_import_crosses_a_boundary():
    assert breaches() == []


def test_the_walker_sees_nested_and_relative_imports(tmp_path, monkeypatch):
    """The check itself: a function-level import of another plugin and a private name are found."""
    plugin = tmp_path / "plugins" / "alpha"
    plugin.mkdir(parents=True)
    (tmp_path / "qdaconv").mkdir()
    (tmp_path / "qdaconv" / "core.py").write_text("def f():\n    from qdaconv.plugins.alpha import x\n")
    (plugin / "__init__.py").write_text("from .inner import thing\n")
    (plugin / "inner.py").write_text(
        "def g():\n    from qdaconv.plugins.beta.writer import _secret\n    import qdaconv.plugins.beta\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    found = breaches()
    assert any("core imports the plugin module qdaconv.plugins.alpha" in f for f in found)
    assert any("plugin alpha imports plugin beta (qdaconv.plugins.beta.writer)" in f for f in found)
    assert any("plugin alpha imports plugin beta (qdaconv.plugins.beta)" in f for f in found)
    assert any("private names ['_secret']" in f for f in found)
    assert not any("__init__.py" in f for f in found)  # a relative import within the plugin is its own
