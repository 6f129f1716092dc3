"""Recognising the tables' containers from datapackage.json or the workbook's sheet list.

Only zipfile and json: detection runs for every file a command is given, and must not load
openpyxl, which the workbook reader needs only once a workbook is really read or written.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from qdaconv.files import zip_names

from .csvfiles import PACKAGE_FILE, package_prefix
from .schema import PROFILE

_TABLE_SHEETS = frozenset({"project", "codes", "sources", "segments", "codings"})
_MAX_PACKAGE = 10 * 1024 * 1024
_MAX_WORKBOOK_XML = 5 * 1024 * 1024


def read_package_json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def package_score(data: dict[str, Any] | None) -> float:
    """How sure a datapackage.json is one of ours: 1.0 with our marker, 0.6 with our tables, else 0."""
    if data is None:
        return 0.0
    marker = data.get("qdaconv")
    if isinstance(marker, dict) and marker.get("layout") == PROFILE:
        return 1.0
    resources = data.get("resources")
    names = {r.get("name") for r in resources if isinstance(r, dict)} if isinstance(resources, list) else set()
    return 0.6 if {"codes", "codings", "sources"} <= names else 0.0


def sniff_csv_tables(path: Path) -> float:
    if path.is_dir():
        package = path / PACKAGE_FILE
        if package.is_file() and package.stat().st_size < _MAX_PACKAGE:
            return package_score(read_package_json(package.read_text(encoding="utf-8-sig", errors="replace")))
        return 0.3 if (path / "codes.csv").is_file() and (path / "codings.csv").is_file() else 0.0
    names = zip_names(path) if path.name.lower().endswith(".zip") else None
    if names is None:
        return 0.0
    member = package_prefix(names) + PACKAGE_FILE
    if member not in names:
        return 0.0
    with zipfile.ZipFile(path) as archive:
        if archive.getinfo(member).file_size > _MAX_PACKAGE:
            return 0.0
        return package_score(read_package_json(archive.read(member).decode("utf-8-sig", errors="replace")))


def sniff_workbook(path: Path) -> float:
    """0.95 for a workbook with the tables' sheets, else 0."""
    names = zip_names(path)
    if names is None or "xl/workbook.xml" not in names:
        return 0.0
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/workbook.xml")
        if info.file_size > _MAX_WORKBOOK_XML:
            return 0.0
        xml = archive.read(info).decode("utf-8", errors="replace")
    names = set(re.findall(r"<(?:\w+:)?sheet\b[^>]*\bname=\"([^\"]+)\"", xml))
    return 0.95 if _TABLE_SHEETS <= names else 0.0
