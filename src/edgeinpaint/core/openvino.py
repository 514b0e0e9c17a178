"""OpenVINO compiled models behind the Engine protocol (CPU plugin), used by export's BF16 check and the runtime.

Written against the OpenVINO 2024-2026 Python API (``openvino.Core.read_model / compile_model``,
``CompiledModel.create_infer_request``, ``InferRequest.infer``; properties from the OpenVINO
documentation "CPU Device" and "Precision Control"):

- ``INFERENCE_PRECISION_HINT`` is pinned per precision: ``f32`` for the FP32, FP16 and INT8 files
  (the CPU plugin would otherwise run FP32 graphs in BF16 on AVX512_BF16/AMX CPUs by default, so
  "FP32" would silently not mean FP32); ``bf16`` only for BF16;
- INT8 Q/DQ graphs run with INT8 kernels (OpenVINO's low-precision transformations read the Q/DQ
  pairs the exporter writes);
- ``PERFORMANCE_HINT=LATENCY``: the runtime runs one batch at a time from one thread, so throughput
  streams would only split the cores; ``INFERENCE_NUM_THREADS`` from ``--threads``; ``CACHE_DIR``
  in the user's cache folder, keyed by the ONNX file's sha256 (runtime/engines/openvino.py
  ``model_cache``), so a second run skips compilation;
- a batch runs image by image: OpenVINO picks kernels by shape, so a batched call can round
  differently from a single one, and a picture must not depend on its batch mates (the runtime's
  byte-identity across batch sizes and execution paths). CPU inference gains little from batching.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeinpaint.core.atomic import exclusive
from edgeinpaint.core.engine import EngineBase
from edgeinpaint.core.errors import DependencyError
from edgeinpaint.core.specs import Precision

#: OpenVINO's inference precision per precision (module docstring).
INFERENCE_PRECISION = {
    Precision.FP32: "f32",
    Precision.FP16: "f32",
    Precision.INT8: "f32",
    Precision.BF16: "bf16",
}


class OpenVinoEngine(EngineBase):
    """One ONNX graph compiled for OpenVINO's CPU plugin.

    Args:
        path: ONNX file (sha-verified by the caller). precision: which hint to pin.
        threads: inference threads (None = OpenVINO's default, all cores). cache: model cache folder.
    """

    def __init__(self, path: Path, precision: Precision, threads: int | None = None, cache: Path | None = None) -> None:
        try:
            import openvino as ov
        except ImportError as exc:
            raise DependencyError(
                "--backend openvino needs openvino: pip install 'edgeinpaint[cpu]' (from a clone: -e '.[cpu]')"
            ) from exc
        core = ov.Core()
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": INFERENCE_PRECISION[precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.path = Path(path)
        if cache is None:
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        else:
            config["CACHE_DIR"] = str(cache)
            with exclusive(cache):  # one writer per cache across processes (see core/atomic.py)
                self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.request = self.compiled.create_infer_request()
        # A port carries several tensor names (the FP16 converter's input Casts add aliases), so
        # ports are matched to the ONNX graph's own input/output names.
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        wanted_in = [i.name for i in graph.input]
        wanted_out = [o.name for o in graph.output]
        self._in_ports = {self._name(p, wanted_in): p for p in self.compiled.inputs}
        self._out_ports = {self._name(p, wanted_out): p for p in self.compiled.outputs}
        self.input_names = tuple(n for n in wanted_in if n in self._in_ports)
        self.output_names = tuple(n for n in wanted_out if n in self._out_ports)
        self._dtypes = {n: np.dtype(p.get_element_type().to_dtype()) for n, p in self._in_ports.items()}

    @staticmethod
    def _name(port: Any, wanted: list[str]) -> str:
        names = port.get_names()
        return next((n for n in wanted if n in names), port.get_any_name())

    def _run(self, feeds: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        batch = int(np.shape(feeds[self.input_names[0]])[0])
        parts = []
        for i in range(batch):  # image by image: results never depend on batch mates (module docstring)
            inputs = {
                self._in_ports[k]: np.ascontiguousarray(feeds[k][i : i + 1], dtype=self._dtypes[k])
                for k in self.input_names
            }
            results = self.request.infer(inputs)
            # Copies: the request reuses its output tensors on the next call.
            parts.append({n: np.array(results[p]) for n, p in self._out_ports.items()})
        return {n: np.concatenate([p[n] for p in parts]) for n in self.output_names}

    def _release(self) -> None:
        del self.request, self.compiled
