"""Will TensorRT's ONNX parser take this graph? The documented rules, checked on the CPU before any engine build.

Every graph export hands to TensorRT (generators in each precision, the float32 Canny graph, the
fused model) goes through :func:`check_graph`; a violation fails the export with the node, the
rule and where the rule is written. Rules (``SOURCE`` is onnx-tensorrt docs/operators.md at the
ONNX-TensorRT 10.1 GA release, see export/trt_rules.py):

- ``opset``: the model's default-domain opset lies in TensorRT 10's range 9..20 (SOURCE, header);
- ``operator``: every node's op type is in the support matrix, and not marked unsupported (SOURCE);
- ``type``: a node's data input has one of the op's supported types (SOURCE, "Supported Types");
- ``uint8-io``: a UINT8 tensor is a network input or output only ("UINT8 is only supported as
  network input or output tensor types", SOURCE header; onnx-tensorrt ModelImporter.cpp
  "TensorRT does not support UINT8 types for intermediate tensors");
- ``qdq``: DequantizeLinear takes INT8/FP8/INT4 (so no INT32 bias DQ, onnx-tensorrt issue #850),
  QuantizeLinear takes FP32/FP16/BF16, zero points are initializers equal to 0, scales are float
  initializers (SOURCE rows DequantizeLinear/QuantizeLinear: "zero_point must be zero");
- ``double``: no FLOAT64 tensors (SOURCE: "limited support for DOUBLE": cast down with clamping,
  which would silently change an exact graph);
- ``loop``: a Loop has no scan outputs (SOURCE Loop row: "Scan output length cannot be dynamic")
  and its carried values keep their shape (checked where shapes are known);
- ``axes``: Slice / Squeeze / Unsqueeze / ReduceMax / ReduceSum / Pad take ``axes`` from an
  initializer or Constant (SOURCE rows, "axes must be an initializer").

TensorRT 11 is checked against the same table (no newer matrix was available when this was
written; TensorRT 11 removed the FP16/INT8 builder flags, which changes nothing here because our
precision lives in the graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinpaint.core.errors import ExportError
from edgeinpaint.export.trt_rules import OPSET_RANGE, SOURCE, SUPPORTED, UNSUPPORTED

#: ONNX TensorProto data type -> the matrix's type names.
_TYPE_NAMES = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    9: "BOOL",
    10: "FP16",
    11: "DOUBLE",
    12: "UINT32",
    13: "UINT64",
    16: "BF16",
    17: "FP8",
    18: "FP8",
    19: "FP8",
    20: "FP8",
    22: "INT4",
}
_AXES_INPUT = {"Slice": 3, "Squeeze": 1, "Unsqueeze": 1, "ReduceMax": 1, "ReduceSum": 1, "Pad": 3}


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    Attributes:
        node: node name (or op type and index when unnamed). rule: rule id (module docstring).
        detail: what was found and what the rule wants.
    """

    node: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.node}: [{self.rule}] {self.detail} ({SOURCE})"


class _Types:
    """Element types of every tensor of a graph and its subgraphs (after ONNX shape inference)."""

    def __init__(self) -> None:
        self.types: dict[str, int] = {}
        self.constants: set[str] = set()

    def add_graph(self, graph: Any) -> None:
        for vi in (*graph.input, *graph.output, *graph.value_info):
            if vi.type.HasField("tensor_type"):
                self.types[vi.name] = vi.type.tensor_type.elem_type
        for init in graph.initializer:
            self.types[init.name] = init.data_type
            self.constants.add(init.name)
        for node in graph.node:
            if node.op_type == "Constant":
                self.constants.update(node.output)
                for a in node.attribute:
                    if a.name == "value":
                        self.types[node.output[0]] = a.t.data_type


def _subgraphs(node: Any) -> list[Any]:
    from onnx import AttributeProto

    return [a.g for a in node.attribute if a.type == AttributeProto.GRAPH]


def _initializer_values(graph: Any) -> dict[str, Any]:
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(a.t)
    return values


