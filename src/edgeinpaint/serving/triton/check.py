"""Check a Triton model repository: every ``config.pbtxt`` parses and agrees with the model it describes.

Parsing with Triton's own schema (serving/triton/schema.py) catches misspelled fields, bad enum
values and wrong types; what the schema cannot see is checked here, with the rules Triton applies
when it loads a model (Triton docs, "Model Configuration": with ``max_batch_size > 0`` the first
axis of every tensor is the batch axis and is left out of ``dims``; an ensemble's
``max_batch_size`` must not exceed its models'):

- onnxruntime models (and python models that run a ``model.onnx``): names, data types, ranks and
  fixed sizes against the ONNX graph's inputs and outputs; a dynamic first axis when batching;
- tensorrt plans: every ``cc_model_filenames`` file exists, ``max_batch_size`` is within its profile, and its I/O
  against the ONNX file the
  engine was built from (its sidecar names it) when the artifacts folder is given;
- our python models: against their declared contract (``PYTHON_MODELS``);
- ensembles: every step's model exists, every model input is mapped, every tensor a step reads is
  an ensemble input or an earlier step's output of the same type and rank, every ensemble output is
  produced; warm-up inputs are real inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from edgeinpaint.serving.triton.schema import PYTHON_MODELS, Tensor, TritonSchemaError, parse_pbtxt, triton_dtype


def _dtype_name(config: Any, value: int) -> str:
    field = config.DESCRIPTOR.fields_by_name["input"].message_type.fields_by_name["data_type"]
    return str(field.enum_type.values_by_number[value].name)


def _declared(config: Any, which: str) -> list[Tensor]:
    return [Tensor(t.name, _dtype_name(config, t.data_type), tuple(t.dims)) for t in getattr(config, which)]


def onnx_io(path: Path, batched: bool) -> tuple[list[Tensor], list[Tensor]]:
    """An ONNX file's graph inputs and outputs as Triton tensors (the first axis dropped when ``batched``).

    Raises:
        TritonSchemaError: missing or unreadable file; a batched model whose first axis is fixed.
    """
    import numpy as np
    import onnx

    if not path.is_file():
        raise TritonSchemaError(f"{path}: missing; the config describes a model file that is not there")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise TritonSchemaError(f"{path}: not a readable ONNX file ({exc})") from None
    initializers = {i.name for i in model.graph.initializer}

    def tensors(values: Iterable[Any]) -> list[Tensor]:
        out = []
        for value in values:
            if value.name in initializers:
                continue
            kind = value.type.tensor_type
            dtype = triton_dtype(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type)).name)
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in kind.shape.dim]
            if batched:
                if not dims or dims[0] != -1:
                    raise TritonSchemaError(
                        f"{path}: {value.name} has a fixed first axis {dims[:1]}; max_batch_size > 0 needs a "
                        "dynamic batch axis (or set max_batch_size: 0)"
                    )
                dims = dims[1:]
            out.append(Tensor(value.name, dtype, tuple(dims)))
        return out

    return tensors(model.graph.input), tensors(model.graph.output)


def _compare(where: Path, kind: str, declared: Sequence[Tensor], actual: Sequence[Tensor], what: str) -> None:
    """Declared ``kind`` tensors ("input"/"output") against the model's own; the first difference raises."""
    have = {t.name: t for t in actual}
    for tensor in declared:
        real = have.get(tensor.name)
        if real is None:
            raise TritonSchemaError(
                f"{where}: {kind} {tensor.name!r} is not an {kind} of {what} (its {kind}s: {', '.join(have) or 'none'})"
            )
        if tensor.dtype != real.dtype:
            raise TritonSchemaError(f"{where}: {kind} {tensor.name!r} is {tensor.dtype} but {what} has {real.dtype}")
        if len(tensor.dims) != len(real.dims):
            raise TritonSchemaError(
                f"{where}: {kind} {tensor.name!r} has dims {list(tensor.dims)} (rank {len(tensor.dims)}) but "
                f"{what} has rank {len(real.dims)} {list(real.dims)} (batch axis excluded)"
            )
        for axis, (mine, theirs) in enumerate(zip(tensor.dims, real.dims, strict=True)):
            if theirs != -1 and mine != theirs:
                raise TritonSchemaError(
                    f"{where}: {kind} {tensor.name!r} axis {axis} is {mine} but {what} fixes it at {theirs}"
                )
    missing = [name for name in have if name not in {t.name for t in declared}]
    if missing and kind == "input":
        raise TritonSchemaError(f"{where}: {what} needs input(s) {', '.join(missing)} that the config does not declare")


def _check_network(where: Path, config: Any, onnx_path: Path, what: str) -> None:
    inputs, outputs = onnx_io(onnx_path, config.max_batch_size > 0)
    _compare(where, "input", _declared(config, "input"), inputs, what)
    _compare(where, "output", _declared(config, "output"), outputs, what)


def _check_plan(where: Path, config: Any, folder: Path, artifacts: Path | None) -> None:
    names = dict(config.cc_model_filenames) or {"": config.default_model_filename or "model.plan"}
    for cc, name in names.items():
        plan = folder / "1" / name
        if not plan.is_file():
            raise TritonSchemaError(f"{where}: cc_model_filenames[{cc!r}] = {name!r}, but {plan} is missing")
        sidecar = plan.with_name(plan.name + ".json")
        if sidecar.is_file():  # Triton refuses a max_batch_size above the plan's profile
            batch = json.loads(sidecar.read_text()).get("profile", {}).get("batch")
            if batch and config.max_batch_size > int(batch[2]):
                raise TritonSchemaError(
                    f"{where}: max_batch_size {config.max_batch_size} exceeds {name}'s profile (batch up to {batch[2]})"
                )
        if artifacts is not None and sidecar.is_file():
            source = json.loads(sidecar.read_text())["onnx"]
            _check_network(where, config, artifacts / Path(source).name, f"{Path(source).name} (the plan's source)")


