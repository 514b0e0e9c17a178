"""ONNX Runtime sessions behind the Engine protocol: the reference executor of every layer.

Export checks each graph it writes on ONNX Runtime's CPU provider, calibration collects ranges
with it, and the runtime's ``onnxruntime*`` backends run it with other execution providers, so it
lives in the contracts layer that all of them can import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.engine import EngineBase
from edgeinpaint.core.errors import DependencyError

_ORT_TYPES: dict[str, Any] = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8, "tensor(double)": np.float64}
#: (provider name, provider options) or a bare name, in priority order.
Provider = str | tuple[str, dict[str, str]]


def session_options(threads: int | None = None) -> Any:
    """ORT session options shared by every session this package opens.

    Several sessions (Canny, edge, inpaint) run one after another in one process: idle intra-op
    threads that spin-wait steal the cores the next session needs (measured 1.7x slower end to end
    on 2 cores with spinning on), so spinning is off.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def provider_name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


class OnnxRuntimeEngine(EngineBase):
    """One ONNX graph in an ``onnxruntime.InferenceSession``.

    Args:
        path: ONNX file (already sha-verified by the caller).
        providers: execution providers in priority order; the first must really activate.
        threads: intra-op threads (None = ORT's default, all physical cores).

    Raises:
        DependencyError: the first provider is unknown to this ONNX Runtime, or ORT fell back from
            it (ORT silently falls back to CPU when a provider's libraries fail to load).
    """

    def __init__(
        self, path: Path, providers: Sequence[Provider] = ("CPUExecutionProvider",), threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        available = set(ort.get_available_providers())
        names = [provider_name(p) for p in providers]
        missing = [p for p in names if p not in available]
        if missing:
            raise DependencyError(
                f"ONNX Runtime provider(s) {', '.join(missing)} not available (have {', '.join(sorted(available))})"
            )
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), sess_options=session_options(threads), providers=list(providers))
        active = self.session.get_providers()
        if names[0] not in active:
            raise DependencyError(f"{path}: requested {names[0]} but ONNX Runtime activated {active}")
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        # The graph's own input types: float32 for the generators, uint8 for the fused model's I/O.
        self.input_dtypes = {i.name: _ORT_TYPES.get(i.type, np.float32) for i in self.session.get_inputs()}

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        results = self.session.run(
            None, {k: np.ascontiguousarray(feeds[k], dtype=self.input_dtypes[k]) for k in self.input_names}
        )
        return dict(zip(self.output_names, results, strict=True))

    def _release(self) -> None:
        del self.session
