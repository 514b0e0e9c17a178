"""Ring sizing: slots fit what the ring carries, never the largest input; the cap holds before allocation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgeinpaint.core.jobs import Job
from edgeinpaint.runtime.hd import HDConfig, HDStrategy
from edgeinpaint.runtime.recipe import Recipe
from edgeinpaint.runtime.workers import plan_routes


def recipe(hd: HDConfig) -> Recipe:
    """A three-stage recipe with no engines (routing reads only its HD rule and plane shapes)."""
    from edgeinpaint.canny.stage import CannySpec
    from edgeinpaint.core.params import Blend, CannyParams
    from edgeinpaint.core.specs import Backend, CannyVariant
    from edgeinpaint.runtime.engines import Generators
    from edgeinpaint.runtime.recipe import Finisher, Preparer, ThreeStage

    preparer = Preparer(CannySpec(CannyVariant.REFERENCE, CannyParams()))
    return ThreeStage(Generators(None, None, Backend.ONNXRUNTIME), preparer, Finisher(Blend.PASTE), hd)


def jobs_of(tmp_path: Path, sizes: list[tuple[int, int]], mode: str = "RGB", prefix: str = "") -> list[Job]:
    out = []
    for i, (h, w) in enumerate(sizes):
        p = tmp_path / f"{prefix}{i}.png"
        Image.new(mode, (w, h)).save(p)
        out.append(Job(p, None, tmp_path / "o" / p.name, p.name))
    return out


def test_hd_and_deep_images_take_the_direct_route(tmp_path: Path) -> None:
    jobs = jobs_of(tmp_path, [(64, 64), (2000, 1500), (100, 80)])
    jobs += jobs_of(tmp_path, [(64, 64)], mode="I;16", prefix="deep")  # 16-bit gray
    routes = plan_routes(jobs, recipe(HDConfig(trigger=1024)), slots=8, min_slots=2, max_memory=1 << 30)
    assert routes.direct == [1, 3] and routes.ring == [0, 2]
    assert routes.max_pixels == 100 * 80  # sized for the ring's largest, not the 3 MP image


def test_the_cap_shrinks_slots_then_routes_the_largest_direct(tmp_path: Path) -> None:
    jobs = jobs_of(tmp_path, [(64, 64)] * 3 + [(900, 900)])
    original = recipe(HDConfig(strategy=HDStrategy.ORIGINAL))
    roomy = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=1 << 30)
    assert roomy.slots == 8 and roomy.direct == []
    tight = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=2 * roomy.nbytes // 8)
    assert tight.slots == 2 and tight.nbytes <= 2 * roomy.nbytes // 8
    tiny = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=1 << 20)
    assert tiny.direct == [3] and tiny.nbytes <= 1 << 20 and tiny.max_pixels == 64 * 64
    assert np.all([i in tiny.ring for i in range(3)])


def test_crop_strategy_blends_boxes_across_cuts() -> None:
    """A long stroke is cut into several boxes; their pictures must meet without a step (the seam a hard
    paste leaves). A stand-in generator paints each call one flat, different value."""
    import itertools

    import cv2
    import numpy as np

    from edgeinpaint.runtime.hd import HDConfig, HDStrategy, inpaint_hd

    h, w = 700, 1400
    pixels = np.full((h, w, 3), 128, np.uint8)
    stroke = np.zeros((h, w), np.uint8)
    cv2.line(stroke, (40, 60), (1360, 640), 1, 30)  # diagonal: cut by the 128 px grid into many boxes
    hole = stroke.astype(bool)
    values = itertools.cycle([0, 250, 60, 200])

    def flat(p: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.full(p.shape, next(values), np.uint8)

    for overlap, most in ((0, 250), (24, 16)):
        config = HDConfig(strategy=HDStrategy.CROP, trigger=256, overlap=overlap)
        out = inpaint_hd(flat, pixels, hole, config)
        assert np.array_equal(out[~hole], pixels[~hole])
        value = out[..., 0].astype(int)
        steps = np.concatenate([
            np.abs(np.diff(value, axis=1))[hole[:, 1:] & hole[:, :-1]],
            np.abs(np.diff(value, axis=0))[hole[1:, :] & hole[:-1, :]],
        ])  # fmt: skip
        assert steps.max() == most if overlap == 0 else steps.max() <= most, (overlap, steps.max())
