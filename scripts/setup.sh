#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with Python >= 3.12 and install the project
# with its development tools. Safe to run repeatedly: it reinstalls only when pyproject.toml has changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"

is_312() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }

find_python() {
    local candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    candidates+=(python3.13 python3.12)
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    for dir in "$root"/versions/3.13* "$root"/versions/3.12*; do
        [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
    done
    candidates+=(python3 python)
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 && is_312 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ -x "$VENV/bin/python" ] && ! is_312 "$VENV/bin/python"; then
    echo "setup: $VENV has an older Python; recreating it" >&2
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! PY=$(find_python); then
        echo "setup: Python >= 3.12 is required (Mesa 3.5 needs it) and none was found." >&2
        echo "       Install one (e.g. 'pyenv install 3.12') or point PYTHON at it: PYTHON=/path/to/python3.12 make test" >&2
        exit 1
    fi
    echo "setup: creating $VENV with $PY ($("$PY" --version))" >&2
    "$PY" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
    echo "setup: installing the project and its tools into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
