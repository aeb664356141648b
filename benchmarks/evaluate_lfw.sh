#!/usr/bin/env bash
# Deletion/Insertion evaluation of every registered method on the shared LFW slice (folds 1-2,
# first 150 genuine + first 150 impostor pairs in pairs.txt order), one method per invocation,
# merged into one JSON with --append (the Random floor runs with the first invocation).
#
#   benchmarks/evaluate_lfw.sh sface        benchmarks/results/deletion_insertion_sface
#   benchmarks/evaluate_lfw.sh dlib_resnet  benchmarks/results/deletion_insertion_dlib
#
# Settings of the expensive methods are reduced so that the run fits on 2 shared CPU cores; they
# are recorded per method in the JSON (methods.<name>.options.init). LFW=path/to/lfw overrides
# the data folder (default ../shared/lfw next to the repository).
set -euo pipefail
MODEL=${1:?model name}
OUT=${2:?output prefix}
LFW=${LFW:-$(dirname "$0")/../../shared/lfw}
LIMIT=${LIMIT:-150}
METHODS=${METHODS:-"FGGB xSSAB CorrRISE LIME Saliency IntegratedGradients InputXGradient GuidedBackprop LayerGradCam Occlusion KernelShap"}
declare -A OPTS=(
  [CorrRISE]="--option CorrRISE.n_masks=200"
  [LIME]="--option LIME.n_samples=100"
  [KernelShap]="--option KernelShap.n_samples=100"
  [IntegratedGradients]="--option IntegratedGradients.n_steps=16"
  [Occlusion]="--option Occlusion.stride=16"
)
for method in $METHODS; do
  echo "== $method $(date -u +%FT%TZ)"
  # shellcheck disable=SC2086
  python -m captum_fggb evaluate --model "$MODEL" --pairs "$LFW/pairs.txt" --root "$LFW/aligned" \
    --folds 1 2 --limit "$LIMIT" --methods "$method" ${OPTS[$method]:-} \
    --output "$OUT.json" --append --table "$OUT.md" --plot "$OUT.png" --no-progress
done
echo "== done $(date -u +%FT%TZ)"