def check_model(model: Any) -> list[Violation]:
    """Every documented parser rule broken by ``model`` (an onnx ModelProto); empty when TensorRT takes it."""
    import onnx

    out: list[Violation] = []
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    lo, hi = OPSET_RANGE
    if opset is None or not lo <= opset <= hi:
        out.append(Violation("model", "opset", f"opset {opset}; TensorRT 10 parses opsets {lo}..{hi}"))
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types = _Types()
    graphs = [inferred.graph]
    while graphs:
        g = graphs.pop()
        types.add_graph(g)
        for node in g.node:
            graphs.extend(_subgraphs(node))
    io = {vi.name for vi in (*inferred.graph.input, *inferred.graph.output)}
    for name, t in types.types.items():
        if t == 2 and name not in io:
            out.append(Violation(name, "uint8-io", "UINT8 intermediate tensor; UINT8 is allowed only at network I/O"))
        if t == 11:
            out.append(Violation(name, "double", "FLOAT64 tensor; TensorRT casts DOUBLE down to FLOAT with clamping"))
    _check_nodes(inferred.graph, types, out, values=_initializer_values(inferred.graph))
    return out


def _check_nodes(graph: Any, types: _Types, out: list[Violation], values: dict[str, Any]) -> None:
    for i, node in enumerate(graph.node):
        where = node.name or f"{node.op_type}#{i}"
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            out.append(Violation(where, "operator", f"custom-domain op {node.domain}::{op} needs a plugin"))
            continue
        if op in UNSUPPORTED or op not in SUPPORTED:
            out.append(Violation(where, "operator", f"{op} is not supported by TensorRT's ONNX parser"))
            continue
        data = node.input[0] if node.input else ""
        elem = types.types.get(data)
        allowed = SUPPORTED[op]
        # Cast converts between types; Q/DQ types are checked by their own rule below.
        exempt = op in ("Cast", "QuantizeLinear", "DequantizeLinear")
        if elem is not None and allowed and _TYPE_NAMES.get(elem) not in allowed and not exempt:
            out.append(
                Violation(
                    where,
                    "type",
                    f"{op} input {data!r} is {_TYPE_NAMES.get(elem, elem)}; supported: {', '.join(allowed)}",
                )
            )
        if op in ("QuantizeLinear", "DequantizeLinear"):
            _check_qdq(node, where, types, values, out)
        if op == "Loop":
            n_carried = len(node.input) - 2
            if len(node.output) > n_carried:
                out.append(Violation(where, "loop", f"{len(node.output) - n_carried} scan output(s); not supported"))
        if op in _AXES_INPUT and len(node.input) > _AXES_INPUT[op] and node.input[_AXES_INPUT[op]]:
            axes = node.input[_AXES_INPUT[op]]
            if axes not in types.constants:
                out.append(Violation(where, "axes", f"{op} axes {axes!r} is computed; it must be an initializer"))
        for sub in _subgraphs(node):
            _check_nodes(sub, types, out, {**values, **_initializer_values(sub)})


def _check_qdq(node: Any, where: str, types: _Types, values: dict[str, Any], out: list[Violation]) -> None:
    op = node.op_type
    data = types.types.get(node.input[0])
    wanted = ("INT8", "FP8", "INT4") if op == "DequantizeLinear" else ("FP32", "FP16", "BF16")
    if data is not None and _TYPE_NAMES.get(data) not in wanted:
        name = _TYPE_NAMES.get(data, str(data))
        out.append(Violation(where, "qdq", f"{op} input is {name}; TensorRT takes {'/'.join(wanted)}"))
    scale = node.input[1] if len(node.input) > 1 else ""
    if scale not in types.constants or _TYPE_NAMES.get(types.types.get(scale, 0)) not in ("FP32", "FP16", "BF16"):
        out.append(Violation(where, "qdq", f"{op} scale {scale!r} must be a float initializer"))
    if len(node.input) > 2 and node.input[2]:
        zp = node.input[2]
        value = values.get(zp)
        if value is None or (value != 0).any():
            out.append(Violation(where, "qdq", f"{op} zero point {zp!r} must be an initializer equal to 0"))


def check_graph(path: Path, label: str | None = None) -> None:
    """Raise an ExportError naming every violation of ``path`` (before TensorRT ever sees it)."""
    import onnx

    problems = check_model(onnx.load(str(path)))
    if problems:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ExportError(f"{label or path.name}: TensorRT's ONNX parser would refuse it: {shown}{more}")
