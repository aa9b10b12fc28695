#!/usr/bin/env bash
# Create .venv with everything the package needs (idempotent). Needs only Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
# The NLTK corpus: use $NLTK_DATA if it has it, otherwise download it once.
if ! .venv/bin/python -c "import nltk; nltk.data.find('corpora/movie_reviews.zip')" 2>/dev/null; then
  .venv/bin/python -m nltk.downloader -q movie_reviews
fi
