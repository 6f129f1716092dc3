"""The rule catalogue: every rule's id, severity, meaning, fix and layer; selecting rules by id or prefix.

The core's rules are listed here. A format plugin declares the rules only it knows (its reader's
warnings) as `Format.rules`; `catalogue(registry)` is the union, and a plugin rule may name core
rules that say the same thing more precisely (`superseded_by`), so a report shows only those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qdaconv.errors import QdaconvError
from qdaconv.issues import Issue, Severity

if TYPE_CHECKING:
    from qdaconv.registry import Registry


@dataclass(slots=True, frozen=True)
class Rule:
    """A rule of the catalogue.

    `fatal`: after it the file cannot be read, so later layers are skipped. `superseded_by`: for a
    reader's rule, the validator's rules that say the same thing; when one of them fires, this
    rule's issues are left out of the report.
    """

    id: str
    severity: Severity
    meaning: str
    fix: str
    layer: str = ""
    fatal: bool = False
    superseded_by: tuple[str, ...] = ()

    def issue(self, message: str, place: str | None = None, hint: str | None = None) -> Issue:
        """An Issue of this rule; the hint defaults to the rule's fix."""
        return Issue(self.id, self.severity, message, place=place, hint=hint or self.fix)


E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: note (info)
_CATALOGUE: list[Rule] = [
    # run: the file could not be checked
    Rule("READ-FAILED", E, "The file could not be read; the reader's message says what and where.",
         "Repair the file or export it again from the program that made it.", "run"),
    Rule("FORMAT-UNKNOWN", E, "No installed format recognises the file.",
         "Check that it is a QDA export of a format `qdaconv formats` lists.", "run", fatal=True),
    Rule("CHECK-FAILED", E, "The format's own file check stopped unexpectedly.",
         "Report it to the format plugin's authors, with the file if you can.", "run"),
    Rule("PLUGIN-FAILED", E, "A plugin's validation rules stopped unexpectedly.",
         "Report it to the plugin's authors, or block the plugin with QDACONV_DISABLE_PLUGINS.", "run"),
    Rule("WORKER-CRASHED", E, "The process validating this file died or failed; the other files are unaffected.",
         "Validate the file alone to see the failure; it may be too large for the memory available.", "run"),
    # container: the .qdpx zip
    Rule("ZIP-BROKEN", E, "The zip cannot be opened, or the project XML inside it is damaged.",
         "The file is truncated or not a .qdpx; copy or export it again.", "container", fatal=True),
    Rule("ZIP-UNSAFE", E, "The zip could harm the machine that unpacks it: escaping or duplicate names, "
         "links, or sizes beyond the limits (a zip bomb).",
         "Do not unpack it; re-create the archive from the program that made the project.", "container",
         fatal=True),
    Rule("ZIP-BAD-MEMBER", E, "A file inside the zip is damaged (its checksum or compression is wrong).",
         "Export the project again; the named file cannot be recovered from this copy.", "container"),
    Rule("ZIP-NO-QDE", E, "The zip holds no project XML (.qde), or several that cannot be told apart.",
         "A .qdpx must contain one project.qde at its top level.", "container", fatal=True),
    Rule("ZIP-MANY-QDE", E, "The zip holds more than one .qde; programs may read a different one.",
         "Keep only project.qde in the archive.", "container"),
    Rule("ZIP-MISSING-FILE", E, "The project names an internal file that is not in the zip.",
         "Add the file under sources/ or export the project again.", "container"),
    Rule("ZIP-UNREFERENCED", W, "A file in the zip is not named by the project; programs ignore it.",
         "Remove it, or reference it from the source it belongs to.", "container"),
    Rule("ZIP-NAME-CLASH", E, "Two files in the zip differ only in letter case; on Windows and macOS one "
         "overwrites the other.", "Rename one of them (and its reference).", "container"),
    Rule("ZIP-SOURCES-FOLDER", W, "A file lies outside the flat sources/ folder that REFI-QDA 8.1 prescribes.",
         "Put source files directly in sources/, without subfolders.", "container"),
    Rule("ZIP-FILE-TOO-LARGE", W, "A file inside the zip is larger than 2,147,483,647 bytes (REFI-QDA 8.5).",
         "Keep large media outside the archive with a relative:// path.", "container"),
    # schema: the XML against the official XSDs
    Rule("XML-MALFORMED", E, "The XML is not well formed (truncated, or not XML).",
         "Export the file again; the line named is where parsing stopped.", "schema", fatal=True),
    Rule("XML-UNSAFE", E, "The XML declares entities in a DOCTYPE (an entity bomb, or an external entity that "
         "reads local files); qdaconv neither expands nor reads it.",
         "Do not open the file in other programs either; QDA-XML never needs entity declarations.", "schema",
         fatal=True),
    Rule("REFI-XSD-NAMESPACE", E, "The root element is not in the QDA-XML 1.0 namespace, so the schema "
         "rejects the whole file; it was then checked as if it were in 1.0.",
         "Write xmlns=\"urn:QDA-XML:project:1.0\" (or urn:QDA-XML:codebook:1.0 for a codebook).", "schema"),
    Rule("REFI-XSD", E, "The XML breaks the official REFI-QDA schema; the schema's message and line are given.",
         "Fix the element or attribute named; see the hint for common causes.", "schema"),
    Rule("REFI-ENCODING", W, "The XML is not encoded in UTF-8, which REFI-QDA 5.1 requires.",
         "Save the XML as UTF-8.", "schema"),
    # integrity: on the model, for every format
    Rule("GUID-DUPLICATE", E, "Two objects of the same kind share a GUID, so references to it are ambiguous.",
         "Give one of them a new GUID.", "integrity"),
    Rule("GUID-SHARED", W, "Objects of different kinds share a GUID (ATLAS.ti does this for a PDF quotation "
         "and its text); a Link or graph vertex to it is ambiguous.",
         "Give one of them a new GUID if programs mix them up.", "integrity"),
    Rule("REF-DANGLING", E, "A reference points to a GUID that no object in the project has.",
         "Point it to an existing object, or remove the reference.", "integrity"),
    Rule("REF-WRONG-KIND", E, "A reference points to an object of the wrong kind (a case's source to a code).",
         "Point it to an object of the kind named.", "integrity"),
    Rule("REF-USER", W, "A creating or modifying user is not among the project's users; the authorship is lost.",
         "Add the user to Users, or remove the attribute.", "integrity"),
    Rule("TEXT-BOTH", E, "A text has both inline PlainTextContent and a plainTextPath; REFI-QDA requires one.",
         "Keep one: the file under sources/ (usual) or the inline content.", "integrity"),
    Rule("TEXT-NONE", W, "A text source has neither inline text nor a text file; REFI-QDA requires one.",
         "Add the plain text, or a plainTextPath to a .txt file.", "integrity"),
    Rule("TEXT-UNAVAILABLE", N, "The text of a source could not be read, so its positions were not checked.",
         "Validate the .qdpx that contains the text files, or fix the path.", "integrity"),
    Rule("POS-OUT-OF-RANGE", E, "A selection breaks 0 <= start <= end <= text length (or a media selection "
         "has negative or reversed times or coordinates).",
         "Fix the positions; text positions count Unicode code points from 0.", "integrity"),
    Rule("POS-CORNERS", W, "A picture selection's corners are swapped: REFI-QDA puts the upper-left corner "
         "first and the lower-right second.", "Swap the coordinates.", "integrity"),
    Rule("SYNC-OUT-OF-RANGE", E, "A transcript sync point lies outside its transcript's text, or before time 0.",
         "Fix the sync point's position or timestamp.", "integrity"),
    Rule("VAR-TYPE", E, "A variable value is not of its variable's type, or a variable has an unknown type.",
         "Store the value in the variable's type (Text, Boolean, Integer, Float, Date, DateTime).",
         "integrity"),
    # interoperability: what other programs trip on
    Rule("INTEROP-QDE-NAME", W, "The project XML in the zip is not named project.qde; some programs "
         "refuse the file.", "Rename it to project.qde.", "interoperability"),
    Rule("INTEROP-SOURCES-CASE", W, "The sources folder is not named sources/ in lower case (NVivo writes "
         "Sources/); ATLAS.ti reportedly rejects it.", "Rename the folder to sources/.", "interoperability"),
    Rule("INTEROP-SCHEMA-LOCATION", W, "xsi:schemaLocation names another namespace than the document's.",
         "Remove xsi:schemaLocation or make it match the xmlns.", "interoperability"),
    Rule("INTEROP-PATH", W, "A file path does not use the internal://, relative:/// or absolute:/// forms "
         "(no scheme, a folder after internal://, or backslashes); strict readers fail on it.",
         "Write internal://<guid>.<ext> for files in sources/.", "interoperability"),
    Rule("INTEROP-RICH-TEXT", W, "A richTextPath points to a file that is not a .docx; ATLAS.ti rejects it.",
         "Give the styled text as DOCX, or leave richTextPath out.", "interoperability"),
    Rule("INTEROP-POS-UNIT", W, "The positions of a source fit its text much better when read in another unit "
         "(UTF-16 units, CRLF as one, bytes) than in code points.",
         "Convert the positions to code points (qdaconv's readers do this by origin).", "interoperability"),
    Rule("INTEROP-SPLIT-WORD", W, "Coded excerpts start or end inside a word: often a sign of shifted "
         "positions.", "Check the excerpts in the program that made the file.", "interoperability"),
    Rule("INTEROP-EXCERPT-NAME", W, "Selections are named after their excerpts, but some names do not match "
         "the text at their positions: shifted positions or a changed text.",
         "Check those selections' positions against the text.", "interoperability"),
    Rule("INTEROP-EMPTY", W, "An empty set or graph; some programs drop it or fail on it.",
         "Remove it, or give it members.", "interoperability"),
    Rule("INTEROP-EMPTY-TEXT", W, "A source's plain text is empty although it has a text file (NVivo for "
         "Mac 15 exports these); its codings cannot be placed.",
         "Export the plain text again.", "interoperability"),
    Rule("INTEROP-COLOR", W, "A colour is not written #RRGGBB.", "Write colours as #RRGGBB.",
         "interoperability"),
    Rule("INTEROP-NAIVE-TIME", W, "Dates with a time but no time zone; programs read them in their own zone.",
         "Write times in UTC with a trailing Z.", "interoperability"),
    Rule("INTEROP-GUID-FORMAT", W, "Ids that are not GUIDs; REFI-QDA programs reject them.",
         "Replace them by GUIDs (qdaconv convert can do this).", "interoperability"),
    Rule("INTEROP-UNCODABLE", W, "Codings apply codes marked not codable (isCodable false); some programs "
         "drop them.", "Make the codes codable, or move the codings to codable codes.", "interoperability"),
]
del E, W, N

