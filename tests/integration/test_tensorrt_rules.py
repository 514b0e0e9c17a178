"""Every graph export hands to TensorRT passes the parser's documented rules; graphs that break one fail export."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from edgeinpaint.core.errors import ExportError
from edgeinpaint.export.trt_check import check_graph, check_model

TENSORRT_GRAPHS = [
    "edge_generator.fp32.onnx",
    "inpaint_generator.fp32.onnx",
    "edge_generator.fp16.onnx",
    "inpaint_generator.fp16.onnx",
    "edge_generator.int8.onnx",
    "inpaint_generator.int8.onnx",
    "edgeinpaint.fp16.onnx",
    "edgeinpaint.int8.onnx",
    "canny.fp32.onnx",
]


@pytest.mark.parametrize("name", TENSORRT_GRAPHS)
def test_every_exported_tensorrt_graph_passes(ladder: Path, name: str) -> None:
    model = onnx.load(str(ladder / name))
    assert check_model(model) == []
    assert model.ir_version <= 10  # ONNX Runtime 1.18, the oldest allowed, reads IR <= 10


def test_fused_float_io_passes_and_uint8_is_only_at_the_edges(tiny_weights: Path, tmp_path: Path) -> None:
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig

    export_artifacts(ExportConfig(weights=tiny_weights, output=tmp_path, fused_uint8=False))
    assert check_model(onnx.load(str(tmp_path / "edgeinpaint.fp32.onnx"))) == []


def test_the_exact_and_fast_canny_graphs_are_not_for_tensorrt(tiny_artifacts: Path) -> None:
    rules = {v.rule for v in check_model(onnx.load(str(tiny_artifacts / "canny.onnx")))}
    assert "double" in rules  # float64: why canny.fp32.onnx exists
    fast = check_model(onnx.load(str(tiny_artifacts / "canny.fast.onnx")))
    assert any(v.rule == "operator" and "BitShift" in v.detail for v in fast)


def _model(nodes: list, inputs: list, outputs: list, inits: list | None = None, opset: int = 17) -> onnx.ModelProto:  # type: ignore[type-arg]
    graph = helper.make_graph(nodes, "t", inputs, outputs, initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def test_a_uint8_intermediate_fails_export_with_the_rule_named(tmp_path: Path) -> None:
    # The old fused front end: Transpose on uint8 before the Cast.
    x = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H", "W"])
    nodes = [helper.make_node("Transpose", ["image"], ["t"], perm=[0, 3, 1, 2], name="nhwc_to_nchw"),
             helper.make_node("Cast", ["t"], ["out"], to=TensorProto.FLOAT)]  # fmt: skip
    path = tmp_path / "bad.onnx"
    onnx.save(_model(nodes, [x], [y]), str(path))
    with pytest.raises(ExportError, match=r"nhwc_to_nchw|'t'.*\[uint8-io\]|\[uint8-io\]"):
        check_graph(path)


def test_an_int32_bias_dequantize_fails(tmp_path: Path) -> None:
    # What quantize_static emits with its default QuantizeBias=True (onnx-tensorrt issue #850).
    bias = helper.make_tensor("b_q", TensorProto.INT32, [4], [1, 2, 3, 4])
    scale = helper.make_tensor("b_s", TensorProto.FLOAT, [], [0.01])
    zp = helper.make_tensor("b_zp", TensorProto.INT32, [], [0])
    out = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])
    node = helper.make_node("DequantizeLinear", ["b_q", "b_s", "b_zp"], ["b"], name="bias_dq")
    problems = check_model(_model([node], [], [out], [bias, scale, zp]))
    assert [(p.node, p.rule) for p in problems] == [("bias_dq", "qdq")] and "INT32" in problems[0].detail


def test_other_rules(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    # a non-zero zero point
    s = helper.make_tensor("s", TensorProto.FLOAT, [], [0.1])
    z = helper.make_tensor("z", TensorProto.INT8, [], [3])
    q = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")]  # fmt: skip
    assert {(p.node, p.rule) for p in check_model(_model(q, [x], [y], [s, z]))} == {("q", "qdq"), ("dq", "qdq")}
    # an unsupported op, an opset outside 9..20, computed Slice axes
    assert [p.rule for p in check_model(_model([helper.make_node("Det", ["x"], ["y"])], [x], [y]))] == ["operator"]
    assert "opset" in {
        p.rule for p in check_model(_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y], opset=21))
    }
    starts = helper.make_tensor("st", TensorProto.INT64, [1], [0])
    axes_src = helper.make_tensor_value_info("ax", TensorProto.INT64, [1])
    sl = [helper.make_node("Slice", ["x", "st", "st", "ax"], ["y"], name="slice")]
    assert [(p.node, p.rule) for p in check_model(_model(sl, [x, axes_src], [y], [starts]))] == [("slice", "axes")]
    assert check_model(_model([helper.make_node("Relu", ["x"], ["y"])], [x], [y])) == []
