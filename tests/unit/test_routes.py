"""Ring sizing: slots fit what the ring carries, never the largest input; the cap holds before allocation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from edgeinpaint.core.jobs import Job
from edgeinpaint.runtime.hd import HDConfig, HDStrategy
from edgeinpaint.runtime.workers import plan_routes


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
    routes = plan_routes(jobs, HDConfig(trigger=1024), slots=8, min_slots=2, max_memory=1 << 30)
    assert routes.direct == [1, 3] and routes.ring == [0, 2]
    assert routes.max_pixels == 100 * 80  # sized for the ring's largest, not the 3 MP image


def test_the_cap_shrinks_slots_then_routes_the_largest_direct(tmp_path: Path) -> None:
    jobs = jobs_of(tmp_path, [(64, 64)] * 3 + [(900, 900)])
    original = HDConfig(strategy=HDStrategy.ORIGINAL)
    roomy = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=1 << 30)
    assert roomy.slots == 8 and roomy.direct == []
    tight = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=2 * roomy.nbytes // 8)
    assert tight.slots == 2 and tight.nbytes <= 2 * roomy.nbytes // 8
    tiny = plan_routes(jobs, original, slots=8, min_slots=2, max_memory=1 << 20)
    assert tiny.direct == [3] and tiny.nbytes <= 1 << 20 and tiny.max_pixels == 64 * 64
    assert np.all([i in tiny.ring for i in range(3)])