def _mapped(where: Path, step: int, model: str, name: str, tensors: dict[str, Tensor], kind: str) -> Tensor:
    """The ``kind`` ("input"/"output") tensor ``name`` of an ensemble step's ``model``; a clear error if none."""
    if name not in tensors:
        raise TritonSchemaError(
            f"{where}: step {step} maps {name!r}, not an {kind} of {model} (its {kind}s: {', '.join(tensors)})"
        )
    return tensors[name]


def _check_ensemble(where: Path, config: Any, models: dict[str, Any]) -> None:
    tensors = {t.name: t for t in _declared(config, "input")}
    for k, step in enumerate(config.ensemble_scheduling.step):
        target = models.get(step.model_name)
        if target is None:
            raise TritonSchemaError(
                f"{where}: step {k} calls model {step.model_name!r}, which is not in the repository"
            )
        if target.max_batch_size < config.max_batch_size:
            raise TritonSchemaError(
                f"{where}: max_batch_size {config.max_batch_size} exceeds {step.model_name}'s {target.max_batch_size}"
            )
        inputs = {t.name: t for t in _declared(target, "input")}
        outputs = {t.name: t for t in _declared(target, "output")}
        for model_input, tensor_name in step.input_map.items():
            wanted = _mapped(where, k, step.model_name, model_input, inputs, "input")
            got = tensors.get(tensor_name)
            if got is None:
                raise TritonSchemaError(
                    f"{where}: step {k} ({step.model_name}) reads {tensor_name!r}, which no ensemble input or "
                    "earlier step produces"
                )
            if got.dtype != wanted.dtype or len(got.dims) != len(wanted.dims):
                raise TritonSchemaError(
                    f"{where}: step {k} feeds {tensor_name!r} ({got.dtype}, rank {len(got.dims)}) to "
                    f"{step.model_name}.{model_input} ({wanted.dtype}, rank {len(wanted.dims)})"
                )
        unmapped = [i for i in inputs if i not in step.input_map]
        if unmapped:
            raise TritonSchemaError(
                f"{where}: step {k} leaves {step.model_name} input(s) {', '.join(unmapped)} unmapped"
            )
        for model_output, tensor_name in step.output_map.items():
            made = _mapped(where, k, step.model_name, model_output, outputs, "output")
            tensors[tensor_name] = Tensor(tensor_name, made.dtype, made.dims)
    for out in _declared(config, "output"):
        produced = tensors.get(out.name)
        if produced is None or produced.dtype != out.dtype:
            found = "nothing" if produced is None else produced.dtype
            raise TritonSchemaError(f"{where}: output {out.name!r} ({out.dtype}) is produced as {found}")


def check_repository(repo: Path, artifacts: Path | None = None) -> list[str]:
    """Parse and check every model of ``repo``; returns the model names.

    Args:
        artifacts: the artifacts folder the repository came from (checks plans against their ONNX).

    Raises:
        TritonSchemaError: the first problem, naming the ``config.pbtxt`` and what disagrees.
    """
    models: dict[str, Any] = {}
    for path in sorted(Path(repo).glob("*/config.pbtxt")):
        config = parse_pbtxt(path)
        if config.name and config.name != path.parent.name:
            raise TritonSchemaError(f"{path}: name {config.name!r} is not its folder's name {path.parent.name!r}")
        models[path.parent.name] = config
    if not models:
        raise TritonSchemaError(f"{repo}: no */config.pbtxt; not a Triton model repository")
    # Models first, ensembles last: a model that disagrees with its file is the cause to report,
    # not the ensemble step that feeds it.
    order = sorted(models, key=lambda n: models[n].platform == "ensemble")
    for name in order:
        config = models[name]
        folder = Path(repo) / name
        where = folder / "config.pbtxt"
        backend = config.backend or {"onnxruntime_onnx": "onnxruntime", "tensorrt_plan": "tensorrt"}.get(
            config.platform, config.platform
        )
        if backend == "ensemble":
            _check_ensemble(where, config, models)
        elif backend == "onnxruntime":
            _check_network(where, config, folder / "1" / "model.onnx", "1/model.onnx")
        elif backend == "tensorrt":
            _check_plan(where, config, folder, artifacts)
        elif backend == "python" and name in PYTHON_MODELS:
            inputs, outputs = PYTHON_MODELS[name]
            _compare(where, "input", _declared(config, "input"), inputs, f"{name}'s model.py")
            _compare(where, "output", _declared(config, "output"), outputs, f"{name}'s model.py")
        elif backend == "python" and (folder / "1" / "model.onnx").is_file():
            _check_network(where, config, folder / "1" / "model.onnx", "1/model.onnx (run by model.py)")
        else:
            raise TritonSchemaError(f"{where}: backend {backend or 'none'!r} is not one this repository uses")
        if backend != "ensemble" and not (folder / "1").is_dir():
            raise TritonSchemaError(f"{folder}: no version folder 1/")
        names = {t.name for t in config.input}
        for warmup in config.model_warmup:
            unknown = [k for k in warmup.inputs if k not in names]
            if unknown:
                raise TritonSchemaError(f"{where}: warm-up {warmup.name!r} feeds {', '.join(unknown)}, not inputs")
    return sorted(models)
