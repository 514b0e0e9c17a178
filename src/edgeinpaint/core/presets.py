"""Presets: named sets of the options that decide how a picture is made (``--preset``).

A preset only supplies defaults: any option given explicitly on the command line wins, and the run
report records both the preset and the values used. ``paper`` is what the paper describes and what
edgeinpaint does by default; ``official`` is every choice the official EdgeConnect test script
(knazeri/edge-connect, ``test.py --model 3``) makes:

- masks: ``rgb2gray(mask)`` then ``mask > 0``: any non-zero pixel is a hole (``--mask-threshold 0``);
- Canny: ``canny(rgb2gray(img), sigma=SIGMA, mask=~hole)`` on float64, i.e. skimage itself; the
  exact float64 graph gives identical edges (``--canny exact``);
- edges: ``self.inpaint_model(images, self.edge_model(images_gray, edges, masks), masks)``: the raw
  edge-generator output everywhere (``--edge-source raw``); composited edges appear only in its
  train/eval/sample code;
- composite ``outputs * masks + images * (1 - masks)`` (``--blend paste``) and 8 bits by
  ``img * 255`` ... ``.int()``: truncation (``--to-8bit truncate``).

What still differs from the script (README "Contracts"): sizes that are not multiples of 4 (the
script stops at the first one; edgeinpaint pads by reflection and crops back), float rounding of the
backend (a value within 1e-5 of an integer level can truncate to the next one), masks of another
size (the script resizes them bilinearly then thresholds; edgeinpaint uses nearest neighbour and
warns), and masks paired by file name rather than by sorted index.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from edgeinpaint.core.params import Blend, Rounding
from edgeinpaint.core.specs import MASK_THRESHOLD, CannyVariant, EdgeSource


class Preset(str, enum.Enum):
    """A named set of picture options (module docstring)."""

    PAPER = "paper"
    OFFICIAL = "official"


class BlendChoice(str, enum.Enum):
    """--blend: the weights' own composite (auto) or an override."""

    AUTO = "auto"
    PASTE = "paste"
    POISSON = "poisson"

    def resolve(self) -> Blend | None:
        return None if self is BlendChoice.AUTO else Blend(self.value)


@dataclass(frozen=True)
class PictureRecipe:
    """The options a preset sets.

    Attributes:
        mask_threshold: a mask pixel whose gray value (0..255) is above this is a hole.
        canny: Canny implementation (core/specs.py).
        edge_source: edges for the inpaint generator.
        blend: composite; None = the weights' own.
        rounding: how [0, 1] becomes 8 bits.
    """

    mask_threshold: int = MASK_THRESHOLD
    canny: CannyVariant = CannyVariant.FAST
    edge_source: EdgeSource = EdgeSource.COMPOSITE
    blend: Blend | None = None
    rounding: Rounding = Rounding.ROUND

    def to_json(self) -> dict[str, object]:
        return {
            "mask_threshold": self.mask_threshold,
            "canny": self.canny.value,
            "edge_source": self.edge_source.value,
            "blend": self.blend.value if self.blend is not None else "weights",
            "to_8bit": self.rounding.value,
        }


#: The one place each preset is defined.
PRESETS: dict[Preset, PictureRecipe] = {
    Preset.PAPER: PictureRecipe(),
    Preset.OFFICIAL: PictureRecipe(
        mask_threshold=0,
        canny=CannyVariant.EXACT,
        edge_source=EdgeSource.RAW,
        blend=Blend.PASTE,
        rounding=Rounding.TRUNCATE,
    ),
}


def describe(preset: Preset) -> str:
    """One line for ``--help``: what the preset sets."""
    r = PRESETS[preset]
    blend = r.blend.value if r.blend is not None else "the weights'"
    return (
        f"{preset.value}: mask > {r.mask_threshold}, canny {r.canny.value}, edges {r.edge_source.value}, "
        f"{blend} composite, {r.rounding.value}"
    )


def picture_recipe(
    preset: Preset,
    mask_threshold: int | None = None,
    canny: CannyVariant | None = None,
    edge_source: EdgeSource | None = None,
    blend: BlendChoice | None = None,
    to_8bit: Rounding | None = None,
) -> PictureRecipe:
    """``preset``'s recipe with every explicitly given option (not None) in its place; ``blend`` auto is
    explicitly the weights' own composite, whatever the preset says."""
    base = PRESETS[preset]
    return replace(
        base,
        mask_threshold=base.mask_threshold if mask_threshold is None else mask_threshold,
        canny=canny or base.canny,
        edge_source=edge_source or base.edge_source,
        blend=base.blend if blend is None else blend.resolve(),
        rounding=to_8bit or base.rounding,
    )
