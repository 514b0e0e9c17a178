"""skimage.feature.canny as an ONNX graph: one exact Canny for ONNX Runtime, TensorRT and the fused model.

The graph reproduces ``skimage.feature.canny(gray, sigma, low, high, mask=known)`` step by step
(scikit-image ``skimage/feature/_canny.py`` and scipy.ndimage's ``gaussian_filter`` / ``sobel``):

1. masked Gaussian: G(gray·known) / (G(known) + eps), separable, radius int(4σ + 0.5), zero padding
   (scipy ``mode='constant'``) — so unknown pixels are ignored rather than treated as black;
2. unnormalised 3x3 Sobel with scipy's ``reflect`` border, which for a one-pixel pad is ONNX
   ``Pad(mode='edge')`` (ONNX ``reflect`` would skip the edge pixel);
3. bilinear non-maximum suppression in four sectors, written as selects over the eight shifted
   magnitude maps (verified against skimage's Cython kernel, ties included);
4. the allowed region: ``known`` eroded by 3x3 with the border counting as outside (with known = 1
   everywhere this is exactly skimage's mask=None frame suppression);
5. hysteresis in an ONNX ``Loop``: the strong pixels grow by 3x3 dilation inside the candidate
   set until nothing changes, which is exactly skimage's "keep 8-connected components with a
   strong pixel" (a fixed iteration count would not be).

Sigma and thresholds are baked in at export: the Gaussian's size depends on sigma, static kernels
let TensorRT pick real convolutions, and the weights fix these values anyway (the manifest records
them).

Variants. The exact graph (``canny.onnx``, ONNX Runtime) computes in float64 in scipy's summation
order and is bit-identical with skimage. The float32 graph uses Conv kernels; pixels whose
magnitude lies within float32 rounding of a threshold or an NMS tie can differ (F1 0.99999 on
photos, ≥ 0.999 asserted in tests). Hysteresis comes in two forms with identical results: rows
packed 32 pixels per uint32 word (opset 18 bitwise ops; ONNX Runtime: ``canny.onnx`` and the
runtime's default ``canny.fast.onnx``) and a MaxPool loop (``canny.fp32.onnx`` for TensorRT, whose
parser lacks BitShift, and the fused model). No variant uses ``Where``: ONNX Runtime's kernel for
it is ~15x slower than a Mul, so selects are exact arithmetic.

TensorRT ONNX parser support for the float32 graph (onnx-tensorrt operators.md, TensorRT 10.x):
Conv, Pad (constant/edge), MaxPool, Mul/Add/Sub/Div/Sqrt/Abs, Greater/GreaterOrEqual/Less/LessOrEqual/
Equal, And/Or, Cast, Slice, Split, ReduceMax and Loop (with a condition) are listed as supported;
verified on hardware is still open (no GPU here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core import specs

#: Max number of loop iterations (a safety bound; convergence is the real exit).
MAX_HYSTERESIS_ITERATIONS = 100_000
#: Hysteresis implementations (identical results): bit-parallel words or float MaxPool.
HYSTERESIS = ("bits", "maxpool")
#: 3x3 dilations per loop iteration (one convergence test each).
DILATIONS_PER_ITERATION = 4


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian: radius int(truncate·σ + 0.5), normalised to sum 1."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (float(sigma) ** 2) * x**2)
    return phi / phi.sum()


@dataclass
class _Builder:
    """Minimal ONNX graph builder: unique names, float32 constants as initializers."""

    nodes: list[Any] = field(default_factory=list)
    inits: list[Any] = field(default_factory=list)
    count: int = 0
    prefix: str = ""

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{self.prefix}{hint}_{self.count}"

    def const(self, value: Any, dtype: Any = np.float32, hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, outputs: int = 1, **attrs: Any) -> Any:
        from onnx import helper

        outs = [self.name(hint or op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if outputs == 1 else outs


def _shift(b: _Builder, padded: str, dx: int, dy: int) -> str:
    """magnitude[x + dx, y + dy] from the magnitude zero-padded by one pixel (no shape arithmetic)."""
    ends = [(1 + d - 2) if d < 1 else 2**62 for d in (dx, dy)]
    return b.op(
        "Slice",
        [padded, b.const([1 + dx, 1 + dy], np.int64), b.const(ends, np.int64), b.const([2, 3], np.int64)],
        hint=f"m{dx:+d}{dy:+d}",
    )


def _taps(b: _Builder, x: str, axis: int, radius: int, mode: str) -> tuple[str, list[str]]:
    """(x, [x shifted by -radius..+radius along ``axis``]) after padding that axis by ``radius``."""
    pads = [0] * 8
    pads[axis] = pads[axis + 4] = radius
    padded = b.op("Pad", [x, b.const(pads, np.int64)], mode=mode)
    shifted = []
    for k in range(2 * radius + 1):
        end = k - 2 * radius
        ends = [end] if end < 0 else [2**62]
        shifted.append(
            b.op("Slice", [padded, b.const([k], np.int64), b.const(ends, np.int64), b.const([axis], np.int64)])
        )
    return padded, shifted


def _correlate1d(b: _Builder, x: str, weights: np.ndarray, axis: int, mode: str, dtype: Any) -> str:
    """scipy.ndimage.correlate1d for a symmetric or antisymmetric kernel, in scipy's summation order.

    scipy computes ``out = in[i]·w0`` then adds ``(in[i−j] ± in[i+j])·w_j`` from the outermost tap
    inwards (ni_filters.c, NI_Correlate1D); doing the same in float64 gives bit-identical sums.
    """
    r = (weights.size - 1) // 2
    antisymmetric = bool(np.allclose(weights, -weights[::-1])) and weights[r] == 0
    _, taps = _taps(b, x, axis, r, mode)
    acc = b.op("Mul", [taps[r], b.const(weights[r], dtype)])
    for j in range(r, 0, -1):
        pair = b.op("Sub" if antisymmetric else "Add", [taps[r - j], taps[r + j]])
        acc = b.op("Add", [acc, b.op("Mul", [pair, b.const(weights[r - j], dtype)])])
    return acc


def _sobel_exact(b: _Builder, x: str, axis: int) -> str:
    """scipy.ndimage.sobel(x, axis) in float64, bit-identical with fewer passes than two correlate1d.

    scipy correlates [-1, 0, 1] along ``axis`` (antisymmetric branch: x·0 + (x[i+1] − x[i−1])·1)
    then [1, 2, 1] along the other axis (x·2 + (x[i−1] + x[i+1])·1). Multiplying by 1 and adding
    +0 are exact, and x·2 == x + x, so the same values come from a Sub and two Adds.
    """
    _, (before, _, after) = _taps(b, x, axis, 1, "edge")
    d = b.op("Sub", [after, before])
    _, (before, centre, after) = _taps(b, d, 5 - axis, 1, "edge")
    return b.op("Add", [b.op("Add", [centre, centre]), b.op("Add", [before, after])])


def build_canny_nodes(
    b: _Builder,
    gray: str,
    known: str,
    sigma: float,
    low: float,
    high: float,
    exact: bool = True,
    hysteresis: str | None = None,
) -> str:
    """Append the Canny subgraph to ``b``; returns the name of the (N, 1, H, W) float32 {0, 1} edge map.

    Args:
        gray: (N, 1, H, W) in [0, 1]: float64 when ``exact``, else float32.
        known: (N, 1, H, W) float32, 1 = known pixel.
        exact: float64 with scipy's summation order (bit-exact with skimage; ONNX Runtime CPU),
            or float32 with Conv kernels (TensorRT, which has no float64, and the fused model).
        hysteresis: "bits" (packed words, opset 18, ONNX Runtime) or "maxpool" (TensorRT);
            default: bits for the exact graph, maxpool otherwise. Same edges either way.
    """
    from onnx import TensorProto

    hysteresis = hysteresis or ("bits" if exact else "maxpool")
    if hysteresis not in HYSTERESIS:
        raise ValueError(f"hysteresis {hysteresis!r}: expected one of {HYSTERESIS}")

    dtype = np.float64 if exact else np.float32
    onnx_dtype = TensorProto.DOUBLE if exact else TensorProto.FLOAT
    kernel = gaussian_kernel(sigma)
    r = (kernel.size - 1) // 2
    known_d = b.op("Cast", [known], to=onnx_dtype) if exact else known

    # 1. masked Gaussian (scipy filters axis 0 then axis 1; zero padding = mode 'constant').
    if exact:

        def blur(x: str) -> str:
            return _correlate1d(b, _correlate1d(b, x, kernel, 2, "constant", dtype), kernel, 3, "constant", dtype)

    else:
        # Both channels (image, mask) in one grouped Conv per axis: half the calls of four.
        kv = b.const(np.tile(kernel.astype(np.float32).reshape(1, 1, -1, 1), (2, 1, 1, 1)), hint="gauss_v")
        kh = b.const(np.tile(kernel.astype(np.float32).reshape(1, 1, 1, -1), (2, 1, 1, 1)), hint="gauss_h")

        def blur(x: str) -> str:
            vertical = b.op("Conv", [x, kv], pads=[r, 0, r, 0], group=2)
            return b.op("Conv", [vertical, kh], pads=[0, r, 0, r], group=2)

    masked = b.op("Mul", [gray, known_d])
    # Blur image and mask as two channels of one tensor: half the ops, same arithmetic.
    both = blur(b.op("Concat", [masked, known_d], axis=1))
    blurred_image, blurred_known = b.op("Split", [both, b.const([1, 1], np.int64)], axis=1, outputs=2)
    # eps = float64 machine epsilon, as skimage (its value only matters where G(known) == 0).
    bleed = b.op("Add", [blurred_known, b.const(np.finfo(np.float64).eps, dtype)])
    smoothed = b.op("Div", [blurred_image, bleed], hint="smoothed")

    # 2. Sobel with scipy 'reflect' (half-sample symmetric) border == ONNX 'edge' for one pixel.
    if exact:
        isobel, jsobel = _sobel_exact(b, smoothed, 2), _sobel_exact(b, smoothed, 3)
    else:
        sob = np.zeros((2, 1, 3, 3), np.float32)
        sob[0, 0] = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]  # isobel: derivative along axis 0 (rows)
        sob[1, 0] = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]  # jsobel: derivative along axis 1 (cols)
        padded = b.op("Pad", [smoothed, b.const([0, 0, 1, 1, 0, 0, 1, 1], np.int64)], mode="edge")
        grads = b.op("Conv", [padded, b.const(sob, hint="sobel")])
        isobel, jsobel = b.op("Split", [grads, b.const([1, 1], np.int64)], axis=1, outputs=2)
    mag = b.op(
        "Sqrt",
        [b.op("Add", [b.op("Mul", [isobel, isobel]), b.op("Mul", [jsobel, jsobel])])],
        hint="magnitude",
    )

    # 3. Non-maximum suppression (skimage _nonmaximum_suppression_bilinear).
    mpad = b.op("Pad", [mag, b.const([0, 0, 1, 1, 0, 0, 1, 1], np.int64)], mode="constant")
    s = {(dx, dy): _shift(b, mpad, dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy}
    zero, one = b.const(0.0, dtype), b.const(1.0, dtype)
    ai, aj = b.op("Abs", [isobel]), b.op("Abs", [jsobel])
    up, down = b.op("GreaterOrEqual", [isobel, zero]), b.op("LessOrEqual", [isobel, zero])
    left, right = b.op("LessOrEqual", [jsobel, zero]), b.op("GreaterOrEqual", [jsobel, zero])
    c1 = b.op("Or", [b.op("And", [up, right]), b.op("And", [down, left])])
    c2 = b.op("Or", [b.op("And", [down, right]), b.op("And", [up, left])])
    i_ge_j = b.op("GreaterOrEqual", [ai, aj])
    i_le_j = b.op("LessOrEqual", [ai, aj])
    # Safe ratios: where a denominator is 0 the pixel has magnitude 0 and fails m >= low anyway.
    # ONNX Runtime's Where costs ~15 float64 Muls at 512² (a generic broadcasting kernel), so the
    # selects below are arithmetic: a·c + b·(1−c) with c in {0, 1} is exactly a or b for finite
    # values (x·1 = x, x·0 = ±0, x ± 0 = x), and every operand here is finite.
    safe_ai = b.op("Add", [ai, b.op("Cast", [b.op("Equal", [ai, zero])], to=onnx_dtype)])
    safe_aj = b.op("Add", [aj, b.op("Cast", [b.op("Equal", [aj, zero])], to=onnx_dtype)])
    j_over_i = b.op("Div", [aj, safe_ai])
    i_over_j = b.op("Div", [ai, safe_aj])

    def flag(cond: str) -> tuple[str, str]:
        f = b.op("Cast", [cond], to=onnx_dtype)
        return f, b.op("Sub", [one, f])

    def select(cond: tuple[str, str], x: str, y: str) -> str:
        return b.op("Add", [b.op("Mul", [x, cond[0]]), b.op("Mul", [y, cond[1]])])

    f_ge, f_le, f_c1 = flag(i_ge_j), flag(i_le_j), flag(c1)
    w1 = select(f_ge, j_over_i, i_over_j)
    n11 = select(f_ge, s[(1, 0)], s[(0, 1)])
    n21 = select(f_ge, s[(-1, 0)], s[(0, -1)])
    w2 = select(f_le, i_over_j, j_over_i)
    m11 = select(f_le, s[(0, 1)], s[(-1, 0)])
    m21 = select(f_le, s[(0, -1)], s[(1, 0)])
    wgt = select(f_c1, w1, w2)
    a1 = select(f_c1, n11, m11)
    a2 = select(f_c1, s[(1, 1)], s[(-1, 1)])
    b1 = select(f_c1, n21, m21)
    b2 = select(f_c1, s[(-1, -1)], s[(1, -1)])
    one_minus_w = b.op("Sub", [one, wgt])

    def interp(x2: str, x1: str) -> str:
        return b.op("Add", [b.op("Mul", [x2, wgt]), b.op("Mul", [x1, one_minus_w])])

    keep = b.op("And", [b.op("LessOrEqual", [interp(a2, a1), mag]), b.op("LessOrEqual", [interp(b2, b1), mag])])
    keep = b.op("And", [keep, b.op("Or", [c1, c2])])

    # 4. Allowed region: known eroded by 3x3, outside the image counts as unknown.
    one32 = b.const(1.0)
    unknown_padded = b.op(
        "Pad",
        [b.op("Sub", [one32, known]), b.const([0, 0, 1, 1, 0, 0, 1, 1], np.int64), one32],
        mode="constant",
    )
    touched = b.op("MaxPool", [unknown_padded], kernel_shape=[3, 3], strides=[1, 1])
    allowed = b.op("Less", [touched, b.const(0.5)])
    # skimage's NMS kernel takes the low threshold as a C float: it compares against float32(low)
    # (0.1 -> 0.10000000149…); the high threshold is compared by numpy in full precision.
    # skimage's NMS kernel (_canny_cy.pyx) also replaces a zero low threshold by 1e-14 ("so
    # m >= low_threshold is False anywhere m == 0"), itself through the C float.
    low_f32 = np.float32(low) if np.float32(low) != 0 else np.float32(1e-14)
    low_c = b.const(np.float64(low_f32), dtype)
    high_c = b.const(high, dtype)
    candidate = b.op("And", [b.op("And", [keep, allowed]), b.op("GreaterOrEqual", [mag, low_c])], hint="candidate")
    strong = b.op("And", [candidate, b.op("GreaterOrEqual", [mag, high_c])], hint="strong")

    # 5. Hysteresis: grow the strong set inside the candidate set by 3x3 dilation until nothing
    #    changes. The fixed point is exactly the union of 8-connected candidate components that
    #    contain a strong pixel (skimage's ndi.label formulation). (Label propagation with pointer
    #    jumping was measured too: on photos it needed as many iterations, each 4x dearer.)
    if hysteresis == "bits":
        return _hysteresis_bits(b, candidate, strong)
    return _hysteresis_maxpool(b, candidate, strong)


def _loop(b: _Builder, body: _Builder, state: str, grown: str, state_type: int, start: str) -> str:
    """ONNX Loop carrying one tensor until the body reports no change (``grown`` == input)."""
    from onnx import TensorProto, helper

    body.nodes.append(helper.make_node("Identity", [grown], ["hyst_edges_out"]))
    body_graph = helper.make_graph(
        body.nodes,
        "hysteresis_body",
        [
            helper.make_tensor_value_info("hyst_iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("hyst_cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info(state, state_type, None),
        ],
        [
            helper.make_tensor_value_info("hyst_cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("hyst_edges_out", state_type, None),
        ],
        initializer=body.inits,
    )
    trip = b.const(MAX_HYSTERESIS_ITERATIONS, np.int64, "trip")
    cond = b.const(True, np.bool_, "cond")
    return b.op("Loop", [trip, cond, start], hint="edges", body=body_graph)


def _hysteresis_maxpool(b: _Builder, candidate: str, strong: str) -> str:
    """Hysteresis on float maps: MaxPool 3x3 then ·candidate (TensorRT-friendly, used by the fp32 graph)."""
    from onnx import TensorProto, helper

    cand_f = b.op("Cast", [candidate], to=TensorProto.FLOAT)
    strong_f = b.op("Cast", [strong], to=TensorProto.FLOAT)
    body = _Builder(prefix="hyst_")
    grown = "hyst_edges_in"
    for _ in range(DILATIONS_PER_ITERATION):
        grown = body.op(
            "Mul",
            [body.op("MaxPool", [grown], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]), cand_f],
        )
    diff = body.op("Sub", [grown, "hyst_edges_in"])
    changed = body.op("Greater", [body.op("ReduceMax", [diff], keepdims=0), body.const(0.0)])
    body.nodes.append(helper.make_node("Identity", [changed], ["hyst_cond_out"]))
    return _loop(b, body, "hyst_edges_in", grown, TensorProto.FLOAT, strong_f)


#: Pixels per packed word in the bit-parallel hysteresis.
WORD_BITS = 32


def _hysteresis_bits(b: _Builder, candidate: str, strong: str) -> str:
    """Bit-parallel hysteresis (ONNX Runtime): 32 pixels per uint32 word, one dilation ≈ 17 tiny ops.

    A MaxPool dilation touches every pixel as a float (0.12 ms at 512² on 2 cores, ~60 of them per
    photo); on packed rows a 3x3 dilation is shifts and ORs over W/32 words, so the loop costs
    little more than its op dispatch. Rows are packed along W (bit k of word j = pixel 32·j + k),
    after padding W to a multiple of 32 with non-candidates. Bitwise ops need opset 18; this graph
    only runs on ONNX Runtime (the float32 graph keeps MaxPool for TensorRT, whose parser lacks
    BitShift).
    """
    from onnx import TensorProto, helper

    # Pad W to a multiple of WORD_BITS: pad = (-W) mod 32, computed from the runtime shape.
    width = b.op("Slice", [b.op("Shape", [candidate]), b.const([3], np.int64), b.const([4], np.int64)])
    extra = b.op("Mod", [b.op("Sub", [b.const([WORD_BITS], np.int64), width]), b.const([WORD_BITS], np.int64)])
    zeros7 = b.const([0] * 7, np.int64)
    pads = b.op("Concat", [zeros7, extra], axis=0)

    powers = b.const(2 ** np.arange(WORD_BITS), np.int64)

    def pack(x: str) -> str:
        # (N, 1, H, W) bool -> (N, 1, H, Wp/32) uint32: Σ bit·2^k in int64 (ReduceSum has no uint32).
        f = b.op("Pad", [b.op("Cast", [x], to=TensorProto.INT64), pads], mode="constant")
        f = b.op("Mul", [b.op("Reshape", [f, b.const([0, 0, 0, -1, WORD_BITS], np.int64)]), powers])
        return b.op("Cast", [b.op("ReduceSum", [f, b.const([-1], np.int64)], keepdims=0)], to=TensorProto.UINT32)

    cand_w, strong_w = pack(candidate), pack(strong)
    body = _Builder(prefix="hyst_")
    one = body.const(1, np.uint32)
    top = body.const(WORD_BITS - 1, np.uint32)

    def shift(x: str, amount: str, direction: str) -> str:
        return body.op("BitShift", [x, amount], direction=direction)

    def neighbours(x: str, axis: int) -> tuple[str, str]:
        # x shifted by one word/row towards +axis and -axis, zeros entering (outside = no edge).
        pad = [0] * 8
        pad[axis], pad[axis + 4] = 1, 1
        padded = body.op("Pad", [x, body.const(pad, np.int64)], mode="constant")
        axes = body.const([axis], np.int64)
        before = body.op("Slice", [padded, body.const([0], np.int64), body.const([-2], np.int64), axes])
        after = body.op("Slice", [padded, body.const([2], np.int64), body.const([2**62], np.int64), axes])
        return before, after

    grown = "hyst_edges_in"
    for _ in range(DILATIONS_PER_ITERATION):
        left, right = neighbours(grown, 3)  # word j-1 and word j+1 of the same row
        row = body.op("BitwiseOr", [shift(grown, one, "LEFT"), shift(grown, one, "RIGHT")])
        carries = body.op("BitwiseOr", [shift(left, top, "RIGHT"), shift(right, top, "LEFT")])
        row = body.op("BitwiseOr", [body.op("BitwiseOr", [row, carries]), grown])
        up, down = neighbours(row, 2)
        # cand_w is read from the outer scope (ONNX subgraphs see outer values by name).
        grown = body.op("BitwiseAnd", [body.op("BitwiseOr", [body.op("BitwiseOr", [row, up]), down]), cand_w])
    # Growth only adds bits, so a word changed iff its value grew.
    as64 = [body.op("Cast", [x], to=TensorProto.INT64) for x in (grown, "hyst_edges_in")]
    changed = body.op("Greater", [body.op("ReduceMax", [body.op("Sub", as64)], keepdims=0), body.const(0, np.int64)])
    body.nodes.append(helper.make_node("Identity", [changed], ["hyst_cond_out"]))
    words = _loop(b, body, "hyst_edges_in", grown, TensorProto.UINT32, strong_w)

    # Unpack: bit k of each word -> pixel, drop the padding columns.
    column = b.op("Unsqueeze", [words, b.const([-1], np.int64)])  # (N, 1, H, Wp/32, 1)
    shifted = b.op("BitShift", [column, b.const(np.arange(WORD_BITS), np.uint32)], direction="RIGHT")
    bits = b.op("BitwiseAnd", [shifted, b.const(1, np.uint32)])
    flat = b.op("Reshape", [b.op("Cast", [bits], to=TensorProto.FLOAT), b.const([0, 0, 0, -1], np.int64)])
    return b.op("Slice", [flat, b.const([0], np.int64), width, b.const([3], np.int64)])


def build_canny_model(
    sigma: float = 2.0,
    low: float = 0.1,
    high: float = 0.2,
    rgb_input: bool = False,
    exact: bool = True,
    opset: int = specs.OPSET,
    hysteresis: str | None = None,
) -> Any:
    """The Canny ONNX model.

    Args:
        sigma, low, high: baked Canny settings (skimage semantics for a [0, 1] image).
        rgb_input: take ``image`` (N, 3, H, W) float32 RGB and convert with the rgb2gray
            coefficients instead of ``gray`` (N, 1, H, W).
        exact: float64 arithmetic in scipy's order (bit-exact with skimage; ``gray`` is float64)
            or float32 with Conv kernels (TensorRT, fused model).
        opset: ONNX opset (raised to 18 for the bit-parallel hysteresis).
        hysteresis: see :func:`build_canny_nodes`.

    Returns:
        onnx.ModelProto with inputs ``gray`` (or ``image``) and ``known`` (1 = known), output
        ``edges`` (N, 1, H, W) float32 in {0, 1}.
    """
    import onnx
    from onnx import TensorProto, helper

    b = _Builder()
    in_name = "image" if rgb_input else "gray"
    gray = in_name
    in_type = TensorProto.DOUBLE if exact and not rgb_input else TensorProto.FLOAT
    if rgb_input:
        coeffs = b.const(np.asarray(specs.GRAY_COEFFS, np.float32).reshape(1, 3, 1, 1), hint="rgb2gray")
        gray = b.op("Conv", [in_name, coeffs], hint="gray")
        if exact:
            gray = b.op("Cast", [gray], to=TensorProto.DOUBLE)
    hysteresis = hysteresis or ("bits" if exact else "maxpool")
    edges = build_canny_nodes(b, gray, "known", sigma, low, high, exact=exact, hysteresis=hysteresis)
    b.nodes.append(helper.make_node("Identity", [edges], ["edges"]))
    dims = ["N", 3 if rgb_input else 1, "H", "W"]
    graph = helper.make_graph(
        b.nodes,
        "canny",
        [
            helper.make_tensor_value_info(in_name, in_type, dims),
            helper.make_tensor_value_info("known", TensorProto.FLOAT, ["N", 1, "H", "W"]),
        ],
        [helper.make_tensor_value_info("edges", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        initializer=b.inits,
    )
    # The exact graph's bit-parallel hysteresis uses opset-18 bitwise ops (ONNX Runtime only).
    opset = max(opset, 18) if hysteresis == "bits" else opset
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgeinpaint", ir_version=specs.IR_VERSION
    )
    model.doc_string = f"skimage-exact Canny: sigma={sigma} low={low} high={high}"
    for key, value in (("sigma", sigma), ("low", low), ("high", high), ("exact", exact)):
        entry = model.metadata_props.add()
        entry.key, entry.value = f"canny_{key}", repr(float(value))
    entry = model.metadata_props.add()
    entry.key, entry.value = "canny_hysteresis", hysteresis
    onnx.checker.check_model(model, full_check=True)
    return model


def save_canny_model(
    path: Path,
    sigma: float,
    low: float,
    high: float,
    exact: bool = True,
    opset: int = specs.OPSET,
    hysteresis: str | None = None,
) -> None:
    """Write a Canny graph with a gray input (``canny.onnx`` is the exact float64 one)."""
    import onnx

    onnx.save(build_canny_model(sigma, low, high, exact=exact, opset=opset, hysteresis=hysteresis), str(path))
