"""``edgeinpaint export --triton DIR``: a Triton Inference Server model repository from an artifacts folder.

Layout written (Triton docs, "Model Repository" and "Model Configuration"; every ``config.pbtxt``
is built as a ``inference.ModelConfig`` protobuf, so it is well-formed by construction, then parsed
back and checked against its model by serving/triton/check.py before the repository is published):

    DIR/
      edgeinpaint_fused/        the fused single-file model (Canny, both generators, paste composite;
        config.pbtxt            uint8 NHWC image + mask in, uint8 output + raw out): onnxruntime_onnx,
        1/model.onnx            or, in the python form, a python model running the same file on ONNX Runtime
      edgeinpaint_fused_trt/    tensorrt_plan, where the artifacts hold engines (one plan per compute
        1/model_<cc>.plan       capability, chosen by Triton through ``cc_model_filenames``)
      edge_generator/           the two generators, float32 NCHW (for clients that run Canny themselves)
      inpaint_generator/
      edgeinpaint_decode/       python: PNG/JPEG/... bytes -> uint8 image + mask (the local run's decoder)
      edgeinpaint_finish/       python: the weights' composite (paste or Poisson) -> encoded picture
      edgeinpaint/              ensemble: IMAGE + MASK bytes -> decode -> fused -> finish -> PICTURE bytes
      edgeinpaint_trt/          the same ensemble on the TensorRT plan (``--triton-backend both``)
      README.md, kserve.yaml    how to start NVIDIA's container on it; a KServe InferenceService

The python models import ``edgeinpaint.core`` (numpy, Pillow, SciPy): the server's Python needs
edgeinpaint (no extras) beside Triton's python backend; edgeinpaint is not on PyPI, so export builds its
wheel into ``edgeinpaint_decode/wheels/`` (serving/triton/wheel.py) and README.md / kserve.yaml install it.
"""

from __future__ import annotations

import enum
import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edgeinpaint.core.atomic import new_run_tag, write_text
from edgeinpaint.core.errors import ExportError
from edgeinpaint.core.manifest import ArtifactFile, Manifest, read_manifest, verify_file
from edgeinpaint.core.sidecar import EngineSidecar, ShapeProfile, read_engine
from edgeinpaint.core.specs import Precision
from edgeinpaint.core.version import __version__
from edgeinpaint.serving.triton.schema import (
    ENSEMBLE,
    PYTHON_MODELS,
    Tensor,
    TritonSchemaError,
    model_config_class,
    to_pbtxt,
    triton_dtype,
)
from edgeinpaint.serving.triton.wheel import build_wheel

#: Marks a folder this writer made, so a re-export may replace it (any other folder is refused).
MARKER = ".edgeinpaint-triton.json"


class TritonBackend(str, enum.Enum):
    """--triton-backend: which Triton backend runs the networks."""

    ONNXRUNTIME = "onnxruntime"
    TENSORRT = "tensorrt"
    BOTH = "both"
    PYTHON = "python"  # the networks on ONNX Runtime inside python models: Triton builds without the
    # onnxruntime backend (PyTriton's bundled server has only the python backend) serve it as is


@dataclass(frozen=True)
class TritonOptions:
    """What the repository contains.

    Attributes:
        backend: see :class:`TritonBackend`. precision: the fused model / generators' variant.
        max_batch: ``max_batch_size`` of every model (requests of one image size are batched up to it).
        instances: instances per model (``instance_group``). ort_tensorrt: ask the onnxruntime
            backend for its TensorRT accelerator (``gpu_execution_accelerator``) at ``precision``.
        warmup: side of the square zero image each network is warmed up with (0: none).
        queue_delay_us: dynamic batcher's wait for company (microseconds).
    """

    backend: TritonBackend = TritonBackend.ONNXRUNTIME
    precision: Precision = Precision.FP32
    max_batch: int = 4
    instances: int = 1
    ort_tensorrt: bool = False
    warmup: int = 256
    queue_delay_us: int = 2000


