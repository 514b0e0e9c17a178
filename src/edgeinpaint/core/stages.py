"""The per-image stages: preprocess (gray, Canny, pad) -> edge -> inpaint -> composite.

These functions are the reference semantics of the product: every runtime path (single process,
multi-process, fused graph) must reproduce them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from edgeinpaint.core import specs
from edgeinpaint.core.blend import blend as blend_into
from edgeinpaint.core.engine import Engine
from edgeinpaint.core.images import pad_amounts, pad_reflect, rgb_to_gray, to_float, to_uint8
from edgeinpaint.core.params import Blend, Rounding

#: numpy arrays or torch tensors (edge_guide serves the runtime and the trainer).
ArrayT = TypeVar("ArrayT")
#: (gray (H, W) float64 in [0, 1], known (H, W) bool) -> edges (H, W) bool.
CannyFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Prepared:
    """One image ready for a recipe's ``infer``: what every recipe carries.

    Attributes:
        rgb8: (H, W, 3) uint8 original pixels (for the byte-exact composite outside the hole).
        hole: (H, W) bool, True = hole.
    """

    rgb8: np.ndarray
    hole: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.hole.shape[0]), int(self.hole.shape[1])

    @property
    def batch_key(self) -> tuple[int, int]:
        """Samples with the same key run in one engine call (the fused model: one image size per call)."""
        return self.size

    def planes(self) -> dict[str, np.ndarray]:
        """The float planes carried besides the pixels and the hole (none: the model takes those two)."""
        return {}


@dataclass
class Sample(Prepared):
    """One preprocessed image for the three generators' stages, padded to a multiple of 4.

    Attributes:
        image: (3, Hp, Wp) float32 RGB in [0, 1]. gray: (1, Hp, Wp). edges: (1, Hp, Wp) {0, 1}.
        mask: (1, Hp, Wp) {0, 1}, 1 = hole.
    """

    image: np.ndarray
    gray: np.ndarray
    edges: np.ndarray
    mask: np.ndarray

    @property
    def padded_size(self) -> tuple[int, int]:
        return int(self.image.shape[1]), int(self.image.shape[2])

    @property
    def batch_key(self) -> tuple[int, int]:
        return self.padded_size

    def planes(self) -> dict[str, np.ndarray]:
        return {"image": self.image, "gray": self.gray, "edges": self.edges, "mask": self.mask}


def as_uint8(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels as they are; uint16 rounded to 8 bits (the generators' and composite's depth)."""
    return pixels if pixels.dtype == np.uint8 else to_uint8(to_float(pixels))


def preprocess(pixels: np.ndarray, hole: np.ndarray, canny: CannyFn) -> Sample:
    """Gray (skimage coefficients, float64), Canny on the known region, then reflect-pad to a multiple of 4.

    Canny runs on the unpadded image so padding never creates edges; the padded border is a mirror.

    Args:
        pixels: (H, W, 3) uint8 or uint16 RGB, the file's own values (gray and Canny are computed
            from them, as the official procedure does; a 16-bit file is not rounded first).
        hole: (H, W) bool, True = hole.
    """
    rgb = to_float(pixels)
    gray = rgb_to_gray(rgb)
    edges = canny(gray, ~hole)
    pad_h, pad_w = pad_amounts(*hole.shape)
    rgb8 = pixels if pixels.dtype == np.uint8 else to_uint8(rgb)
    return Sample(
        rgb8=rgb8,
        hole=hole,
        image=pad_reflect(rgb.transpose(2, 0, 1).astype(np.float32), pad_h, pad_w),
        gray=pad_reflect(gray[None].astype(np.float32), pad_h, pad_w),
        edges=pad_reflect(edges[None].astype(np.float32), pad_h, pad_w),
        mask=pad_reflect(hole[None].astype(np.float32), pad_h, pad_w),
    )


def infer(
    samples: Sequence[Sample],
    edge: Engine,
    inpaint: Engine,
    edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE,
) -> np.ndarray:
    """Run both generators on a batch of same-size samples.

    Returns:
        (N, 3, Hp, Wp) float32 raw inpaint output.
    """
    gray = np.stack([s.gray for s in samples])
    edges = np.stack([s.edges for s in samples])
    mask = np.stack([s.mask for s in samples])
    image = np.stack([s.image for s in samples])
    pred = edge.run({"gray": gray, "edges": edges, "mask": mask})["edges_pred"]
    guide = edge_guide(pred, edges, mask) if edge_source is specs.EdgeSource.COMPOSITE else pred
    return np.asarray(inpaint.run({"image": image, "edges": guide, "mask": mask})["inpainted"])


def composite(sample: Sample, output: np.ndarray, blend: Blend, rounding: Rounding = Rounding.ROUND) -> np.ndarray:
    """Crop the padding, round the hole to uint8 and keep every known pixel byte-identical.

    Args:
        output: (3, Hp, Wp) raw inpaint output in [0, 1].
        blend: the weights' composite (paste = the paper, poisson = core/blend.py); every caller
            passes it explicitly, so a picture is never composited another way than serving does.
        rounding: round (default) or truncate the hole to 8 bits.

    Returns:
        (H, W, 3) uint8.
    """
    return blend_into(crop_output(sample, output), sample.rgb8, sample.hole, blend, rounding)


def crop_output(sample: Sample, output: np.ndarray) -> np.ndarray:
    """(3, Hp, Wp) raw output -> (H, W, 3) float32 at the image's own size (padding cropped)."""
    h, w = sample.size
    return np.ascontiguousarray(output[:, :h, :w].transpose(1, 2, 0), dtype=np.float32)


def edge_guide(pred: ArrayT, canny: ArrayT, mask: ArrayT) -> ArrayT:
    """The edges the inpaint generator is fed: predicted edges in the hole, Canny outside.

    What EdgeConnect's inpaint generator is trained on (the official ``train``, ``eval`` and
    ``sample`` with model 3/4: ``edges = edges * masks + canny * (1 - masks)``). The official
    ``test`` does *not* composite: it feeds the raw edge-generator output (``EdgeSource.RAW``,
    ``--preset official``). Works on numpy arrays and torch tensors alike (trainer, calibration and
    accuracy checks share it).

    Args:
        pred: (N, 1, H, W) edge generator output in [0, 1]. canny: (N, 1, H, W) {0, 1}.
        mask: (N, 1, H, W) {0, 1}, 1 = hole.
    """
    return pred * mask + canny * (1 - mask)  # type: ignore[operator, no-any-return]
