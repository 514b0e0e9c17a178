"""The serving composites: paste (the paper) and the Poisson (gradient-domain) blend."""

from __future__ import annotations

import numpy as np
import pytest

from edgeinpaint.core.blend import blend, poisson_correction
from edgeinpaint.core.images import to_uint8
from tests.conftest import hole_mask, photo


def test_paste_is_the_papers_composite() -> None:
    rgb = photo("astronaut", 64)
    hole = hole_mask(64, 64, seed=1)
    raw = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    out = blend(raw, rgb, hole, "paste")
    assert np.array_equal(out[hole], to_uint8(raw)[hole])
    assert np.array_equal(out[~hole], rgb[~hole])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poisson_removes_a_colour_offset_and_keeps_structure(seed: int) -> None:
    # An output with the truth's gradients but a wrong colour everywhere (what an InstanceNorm
    # generator that lost the absolute colour produces) blends back to the truth.
    truth = photo("coffee", 64).astype(np.float64) / 255.0
    hole = hole_mask(64, 64, seed=seed)
    shifted = truth + np.array([0.2, -0.1, 0.15])
    out = blend(shifted.astype(np.float32), to_uint8(truth), hole, "poisson")
    paste = blend(shifted.astype(np.float32), to_uint8(truth), hole, "paste")
    err = np.abs(out.astype(int) - to_uint8(truth).astype(int))[hole]
    assert err.max() <= 1  # float32 input and rounding only
    assert np.abs(paste.astype(int) - to_uint8(truth).astype(int))[hole].mean() > 20
    assert np.array_equal(out[~hole], to_uint8(truth)[~hole])


def test_poisson_is_harmonic_for_a_flat_output() -> None:
    # Flat output: the result is the harmonic interpolation of the border, e.g. exact on a ramp.
    ramp = np.tile(np.linspace(0.1, 0.9, 48), (40, 1))[..., None].repeat(3, axis=2)
    hole = np.zeros((40, 48), bool)
    hole[:, 10:30] = True  # touches the top and bottom borders (Neumann there)
    out = blend(np.full((40, 48, 3), 0.5, np.float32), to_uint8(ramp), hole, "poisson")
    assert np.abs(out.astype(int) - to_uint8(ramp).astype(int)).max() <= 1


def test_poisson_edge_cases() -> None:
    rgb = photo("chelsea", 32)
    raw = np.full((32, 32, 3), 0.3, np.float32)
    assert np.array_equal(blend(raw, rgb, np.zeros((32, 32), bool), "poisson"), rgb)
    everything = np.ones((32, 32), bool)  # nothing known to match: the output as it is
    assert np.array_equal(blend(raw, rgb, everything, "poisson"), blend(raw, rgb, everything, "paste"))
    single = np.zeros((32, 32), bool)
    single[0, 0] = True
    c = poisson_correction(raw, rgb / 255.0, single)
    assert np.allclose(c[0], (rgb[0, 1] / 255.0 + rgb[1, 0] / 255.0) / 2 - 0.3)
    with pytest.raises(ValueError, match="not a valid Blend"):
        blend(raw, rgb, single, "feather")


def test_gradient_loss_ignores_colour_and_known_regions() -> None:
    # The training term behind blend = "poisson": only differences touching the hole count, and a
    # constant colour offset (which the Poisson composite removes) costs nothing.
    import torch

    from edgeinpaint.trainer.losses import gradient_l1

    truth = torch.rand(2, 3, 32, 32)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:20, 10:24] = 1
    assert gradient_l1(truth + 0.3, truth, mask).item() < 1e-6
    far = torch.ones_like(mask)
    far[..., 6:22, 8:26] = 0  # noise kept two pixels away from the hole
    assert gradient_l1(truth + torch.rand_like(truth) * far, truth, mask).item() < 1e-6
    assert gradient_l1(truth + torch.rand_like(truth) * mask, truth, mask).item() > 0.1


def test_gradient_loss_pyramid_sees_a_slow_drift() -> None:
    # A slight ramp across the hole is a large colour error once the Poisson composite integrates
    # it; the coarse levels of gradient_scales weigh it more than single-pixel differences do.
    import torch

    from edgeinpaint.trainer.losses import gradient_l1

    truth = torch.rand(1, 3, 64, 64)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 10:40, 10:40] = 1
    drift = truth + torch.linspace(0, 0.1, 64).view(1, 1, 1, 64) * mask
    assert gradient_l1(drift, truth, mask, scales=4) > 5 * gradient_l1(drift, truth, mask, scales=1)
    assert gradient_l1(truth + 0.2, truth, mask, scales=4).item() < 1e-6
