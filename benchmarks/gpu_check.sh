#!/usr/bin/env bash
# GPU check of FGGB's batched CUDA path (issue 6). Run from the repository root on a machine
# with a CUDA device, after `pip install -e .` (or it sets PYTHONPATH to the repository root).
# Downloads nothing. Writes gpu_check.md and gpu_check.json to $OUT (or benchmarks/results/).
#
#   bash benchmarks/gpu_check.sh                       # SFace + IResNet-50, chunks 16,32,64,128
#   bash benchmarks/gpu_check.sh --models iresnet50    # one model
#   bash benchmarks/gpu_check.sh --dry-run --models sface --chunks 16 --rounds 1   # CPU only
#
# Exit status: 0 all checks pass; 1 a GPU result differs from the CPU one by more than 1e-4
# (relative); 3 no CUDA device (without --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
if [[ " $* " != *" --dry-run "* ]]; then
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
fi
"$PY" -c "import torch, captum, captum_fggb; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
exec "$PY" benchmarks/gpu_check.py "$@"
