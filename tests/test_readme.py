"""The README is the front door: its commands, formats table and examples must stay true."""

from __future__ import annotations

import re

from conftest import ROOT

from qdaconv.cli import formats_markdown
from qdaconv.registry import default_registry

README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    install_and_run, install_and_test = _bash_blocks()[:2]
    assert "\n" not in install_and_run and "\n" not in install_and_test
    assert "fixtures/study.qdpx" in install_and_run and "pip install -e '.[serve]'" in install_and_run
    assert "'.[test]'" in install_and_test and "pytest" in install_and_test
    assert install_and_test in CI, ".ci/run must run the README's test command word for word"


def test_formats_table_matches_the_registry():
    table = formats_markdown(default_registry())
    assert table in README, "regenerate the table with `qdaconv formats --markdown`"


def test_quick_start_conversion_works(tmp_path, cli):
    command = _bash_blocks()[0]
    convert = re.search(r"qdaconv (convert [^&]+)", command).group(1).split()
    args = [ROOT / a if a.startswith("fixtures/") else tmp_path / a if a.endswith(".xlsx") else a
            for a in convert[1:]]
    done = cli("convert", *map(str, args))
    assert done.returncode == 0, done.stderr
    shown = cli("info", str(tmp_path / "study.xlsx"))
    assert shown.returncode == 0 and "24" in shown.stdout
