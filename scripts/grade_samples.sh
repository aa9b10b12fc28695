#!/usr/bin/env bash
# The main job: regenerate the student release, autograde the bundled sample submissions into
# the SQLite gradebook (gradebook.db), write their feedback, and export the grades to CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

nbgrader generate_assignment transformer --force
rm -rf submitted autograded feedback
cp -r samples/submitted submitted
nbgrader autograde transformer --force
nbgrader generate_feedback transformer --force
nbgrader export --to grades.csv
python -m autograder grade-all submitted --out results
echo
echo "Gradebook: gradebook.db   Grades: grades.csv   Per-check results: results/   Feedback: feedback/"
