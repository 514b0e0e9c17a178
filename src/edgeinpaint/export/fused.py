"""The fused single-file model: image + mask in, composited image (and the raw output) out.

Canny (float32 graph), padding to a multiple of 4, both generators, the edge composite and the
paste composite all live in one ONNX graph, so a host (C++, a server) needs no pre/post code. With
``uint8_io`` the graph takes ``image`` (N, H, W, 3) uint8 and ``mask`` (N, H, W, 1) uint8 (> 127 =
hole) and returns (N, H, W, 3) uint8, rounded, known pixels byte-identical.

The graph's ``output`` is the paper's paste composite. A Poisson (gradient-domain) composite is a
sparse linear solve per image, which ONNX has no operator for (an unrolled iterative solver would
need hundreds of iterations to reach one gray level on a 256² hole), so the graph also returns
``raw``, the generator's output at the image's size: for weights whose blend is ``poisson`` the
caller finishes the picture with ``core.blend.finish_fused`` (the manifest entry says which). Export
checks that this gives ``run``'s picture within one gray level, for either blend.

TensorRT accepts UINT8 only as a network input or output ("TensorRT does not support UINT8 types
for intermediate tensors", onnx-tensorrt ModelImporter.cpp / docs/operators.md, TensorRT 10.x):
uint8 inputs are cast to float before any other op, and the uint8 outputs are the Casts themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.canny.graph import _Builder, build_canny_nodes
from edgeinpaint.core import specs
from edgeinpaint.core.params import CannyParams, FusedRecipe, Rounding


def _inline(b: _Builder, model: Any, prefix: str, feeds: dict[str, str]) -> dict[str, str]:
    """Copy ``model``'s graph into ``b`` with prefixed names; its inputs are wired to ``feeds``.

    Returns:
        The model's output names -> their names in ``b``.
    """
    graph = model.graph
    inputs = {i.name for i in graph.input}

    def rename(name: str) -> str:
        if not name:
            return name
        return feeds[name] if name in inputs else prefix + name

    for init in graph.initializer:
        new = type(init)()
        new.CopyFrom(init)
        new.name = prefix + init.name
        b.inits.append(new)
    for node in graph.node:
        new = type(node)()
        new.CopyFrom(node)
        new.name = prefix + node.name if node.name else ""
        del new.input[:]
        del new.output[:]
        new.input.extend(rename(n) for n in node.input)
        new.output.extend(prefix + n for n in node.output)
        b.nodes.append(new)
    return {o.name: prefix + o.name for o in graph.output}


def _front_end(
    b: _Builder, canny: CannyParams, uint8_io: bool, mask_threshold: int = specs.MASK_THRESHOLD
) -> tuple[str, str, str, str, str]:
    """Inputs -> (image NCHW float [0, 1], hole {0, 1}, known, gray, Canny edges), shared by the fused model and
    :func:`build_fused_canny`."""
    from onnx import TensorProto

    one = b.const(1.0)
    if uint8_io:
        # Cast first: no UINT8 intermediate tensor (TensorRT's rule, module docstring).
        image = b.op(
            "Div",
            [b.op("Transpose", [b.op("Cast", ["image"], to=TensorProto.FLOAT)], perm=[0, 3, 1, 2]), b.const(255.0)],
        )
        mask_f = b.op("Transpose", [b.op("Cast", ["mask"], to=TensorProto.FLOAT)], perm=[0, 3, 1, 2])
        hole = b.op("Cast", [b.op("Greater", [mask_f, b.const(float(mask_threshold))])], to=TensorProto.FLOAT)
    else:
        image = "image"
        hole = b.op("Cast", [b.op("Greater", ["mask", b.const(0.5)])], to=TensorProto.FLOAT)
    known = b.op("Sub", [one, hole])
    gray = b.op("Conv", [image, b.const(np.asarray(specs.GRAY_COEFFS, np.float32).reshape(1, 3, 1, 1))], hint="gray")
    edges = build_canny_nodes(b, gray, known, canny.sigma, canny.low, canny.high, exact=False)
    return image, hole, known, gray, edges


def _io_specs(uint8_io: bool) -> list[Any]:
    from onnx import TensorProto, helper

    if uint8_io:
        return [
            helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3]),
            helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", "H", "W", 1]),
        ]
    return [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"]),
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"]),
    ]


def build_fused_canny(
    canny: CannyParams, uint8_io: bool, opset: int = specs.OPSET, mask_threshold: int = specs.MASK_THRESHOLD
) -> Any:
    """The fused model's own front end alone: same inputs, ``gray`` and ``edges`` (N, 1, H, W) out.

    Export feeds these to the three-stage run when it checks the fused model, so the check isolates
    the graph's composition from float32 gray rounding (the fused graph computes gray in float32,
    ``run`` in float64: a few Canny pixels flip, and an INT8 generator can amplify a 1e-7 input
    difference into another quantization step; both effects are recorded separately).
    """
    import onnx
    from onnx import TensorProto, helper

    b = _Builder(prefix="fused_")
    *_, gray, edges = _front_end(b, canny, uint8_io, mask_threshold)
    b.nodes.append(helper.make_node("Identity", [gray], ["gray"]))
    b.nodes.append(helper.make_node("Identity", [edges], ["edges"]))
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 1, "H", "W"]) for n in ("gray", "edges")]
    graph = helper.make_graph(b.nodes, "edgeinpaint_fused_front", _io_specs(uint8_io), outs, initializer=b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgeinpaint", ir_version=specs.IR_VERSION
    )
    onnx.checker.check_model(model)
    return model


def build_fused_model(
    edge_onnx: Path,
    inpaint_onnx: Path,
    canny: CannyParams,
    uint8_io: bool = False,
    opset: int = specs.OPSET,
    recipe: FusedRecipe | None = None,
) -> Any:
    """Compose the fused model from exported generator graphs (any precision) and the float32 Canny.

    Args:
        recipe: edges fed to the inpaint generator (composite or raw), how the uint8 ``output`` is
            quantized (round, or truncate as the official test script does) and the uint8 mask rule;
            recorded in the model's metadata and the manifest, checked by the runtime.
    """
    import onnx
    from onnx import TensorProto, helper

    recipe = recipe or FusedRecipe()
    b = _Builder(prefix="fused_")
    one = b.const(1.0)
    image, hole, known, gray, edges = _front_end(b, canny, uint8_io, recipe.mask_threshold)

    # Reflect-pad bottom/right to a multiple of 4 (the generators downsample twice), crop back after.
    shape = b.op("Shape", [image])
    hw = b.op("Slice", [shape, b.const([2], np.int64), b.const([4], np.int64)])
    four = b.const(specs.SIZE_MULTIPLE, np.int64)
    pad_hw = b.op("Mod", [b.op("Sub", [four, b.op("Mod", [hw, four])]), four])
    pads = b.op("Concat", [b.const([0, 0, 0, 0, 0, 0], np.int64), pad_hw], axis=0)

    def pad(x: str) -> str:
        return b.op("Pad", [x, pads], mode="reflect")

    p_image, p_gray, p_edges, p_hole = pad(image), pad(gray), pad(edges), pad(hole)
    edge_out = _inline(
        b, onnx.load(str(edge_onnx)), "edge_generator/", {"gray": p_gray, "edges": p_edges, "mask": p_hole}
    )
    pred = edge_out["edges_pred"]
    if recipe.edge_source is specs.EdgeSource.COMPOSITE:
        guide = b.op("Add", [b.op("Mul", [pred, p_hole]), b.op("Mul", [p_edges, b.op("Sub", [one, p_hole])])])
    else:  # the official test script: the raw edge-generator output everywhere
        guide = pred
    inpaint_out = _inline(
        b, onnx.load(str(inpaint_onnx)), "inpaint_generator/", {"image": p_image, "edges": guide, "mask": p_hole}
    )
    raw = b.op("Slice", [inpaint_out["inpainted"], b.const([0, 0], np.int64), hw, b.const([2, 3], np.int64)])
    final = b.op("Add", [b.op("Mul", [raw, hole]), b.op("Mul", [image, known])])
    if uint8_io:
        # ``raw`` is always rounded (it only feeds the Poisson composite); ``output`` follows the recipe.
        # Floor is truncation here: the values are >= 0 (sigmoid / (tanh+1)/2 outputs and [0, 1] pixels).
        truncate = recipe.rounding is Rounding.TRUNCATE
        for value, name, quantize in ((final, "output", "Floor" if truncate else "Round"), (raw, "raw", "Round")):
            scaled = b.op(
                "Clip", [b.op(quantize, [b.op("Mul", [value, b.const(255.0)])]), b.const(0.0), b.const(255.0)]
            )
            nhwc = b.op("Transpose", [scaled], perm=[0, 2, 3, 1])
            b.nodes.append(helper.make_node("Cast", [nhwc], [name], to=TensorProto.UINT8, name=f"fused_{name}"))
        out_specs = [
            helper.make_tensor_value_info(name, TensorProto.UINT8, ["N", "H", "W", 3]) for name in ("output", "raw")
        ]
    else:
        b.nodes.append(helper.make_node("Identity", [final], ["output"]))
        b.nodes.append(helper.make_node("Identity", [raw], ["raw"]))
        out_specs = [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3, "H", "W"]) for name in ("output", "raw")
        ]
    graph = helper.make_graph(b.nodes, "edgeinpaint_fused", _io_specs(uint8_io), out_specs, initializer=b.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="edgeinpaint", ir_version=specs.IR_VERSION
    )
    model.doc_string = f"EdgeConnect fused: Canny(sigma={canny.sigma}) + edge + inpaint generators + composites"
    for key, value in (
        ("canny_sigma", canny.sigma),
        ("canny_low", canny.low),
        ("canny_high", canny.high),
        ("uint8_io", uint8_io),
        *recipe.to_options().items(),
    ):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(model)
    return model


def fused_io_specs(
    uint8_io: bool, recipe: FusedRecipe | None = None
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Manifest I/O specs of the fused model: NHWC uint8 in [0, 255], or NCHW float32 in [0, 1]."""

    def spec(name: str, channels: int, meaning: str) -> dict[str, object]:
        if uint8_io:
            return {"name": name, "shape": ["N", "H", "W", channels], "dtype": "uint8", "range": [0, 255],
                    "meaning": meaning}  # fmt: skip
        return {"name": name, "shape": ["N", channels, "H", "W"], "dtype": "float32", "range": [0, 1],
                "meaning": meaning}  # fmt: skip

    recipe = recipe or FusedRecipe()
    layout = ", NHWC" if uint8_io else ""
    mask_rule = f"> {recipe.mask_threshold} = hole" if uint8_io else "> 0.5 = hole"
    suffix = "" if recipe.is_default else f" ({recipe.edge_source.value} edges, {recipe.rounding.value})"
    return (
        [spec("image", 3, "RGB" + layout), spec("mask", 1, mask_rule)],
        [
            spec("output", 3, "paste-composited RGB" + suffix),
            spec("raw", 3, "raw generator output (for the Poisson composite)"),
        ],
    )
