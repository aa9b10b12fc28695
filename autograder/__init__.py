"""The grading engine of the Transformer assignment: one set of checks behind several front doors."""

ENGINE_VERSION = "1.0.0"
