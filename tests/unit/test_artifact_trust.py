"""A shared artifacts folder or weights file is not trusted: every field is checked before anything uses it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.errors import ArtifactError, WeightsError
from edgeinpaint.core.manifest import read_manifest, verify_file
from edgeinpaint.weights.format import load_weights, save_weights


@pytest.fixture
def art(tiny_artifacts: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "art"
    shutil.copytree(tiny_artifacts, copy)
    return copy


def edit_manifest(art: Path, change: object) -> None:
    data = json.loads((art / "manifest.json").read_text())
    change(data)  # type: ignore[operator]
    (art / "manifest.json").write_text(json.dumps(data))


def entry(data: dict, file: str) -> dict:  # type: ignore[type-arg]
    return next(f for f in data["files"] if f["file"] == file)


@pytest.mark.parametrize("name", ["../outside.onnx", "/etc/passwd", "sub/../../x.onnx", "", "a\\b.onnx", "~/x.onnx"])
def test_manifest_names_only_files_of_its_own_folder(art: Path, name: str) -> None:
    edit_manifest(art, lambda d: entry(d, "edge_generator.fp32.onnx").update(file=name))
    with pytest.raises(ArtifactError, match="expected a relative path inside the artifacts directory"):
        read_manifest(art)


def test_symlinks_out_of_the_folder_are_refused_and_hashes_never_echoed(art: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (art / "edge_generator.fp32.onnx").unlink()
    (art / "edge_generator.fp32.onnx").symlink_to(outside)
    manifest = read_manifest(art)
    with pytest.raises(ArtifactError, match="symlink"):
        verify_file(art, manifest.require("edge_generator"))
    (art / "edge_generator.fp32.onnx").unlink()
    shutil.copy(outside, art / "edge_generator.fp32.onnx")
    with pytest.raises(ArtifactError) as info:
        verify_file(art, manifest.require("edge_generator"))
    import hashlib

    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    assert "does not match" in str(info.value) and digest[:8] not in str(info.value)


def test_onnx_reading_external_data_is_refused(art: Path) -> None:
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    from edgeinpaint.core.hashing import sha256_file

    path = art / "inpaint_generator.fp32.onnx"
    model = onnx.load(str(path))
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.data", size_threshold=0)
    onnx.save(model, str(path))
    edit_manifest(art, lambda d: entry(d, path.name).update(sha256=sha256_file(path)))
    with pytest.raises(ArtifactError, match="external data"):
        verify_file(art, read_manifest(art).require("inpaint_generator"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: entry(d, "canny.onnx").update(file=7), "files\\[.*\\].file: int; expected str"),
        (lambda d: d.update(weights=[1, 2]), "'weights' is list; expected an object"),
        (lambda d: d.update(files={"a": 1}), "'files' is dict; expected a list"),
        (lambda d: d["weights"].update(blend="feather"), "blend 'feather'"),
        (lambda d: d["weights"].update(canny={"sigma": "x", "low": 0.1, "high": 0.2}), "Canny sigma 'x'"),
        (lambda d: entry(d, "canny.onnx").update(sha256="abc"), "64 lowercase hex"),
        (lambda d: entry(d, "canny.onnx").update(extra=1), "unknown field"),
    ],
)
def test_malformed_manifests_are_one_line_errors(art: Path, change: object, message: str) -> None:
    edit_manifest(art, change)
    with pytest.raises(ArtifactError, match=message):
        read_manifest(art)


def test_deeply_nested_manifest_is_an_error_not_a_crash(art: Path) -> None:
    (art / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ArtifactError):
        read_manifest(art)
    result = CliRunner().invoke(
        app, ["run", "-i", str(art), "-m", str(art), "-o", str(art / "o"), "--artifacts", str(art)]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output


def _rewrite_metadata(src: Path, dst: Path, change: object) -> None:
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(src), framework="numpy") as fh:  # type: ignore[no-untyped-call]
        meta = json.loads(fh.metadata()["edgeinpaint"])
    change(meta)  # type: ignore[operator]
    save_file(load_file(str(src)), str(dst), metadata={"edgeinpaint": json.dumps(meta)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="x"), "format 'x'"),
        (lambda m: m.update(provenance="a string"), "provenance str"),
        (lambda m: m.update(provenance=json.loads("[" * 50 + "]" * 50)), "provenance|nested deeper"),
        (lambda m: m["architecture"].update(residual_blocks=2_000_000), "residual_blocks 2000000"),
        (lambda m: m["architecture"].update(residual_blocks=3), "metadata says 3 residual blocks"),
        (lambda m: m["architecture"].update(base_channels=32), "base_channels 32"),
        (lambda m: m["canny"].update(sigma=1e9), "sigma 1000000000"),
        (lambda m: m["canny"].update(low=0.5, high=0.1), "expected 0 <= low <= high"),
        (lambda m: m.update(blend="feather"), "blend 'feather'"),
    ],
)
def test_weights_metadata_is_checked_before_anything_is_built(
    tiny_weights: Path, tmp_path: Path, change: object, message: str
) -> None:
    bad = tmp_path / "bad.safetensors"
    _rewrite_metadata(tiny_weights, bad, change)
    t0 = time.perf_counter()
    with pytest.raises(WeightsError, match=message):
        load_weights(bad)
    assert time.perf_counter() - t0 < 5  # refused from the metadata, not after allocating


@pytest.mark.parametrize("sigma", ["nan", "inf", "-3", "1e9"])
def test_import_refuses_impossible_sigmas(official_folder: Path, tmp_path: Path, sigma: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "weights",
            "import",
            "--edgeconnect",
            str(official_folder),
            "-o",
            str(tmp_path / "w.safetensors"),
            "--sigma",
            sigma,
        ],
    )
    assert result.exit_code == 1 and "sigma" in result.output.lower() and not (tmp_path / "w.safetensors").exists()


def test_good_weights_still_round_trip(tiny_weights: Path, tmp_path: Path) -> None:
    weights = load_weights(tiny_weights)
    save_weights(weights, tmp_path / "w.safetensors")
    again = load_weights(tmp_path / "w.safetensors")
    assert again.architecture == weights.architecture and again.canny == weights.canny
    for net, state in weights.tensors.items():
        assert all(np.array_equal(state[k], again.tensors[net][k]) for k in state)
