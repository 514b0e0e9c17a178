"""`export --triton`: every config parses with Triton's schema and agrees with its model; broken ones are caught."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.errors import ArtifactError, ExportError
from edgeinpaint.core.specs import Precision
from edgeinpaint.serving.triton.check import check_repository
from edgeinpaint.serving.triton.repository import MARKER, TritonBackend, TritonOptions, write_repository
from edgeinpaint.serving.triton.schema import TritonSchemaError, parse_pbtxt

pytest.importorskip("tritonclient")

NETWORKS = {"edge_generator", "inpaint_generator", "edgeinpaint_fused"}
PYTHON = {"edgeinpaint_decode", "edgeinpaint_finish"}


@pytest.fixture()
def repo(tmp_path: Path, tiny_artifacts: Path) -> Path:
    out = tmp_path / "repo"
    write_repository(tiny_artifacts, out, TritonOptions())
    return out


def test_export_writes_a_repository_whose_configs_agree_with_their_models(tmp_path: Path) -> None:
    out = tmp_path / "triton"
    result = CliRunner().invoke(app, ["export", "--weights", "demo", "-o", str(tmp_path / "a"), "--triton", str(out)])
    assert result.exit_code == 0, result.output
    assert set(check_repository(out)) == NETWORKS | PYTHON | {"edgeinpaint"}
    fused = parse_pbtxt(out / "edgeinpaint_fused" / "config.pbtxt")
    assert fused.platform == "onnxruntime_onnx" and fused.max_batch_size == 4
    assert [(t.name, list(t.dims)) for t in fused.input] == [("image", [-1, -1, 3]), ("mask", [-1, -1, 1])]
    assert fused.instance_group[0].kind == fused.instance_group[0].KIND_GPU
    assert list(fused.dynamic_batching.preferred_batch_size) == [1, 4]
    assert fused.model_warmup[0].inputs["image"].zero_data
    finish = parse_pbtxt(out / "edgeinpaint_finish" / "config.pbtxt")
    assert finish.parameters["composite"].string_value == "poisson"  # the demo weights' composite
    ensemble = parse_pbtxt(out / "edgeinpaint" / "config.pbtxt")
    assert [s.model_name for s in ensemble.ensemble_scheduling.step] == [
        "edgeinpaint_decode",
        "edgeinpaint_fused",
        "edgeinpaint_finish",
    ]
    assert (out / "README.md").read_text().count("tritonserver --model-repository") == 1
    assert "InferenceService" in (out / "kserve.yaml").read_text()
    # edgeinpaint is not on PyPI: its wheel travels inside a model folder (Triton ignores non-numeric folders)
    # and the recipes install that file.
    wheels = list((out / "edgeinpaint_decode" / "wheels").glob("edgeinpaint-*.whl"))
    assert (
        len(wheels) == 1
        and f"pip install /models/edgeinpaint_decode/wheels/{wheels[0].name}" in (out / "README.md").read_text()
    )
    assert f"/mnt/models/edgeinpaint_decode/wheels/{wheels[0].name}" in (out / "kserve.yaml").read_text()
    import zipfile

    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
    assert "edgeinpaint/core/blend.py" in names and "edgeinpaint/serving/triton/models/finish.py" in names
    assert not [n for n in names if "__pycache__" in n]


def test_python_form_runs_the_networks_in_python_models(tmp_path: Path, tiny_artifacts: Path) -> None:
    out = tmp_path / "py"
    models = write_repository(tiny_artifacts, out, TritonOptions(backend=TritonBackend.PYTHON))
    assert set(models) == NETWORKS | PYTHON | {"edgeinpaint"}
    fused = parse_pbtxt(out / "edgeinpaint_fused" / "config.pbtxt")
    assert fused.backend == "python" and (out / "edgeinpaint_fused" / "1" / "model.onnx").is_file()
    assert (out / "edgeinpaint_fused" / "1" / "model.py").read_text().startswith('"""Triton python model')


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("model", "old", "new", "message"),
    [
        ("edgeinpaint_fused", "TYPE_UINT8", "TYPE_FP32", "input 'image' is TYPE_FP32 but 1/model.onnx has TYPE_UINT8"),
        ("edgeinpaint_fused", 'name: "image"', 'name: "img"', "input 'img' is not an input of 1/model.onnx"),
        ("edge_generator", "dims: 1\n", "dims: 2\n", "axis 0 is 2 but 1/model.onnx fixes it at 1"),
        ("edgeinpaint_fused", "max_batch_size: 4", "max_batch: 4", 'no field named "max_batch"'),
        ("edgeinpaint_fused", "KIND_GPU", "KIND_TPU", "KIND_TPU"),
        ("edgeinpaint_finish", "TYPE_STRING", "TYPE_UINT8", "output 'PICTURE' is TYPE_UINT8"),
        (
            "edgeinpaint",
            'value: "hole8"',
            'value: "hole"',
            "(edgeinpaint_fused) reads 'hole8', which no ensemble input or earlier step produces",
        ),
        (
            "edgeinpaint",
            'model_name: "edgeinpaint_finish"',
            'model_name: "finish"',
            "step 2 calls model 'finish', which is not in the repository",
        ),
        ("edgeinpaint", "max_batch_size: 4", "max_batch_size: 8", "max_batch_size 8 exceeds edgeinpaint_decode's 4"),
    ],
)
def test_a_broken_config_is_caught_with_a_clear_message(
    repo: Path, model: str, old: str, new: str, message: str
) -> None:
    config = repo / model / "config.pbtxt"
    _edit(config, old, new)
    with pytest.raises(TritonSchemaError) as caught:
        check_repository(repo)
    assert str(config) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_model_file_and_a_swapped_model_are_caught(repo: Path) -> None:
    (repo / "inpaint_generator" / "1" / "model.onnx").unlink()
    with pytest.raises(TritonSchemaError, match=r"model\.onnx: missing"):
        check_repository(repo)
    shutil.copy(repo / "edge_generator" / "1" / "model.onnx", repo / "inpaint_generator" / "1" / "model.onnx")
    with pytest.raises(TritonSchemaError, match="input 'image' is not an input"):
        check_repository(repo)


