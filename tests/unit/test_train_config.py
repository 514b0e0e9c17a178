"""Training configs: every shipped config loads through the real loader; paths are relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.trainer.config import TrainConfig, load_config

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_loads_from_a_fresh_clone(path: Path) -> None:
    config = load_config(path, {"stage": "edge"})
    root = Path(__file__).parents[2].resolve()
    for folder in (*config.data, *config.val_data):
        # inside the clone, wherever the clone is: no machine-specific absolute path
        assert Path(folder).resolve().is_relative_to(root), folder


def test_paths_resolve_against_the_config_file_and_overrides_win(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    cfg = tmp_path / "cfg" / "run.toml"
    cfg.write_text('data = ["photos", "/abs/photos"]\nsize = 64\nmasks = { block = 1.0 }\n')
    config = load_config(cfg, {"stage": "inpaint", "iterations": "7"})
    assert config.data == (str(tmp_path / "cfg" / "photos"), "/abs/photos")
    assert config.size == 64 and config.iterations == 7 and config.masks == {"block": 1.0}
    assert load_config(cfg, {"stage": "edge", "data": ["elsewhere"]}).data == ("elsewhere",)


def test_bad_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgeInpaintError, match="unknown training option"):
        load_config(None, {"stage": "edge", "data": ["x"], "sise": "64"})
    with pytest.raises(EdgeInpaintError, match="training option size='big'"):
        load_config(None, {"stage": "edge", "data": ["x"], "size": "big"})
    with pytest.raises(EdgeInpaintError, match="size must be a multiple of 4"):
        load_config(None, {"stage": "edge", "data": ["x"], "size": "66"})
    with pytest.raises(EdgeInpaintError, match="unknown blend"):
        load_config(None, {"stage": "edge", "data": ["x"], "blend": "feather"})
    with pytest.raises(EdgeInpaintError, match="cannot read training config"):
        load_config(tmp_path / "missing.toml", {"stage": "edge"})
    assert load_config(None, {"stage": "joint", "data": ["x"]}).stage == TrainConfig(stage="joint").stage


def test_every_option_is_described() -> None:
    """`train --options` explains each field: a new field without a line fails here."""
    import dataclasses

    from edgeinpaint.trainer.config import FIELD_HELP, TrainConfig, option_help

    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(FIELD_HELP)
    assert all(text for _name, _default, text in option_help())
