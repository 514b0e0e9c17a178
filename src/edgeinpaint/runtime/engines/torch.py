"""PyTorch engine: the reference backend (eager FP32), CPU or CUDA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgeinpaint.runtime.engines import deliver


class TorchEngine:
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

    def run(
        self, feeds: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray] | None = None
    ) -> Mapping[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            args = [
                torch.from_numpy(np.ascontiguousarray(feeds[k], dtype=np.float32)).to(self.device)
                for k in self.input_names
            ]
            result = self.module.predict(*args).float().cpu().numpy()
        named = {self.output_names[0]: result}
        return deliver(named, out)

    def close(self) -> None:
        del self.module
