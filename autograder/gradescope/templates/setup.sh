#!/usr/bin/env bash
# Gradescope runs this once, as root with network access, when it builds the autograder's image
# (the zip unpacked in /autograder/source). It installs a venv with the pinned lock, the NLTK corpus
# Part B trains on (the offline tokenizer of Part C is a package of the lock), then checks the result.
#
#   setup.sh            install, then check
#   setup.sh --check    only check (nothing installed): Python version, pinned packages, engine, data
#
# AUTOGRADER_ROOT (default /autograder) is Gradescope's layout root, AUTOGRADER_PYTHON the venv's
# python (default $AUTOGRADER_ROOT/venv/bin/python), NLTK_DATA where the corpus goes
# (default $AUTOGRADER_ROOT/nltk_data), TORCH_INDEX the index of torch's CPU build.
set -euo pipefail
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${AUTOGRADER_ROOT:-/autograder}
VENV=$ROOT/venv
PY=${AUTOGRADER_PYTHON:-$VENV/bin/python}
export NLTK_DATA=${NLTK_DATA:-$ROOT/nltk_data} AUTOGRADER_CACHE=${AUTOGRADER_CACHE:-$ROOT/cache}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONPATH=$SOURCE PYTHONDONTWRITEBYTECODE=1

check() {
  if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "FAILED   python: $PY is missing or older than Python 3.11" >&2
    return 1
  fi
  (cd "$SOURCE" && "$PY" -m autograder.gradescope check --lock "$SOURCE/requirements.txt")
}

if [ "${1:-}" = "--check" ]; then
  check
  exit
fi

# A Python 3.11 (the lock's): the image's own, else Ubuntu's package (22.04), else a newer python3.
base=""
if command -v python3.11 >/dev/null; then
  base=python3.11
elif apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3.11 python3.11-venv; then
  base=python3.11
elif python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  base=python3
else
  echo "setup.sh: no Python 3.11 or newer, and apt-get could not install python3.11" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ] && ! "$base" -m venv "$VENV"; then  # Ubuntu keeps ensurepip in pythonX.Y-venv
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$("$base" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
  "$base" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet --extra-index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" \
  -r "$SOURCE/requirements.txt"
if ! "$VENV/bin/python" -c "from nltk.corpus import movie_reviews; movie_reviews.fileids()" 2>/dev/null; then
  "$VENV/bin/python" -m nltk.downloader -q -d "$NLTK_DATA" movie_reviews
fi
# Part B's tokenized reviews, made once here rather than in every submission's grading.
(cd "$SOURCE" && "$VENV/bin/python" -c "from autograder.assignment.course_data import review_tensors; review_tensors()")
PY=$VENV/bin/python check
