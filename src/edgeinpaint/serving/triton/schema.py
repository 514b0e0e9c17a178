"""Triton's model configuration schema and the contracts of the models we write (plain data).

``inference.ModelConfig`` is the protobuf Triton reads ``config.pbtxt`` into
(triton-inference-server/common ``model_config.proto``). ``tritonclient`` ships it compiled as
``tritonclient/grpc/model_config_pb2.py``; that module needs only protobuf, but importing it
through its package runs ``tritonclient.grpc.__init__``, which needs grpcio. It is therefore
loaded from its file (:func:`model_config_class`), so ``pip install tritonclient`` without the
``[grpc]`` extra (whose protobuf < 7 pin conflicts with Ray's grpcio) is enough.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeinpaint.core.errors import EdgeInpaintError


class TritonSchemaError(EdgeInpaintError):
    """A ``config.pbtxt`` that does not parse, or disagrees with its model."""


@dataclass(frozen=True)
class Tensor:
    """One model input or output as Triton sees it: dims without the batch axis, -1 = any size."""

    name: str
    dtype: str
    dims: tuple[int, ...]


#: numpy / ONNX element types -> Triton ``DataType`` names.
_DTYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "bfloat16": "TYPE_BF16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
    "string": "TYPE_STRING",
}


def triton_dtype(dtype: str) -> str:
    """``"uint8"`` -> ``"TYPE_UINT8"``."""
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise TritonSchemaError(f"element type {dtype!r} has no Triton data type") from None


_IMAGE = Tensor("image", "TYPE_UINT8", (-1, -1, 3))
_MASK = Tensor("mask", "TYPE_UINT8", (-1, -1, 1))
_BYTES = (1,)

#: The python models' contracts (serving/triton/models/): what the writer declares and the checker holds
#: every config of that name to. decode: encoded files -> uint8 RGB + mask (255 = hole);
#: finish: the fused model's ``output`` + ``raw`` with the input -> the encoded picture.
PYTHON_MODELS: dict[str, tuple[tuple[Tensor, ...], tuple[Tensor, ...]]] = {
    "edgeinpaint_decode": (
        (Tensor("IMAGE", "TYPE_STRING", _BYTES), Tensor("MASK", "TYPE_STRING", _BYTES)),
        (_IMAGE, _MASK),
    ),
    "edgeinpaint_finish": (
        (_IMAGE, _MASK, Tensor("output", "TYPE_UINT8", (-1, -1, 3)), Tensor("raw", "TYPE_UINT8", (-1, -1, 3))),
        (Tensor("PICTURE", "TYPE_STRING", _BYTES),),
    ),
}

#: The ensemble: (inputs, outputs, steps); a step is (model, {model input: ensemble tensor},
#: {model output: ensemble tensor}). ``edgeinpaint_fused`` stands for the fused model's name.
ENSEMBLE: tuple[
    tuple[Tensor, ...],
    tuple[Tensor, ...],
    tuple[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], ...],
] = (
    PYTHON_MODELS["edgeinpaint_decode"][0],
    PYTHON_MODELS["edgeinpaint_finish"][1],
    (
        ("edgeinpaint_decode", (("IMAGE", "IMAGE"), ("MASK", "MASK")), (("image", "rgb8"), ("mask", "hole8"))),
        ("edgeinpaint_fused", (("image", "rgb8"), ("mask", "hole8")), (("output", "pasted"), ("raw", "raw"))),
        (
            "edgeinpaint_finish",
            (("image", "rgb8"), ("mask", "hole8"), ("output", "pasted"), ("raw", "raw")),
            (("PICTURE", "PICTURE"),),
        ),
    ),
)

INSTALL_HINT = "pip install tritonclient (the model-configuration schema; no extras needed)"


def model_config_class() -> Any:
    """``inference.ModelConfig`` from tritonclient's compiled ``model_config.proto``.

    Raises:
        TritonSchemaError: tritonclient is not installed (with the install command).
    """
    name = "edgeinpaint_triton_model_config_pb2"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.find_spec("tritonclient")
        if spec is None or not spec.submodule_search_locations:
            raise TritonSchemaError(f"Triton repositories need the model-configuration schema: {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / "grpc" / "model_config_pb2.py"
        file_spec = importlib.util.spec_from_file_location(name, path)
        if file_spec is None or file_spec.loader is None or not path.is_file():
            raise TritonSchemaError(f"{path}: tritonclient has no model_config_pb2.py; {INSTALL_HINT}")
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
    return module.ModelConfig


def to_pbtxt(config: dict[str, Any]) -> str:
    """A config dict (field names as in ``model_config.proto``) -> ``config.pbtxt`` text.

    Raises:
        TritonSchemaError: a field or enum value the schema does not have.
    """
    from google.protobuf import json_format, text_format

    try:
        message = json_format.ParseDict(config, model_config_class()())
    except json_format.ParseError as exc:
        raise TritonSchemaError(f"model {config.get('name')!r}: {exc}") from None
    return str(text_format.MessageToString(message))


def parse_pbtxt(path: Path) -> Any:
    """Parse ``config.pbtxt`` with Triton's schema (misspelled fields, bad enums and types are refused).

    Raises:
        TritonSchemaError: the file and the parser's line:column and reason.
    """
    from google.protobuf import text_format

    try:
        return text_format.Parse(path.read_text(), model_config_class()())
    except text_format.ParseError as exc:
        raise TritonSchemaError(f"{path}: {exc}") from None
    except OSError as exc:
        raise TritonSchemaError(f"{path}: cannot read ({exc.strerror or exc})") from None
