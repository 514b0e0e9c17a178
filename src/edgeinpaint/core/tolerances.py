"""Every accuracy tolerance the toolkit enforces or tests against, in one place.

Export refuses a variant below its floor; tests compare against the same numbers.
"""

from __future__ import annotations

#: PSNR floors of the composited output of a precision variant vs FP32 (dB); export fails below them.
FLOORS_DB = {"fp16": 40.0, "bf16": 40.0, "int8": 30.0}
#: The fused model (and every other path that makes a picture) must match ``run``'s picture within
#: this many gray levels, for the weights' own composite.
FUSED_MAX_LEVELS = 1
#: ONNX Runtime vs PyTorch on the exported FP32 generators (max abs, [0, 1] outputs).
ONNX_PARITY = 1e-3
#: The float32 Canny graphs must agree with skimage to at least this F1 on the check images.
CANNY_FP32_F1_FLOOR = 0.999
#: Another backend's FP32 pictures vs ONNX Runtime CPU FP32 (dB, composited): GPUs may run FP32
#: convolutions in TF32 (TensorRT's and PyTorch's default on Ampere+), which costs a few dB.
BACKEND_FP32_FLOOR_DB = 45.0
