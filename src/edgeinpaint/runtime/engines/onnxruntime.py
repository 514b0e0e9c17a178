"""ONNX Runtime engine (CPU here; CUDA / TensorRT execution providers where installed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgeinpaint.errors import DependencyError
from edgeinpaint.runtime.engines import deliver


class OnnxRuntimeEngine:
    """One ONNX graph in an ``onnxruntime.InferenceSession``.

    Args:
        path: ONNX file (already sha-verified by the caller).
        providers: execution providers in priority order.
        threads: intra-op threads (None = ORT's default, all physical cores).
    """

    def __init__(
        self,
        path: Path,
        providers: Sequence[str | tuple[str, dict[str, str]]] = ("CPUExecutionProvider",),
        threads: int | None = None,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Several sessions (Canny, edge, inpaint) run one after another in this process: idle
        # intra-op threads that spin-wait steal the cores the next session needs (measured 1.7x
        # slower end to end on 2 cores with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        available = set(ort.get_available_providers())
        names = [p if isinstance(p, str) else p[0] for p in providers]
        missing = [p for p in names if p not in available]
        if missing:
            raise DependencyError(
                f"ONNX Runtime provider(s) {', '.join(missing)} not available (have {', '.join(sorted(available))})"
            )
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=list(providers))
        # ORT silently falls back to CPU when a provider fails to initialise: check what it really uses.
        active = self.session.get_providers()
        if names[0] not in active:
            raise DependencyError(f"{path}: requested {names[0]} but ONNX Runtime activated {active}")
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())

    def run(
        self, feeds: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray] | None = None
    ) -> Mapping[str, np.ndarray]:
        """Run the graph; ``out`` (preallocated outputs) is filled in place when given."""
        results = self.session.run(
            None, {k: np.ascontiguousarray(feeds[k], dtype=np.float32) for k in self.input_names}
        )
        named = dict(zip(self.output_names, results, strict=True))
        return deliver(named, out)

    def close(self) -> None:
        del self.session
