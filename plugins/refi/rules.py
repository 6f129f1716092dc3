"""The REFI-QDA reader's own rules: what it notes while reading real tools' dialects, declared for validation.

The formats declare these as `Format.rules`, so `qdaconv.validation.catalogue(registry)` lists them
beside the core's rules. Where a validator rule reports the same thing with more detail (a missing
zip member by name, a schema namespace), `superseded_by` names it and the report keeps only that.
"""

from __future__ import annotations

from qdaconv.issues import Severity
from qdaconv.validation.rules import Rule

W, N = Severity.WARNING, Severity.INFO
_FIXED = "qdaconv handles it on reading; the hint says how"

READER_RULES: tuple[Rule, ...] = (
    Rule("REFI-FILE-MISSING", W, "A file the project names is not where its path says.",
         "Add the file or fix the path.", "reader", superseded_by=("ZIP-MISSING-FILE",)),
    Rule("REFI-FILE-EXTERNAL", W, "A file lies outside the project's folder and was not read.",
         "Pass --allow-external to read it.", "reader"),
    Rule("REFI-UNUSED-FILE", W, "Files in the archive that no source names.", "Remove them or reference them.",
         "reader", superseded_by=("ZIP-UNREFERENCED",)),
    Rule("REFI-NAMESPACE", W, "The XML is in a pre-release or unknown namespace; read as QDA-XML 1.0.",
         _FIXED, "reader", superseded_by=("REFI-XSD-NAMESPACE",)),
    Rule("REFI-TEXT-TWICE", W, "A text has both PlainTextContent and plainTextPath; the inline text is used.",
         _FIXED, "reader", superseded_by=("TEXT-BOTH",)),
    Rule("REFI-NO-TEXT", W, "A text has neither PlainTextContent nor plainTextPath.", "Add the text.", "reader",
         superseded_by=("TEXT-NONE",)),
    Rule("REFI-QDE-NAME", W, "The project XML in the archive is not named project.qde.", _FIXED, "reader",
         superseded_by=("INTEROP-QDE-NAME",)),
    Rule("REFI-PATH-VARIANT", W, "File paths in a form other than internal://<name> in sources/.", _FIXED,
         "reader", superseded_by=("INTEROP-SOURCES-CASE", "INTEROP-PATH")),
    Rule("REFI-ID-NOT-GUID", W, "Ids that are not GUIDs; the writer replaces them with stable GUIDs.", _FIXED,
         "reader", superseded_by=("INTEROP-GUID-FORMAT",)),
    Rule("REFI-GUID-FORM", N, "GUIDs in lower case or braces, which the schema allows.", _FIXED, "reader"),
    Rule("REFI-POSITIONS", W, "Text positions read in another unit than code points.", _FIXED, "reader"),
    Rule("REFI-SELECTION-REPEAT", N, "Text selections that repeat another's span (NVivo).", _FIXED, "reader"),
    Rule("REFI-MULTI-CODING", N, "Selections with several codings (ATLAS.ti, qc).", _FIXED, "reader"),
    Rule("REFI-EMPTY-CONTAINER", W, "Empty container elements, which the schema forbids.", _FIXED, "reader"),
    Rule("REFI-ELEMENT-NAME", W, "<Codebook> for <CodeBook>.", _FIXED, "reader"),
    Rule("REFI-ELEMENT-ORDER", W, "Elements out of the schema's place.", _FIXED, "reader"),
    Rule("REFI-UNKNOWN-ELEMENT", W, "Elements the schema does not know; dropped.", _FIXED, "reader"),
    Rule("REFI-UNKNOWN-ATTRIBUTE", W, "Attributes the schema does not know; dropped.", _FIXED, "reader"),
    Rule("REFI-REQUIRED", W, "A required attribute or element is missing.", _FIXED, "reader"),
    Rule("REFI-REF-FORM", W, "References written with another attribute than the schema's.", _FIXED, "reader"),
    Rule("REFI-BAD-VALUE", W, "Values that cannot be read as their type.", _FIXED, "reader"),
    Rule("REFI-COLOR", W, "Colours not written #RRGGBB; normalised.", _FIXED, "reader"),
    Rule("REFI-DATETIME", W, "dateTimes without a time zone or with an offset.", _FIXED, "reader"),
    Rule("REFI-NO-PATH", W, "Media sources without a path.", "Add the path of the media file.", "reader"),
)
