"""PyTorch engine: the reference backend (eager FP32), CPU or CUDA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.engine import Engine, EngineBase


class TorchEngine(EngineBase):
    """A generator module behind the :class:`Engine` protocol.

    Args:
        module: an EdgeGenerator or InpaintGenerator (folded, eval mode).
        input_names / output_names: the ONNX contract's names (specs.py), in argument order of ``predict``.
        device: torch device string.
        threads: torch intra-op threads (None = leave as is).
    """

    def __init__(
        self,
        module: Any,
        input_names: tuple[str, ...],
        output_names: tuple[str, ...],
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        self.input_names = input_names
        self.output_names = output_names

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            args = [
                torch.from_numpy(np.ascontiguousarray(feeds[k], dtype=np.float32)).to(self.device)
                for k in self.input_names
            ]
            result = self.module.predict(*args).float().cpu().numpy()
        return {self.output_names[0]: result}

    def _release(self) -> None:
        del self.module


def open_generators(request: Any) -> tuple[Engine, Engine]:
    """Both generators from ``request.weights`` as PyTorch modules (eager FP32, CPU or CUDA)."""
    from edgeinpaint.core.errors import require_torch

    require_torch()
    from edgeinpaint.weights.format import load_weights

    weights = load_weights(request.weights)
    edge = TorchEngine(
        weights.build("edge_generator"),
        tuple(s.name for s in specs.EDGE_GENERATOR_INPUTS),
        tuple(s.name for s in specs.EDGE_GENERATOR_OUTPUTS),
        "cpu",
        request.threads,
    )
    inpaint = TorchEngine(
        weights.build("inpaint_generator"),
        tuple(s.name for s in specs.INPAINT_GENERATOR_INPUTS),
        tuple(s.name for s in specs.INPAINT_GENERATOR_OUTPUTS),
        "cpu",
        request.threads,
    )
    return edge, inpaint
