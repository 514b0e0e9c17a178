"""PyTorch engines: the CPU reference (eager FP32) and a fast CUDA path.

On CUDA (``--backend torch-cuda``), the options users without TensorRT pick, following PyTorch's
performance guidance (pytorch.org docs: "CUDA semantics", "Automatic Mixed Precision",
"CUDA Graphs"; tutorials "(beta) Channels Last Memory Format"):

- mixed precision with ``torch.autocast(device_type="cuda", dtype=float16 | bfloat16)`` for
  ``--precision fp16 | bf16`` (bf16 needs compute capability >= 8.0); the model weights stay FP32
  and the outputs are returned as FP32;
- ``channels_last`` memory format for the convolutions (module and inputs), which Tensor Cores want;
- CUDA-graph replay for fixed shapes (``torch.cuda.CUDAGraph``): the first call of a shape warms up
  on a side stream and captures, later calls copy into the static inputs and replay.

On the CPU (``--backend torch``) it is the eager FP32 reference the ONNX exports are checked against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.engine import Engine, EngineBase, GraphCache
from edgeinpaint.runtime.engines.base import EngineRequest, installed


class TorchEngine(EngineBase):
    """A generator module behind the :class:`Engine` protocol.

    Args:
        module: an EdgeGenerator or InpaintGenerator (folded, eval mode).
        input_names / output_names: the ONNX contract's names (specs.py), in argument order of ``predict``.
        device: "cpu" or "cuda[:N]".
        threads: torch intra-op threads (None = leave as is).
        autocast: None (FP32), "float16" or "bfloat16".
        channels_last: convolutions in NHWC memory format.
        cuda_graph: capture and replay a CUDA graph per input shape (CUDA only).
    """

    def __init__(
        self,
        module: Any,
        input_names: tuple[str, ...],
        output_names: tuple[str, ...],
        device: str = "cpu",
        threads: int | None = None,
        autocast: str | None = None,
        channels_last: bool = False,
        cuda_graph: bool = False,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.device = torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.module = module.to(self.device).eval().to(memory_format=self.memory_format)
        self.autocast = getattr(torch, autocast) if autocast else None
        self.cuda_graph = cuda_graph and self.device.type == "cuda"
        self.input_names = input_names
        self.output_names = output_names
        self._graphs: GraphCache[tuple[Any, list[Any], Any]] = GraphCache()  # bounded: crops make many shapes

    def _forward(self, args: list[Any]) -> Any:
        torch = self.torch
        if self.autocast is None:
            return self.module.predict(*args)
        # The autocast weight-cast cache must be off under CUDA-graph capture (torch.cuda.graphs docs).
        with torch.autocast(device_type=self.device.type, dtype=self.autocast, cache_enabled=not self.cuda_graph):
            return self.module.predict(*args)

    def _inputs(self, feeds: Mapping[str, np.ndarray]) -> list[Any]:
        torch = self.torch
        return [
            torch.from_numpy(np.ascontiguousarray(feeds[k], dtype=np.float32))
            .to(self.device, non_blocking=True)
            .contiguous(memory_format=self.memory_format)
            for k in self.input_names
        ]

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        torch = self.torch
        with torch.inference_mode():
            out = self._replay(feeds) if self.cuda_graph else self._forward(self._inputs(feeds))
            return {self.output_names[0]: out.float().cpu().numpy()}

    def _replay(self, feeds: Mapping[str, np.ndarray]) -> Any:
        """Static inputs + one captured graph per shape (torch.cuda.graphs: warm up on a side stream first)."""
        return self.forward_device(self._inputs(feeds))

    def forward_device(self, args: list[Any]) -> Any:
        """The module on tensors already on the device (the on-device recipe), through a CUDA graph per shape
        when ``cuda_graph`` (static inputs refreshed by a device copy), else eagerly."""
        torch = self.torch
        if not self.cuda_graph:
            return self._forward(args)
        key = tuple(tuple(a.shape) for a in args)
        if key not in self._graphs:
            static = [a.clone() for a in args]
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):
                    self._forward(static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                out = self._forward(static)
            self._graphs.put(key, (graph, static, out))
        graph, static, out = self._graphs.get(key)
        for dst, src in zip(static, args, strict=True):
            dst.copy_(src)
        graph.replay()
        return out

    def _release(self) -> None:
        self._graphs.clear()
        del self.module


def unavailable(device: str, request: EngineRequest) -> str | None:
    """None when PyTorch can run ``request`` on ``device`` ("cpu": the FP32 reference; "cuda"), else why not."""
    if not installed("torch"):
        if device == "cpu":
            return "torch not installed (pip install torch==2.13.0 then pip install -e '.[torch]')"
        return "torch not installed (a CUDA build from pytorch.org, then pip install -e '.[torch]')"
    if device == "cpu":
        if request.weights is None:
            return "needs --weights (it runs the PyTorch modules, not the exported ONNX)"
        if request.precision is not specs.Precision.FP32:
            return f"the CPU reference runs fp32 only, not {request.precision.value} (torch-cuda runs fp16 and bf16)"
        return None
    import torch

    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device" + ("" if torch.version.cuda else " (a CPU build)")
    if request.weights is None:
        return "needs --weights (it runs the PyTorch modules, not the exported ONNX)"
    if request.precision is specs.Precision.INT8:
        return "int8 runs on the ONNX backends (Q/DQ graphs); torch-cuda runs fp32, fp16 and bf16"
    if request.precision is specs.Precision.BF16 and torch.cuda.get_device_capability()[0] < 8:
        return "this GPU has no native BF16 (compute capability < 8.0); use fp16"
    return None


def open_generators(device: str, request: EngineRequest) -> tuple[Engine, Engine]:
    """Both generators from ``request.weights`` as PyTorch modules.

    Args:
        device: "cpu" (the FP32 reference) or "cuda" (FP16/BF16 autocast for ``precision`` fp16/bf16,
            channels_last, CUDA graphs with ``cuda_graph``).
    """
    from edgeinpaint.core.errors import WeightsError, require_torch

    require_torch()
    from edgeinpaint.weights.format import load_weights

    if request.weights is None:
        raise WeightsError("the torch backends run the PyTorch modules: give --weights")
    weights = load_weights(request.weights)
    cuda = device.startswith("cuda")
    # The precision asked for, never another: fp16 is float16, bf16 is bfloat16, fp32 is no autocast.
    autocast = {specs.Precision.FP16: "float16", specs.Precision.BF16: "bfloat16"}.get(request.precision)
    engines = [
        TorchEngine(
            weights.build(role),
            tuple(s.name for s in inputs),
            tuple(s.name for s in outputs),
            device,
            request.threads,
            autocast=autocast,
            channels_last=cuda,
            cuda_graph=cuda and request.cuda_graph,
        )
        for role, inputs, outputs in (
            ("edge_generator", specs.EDGE_GENERATOR_INPUTS, specs.EDGE_GENERATOR_OUTPUTS),
            ("inpaint_generator", specs.INPAINT_GENERATOR_INPUTS, specs.INPAINT_GENERATOR_OUTPUTS),
        )
    ]
    edge, inpaint = engines
    return edge, inpaint
