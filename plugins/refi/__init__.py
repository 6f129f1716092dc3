"""REFI-QDA: .qdpx project archives, .qde project XML and .qdc codebooks, read and written losslessly.

Reusable pieces: `container.find_qde` / `container.qde_bytes` locate and return a .qdpx's
project XML; `reader.QdeReader` reads QDA-XML; `writer.ProjectWriter` writes it.
"""

from __future__ import annotations

from qdaconv.hookspecs import hookimpl
from qdaconv.plugins.refi.formats import QdcFormat, QdeFormat, QdpxFormat


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(QdpxFormat())
    register(QdeFormat())
    register(QdcFormat())
