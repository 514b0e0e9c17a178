"""The I/O contract shared by export, runtime, hosts and tests.

Tensors are NCHW float32 in [0, 1]. Masks: 1 = hole (white in files; any decoded value > 127 is a
hole), 0 = known. Gray uses skimage's ``rgb2gray`` coefficients. Graph inputs have H and W that are
multiples of :data:`SIZE_MULTIPLE`; the runtime pads (reflect) and crops back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: skimage.color.rgb2gray coefficients (ITU-R BT.709 luma), used everywhere gray is computed.
GRAY_COEFFS: tuple[float, float, float] = (0.2125, 0.7154, 0.0721)

#: Two stride-2 convolutions followed by two stride-2 transposed ones: H, W must divide by 4.
SIZE_MULTIPLE = 4

#: The smallest side the generators accept (7x7 reflect padding needs > 3 px after two downsamplings).
MIN_SIDE = 12

#: Value above which a decoded 8-bit mask pixel counts as hole.
MASK_THRESHOLD = 127

#: Pinned ONNX opset for every exported graph.
OPSET = 17
#: ONNX IR version of every graph we build by hand. onnx.helper stamps its own (newest) IR, which
#: older runtimes refuse ("Unsupported model IR version"): ONNX Runtime 1.18, the oldest this
#: package allows, reads IR <= 10. IR 8 covers opsets up to 18 (onnx docs/Versioning.md).
IR_VERSION = 8


class Precision(str, enum.Enum):
    """Numeric precision a model runs at.

    FP32, FP16 and INT8 live in the ONNX file itself (FP16 casts, INT8 Q/DQ). BF16 is an inference
    precision of the FP32 graph on hardware with native BF16 (OpenVINO's CPU plugin on
    AVX512_BF16/AMX, torch-cuda autocast on compute capability >= 8.0); export measures it.
    """

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"
    BF16 = "bf16"


class Backend(str, enum.Enum):
    """Inference backends the runtime knows (``auto`` picks the fastest available)."""

    AUTO = "auto"
    TENSORRT = "tensorrt"
    ONNXRUNTIME_TENSORRT = "onnxruntime-tensorrt"
    ONNXRUNTIME_CUDA = "onnxruntime-cuda"
    ONNXRUNTIME = "onnxruntime"
    OPENVINO = "openvino"
    TORCH = "torch"
    TORCH_CUDA = "torch-cuda"


class EdgeSource(str, enum.Enum):
    """Which edges the inpaint generator receives.

    ``composite`` = predicted edges in the hole, Canny edges outside (what it was trained on);
    ``raw`` = the edge generator's output everywhere (the official test script).
    """

    COMPOSITE = "composite"
    RAW = "raw"


class CannyVariant(str, enum.Enum):
    """Which implementation of skimage.feature.canny runs; one name in every layer.

    ``fast`` (default): the float32 graph with bit-parallel hysteresis (``canny.fast.onnx``),
    faster than skimage on CPUs; F1 0.99999 against skimage on photos (pixels whose float32
    magnitude lies within rounding of a threshold or an NMS tie may differ).
    ``exact``: the float64 graph (``canny.onnx``) in scipy's summation order, bit-identical with
    skimage. ``tensorrt``: the float32 graph with a MaxPool hysteresis and no bitwise ops
    (``canny.fp32.onnx``), the form TensorRT's ONNX parser accepts; the same edges as ``fast``.
    ``reference``: skimage itself (no graph).
    """

    FAST = "fast"
    EXACT = "exact"
    TENSORRT = "tensorrt"
    REFERENCE = "reference"


@dataclass(frozen=True)
class CannyGraph:
    """How one Canny variant is built and recorded.

    Attributes:
        file: file name in the artifacts directory. tag: its ``precision`` field in the manifest.
        exact: float64 in scipy's summation order (else float32). hysteresis: "bits" (packed
            rows, opset 18 bitwise ops) or "maxpool".
    """

    file: str
    tag: str
    exact: bool
    hysteresis: str


#: The graph behind every Canny variant except ``reference``: the one table export, runtime,
#: benchmarks and the C++ host's manifest reader agree on.
CANNY_GRAPHS: dict[CannyVariant, CannyGraph] = {
    CannyVariant.EXACT: CannyGraph("canny.onnx", "fp64", exact=True, hysteresis="bits"),
    CannyVariant.FAST: CannyGraph("canny.fast.onnx", "fast", exact=False, hysteresis="bits"),
    CannyVariant.TENSORRT: CannyGraph("canny.fp32.onnx", "fp32", exact=False, hysteresis="maxpool"),
}


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output.

    Attributes:
        name: ONNX tensor name.
        channels: size of axis 1 (axes 0, 2, 3 are dynamic batch, height, width).
        dtype: numpy dtype name at the graph boundary.
        value_range: expected closed value range.
        meaning: one line for manifests and ``--help`` texts.
    """

    name: str
    channels: int
    dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    meaning: str = ""

    def to_json(self) -> dict[str, object]:
        """Manifest form: NCHW shape with symbolic N, H, W."""
        return {
            "name": self.name,
            "shape": ["N", self.channels, "H", "W"],
            "dtype": self.dtype,
            "range": list(self.value_range),
            "meaning": self.meaning,
        }


EDGE_GENERATOR_INPUTS = (
    TensorSpec("gray", 1, meaning="grayscale image (rgb2gray), unmasked"),
    TensorSpec("edges", 1, meaning="Canny edges of the known region, {0,1}"),
    TensorSpec("mask", 1, meaning="1 = hole, 0 = known"),
)
EDGE_GENERATOR_OUTPUTS = (TensorSpec("edges_pred", 1, meaning="edge probability map (sigmoid)"),)

INPAINT_GENERATOR_INPUTS = (
    TensorSpec("image", 3, meaning="RGB image, unmasked"),
    TensorSpec("edges", 1, meaning="edge map guiding the hole (composite or raw prediction)"),
    TensorSpec("mask", 1, meaning="1 = hole, 0 = known"),
)
INPAINT_GENERATOR_OUTPUTS = (TensorSpec("inpainted", 3, meaning="raw generator output (tanh+1)/2"),)

CANNY_INPUTS = (
    TensorSpec("gray", 1, meaning="grayscale image in [0,1]"),
    TensorSpec("known", 1, meaning="1 = known pixel (Canny mask), 0 = hole"),
)
CANNY_OUTPUTS = (TensorSpec("edges", 1, meaning="binary Canny edges, {0,1}"),)
