#!/usr/bin/env bash
# Set up DeepSparse 1.8.0 for the peers benchmark (`python benchmarks/e2e.py --peers`), from
# nothing, in a venv of its own: DeepSparse 1.8.0 (its last real release; 1.9.0 is an empty
# sdist) has wheels for Python 3.8-3.11 only and pins numpy < 2 and its own onnx, so it cannot
# share the project's venv. The benchmark talks to it through an ONNX file and a subprocess
# running benchmarks/peers/deepsparse_worker.py with this venv's python.
#
#   bash benchmarks/setup_deepsparse.sh            # -> benchmarks/.venv-deepsparse
#   PYTHON=/path/to/python3.10 bash benchmarks/setup_deepsparse.sh
#
# PYTHON defaults to the first of python3.10, pyenv's 3.10 and python3.11 found.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DEEPSPARSE_VENV:-$here/.venv-deepsparse}"

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.10 "$(pyenv root 2>/dev/null)/versions/3.10"*/bin/python \
            "$HOME/.pyenv/versions/3.10"*/bin/python python3.11; do
        # A pyenv shim exists for every version but fails unless that version is selected.
        if [ -n "$candidate" ] && "$candidate" -c \
                'import sys; assert sys.version_info[:2] in ((3, 10), (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "error: no Python 3.10 or 3.11 found for DeepSparse 1.8.0 (set PYTHON=...)" >&2
    exit 1
}

python="$(find_python)"
echo "DeepSparse venv: $venv (from $("$python" --version 2>&1), $python)"
"$python" -m venv "$venv"
# No telemetry or version check: the benchmark machine reaches package registries only.
export NM_DISABLE_ANALYTICS=1 NM_VERSION_CHECK=false
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "deepsparse==1.8.0"
"$venv/bin/python" -c "import deepsparse; print('deepsparse', deepsparse.__version__, 'ready')"