def _tensors(specs: list[dict[str, Any]]) -> list[Tensor]:
    """Manifest I/O specs -> Triton tensors without the batch axis (``-1`` for every dynamic one)."""
    out = []
    for spec in specs:
        shape = list(spec["shape"])[1:]  # the first axis is N: Triton's implicit batch dimension
        dims = [d if isinstance(d, int) else -1 for d in shape]
        out.append(Tensor(spec["name"], triton_dtype(spec["dtype"]), tuple(dims)))
    return out


def _tensor_dicts(tensors: list[Tensor] | tuple[Tensor, ...]) -> list[dict[str, Any]]:
    return [{"name": t.name, "data_type": t.dtype, "dims": list(t.dims)} for t in tensors]


def _warmup(inputs: list[Tensor], side: int) -> list[dict[str, Any]]:
    if side <= 0:
        return []
    dims = {t.name: [side if d == -1 else d for d in t.dims] for t in inputs}
    feeds = {t.name: {"data_type": t.dtype, "dims": dims[t.name], "zero_data": True} for t in inputs}
    return [{"name": f"zeros_{side}x{side}", "batch_size": 1, "inputs": feeds}]


def _batching(options: TritonOptions, profile: ShapeProfile | None = None) -> dict[str, Any]:
    top = min(options.max_batch, profile.batch.max if profile else options.max_batch)
    preferred = sorted({b for b in (profile.batch.opt if profile else 1, top) if 1 <= b <= options.max_batch})
    return {"preferred_batch_size": preferred, "max_queue_delay_microseconds": options.queue_delay_us}


def _network_config(
    name: str, entry: ArtifactFile, options: TritonOptions, kind: str, sidecar: EngineSidecar | None = None
) -> dict[str, Any]:
    """``config.pbtxt`` (as a dict) for an exported network run by onnxruntime, tensorrt or python."""
    inputs, outputs = _tensors(entry.inputs), _tensors(entry.outputs)
    gpu = kind in ("onnxruntime", "tensorrt")
    config: dict[str, Any] = {
        "name": name,
        "max_batch_size": options.max_batch,
        "input": _tensor_dicts(inputs),
        "output": _tensor_dicts(outputs),
        "instance_group": [{"count": options.instances, "kind": "KIND_GPU" if gpu else "KIND_CPU"}],
        "dynamic_batching": _batching(options, _profile(sidecar)),
        "model_warmup": _warmup(inputs, options.warmup),
        "parameters": {"edgeinpaint_source": {"string_value": f"{entry.file} sha256:{entry.sha256}"}},
    }
    if kind == "onnxruntime":
        config["backend"] = "onnxruntime"
        config["platform"] = "onnxruntime_onnx"
        if options.ort_tensorrt:
            mode = "FP16" if options.precision in (Precision.FP16, Precision.BF16) else "FP32"
            accelerator = {"name": "tensorrt", "parameters": {"precision_mode": mode}}
            config["optimization"] = {"execution_accelerators": {"gpu_execution_accelerator": [accelerator]}}
    elif kind == "tensorrt":
        assert sidecar is not None
        config["backend"] = "tensorrt"
        config["platform"] = "tensorrt_plan"
        cc = sidecar.device.compute_capability
        config["cc_model_filenames"] = {cc: f"model_{cc}.plan"}
    else:
        config["backend"] = "python"
        config["parameters"]["onnx_file"] = {"string_value": "model.onnx"}
    return config


def _profile(sidecar: EngineSidecar | None) -> ShapeProfile | None:
    if sidecar is None:
        return None
    from edgeinpaint.core.sidecar import AxisRange

    batch = sidecar.profile.get("batch")
    return ShapeProfile(batch=AxisRange(*batch)) if batch else None


def _python_config(name: str, options: TritonOptions, parameters: dict[str, str]) -> dict[str, Any]:
    inputs, outputs = PYTHON_MODELS[name]
    return {
        "name": name,
        "backend": "python",
        "max_batch_size": options.max_batch,
        "input": _tensor_dicts(inputs),
        "output": _tensor_dicts(outputs),
        "instance_group": [{"count": options.instances, "kind": "KIND_CPU"}],
        "parameters": {k: {"string_value": v} for k, v in parameters.items()},
    }