def test_reexport_replaces_its_own_repository_and_refuses_other_folders(tmp_path: Path, tiny_artifacts: Path) -> None:
    out = tmp_path / "repo"
    write_repository(tiny_artifacts, out, TritonOptions(max_batch=2))
    assert json.loads((out / MARKER).read_text())["models"]
    write_repository(tiny_artifacts, out, TritonOptions(max_batch=8))
    assert parse_pbtxt(out / "edgeinpaint_fused" / "config.pbtxt").max_batch_size == 8
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.jpg").write_bytes(b"mine")
    with pytest.raises(ExportError, match="was not written by `export --triton`"):
        write_repository(tiny_artifacts, other, TritonOptions())
    assert (other / "keep.jpg").read_bytes() == b"mine"
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written repository left beside


def test_tensorrt_needs_engines_and_names_plans_by_compute_capability(tmp_path: Path, tiny_artifacts: Path) -> None:
    with pytest.raises(ExportError, match="no TensorRT engine beside it"):
        write_repository(tiny_artifacts, tmp_path / "trt", TritonOptions(backend=TritonBackend.TENSORRT))
    art = tmp_path / "art"
    shutil.copytree(tiny_artifacts, art)
    fused = next(f for f in json.loads((art / "manifest.json").read_text())["files"] if f["role"] == "fused")
    engine = art / fused["file"].replace(".onnx", ".engine")
    engine.write_bytes(b"plan bytes (not loaded here: no TensorRT)")
    sidecar = {
        "engine": engine.name,
        "onnx": fused["file"],
        "onnx_sha256": fused["sha256"],
        "precision": "fp32",
        "device": {"tensorrt": "11.4", "cuda": "13.0", "gpu": "H200", "compute_capability": "9.0"},
        "profile": {"batch": [1, 2, 8], "height": [16, 512, 2048], "width": [16, 512, 2048]},
        "workspace_gib": 4.0,
        "optimization_level": 3,
        "engine_sha256": hashlib.sha256(engine.read_bytes()).hexdigest(),  # as export --engine records it
    }
    engine.with_suffix(".engine.json").write_text(json.dumps(sidecar))
    models = write_repository(
        art, tmp_path / "both", TritonOptions(backend=TritonBackend.BOTH, precision=Precision.FP32)
    )
    assert {"edgeinpaint_fused_trt", "edgeinpaint_trt", "edgeinpaint"} <= set(models)
    plan = parse_pbtxt(tmp_path / "both" / "edgeinpaint_fused_trt" / "config.pbtxt")
    assert plan.platform == "tensorrt_plan" and dict(plan.cc_model_filenames) == {"9.0": "model_9.0.plan"}
    assert list(plan.dynamic_batching.preferred_batch_size) == [2, 4]  # the engine profile's opt, then max_batch
    trt = parse_pbtxt(tmp_path / "both" / "edgeinpaint_trt" / "config.pbtxt")
    assert trt.ensemble_scheduling.step[1].model_name == "edgeinpaint_fused_trt"
    # Triton refuses a plan model whose max_batch_size exceeds the engine's profile: so do export and the checker.
    with pytest.raises(ExportError, match=r"--max-batch 16 exceeds the engine's profile \(batch up to 8\)"):
        write_repository(art, tmp_path / "big", TritonOptions(backend=TritonBackend.BOTH, max_batch=16))
    config = tmp_path / "both" / "edgeinpaint_fused_trt" / "config.pbtxt"
    config.write_text(config.read_text().replace("max_batch_size: 4", "max_batch_size: 16"))
    with pytest.raises(TritonSchemaError, match=r"max_batch_size 16 exceeds model_9.0.plan's profile"):
        check_repository(tmp_path / "both", art)
    config.write_text(config.read_text().replace("max_batch_size: 16", "max_batch_size: 4"))
    (tmp_path / "both" / "edgeinpaint_fused_trt" / "1" / "model_9.0.plan").unlink()
    with pytest.raises(TritonSchemaError, match=re.escape("cc_model_filenames['9.0'] = 'model_9.0.plan'")):
        check_repository(tmp_path / "both", art)


