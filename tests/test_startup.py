"""Start-up stays light: loading the plugins and detecting formats imports no spreadsheet or data library."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openpyxl", "numpy", "pandas", "docx", "dask", "distributed")

PROBE = """
import sys
from pathlib import Path
from qdaconv.registry import default_registry
registry = default_registry()
for path in sys.argv[1:]:
    registry.detect(Path(path))
print(" ".join(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


def loaded_after(*paths: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after building the registry and detecting `paths`."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *paths],
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.split()


def test_loading_the_plugins_imports_no_heavy_library():
    assert loaded_after() == []


def test_detecting_projects_and_tables_imports_no_heavy_library(tmp_path, study_path):
    from qdaconv import convert

    convert(study_path, tmp_path / "tables", to="tables-csv")
    convert(study_path, tmp_path / "tables.csv.zip")
    (tmp_path / "codebook.csv").write_text("Name,Description\nTrust,when people rely\n", encoding="utf-8")
    paths = [study_path, tmp_path / "tables", tmp_path / "tables.csv.zip", tmp_path / "codebook.csv"]
    assert loaded_after(*map(str, paths)) == []
