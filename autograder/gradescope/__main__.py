"""``python -m autograder.gradescope build OUT.zip | run | check``."""
import sys

from autograder.gradescope.cli import main

sys.exit(main())
