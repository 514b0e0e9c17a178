"""Work per image from the graph itself, and the machine's measured peak.

GMAC are counted from the ONNX file: every Conv / ConvTranspose's tensors are exposed as graph
outputs and measured in one ONNX Runtime run at the requested size, then
MACs = output elements × (C_in / groups) × k_h × k_w for Conv and
input elements × (C_out / groups) × k_h × k_w for ConvTranspose. Elementwise work is ignored
(< 1% here). The CPU peak is a float32 matmul probe (numpy/BLAS) on all cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def graph_gmac(onnx_path: Path, height: int = 256, width: int = 256) -> float:
    """Multiply-accumulates (×1e9) of one image of ``height``×``width`` through the graph."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    inits = {i.name: tuple(i.dims) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose") and n.input[1] in inits]
    wanted = []
    for node in convs:
        wanted.append(node.output[0] if node.op_type == "Conv" else node.input[0])
    existing = {o.name for o in model.graph.output}
    for name in wanted:
        if name not in existing:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            existing.add(name)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the nodes we tapped
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        channels = i.shape[1] if isinstance(i.shape[1], int) else 1
        dtype = np.float64 if i.type == "tensor(double)" else np.float32
        feeds[i.name] = np.zeros((1, channels, height, width), dtype)
    names = [o.name for o in session.get_outputs()]
    shapes = dict(zip(names, (np.shape(v) for v in session.run(names, feeds)), strict=True))
    total = 0
    for node, tapped in zip(convs, wanted, strict=True):
        w = inits[node.input[1]]
        k = int(np.prod(w[2:]))
        if node.op_type == "Conv":
            total += int(np.prod(shapes[tapped])) * w[1] * k  # w: (C_out, C_in/groups, kh, kw)
        else:
            # w: (C_in, C_out/groups, kh, kw); every input element meets C_out/groups × k taps
            total += int(np.prod(shapes[tapped])) * w[1] * k
    return total / 1e9


def matmul_peak_gflops(size: int = 2048, repeat: int = 5) -> float:
    """Measured float32 matmul throughput (GFLOP/s, 2 FLOP per MAC): the best of ONNX Runtime's
    MatMul (MLAS, which uses the widest vector units it finds) and numpy's BLAS on all cores.

    numpy alone can under-report the machine: an OpenBLAS pinned to an older core type (as
    OPENBLAS_CORETYPE does on some of these machines) runs AVX2 kernels on an AVX-512 CPU.
    """
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in ("a", "b", "c")]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "probe", spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    candidates = {"numpy": lambda: a @ b, "onnxruntime": lambda: session.run(None, {"a": a, "b": b})}
    best = float("inf")
    for fn in candidates.values():
        fn()
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9
