"""Plugins: a third-party format registered through the entry-point group, blocking, lookup rules."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pluggy
import pytest
from conftest import ROOT

from qdaconv import hookspecs
from qdaconv.errors import FormatError, PluginError
from qdaconv.formats import Feature, Format
from qdaconv.registry import Registry

FAKE_MODULE = '''
"""A third-party qdaconv plugin, as a separate distribution would ship it."""
import json
from qdaconv.formats import Feature, Format
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Code, Project


class CodesJson(Format):
    name = "fake-codes-json"
    title = "Code list as JSON (third-party example)"
    extensions = (".codes.json",)
    capabilities = frozenset({Feature.CODES})

    def sniff(self, path):
        return 0.9 if path.name.endswith(".codes.json") else 0.0

    def read(self, path, **options):
        data = json.loads(path.read_text(encoding="utf-8"))
        project = Project(name=data["name"])
        project.codes = [Code(guid=guid, name=name) for guid, name in data["codes"]]
        return project

    def write(self, project, path, **options):
        data = {"name": project.name, "codes": [[c.guid, c.name] for c in project.codes]}
        path.write_text(json.dumps(data), encoding="utf-8")


@hookimpl
def qdaconv_register_formats(register):
    register(CodesJson())
'''


@pytest.fixture
def third_party(tmp_path: Path) -> dict[str, str]:
    """A plugin distribution installed on PYTHONPATH: a module plus its dist-info with the entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_qdaconv_fmt.py").write_text(FAKE_MODULE, encoding="utf-8")
    info = site / "fake_qdaconv_fmt-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-qdaconv-fmt\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[qdaconv]\nfakecodes = fake_qdaconv_fmt\n")
    return {"PYTHONPATH": str(site)}


def _codes_file(folder: Path) -> Path:
    path = folder / "in.codes.json"
    path.write_text(json.dumps({"name": "demo", "codes": [["A1B2C3D4-0000-4000-8000-000000000001", "trust"]]}))
    return path


def test_third_party_format_is_listed_and_converts(third_party, tmp_path, cli):
    listed = cli("formats", "--json", env=third_party)
    assert listed.returncode == 0, listed.stderr
    fake = [row for row in json.loads(listed.stdout) if row["name"] == "fake-codes-json"]
    assert fake and fake[0]["plugin"] == "fakecodes" and fake[0]["version"] == "1.2.3"
    assert fake[0]["read"] and fake[0]["write"]
    source = _codes_file(tmp_path)
    done = cli("convert", str(source), str(tmp_path / "out.codes.json"), env=third_party)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.codes.json").read_text())["codes"][0][1] == "trust"


def test_blocking_a_plugin_removes_its_formats(third_party, tmp_path, cli):
    env = {**third_party, "QDACONV_DISABLE_PLUGINS": "fakecodes"}
    listed = cli("formats", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "fake-codes-json" not in {row["name"] for row in json.loads(listed.stdout)}
    refused = cli("convert", str(_codes_file(tmp_path)), str(tmp_path / "out.codes.json"), env=env)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr and "out.codes.json: no format writes" in refused.stderr


class _Plugin:
    """A plugin object registering the given formats."""

    def __init__(self, *formats: Format) -> None:
        self.formats = formats

    @hookspecs.hookimpl
    def qdaconv_register_formats(self, register):
        for fmt in self.formats:
            register(fmt)


def _format(name: str, extensions=(".x",), score: float = 0.0, primary: bool = False) -> Format:
    class Made(Format):
        def sniff(self, path):
            return score

        def read(self, path, **options):
            raise NotImplementedError

        def write(self, project, path, **options):
            return None

    made = Made()
    made.name, made.title, made.extensions, made.primary = name, name, extensions, primary
    made.capabilities = frozenset({Feature.CODES})
    return made


def _registry(*plugins: _Plugin) -> Registry:
    manager = pluggy.PluginManager("qdaconv")
    manager.add_hookspecs(hookspecs)
    for number, plugin in enumerate(plugins):
        manager.register(plugin, name=f"p{number}")
    return Registry(manager)


def test_name_clash_names_both_plugins():
    with pytest.raises(PluginError, match="p0.*p1"):
        _registry(_Plugin(_format("same")), _Plugin(_format("same")))


def test_detection_picks_best_score_and_refuses_ties(tmp_path):
    target = tmp_path / "file.x"
    target.write_text("x")
    registry = _registry(_Plugin(_format("low", score=0.4), _format("high", score=0.8)))
    assert registry.detect(target).name == "high"
    tie = _registry(_Plugin(_format("one", score=0.5), _format("two", score=0.5)))
    with pytest.raises(FormatError, match="--from"):
        tie.detect(target)
    nobody = _registry(_Plugin(_format("zero")))
    with pytest.raises(FormatError, match="not a format"):
        nobody.detect(target)


def test_extension_lookup_prefers_longest_suffix_then_primary(tmp_path):
    registry = _registry(_Plugin(_format("zip", (".zip",)), _format("csvzip", (".csv.zip",)),
                                 _format("a", (".y",), primary=True), _format("b", (".y",)),
                                 _format("c", (".z",)), _format("d", (".z",))))
    assert registry.for_target(tmp_path / "t.csv.zip").name == "csvzip"
    assert registry.for_target(tmp_path / "t.zip").name == "zip"
    assert registry.for_target(tmp_path / "t.y").name == "a"
    with pytest.raises(FormatError, match="--to"):
        registry.for_target(tmp_path / "t.z")
    with pytest.raises(FormatError, match="unknown format 'nope'"):
        registry.get("nope")


def test_every_plugin_folder_is_packaged_and_registered():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = {p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").is_file()}
    packages = {name.rsplit(".", 1)[1] for name in config["tool"]["setuptools"]["packages"]
                if name.startswith("qdaconv.plugins.")}
    entry_points = {value.rsplit(".", 1)[1] for value in config["project"]["entry-points"]["qdaconv"].values()}
    assert folders == packages == entry_points
    assert config["tool"]["setuptools"]["package-dir"] == {
        "qdaconv": "qdaconv", "qdaconv.plugins": "plugins", "qdaconv.schemas": "schemas"}


def test_schemas_are_installed_with_their_licence():
    from importlib.resources import files

    for name in ("Project-mrt2019.xsd", "Codebook.xsd"):
        text = files("qdaconv.schemas").joinpath(name).read_text(encoding="utf-8")
        assert "MIT" in text and "urn:QDA-XML" in text


def test_every_hook_is_documented():
    specs = [name for name in dir(hookspecs) if name.startswith("qdaconv_")]
    assert specs
    for name in specs:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc.split()) > 8, f"hook {name} needs a reference docstring"


def test_plugin_manager_checks_pending_hooks():
    from qdaconv.registry import plugin_manager

    manager = plugin_manager()
    assert not manager.is_blocked("refi")
    assert plugin_manager(blocked={"refi"}).is_blocked("refi")
