"""The runtime's Canny stage: the fast float32 graph (default) or the exact graph on ONNX Runtime, or skimage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.canny.reference import canny_reference
from edgeinpaint.core.params import CannyParams
from edgeinpaint.core.specs import CANNY_GRAPHS, CannyVariant
from edgeinpaint.core.stages import CannyFn


@dataclass(frozen=True)
class CannySpec:
    """Picklable recipe for a Canny stage (worker processes rebuild it with :func:`make_canny`).

    Attributes:
        variant: which implementation (core/specs.py). params: sigma/thresholds. model: the
            exported graph file (None = build the variant's graph in memory).
    """

    variant: CannyVariant
    params: CannyParams
    model: Path | None = None


def make_canny(spec: CannySpec, threads: int | None = None) -> CannyFn:
    """The Canny stage described by ``spec``.

    Args:
        threads: ONNX Runtime intra-op threads; None = one. The graph is hundreds of small ops,
            where waking a second thread costs more than it saves (measured at 256²).
    """
    threads = threads or 1
    if spec.variant is CannyVariant.REFERENCE:
        return reference_canny(spec.params)
    if spec.model is not None:
        return GraphCanny(spec.model, threads=threads)
    return graph_canny(spec.params, spec.variant, threads)


def reference_canny(params: CannyParams) -> CannyFn:
    """skimage.feature.canny with the weights' settings, masked to the known region."""

    def run(gray: np.ndarray, known: np.ndarray) -> np.ndarray:
        return canny_reference(gray, params.sigma, params.low, params.high, known=known)

    return run


class GraphCanny:
    """A Canny graph (exact or fast) in an ONNX Runtime session.

    Args:
        model: path to ``canny.onnx`` or a ModelProto (``edgeinpaint canny`` builds one in memory).
        threads: intra-op threads (None = ORT default).
    """

    def __init__(self, model: Path | Any, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see OnnxRuntimeEngine
        if threads:
            options.intra_op_num_threads = threads
        source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
        self.session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.dtype = np.float64 if self.session.get_inputs()[0].type == "tensor(double)" else np.float32

    def batch(self, gray: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Edges of a same-size batch.

        Args:
            gray: (N, 1, H, W) in [0, 1]. known: (N, 1, H, W) bool or {0, 1}.

        Returns:
            (N, 1, H, W) bool.
        """
        feeds = {
            self.input_name: np.ascontiguousarray(gray, dtype=self.dtype),
            "known": np.ascontiguousarray(known, dtype=np.float32),
        }
        return np.asarray(self.session.run(None, feeds)[0] > 0.5)

    def __call__(self, gray: np.ndarray, known: np.ndarray) -> np.ndarray:
        return self.batch(gray[None, None], known[None, None])[0, 0]


def graph_canny(params: CannyParams, variant: CannyVariant, threads: int | None = None) -> GraphCanny:
    """A :class:`GraphCanny` of ``variant``'s graph (core/specs.py ``CANNY_GRAPHS``) built in memory for ``params``."""
    from edgeinpaint.canny.graph import build_canny_model

    graph = CANNY_GRAPHS[variant]
    model = build_canny_model(params.sigma, params.low, params.high, exact=graph.exact, hysteresis=graph.hysteresis)
    return GraphCanny(model, threads=threads)
