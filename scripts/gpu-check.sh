#!/usr/bin/env bash
# The prepared GPU check: doctor, torch-cuda parity against ONNX Runtime CPU FP32 (fp32/fp16/bf16),
# CUDA-graph replay over shapes A, B, A, paper-width throughput (CUDA events) and, where TensorRT is
# installed, doctor --selftest. Writes gpu-check.json and gpu-check.txt into OUT (default ./gpu-check).
#
#   scripts/gpu-check.sh [--cpu] [--out OUT]      (--cpu: a dry run of every code path on the CPU; CI runs it)
#
# Needs only what a lent GPU machine has (PyTorch with CUDA, onnxruntime, onnx, numpy, OpenCV, scikit-image,
# typer, rich, safetensors) and no network: nothing is installed or downloaded; the package runs from src/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
[ -x "$root/.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && python="$root/.venv/bin/python"
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$python" -m edgeinpaint.diagnostics.gpu_check "$@"
