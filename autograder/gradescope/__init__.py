"""A Gradescope autograder bundle of this engine: build it (``build_bundle``), and what it runs there.

``bundle`` writes the zip, ``run`` grades in Gradescope's layout (``run_autograder``), ``check``
verifies an environment (``setup.sh --check``), ``cli`` holds the commands; ``templates/`` the two
scripts Gradescope runs.
"""
from autograder.gradescope.bundle import build_bundle
from autograder.gradescope.cli import add_command

__all__ = ["add_command", "build_bundle"]
