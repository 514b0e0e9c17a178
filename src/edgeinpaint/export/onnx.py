"""FP32 ONNX export of both generators, checked against PyTorch on ONNX Runtime."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.errors import ExportError

if TYPE_CHECKING:
    import torch

#: Max abs difference allowed between ONNX Runtime and PyTorch (FP32, same inputs, outputs in [0, 1]).
from edgeinpaint.core.tolerances import ONNX_PARITY as PARITY_TOLERANCE


@dataclass(frozen=True)
class GraphSpec:
    """How one network is wrapped and named in ONNX."""

    role: str
    inputs: tuple[specs.TensorSpec, ...]
    outputs: tuple[specs.TensorSpec, ...]


GRAPHS = {
    "edge_generator": GraphSpec("edge_generator", specs.EDGE_GENERATOR_INPUTS, specs.EDGE_GENERATOR_OUTPUTS),
    "inpaint_generator": GraphSpec(
        "inpaint_generator", specs.INPAINT_GENERATOR_INPUTS, specs.INPAINT_GENERATOR_OUTPUTS
    ),
}


def _wrapper(module: torch.nn.Module) -> torch.nn.Module:
    """Wrap a generator so the ONNX graph takes unmasked tensors and applies the input convention.

    Putting the masking inside the graph means hosts feed (image, edges, mask) and cannot get the
    convention wrong; it costs a few elementwise ops.
    """
    import torch

    class Predict(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            if a.shape[1] == 3:
                # Inpaint generator: repeat the mask over RGB instead of broadcasting it, the same
                # arithmetic, but runtimes without channel broadcasting (OpenCV 4.6 DNN) accept it.
                mask3 = torch.cat([mask, mask, mask], dim=1)
                return self.net(torch.cat([a * (1.0 - mask3) + mask3, b], dim=1))  # type: ignore[operator]
            return self.net.predict(a, b, mask)  # type: ignore[operator]

    return Predict(module).eval()


def sample_feeds(
    graph: GraphSpec, batch: int = 2, height: int = 64, width: int = 64, seed: int = 0
) -> dict[str, np.ndarray]:
    """Plausible random inputs: images in [0,1], binary edges and a binary mask with a hole."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in graph.inputs:
        shape = (batch, spec.channels, height, width)
        if spec.name == "mask":
            m = np.zeros(shape, np.float32)
            m[:, :, height // 4 : height // 2, width // 4 : 3 * width // 4] = 1
            feeds[spec.name] = m
        elif spec.name == "edges":
            feeds[spec.name] = (rng.random(shape) > 0.9).astype(np.float32)
        else:
            feeds[spec.name] = rng.random(shape, dtype=np.float32)
    return feeds


def export_generator(module: torch.nn.Module, role: str, path: Path, opset: int = specs.OPSET) -> float:
    """Export one generator to ONNX (dynamic N, H, W), check it, and return the ORT-vs-torch error.

    Args:
        module: folded generator in eval mode.
        role: ``edge_generator`` or ``inpaint_generator``.
        path: destination (the caller publishes it atomically, export/produce.py).
        opset: ONNX opset to pin.

    Returns:
        Max abs difference between ONNX Runtime and PyTorch on sample inputs.

    Raises:
        ExportError: checker failure or parity beyond :data:`PARITY_TOLERANCE`.
    """
    import onnx
    import torch

    graph = GRAPHS[role]
    wrapped = _wrapper(module)
    feeds = sample_feeds(graph, batch=1, height=64, width=64)
    args = tuple(torch.from_numpy(feeds[s.name]) for s in graph.inputs)
    names_in = [s.name for s in graph.inputs]
    names_out = [s.name for s in graph.outputs]
    dynamic = {name: {0: "N", 2: "H", 3: "W"} for name in names_in + names_out}
    tmp = str(path)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo, but it gives named dynamic
        # axes and a clean opset-17 graph for these convolutional nets; dynamo's version
        # converter fails on Pad for opset 17 (torch 2.13).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            args,
            tmp,
            dynamo=False,
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
        )
    from edgeinpaint.export.simplify import freeze_pads

    model = freeze_pads(onnx.load(tmp), sample_feeds(graph, 1, 32, 32, seed=2), sample_feeds(graph, 1, 48, 64, seed=3))
    model.producer_name = "edgeinpaint"
    model.doc_string = f"EdgeConnect {role}, FP32"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, tmp)
    check = sample_feeds(graph, batch=2, height=48, width=68, seed=1)
    err = parity_error(wrapped, tmp, check)
    if not err <= PARITY_TOLERANCE:
        raise ExportError(
            f"{role}: ONNX Runtime differs from PyTorch by {err:.3g} (tolerance {PARITY_TOLERANCE}); "
            "the exported graph is wrong"
        )
    return err


def parity_error(module: torch.nn.Module, onnx_path: str | Path, feeds: dict[str, np.ndarray]) -> float:
    """Max abs difference between ONNX Runtime (CPU) and the torch module on ``feeds``."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, feeds)[0]
    with torch.no_grad():
        ref = module(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    return float(np.abs(got - ref).max())
