"""FP16 graphs: generators converted to float16 with float32 inputs and outputs.

InstanceNormalization is kept in FP32 by default: its variance sums squares over H·W pixels,
which overflows float16's 65504 on large activations; the measurement that backs the default is
in the export's manifest (accuracy) and the closing notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Ops left in FP32 by default.
FP16_KEEP_FP32: tuple[str, ...] = ("InstanceNormalization",)


def to_fp16(fp32: Path, out: Path, keep_fp32: Sequence[str] = FP16_KEEP_FP32) -> None:
    """Convert ``fp32`` to FP16 (I/O stays float32) and save to ``out``.

    Uses ONNX Runtime's converter (onnxruntime.transformers.float16), which inserts the Cast nodes
    at the I/O boundary and around ops in ``keep_fp32``.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32))
    converted = convert_float_to_float16(model, keep_io_types=True, op_block_list=list(keep_fp32) or None)
    converted.doc_string = (model.doc_string or "").replace("FP32", "FP16")
    # The converter appends its boundary Casts at the end of the node list; ONNX requires
    # topological order (the checker and some runtimes reject the graph otherwise).
    topological_sort(converted.graph)
    onnx.checker.check_model(converted)
    onnx.save(converted, str(out))


def topological_sort(graph: Any) -> None:
    """Reorder ``graph.node`` in place so every node comes after the producers of its inputs."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            missing = {i for n in pending for i in n.input if i not in available}
            raise ValueError(f"graph has a cycle or dangling inputs: {sorted(missing)[:5]}")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [type(n)() for n in ordered]
    for c, n in zip(copies, ordered, strict=True):
        c.CopyFrom(n)
    del graph.node[:]
    graph.node.extend(copies)
