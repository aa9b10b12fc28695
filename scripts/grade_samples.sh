#!/usr/bin/env bash
# The main job: regenerate the student release, autograde the bundled sample submissions into
# the SQLite gradebook (gradebook.db), write their feedback, and export the grades to CSV.
# Nobody has hand-graded the written answers yet, so their feedback shows 0 for them (said at the end).
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
echo "Note: feedback/ and grades.csv were made before any hand grading: Task 0, the bug analysis and Part D"
echo "(30 points) show 0 there. Grade them in the formgrader (jupyter lab -> Nbgrader -> Formgrader), then run"
echo "nbgrader generate_feedback transformer --force and nbgrader export --to grades.csv again."
