"""qdaconv: move qualitative studies between QDA programs and archive them in open formats."""

from qdaconv.api import convert, detect, from_frames, read, to_frames, write
from qdaconv.diff import DiffResult, diff
from qdaconv.errors import FormatError, LossError, PluginError, QdaconvError, QdaconvWarning, ReadError, WriteError
from qdaconv.formats import Feature, Format, Loss, LossReport
from qdaconv.issues import Issue, Severity
from qdaconv.model import Project
from qdaconv.validation import Report, validate

__version__ = "0.1.0"

__all__ = [
    "DiffResult",
    "Feature",
    "Format",
    "FormatError",
    "Issue",
    "Loss",
    "LossError",
    "LossReport",
    "PluginError",
    "Project",
    "QdaconvError",
    "QdaconvWarning",
    "ReadError",
    "Report",
    "Severity",
    "WriteError",
    "convert",
    "detect",
    "diff",
    "from_frames",
    "read",
    "to_frames",
    "validate",
    "write",
]