#: The core's rule catalogue by id (the rules format plugins declare are in `catalogue(registry)`).
RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOGUE}
#: Prefixes only the core's catalogue uses, where an unknown id must be a typo (REFI- is shared with
#: the REFI plugin's reader rules).
_PREFIXES = frozenset(rule_id.split("-")[0] for rule_id in RULES) - {"REFI"}


def catalogue(registry: Registry | None = None) -> dict[str, Rule]:
    """The core's rules and those every installed format declares in `Format.rules`, by id."""
    if registry is None:
        from qdaconv.registry import default_registry

        registry = default_registry()
    rules = dict(RULES)
    for fmt in registry:
        for rule in getattr(fmt, "rules", ()):
            rules.setdefault(rule.id, rule)
    return rules


def superseded(found: Iterable[Issue], rules: dict[str, Rule]) -> set[str]:
    """The reader rules whose issues say again what a validator rule among `found` says."""
    fired = {issue.rule for issue in found}
    return {rule.id for rule in rules.values() if rule.superseded_by and fired.intersection(rule.superseded_by)}


def rules_table() -> str:
    """The catalogue as a Markdown table (the README's rule reference)."""
    lines = ["| rule | layer | severity | what it means | how to fix it |", "|---|---|---|---|---|"]
    for rule in _CATALOGUE:
        lines.append(f"| `{rule.id}` | {rule.layer} | {rule.severity.value} | {rule.meaning} | {rule.fix} |")
    return "\n".join(lines)


def rule_matcher(selection: Iterable[str] | None) -> Callable[[str], bool]:
    """A predicate for rule ids chosen by ids or prefixes (`REF-`, `REF`, `ZIP-MISSING-FILE`).

    An entry that names no catalogue rule is an error when its prefix is one of qdaconv's own
    (a typo would otherwise pass everything); other prefixes may be plugins' rules.
    """
    if selection is None:
        return lambda _rule: True
    wanted = [entry.strip().upper() for entry in selection if entry.strip()]
    for entry in wanted:
        if entry.rstrip("-").split("-")[0] in _PREFIXES and not any(_selects(entry, r) for r in RULES):
            raise QdaconvError(f"unknown rule {entry!r}; rules are listed in the README "
                               f"(prefixes: {', '.join(sorted(_PREFIXES))})")
    return lambda rule: any(_selects(entry, rule) for entry in wanted)


def _selects(entry: str, rule: str) -> bool:
    stem = entry if entry.endswith("-") else entry + "-"
    return rule == entry or rule.startswith(stem)

