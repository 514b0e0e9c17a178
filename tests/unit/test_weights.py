"""Weights format round trip and official-checkpoint import (folding, prefixes, bad inputs)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeinpaint.core.errors import WeightsError
from edgeinpaint.weights.edgeconnect import import_edgeconnect
from edgeinpaint.weights.format import load_weights, save_weights
from tests.conftest import write_official_folder


def test_import_folds_and_reproduces_official_networks(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    _, edge_sn, inpaint = write_official_folder(folder, sigma=1.5, data_parallel=True)
    weights = import_edgeconnect(folder)
    assert weights.canny.sigma == 1.5
    assert weights.architecture.base_channels == 8 and weights.architecture.residual_blocks == 1
    assert weights.provenance["edge_iteration"] == 1234
    assert not any(k.endswith(("weight_orig", "weight_u", "weight_v")) for k in weights.tensors["edge_generator"])
    path = tmp_path / "w.safetensors"
    digest = save_weights(weights, path)
    loaded = load_weights(path)
    assert loaded.sha256 == digest and loaded.canny.sigma == 1.5
    x = torch.rand(2, 1, 32, 32)
    m = (torch.rand(2, 1, 32, 32) > 0.7).float()
    e = (torch.rand(2, 1, 32, 32) > 0.8).float()
    with torch.no_grad():
        assert torch.allclose(loaded.build("edge_generator").predict(x, e, m), edge_sn.predict(x, e, m), atol=1e-5)
        rgb = torch.rand(2, 3, 32, 32)
        assert torch.allclose(
            loaded.build("inpaint_generator").predict(rgb, e, m), inpaint.predict(rgb, e, m), atol=1e-6
        )


def test_sigma_override_and_missing_config(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    write_official_folder(folder, data_parallel=False)
    (folder / "config.yml").unlink()
    with pytest.raises(WeightsError, match=r"config\.yml not found"):
        import_edgeconnect(folder)
    assert import_edgeconnect(folder, sigma=3.0).canny.sigma == 3.0


def test_missing_checkpoint_file(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    write_official_folder(folder)
    (folder / "InpaintingModel_gen.pth").unlink()
    with pytest.raises(WeightsError, match=r"InpaintingModel_gen\.pth: missing"):
        import_edgeconnect(folder)


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.target),))  # type: ignore[attr-defined]


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    write_official_folder(folder)
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.target = str(marker)  # type: ignore[attr-defined]
    with (folder / "EdgeModel_gen.pth").open("wb") as fh:
        pickle.dump({"generator": evil}, fh)
    with pytest.raises(WeightsError, match="refused to load"):
        import_edgeconnect(folder)
    assert not marker.exists()


def test_wrong_shapes_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    write_official_folder(folder, data_parallel=False)
    ckpt = torch.load(folder / "InpaintingModel_gen.pth", weights_only=True)
    ckpt["generator"]["decoder.7.weight"] = torch.zeros(3, 5, 7, 7)
    torch.save(ckpt, folder / "InpaintingModel_gen.pth")
    with pytest.raises(WeightsError, match=r"wrong shapes decoder\.7\.weight"):
        import_edgeconnect(folder)


def test_corrupt_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    write_official_folder(folder)
    (folder / "EdgeModel_gen.pth").write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsError, match=r"EdgeModel_gen\.pth"):
        import_edgeconnect(folder)


def test_load_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 16)
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_weights(bad)
    from safetensors.numpy import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"x": np.zeros(2, np.float32)}, str(plain))
    with pytest.raises(WeightsError, match="metadata"):
        load_weights(plain)


def test_build_reports_missing_network(tiny_weights: Path, tmp_path: Path) -> None:
    weights = load_weights(tiny_weights)
    del weights.tensors["inpaint_generator"]
    path = tmp_path / "edge_only.safetensors"
    save_weights(weights, path)
    with pytest.raises(WeightsError, match="expected a inpaint_generator"):
        load_weights(path).build("inpaint_generator")


def test_blend_is_a_serving_setting_of_the_weights(tiny_weights: Path, tmp_path: Path) -> None:
    import dataclasses
    import json

    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.runtime.inpainter import ModelSource, open_recipe

    weights = load_weights(tiny_weights)
    assert weights.blend == "paste"  # files without the key: the paper's composite
    path = tmp_path / "poisson.safetensors"
    save_weights(dataclasses.replace(weights, blend="poisson"), path)
    assert load_weights(path).blend == "poisson"
    export_artifacts(ExportConfig(weights=path, output=tmp_path / "art"))
    assert open_recipe(ModelSource(artifacts=tmp_path / "art")).blend == "poisson"
    # An unknown value is refused with the file named.
    from safetensors.numpy import load_file, save_file

    meta = weights.metadata()
    meta["blend"] = "feather"
    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(tiny_weights)), str(bad), metadata={"edgeinpaint": json.dumps(meta)})
    with pytest.raises(WeightsError, match=r"bad\.safetensors.*feather"):
        load_weights(tmp_path / "bad.safetensors")


def test_weights_info_provenance_prints_json_that_parses() -> None:
    """`weights info demo --provenance` prints real JSON (one field per line), not an escaped string."""
    import json

    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    result = CliRunner().invoke(app, ["weights", "info", "demo", "--provenance"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    start = result.output.index("\n{") + 1
    text = result.output[start:]
    assert "\\n" not in text.split('"')[0]  # no literal backslash-n between fields
    assert isinstance(json.loads(text), dict)
