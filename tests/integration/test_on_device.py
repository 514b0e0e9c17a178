"""torch-cuda's recipe (runtime/recipe.py OnDevice), run here on CPU torch: the same code as on a GPU.

Its pictures equal the fused ONNX model's (the same arithmetic: float32 gray, the float32 Canny graph,
the generators, the composites) and `run --backend torch`'s within FUSED_MAX_LEVELS (measured: equal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeinpaint.core.tolerances import FUSED_MAX_LEVELS
from tests.conftest import hole_mask, photo

pytest.importorskip("torch")


def on_device(weights: Path, blend: str = "paste") -> object:
    from edgeinpaint.core.params import Blend
    from edgeinpaint.core.specs import Backend
    from edgeinpaint.runtime.engines import EngineRequest, open_engines
    from edgeinpaint.runtime.hd import HDConfig
    from edgeinpaint.runtime.recipe import Finisher, OnDevice, Preparer
    from edgeinpaint.weights.format import load_weights

    generators = open_engines(Backend.TORCH, EngineRequest(weights=weights))
    canny = load_weights(weights).canny
    return OnDevice(generators, Preparer(None), Finisher(Blend(blend)), HDConfig(), canny=canny)


def test_on_device_pictures_match_the_fused_model_and_run(tiny_weights: Path, tiny_artifacts: Path) -> None:
    from edgeinpaint.core.specs import Backend
    from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, open_recipe

    pairs = [(photo(name, 64)[:, :60], hole_mask(64, 60, seed=i)) for i, name in enumerate(("rocket", "coffee"))]
    with on_device(tiny_weights) as device:  # type: ignore[attr-defined]
        prepared = [device.prepare(rgb, hole) for rgb, hole in pairs]
        pictures = device.batch(prepared)  # one batch: one upload, one download
        single = device(*pairs[0])
    assert np.array_equal(single, pictures[0])
    fused_options = EngineOptions(backend=Backend.ONNXRUNTIME, fused=True)
    with open_recipe(ModelSource(artifacts=tiny_artifacts), fused_options) as fused:
        for (rgb, hole), got in zip(pairs, pictures, strict=True):
            want = fused(rgb, hole)
            assert np.array_equal(got[~hole], rgb[~hole])  # known pixels untouched
            assert int(np.abs(got.astype(int) - want).max()) <= FUSED_MAX_LEVELS
    with open_recipe(ModelSource(weights=str(tiny_weights)), EngineOptions(backend=Backend.TORCH)) as torch_run:
        diffs = [
            np.abs(got.astype(int) - torch_run(rgb, hole)) for (rgb, hole), got in zip(pairs, pictures, strict=True)
        ]
    assert max(int(d.max()) for d in diffs) <= FUSED_MAX_LEVELS  # measured: 0 (identical pictures)


def test_on_device_poisson_finishes_on_the_host(tiny_weights: Path) -> None:
    rgb, hole = photo("rocket", 64), hole_mask(64, 64, seed=3)
    with on_device(tiny_weights, "poisson") as device:  # type: ignore[attr-defined]
        raw = device.infer([device.prepare(rgb, hole)])[0]
        picture = device(rgb, hole)
    assert raw.dtype == np.float32 and raw.shape == (64, 64, 3)
    assert np.array_equal(picture[~hole], rgb[~hole])
