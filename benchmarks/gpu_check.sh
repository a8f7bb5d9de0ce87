#!/usr/bin/env bash
# The device check: run at once by any session that has a GPU (one H100/H200; under 8 minutes).
#
#   benchmarks/gpu_check.sh           on the GPU; results in benchmarks/results/ (commit them)
#   benchmarks/gpu_check.sh --tiny    the same script on the CPU in about a minute (CI runs it);
#                                     results in benchmarks/results/tiny/ (not committed)
#
# It installs nothing beyond the README's set-up (python3 dev.py setup) and runs, in order:
#   (a) the device path against the CPU torch engine, float64, on random networks (gpu_check.py equality)
#   (b) one epoch of examples/yin_yang.yaml on the device, its host synchronisations, and a resume
#       of its checkpoint on the CPU (gpu_check.py epoch)
#   (c) benchmarks/delay_scaling.py at the paper's size (700-256-256-20, batch 256, T 1127) for the
#       engine and DCLS at D in {25, 100, 200, 400, 512}, each point in its own process
# and exits non-zero when (a) or (b) fails. Every part writes its JSON as soon as it finishes, so a
# run cut short still leaves what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--tiny" ]; then
    device=cpu; out=benchmarks/results/tiny; tiny=(--tiny); nets=2
    scaling=(--config tiny --delays 25,512 --repeats 1 --warmup 0 --timeout 120)
else
    device=cuda; out=benchmarks/results; tiny=(); nets=20
    scaling=(--config paper --delays 25,100,200,400,512 --repeats 3 --warmup 1 --timeout 100)
fi
python3 dev.py setup > /dev/null
py=.venv/bin/python
mkdir -p "$out"
start=$(date +%s)
status=0
"$py" benchmarks/gpu_check.py environment --device "$device" --out "$out/gpu_check_environment.json"
"$py" benchmarks/gpu_check.py equality --device "$device" --nets "$nets" "${tiny[@]}" \
    --out "$out/gpu_check_equality.json" || status=1
echo "equality done after $(( $(date +%s) - start )) s"
"$py" benchmarks/gpu_check.py epoch --device "$device" --config examples/yin_yang.yaml "${tiny[@]}" \
    --out "$out/gpu_check_epoch.json" || status=1
echo "epoch done after $(( $(date +%s) - start )) s"
"$py" benchmarks/delay_scaling.py --device "$device" --models engine,dcls "${scaling[@]}" \
    --out "$out/delay_scaling_$device.json" > /dev/null
echo "delay scaling done after $(( $(date +%s) - start )) s; results in $out/"
exit $status
