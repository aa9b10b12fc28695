#!/usr/bin/env bash
# Instructor solutions: run the source notebook top to bottom with the real training (not the
# grading shortcut), export it to HTML, and collect the rubrics into solutions/GRADING.md.
# Takes about 15-20 minutes on 2 CPU cores (Part C's fine-tuning is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

nbgrader generate_assignment transformer --force \
  --CourseDirectory.release_directory="$scratch/release" --CourseDirectory.db_url="sqlite:///$scratch/gb.db"
nbgrader generate_solution transformer --force --Execute.timeout=3600 \
  --CourseDirectory.solution_directory="$PWD/solutions" --CourseDirectory.db_url="sqlite:///$scratch/gb.db"
jupyter nbconvert --to html solutions/transformer/transformer.ipynb
python scripts/grading_guide.py source/transformer/transformer.ipynb > solutions/GRADING.md