def _ensemble_config(name: str, fused: str, options: TritonOptions) -> dict[str, Any]:
    inputs, outputs, steps = ENSEMBLE
    return {
        "name": name,
        "platform": "ensemble",
        "max_batch_size": options.max_batch,
        "input": _tensor_dicts(inputs),
        "output": _tensor_dicts(outputs),
        "ensemble_scheduling": {
            "step": [
                {
                    "model_name": fused if model == "edgeinpaint_fused" else model,
                    "model_version": -1,
                    "input_map": dict(input_map),
                    "output_map": dict(output_map),
                }
                for model, input_map, output_map in steps
            ]
        },
    }


def _engine(artifacts: Path, entry: ArtifactFile) -> tuple[bytes, EngineSidecar] | None:
    """The TensorRT plan built beside ``entry`` and its sidecar, checked (core/sidecar.py ``read_engine``:
    regular files in the artifacts folder, the sha256 its sidecar recorded), or None when there is none."""
    engine = artifacts / entry.file.replace(".onnx", ".engine")
    sidecar = engine.with_suffix(".engine.json")
    if not (engine.exists() or engine.is_symlink()) and not sidecar.exists():
        return None
    return read_engine(engine, artifacts, "edgeinpaint export --engine (on the GPU machine)")


def _fits_batch(sidecar: EngineSidecar, options: TritonOptions, file: str) -> None:
    """Triton refuses a tensorrt_plan model whose max_batch_size exceeds the plan's profile: refuse it here."""
    profile = _profile(sidecar)
    if profile is not None and options.max_batch > profile.batch.max:
        raise ExportError(
            f"{file}: --max-batch {options.max_batch} exceeds the engine's profile (batch up to {profile.batch.max}); "
            f"lower --max-batch or rebuild the engine with a larger batch in --shapes"
        )


def _template(name: str) -> str:
    return resources.files("edgeinpaint.serving.triton").joinpath(f"models/{name}.py").read_text()


