"""Freeze computed Pad amounts into constants.

The TorchScript exporter writes each ReflectionPad2d as a Pad whose ``pads`` input is computed at
run time from constants (ConstantOfShape / Concat / Reshape / Slice / Transpose chains). ONNX
Runtime folds them, but simpler runtimes do not (OpenCV 4.6's DNN importer rejects the Reshape),
and TensorRT prefers static pads. The pads never depend on H or W, which this checks by evaluating
them at two sizes before replacing them with initializers and dropping the dead nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def freeze_pads(model: Any, feeds_a: dict[str, np.ndarray], feeds_b: dict[str, np.ndarray]) -> Any:
    """Return ``model`` with every computed Pad ``pads`` input replaced by a constant.

    Args:
        feeds_a, feeds_b: sample inputs of two different spatial sizes.
    """
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    inits = {i.name for i in model.graph.initializer}
    targets = [
        n.input[1] for n in model.graph.node if n.op_type == "Pad" and len(n.input) > 1 and n.input[1] not in inits
    ]
    if not targets:
        return model
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    for name in dict.fromkeys(targets):
        if name not in existing:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = list(dict.fromkeys(targets))
    values_a = dict(zip(names, session.run(names, feeds_a), strict=True))
    values_b = dict(zip(names, session.run(names, feeds_b), strict=True))
    for name in names:
        if not np.array_equal(values_a[name], values_b[name]):
            return model  # size-dependent pads: leave the graph as it is
    out = onnx.ModelProto()
    out.CopyFrom(model)
    for name in names:
        out.graph.initializer.append(numpy_helper.from_array(np.asarray(values_a[name], np.int64), f"{name}_frozen"))
    for node in out.graph.node:
        if node.op_type == "Pad" and len(node.input) > 1 and node.input[1] in values_a:
            node.input[1] = f"{node.input[1]}_frozen"
    _drop_dead_nodes(out)
    return out


def _drop_dead_nodes(model: Any) -> None:
    """Remove nodes (and initializers) nothing downstream of the graph outputs uses."""
    needed = {o.name for o in model.graph.output}
    keep = []
    for node in reversed(model.graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
            for attr in node.attribute:  # subgraph inputs (Loop/If) count as uses
                if attr.g is not None:
                    needed.update(i for n in attr.g.node for i in n.input)
    keep.reverse()
    del model.graph.node[:]
    model.graph.node.extend(keep)
    kept_inits = [i for i in model.graph.initializer if i.name in needed]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept_inits)
