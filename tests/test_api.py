"""The core API: atomic writes, no overwriting without force, strict loss, the input never touched."""

from __future__ import annotations

import pluggy
import pytest

from qdaconv import api, hookspecs
from qdaconv.errors import LossError, ReadError, WriteError
from qdaconv.formats import Feature, Format, Option, features_used, loss_for
from qdaconv.model import Code, Coding, Project, Selection, Source
from qdaconv.registry import Registry


class Lines(Format):
    """Writes code names one per line; fails half-way when asked to, to test cleanup."""

    name = "lines"
    title = "Code names"
    extensions = (".lines",)
    capabilities = frozenset({Feature.CODES})
    options = (Option("fail", "fail half-way", bool, read=False, write=True),)

    def sniff(self, path):
        return 1.0 if path.suffix == ".lines" else 0.0

    def read(self, path, **options):
        project = Project(name=path.stem)
        project.codes = [Code(guid=str(i), name=line) for i, line in enumerate(path.read_text().splitlines())]
        return project

    def write(self, project, path, fail=False, **options):
        with open(path, "w") as out:
            for code in project.codes:
                out.write(code.name + "\n")
                if fail:
                    raise OSError(28, "No space left on device")


class Plugin:
    @hookspecs.hookimpl
    def qdaconv_register_formats(self, register):
        register(Lines())


@pytest.fixture
def registry() -> Registry:
    manager = pluggy.PluginManager("qdaconv")
    manager.add_hookspecs(hookspecs)
    manager.register(Plugin(), name="lines")
    return Registry(manager)


def _project() -> Project:
    code = Code(guid="C1", name="trust", color="#AABBCC")
    text = Source(guid="S1", name="interview", plain_text="we trust them")
    text.selections.append(Selection(guid="X1", start=3, end=8, codings=[Coding(guid="K1", code="C1")]))
    return Project(name="p", codes=[code], sources=[text])


def test_write_refuses_to_overwrite_without_force(tmp_path, registry):
    target = tmp_path / "out.lines"
    target.write_text("keep me")
    with pytest.raises(WriteError, match="--force"):
        api.write(_project(), target, registry=registry)
    assert target.read_text() == "keep me"
    api.write(_project(), target, force=True, registry=registry)
    assert target.read_text() == "trust\n"


def test_failed_write_leaves_nothing_behind(tmp_path, registry):
    target = tmp_path / "out.lines"
    with pytest.raises(WriteError, match="No space left"):
        api.write(_project(), target, registry=registry, fail=True)
    assert list(tmp_path.iterdir()) == []


def test_loss_report_counts_what_the_target_cannot_hold(tmp_path, registry):
    report = api.write(_project(), tmp_path / "out.lines", registry=registry)
    lost = {item.what: item.count for item in report.items}
    assert lost == {"project name, origin, description and dates": 1, "code colours": 1, "text sources": 1,
                    "coded text excerpts": 1, "codings": 1}
    assert "1 codings" in report.summary()


def test_strict_raises_and_writes_nothing(tmp_path, registry):
    with pytest.raises(LossError) as caught:
        api.write(_project(), tmp_path / "out.lines", strict=True, registry=registry)
    assert caught.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_convert_refuses_to_write_over_its_input(tmp_path, registry):
    source = tmp_path / "in.lines"
    source.write_text("a\nb\n")
    with pytest.raises(WriteError, match="is the input"):
        api.convert(source, source, force=True, registry=registry)
    assert source.read_text() == "a\nb\n"


def test_missing_input_is_a_read_error(tmp_path, registry):
    with pytest.raises(ReadError, match="no such file"):
        api.read(tmp_path / "absent.lines", registry=registry)


def test_features_used_counts_each_kind():
    used = features_used(_project())
    assert used[Feature.CODES] == 1 and used[Feature.CODINGS] == 1 and used[Feature.TEXT_SELECTIONS] == 1
    assert Feature.GRAPHS not in used
    assert loss_for(Project(), Lines()).lossless