def write_repository(artifacts: Path, out: Path, options: TritonOptions) -> list[str]:
    """Write edgeinpaint's models into the Triton model repository ``out``; returns them.

    ``out`` is new, empty, or a repository an earlier ``export --triton`` wrote (its marker file lists
    what it wrote). Only what this command owns is replaced: those models, README.md and kserve.yaml;
    every other folder of the repository (a model the user added since) is kept. The models are built
    beside ``out`` and validated (serving/triton/check.py) first, then renamed into place, the replaced
    ones set aside until all are in (and put back if a move fails), so a failure never leaves a
    half-written or emptied repository.

    Raises:
        ExportError: no fused uint8 model at ``options.precision``, no TensorRT engine where one is
            asked for, ``out`` a symlink, a file, or a non-empty folder no export wrote, a folder or
            file in ``out`` with one of our names that the earlier export did not write, or a config
            that fails validation (a bug: the message names the file and field).
    """
    manifest = read_manifest(artifacts)
    fused = manifest.require("fused", options.precision.value)
    if not fused.options.get("uint8_io", True):
        raise ExportError(
            f"{fused.file}: the Triton ensemble needs the uint8 NHWC fused model; export with --fused-io uint8"
        )
    if out.is_symlink():
        raise ExportError(f"--triton {out}: is a symlink; give the repository folder itself")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--triton {out}: is a file; expected a folder (new, or a Triton model repository)")
    owned = _owned(out)
    if out.exists() and any(out.iterdir()) and not owned:
        raise ExportError(f"{out}: exists and was not written by `export --triton`; choose an empty or new folder")
    tag = new_run_tag()
    work = out.with_name(f".{out.name}.eip-{tag}.tmp")
    aside = out.with_name(f".{out.name}.eip-{tag}.old")
    try:
        models = _write(artifacts, manifest, fused, work, options)
        from edgeinpaint.serving.triton.check import check_repository

        check_repository(work, artifacts)
        names = [*models, *_FILES]
        clash = sorted(n for n in names if (out / n).exists() and n not in owned)
        if clash:
            raise ExportError(
                f"--triton {out}: {', '.join(clash)} already there and not written by `export --triton`; "
                "move them, or choose another repository folder"
            )
        write_text(
            work / MARKER,
            json.dumps(
                {"edgeinpaint": __version__, "models": models, "files": list(_FILES), "artifacts": str(artifacts)}
            ),
        )
        _swap(work, out, aside, [*names, MARKER], [n for n in owned if n not in names])
    except TritonSchemaError as exc:
        raise ExportError(f"the Triton repository did not validate: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)
    return models


#: Files at the repository's top level that export writes beside the models.
_FILES = ("README.md", "kserve.yaml")


def _owned(out: Path) -> set[str]:
    """Top-level names of ``out`` a previous ``export --triton`` wrote (its marker lists them)."""
    marker = out / MARKER
    if not marker.is_file() or marker.is_symlink():
        return set()
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return set()
    names = [*data.get("models", []), *data.get("files", _FILES), MARKER]
    # Plain names only: a marker naming "../x" or "a/b" never makes export replace anything outside out.
    return {n for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", "..")}


def _swap(work: Path, out: Path, aside: Path, new: list[str], stale: list[str]) -> None:
    """Move ``new`` names from ``work`` into ``out``; what they replace (and ``stale`` ones) goes to ``aside``,
    and comes back if a move fails."""
    out.mkdir(parents=True, exist_ok=True)
    aside.mkdir()
    moved_aside: list[str] = []
    moved_in: list[str] = []
    try:
        for name in [*new, *stale]:
            if (out / name).exists() or (out / name).is_symlink():
                (out / name).rename(aside / name)
                moved_aside.append(name)
        for name in new:
            if (work / name).exists():
                (work / name).rename(out / name)
                moved_in.append(name)
    except OSError:
        for name in moved_in:
            (out / name).rename(work / name)
        for name in moved_aside:
            (aside / name).rename(out / name)
        raise


def _write(artifacts: Path, manifest: Manifest, fused: ArtifactFile, work: Path, options: TritonOptions) -> list[str]:
    model_config_class()  # fails now, with the install hint, when tritonclient is missing
    configs: dict[str, dict[str, Any]] = {}
    python_form = options.backend is TritonBackend.PYTHON
    want_ort = options.backend in (TritonBackend.ONNXRUNTIME, TritonBackend.BOTH)
    want_trt = options.backend in (TritonBackend.TENSORRT, TritonBackend.BOTH)
    ensembles: dict[str, str] = {}

    def copy(entry: ArtifactFile, model: str, target: str) -> None:
        (work / model / "1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(verify_file(artifacts, entry), work / model / "1" / target)

    networks = [("edgeinpaint_fused", fused)]
    for role in ("edge_generator", "inpaint_generator"):
        entry = manifest.find(role, options.precision.value)
        if entry is not None:
            networks.append((role, entry))
    for model, entry in networks:
        if python_form:
            copy(entry, model, "model.onnx")
            (work / model / "1" / "model.py").write_text(_template("network"))
            configs[model] = _network_config(model, entry, options, "python")
        if want_ort:
            copy(entry, model, "model.onnx")
            configs[model] = _network_config(model, entry, options, "onnxruntime")
        if want_trt:
            found = _engine(artifacts, entry)
            if found is None:
                if options.backend is TritonBackend.TENSORRT and model == "edgeinpaint_fused":
                    raise ExportError(
                        f"{entry.file}: no TensorRT engine beside it in {artifacts}; build one on the GPU "
                        "machine with `edgeinpaint export --engine` (or use --triton-backend onnxruntime)"
                    )
                continue
            plan, sidecar = found
            _fits_batch(sidecar, options, entry.file)
            trt = f"{model}_trt"
            (work / trt / "1").mkdir(parents=True, exist_ok=True)
            cc = sidecar.device.compute_capability
            (work / trt / "1" / f"model_{cc}.plan").write_bytes(plan)  # the verified bytes, not a re-read
            write_text(work / trt / "1" / f"model_{cc}.plan.json", json.dumps(sidecar.to_json(), indent=2))
            configs[trt] = _network_config(trt, entry, options, "tensorrt", sidecar)
    if "edgeinpaint_fused" in configs:
        ensembles["edgeinpaint"] = "edgeinpaint_fused"
    if "edgeinpaint_fused_trt" in configs:
        ensembles["edgeinpaint_trt" if "edgeinpaint" in ensembles else "edgeinpaint"] = "edgeinpaint_fused_trt"
    composite = str(manifest.blend.value)
    for name, parameters in (("edgeinpaint_decode", {}), ("edgeinpaint_finish", {"composite": composite})):
        (work / name / "1").mkdir(parents=True, exist_ok=True)
        (work / name / "1" / "model.py").write_text(_template(name.removeprefix("edgeinpaint_")))
        configs[name] = _python_config(name, options, parameters)
    for name, fused_model in ensembles.items():
        (work / name / "1").mkdir(parents=True, exist_ok=True)  # Triton wants a version folder, even empty
        configs[name] = _ensemble_config(name, fused_model, options)
    for name, config in configs.items():
        write_text(work / name / "config.pbtxt", to_pbtxt(config))
    # The python models import edgeinpaint.core: its wheel travels in the repository (a non-numeric folder in
    # a model folder, which Triton ignores; a top-level folder would be loaded as a model).
    wheel = build_wheel(work / "edgeinpaint_decode" / "wheels")
    install = f"/models/edgeinpaint_decode/wheels/{wheel.name}" if wheel is not None else f"edgeinpaint=={__version__}"
    write_text(work / "README.md", _readme(sorted(configs), ensembles, options, composite, install, wheel is not None))
    write_text(work / "kserve.yaml", _kserve(install.replace("/models/", "/mnt/models/")))
    return sorted(configs)


def _readme(
    models: list[str], ensembles: dict[str, str], options: TritonOptions, composite: str, install: str, bundled: bool
) -> str:
    listing = "\n".join(f"- `{m}`" for m in models)
    entry = next(iter(ensembles))
    wheel_note = (
        "edgeinpaint's wheel, built by this export into `edgeinpaint_decode/wheels/`,"
        if bundled
        else f"edgeinpaint {__version__} (this export ran from an installed wheel: install that same wheel)"
    )
    return f"""# edgeinpaint Triton model repository

Written by `edgeinpaint export --triton` (edgeinpaint {__version__}; backend {options.backend.value},
precision {options.precision.value}, max batch {options.max_batch}; the weights' composite: {composite}).

Models:

{listing}

`{entry}` is the ensemble clients call: `IMAGE` and `MASK` are the encoded files (PNG, JPEG, WebP...,
as `BYTES`, shape `[1, 1]`; white = hole), `PICTURE` is the inpainted PNG. The python models import
`edgeinpaint.core`: install {wheel_note} in the server's Python (`pip install {install}`: it brings numpy,
Pillow, OpenCV, SciPy and the other base requirements, no extras).

## NVIDIA's container

```bash
docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 \\
  -v "$PWD":/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 \\
  bash -c "pip install {install} && tritonserver --model-repository /models"
```

TensorRT plans only load on the TensorRT version and GPU architecture they were built with
(`1/model_<cc>.plan.json` says which); use the container release that ships that TensorRT.

## Client

```python
import numpy as np
import tritonclient.http as http

client = http.InferenceServerClient("127.0.0.1:8000")
inputs = []
for name, path in (("IMAGE", "photo.png"), ("MASK", "mask.png")):
    tensor = http.InferInput(name, [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[open(path, "rb").read()]], dtype=object))
    inputs.append(tensor)
answer = client.infer("{entry}", inputs)
open("painted.png", "wb").write(answer.as_numpy("PICTURE")[0, 0])
```
"""


def _kserve(install: str) -> str:
    return f"""# KServe InferenceService for this repository (copy it to a PVC or bucket first; KServe mounts it at
# /mnt/models). The python models need edgeinpaint in the server's Python: installed from the wheel
# inside the repository before Triton starts.
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: edgeinpaint
spec:
  predictor:
    triton:
      storageUri: pvc://models/edgeinpaint   # where this folder was copied
      runtimeVersion: "24.08-py3"
      command: ["bash", "-c"]
      args: ["pip install {install} && tritonserver --model-repository=/mnt/models"]
      resources:
        limits:
          nvidia.com/gpu: "1"
"""
