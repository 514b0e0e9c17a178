"""Mask generators: hole-ratio ranges, determinism, external masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeinpaint.core.errors import InputError
from edgeinpaint.trainer.masks import GENERATORS, MaskSampler


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_generators_hit_ratio_range(kind: str) -> None:
    lo, hi = (0.45, 0.55) if kind == "half" else (0.1, 0.5)
    sampler = MaskSampler({kind: 1.0}, ratio=(lo, hi))
    rng = np.random.default_rng(0)
    ratios = [sampler.sample(rng, 128, 128).mean() for _ in range(30)]
    assert all(lo <= r <= hi for r in ratios), (kind, min(ratios), max(ratios))


def test_mixture_is_deterministic_under_seed() -> None:
    sampler = MaskSampler({"free_form": 1, "lama_thin": 1, "block": 1}, ratio=(0.1, 0.35))
    a = [sampler.sample(np.random.default_rng(5), 64, 96) for _ in range(3)]
    b = [sampler.sample(np.random.default_rng(5), 64, 96) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[0].shape == (64, 96) and a[0].dtype == bool


def test_external_masks_with_invert(tmp_path: Path) -> None:
    m = np.zeros((40, 40), np.uint8)
    m[:, :10] = 255  # 25% white
    Image.fromarray(m).save(tmp_path / "m.png")
    plain = MaskSampler({"external": 1}, external=(tmp_path / "m.png",)).sample(np.random.default_rng(0), 80, 80)
    inverted = MaskSampler({"external": 1}, external=(tmp_path / "m.png",), invert=True).sample(
        np.random.default_rng(0), 80, 80
    )
    assert plain.mean() == pytest.approx(0.25) and inverted.mean() == pytest.approx(0.75)


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(InputError, match="unknown mask kinds"):
        MaskSampler({"stars": 1})
