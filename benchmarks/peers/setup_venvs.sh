#!/usr/bin/env bash
# Build the two virtual environments that the peer libraries run in (benchmarks/quality.py uses them).
#
#   .venv-peers   implicit, scikit-surprise, cornac, lenskit 2025.8.1 (they install together beside torch)
#   .venv-recbole RecBole, which needs numpy<2 and pandas<3 and so cannot share the first venv
#
# torch is installed FIRST and pinned to 2.13.0 (CPU build) in both, so that no later package pulls a
# multi-GB CUDA build or a different torch. Usage (from anywhere):
#   bash benchmarks/peers/setup_venvs.sh [peers|recbole|all]     (default all)
# Both folders are gitignored; re-running the script is idempotent (pip skips what is there).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
WHAT="${1:-all}"
TORCH="torch==2.13.0"

make_venv() {
  local dir="$1"
  test -x "$dir/bin/python" || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  "$dir/bin/python" -m pip install -q "$TORCH"
}

if [[ "$WHAT" == all || "$WHAT" == peers ]]; then
  V="$REPO/.venv-peers"
  make_venv "$V"
  "$V/bin/python" -m pip install -q "$TORCH" implicit scikit-surprise cornac "lenskit==2025.8.1" \
      numpy pandas pyarrow polars
  "$V/bin/python" -c "import implicit, surprise, cornac, lenskit, torch; print('peers venv ok: torch', torch.__version__)"
fi

if [[ "$WHAT" == all || "$WHAT" == recbole ]]; then
  V="$REPO/.venv-recbole"
  make_venv "$V"
  # recbole's own requirements, bounded to what it still runs with: numpy<2 (np.float etc. removed in 2),
  # pandas<3 (the shared split files are .npz, so no pyarrow is needed here).
  "$V/bin/python" -m pip install -q "$TORCH" recbole "numpy<2" "pandas<3"
  TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "$V/bin/python" -c "import recbole, torch; print('recbole venv ok:', recbole.__version__, 'torch', torch.__version__)"
fi