def test_reexport_keeps_the_users_own_models_and_refuses_links_and_files(tmp_path: Path, tiny_artifacts: Path) -> None:
    """A model the user added to the repository survives a re-export; a symlink or a file as the repository
    is one line of error (it used to be a traceback, or a deletion through the link)."""
    out = tmp_path / "repo"
    write_repository(tiny_artifacts, out, TritonOptions(max_batch=2))
    (out / "other" / "1").mkdir(parents=True)
    (out / "other" / "config.pbtxt").write_text('name: "other"\n')
    write_repository(tiny_artifacts, out, TritonOptions(max_batch=8))
    assert (out / "other" / "config.pbtxt").read_text() == 'name: "other"\n'
    assert parse_pbtxt(out / "edgeinpaint_fused" / "config.pbtxt").max_batch_size == 8
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(ExportError, match="is a symlink"):
        write_repository(tiny_artifacts, link, TritonOptions())
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        write_repository(tiny_artifacts, afile, TritonOptions())
    assert (target / "mine.txt").read_text() == "keep" and afile.read_text() == "x"
    # a folder with one of our names that the earlier export did not write is refused, not replaced
    shutil.rmtree(out / "edge_generator")
    (out / "edge_generator").mkdir()
    (out / "edge_generator" / "theirs.txt").write_text("theirs")
    marker = json.loads((out / MARKER).read_text())
    marker["models"].remove("edge_generator")
    (out / MARKER).write_text(json.dumps(marker))
    with pytest.raises(ExportError, match="edge_generator already there"):
        write_repository(tiny_artifacts, out, TritonOptions())
    assert (out / "edge_generator" / "theirs.txt").read_text() == "theirs"
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".*.old"))


def test_engines_are_hashed_and_confined(tmp_path: Path, tiny_artifacts: Path) -> None:
    """A plan that is a symlink (to /etc/passwd, say), or whose bytes are not those its sidecar recorded,
    never reaches the repository."""
    art = tmp_path / "art"
    shutil.copytree(tiny_artifacts, art)
    fused = next(f for f in json.loads((art / "manifest.json").read_text())["files"] if f["role"] == "fused")
    engine = art / fused["file"].replace(".onnx", ".engine")
    secret = tmp_path / "secret.txt"
    secret.write_text("not a plan")
    sidecar = {
        "engine": engine.name, "onnx": fused["file"], "onnx_sha256": fused["sha256"], "precision": "fp32",
        "device": {"tensorrt": "11.4", "cuda": "13.0", "gpu": "H200", "compute_capability": "9.0"},
        "profile": {"batch": [1, 2, 8], "height": [16, 512, 2048], "width": [16, 512, 2048]},
        "workspace_gib": 4.0, "optimization_level": 3,
        "engine_sha256": hashlib.sha256(secret.read_bytes()).hexdigest(),
    }  # fmt: skip
    engine.with_suffix(".engine.json").write_text(json.dumps(sidecar))
    engine.symlink_to(secret)
    options = TritonOptions(backend=TritonBackend.BOTH, precision=Precision.FP32)
    with pytest.raises(ArtifactError, match="symlink"):
        write_repository(art, tmp_path / "r1", options)
    engine.unlink()
    engine.write_bytes(b"a swapped plan")
    with pytest.raises(ArtifactError, match="sha256 does not match its sidecar"):
        write_repository(art, tmp_path / "r2", options)
    del sidecar["engine_sha256"]
    engine.with_suffix(".engine.json").write_text(json.dumps(sidecar))
    with pytest.raises(ArtifactError, match="records no engine sha256"):
        write_repository(art, tmp_path / "r3", options)
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()
