#!/usr/bin/env bash
# Installs the pinned DeepFabric from PyPI into a virtual environment outside the repo, reused when present.
# Prints nothing but errors when the venv is already current. Usage: bash scripts/deepfabric/setup.sh
set -euo pipefail

DEEPFABRIC_VERSION="4.13.0"
# DeepFabric 4.13.0 asks for openai>=1.107.2 and anthropic>=0.75.0 with no upper bound, and the newest majors
# break it: anthropic >= 1.0 dropped `output_format` from beta.messages.create (DeepFabric's anthropic provider
# sends it), and openai 3.x (httpcore2) fails its `llm` evaluation backend, which calls asyncio.run() once per
# request on one client ("Event loop is closed"). These are the newest versions that work.
CLIENT_PINS=("openai==2.54.0" "anthropic==0.125.0")
VENV="${HEDDLE_DEEPFABRIC_VENV:-$HOME/.cache/heddle/deepfabric-venv}"
STAMP="$VENV/.heddle-deepfabric-$DEEPFABRIC_VERSION-openai2.54.0-anthropic0.125.0"

if [ -f "$STAMP" ] && [ -x "$VENV/bin/deepfabric" ]; then
  exit 0
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "DeepFabric needs Python >= 3.10; set PYTHON=/path/to/python3.x" >&2
  exit 1
fi

mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "deepfabric==$DEEPFABRIC_VERSION" "${CLIENT_PINS[@]}"
touch "$STAMP"
echo "DeepFabric $DEEPFABRIC_VERSION installed in $VENV"
