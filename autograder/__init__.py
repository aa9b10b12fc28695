"""The grading engine of the Transformer assignment: one set of checks behind several front doors."""
import sys

ENGINE_VERSION = "1.0.0"

# nbformat imports jsonschema, whose optional checker of the "iri" formats, rfc3987_syntax, compiles
# 38 parsers when imported: 1.2 s of every grading process's start (python-jsonschema/jsonschema#1428).
# No notebook schema uses those formats, so jsonschema is told the checker is absent (it skips it).
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
