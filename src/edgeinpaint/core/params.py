"""Serving parameters a weights file fixes: the Canny settings and the composite (blend).

Both live here, below every layer, because the Canny graphs, the exporter, the runtime and the
trainer all read them; the weights format only stores them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from edgeinpaint.core.errors import WeightsError
from edgeinpaint.core.specs import MASK_THRESHOLD, EdgeSource

#: Canny sigma range accepted from a weights file or the command line: EdgeConnect uses 2; the
#: Gaussian kernel has 8·sigma+1 taps, so sigma 64 is already a 513-tap blur.
SIGMA_RANGE = (0.1, 64.0)


class Blend(str, enum.Enum):
    """How the raw generator output is composited into the input (core/blend.py).

    ``paste``: the paper (output in the hole, input outside). ``poisson``: a gradient-domain
    composite (the output's gradients in the hole, the input's values at its border).
    """

    PASTE = "paste"
    POISSON = "poisson"

    @classmethod
    def parse(cls, value: object, where: str) -> Blend:
        """``value`` as a Blend, or a WeightsError naming ``where`` and the valid values."""
        try:
            return cls(value)
        except ValueError:
            raise WeightsError(f"{where}: blend {value!r}; expected one of {', '.join(b.value for b in cls)}") from None


class Rounding(str, enum.Enum):
    """How a [0, 1] result becomes 8 bits (``--to-8bit``).

    ``round``: nearest level (unbiased; the default). ``truncate``: ``int(x * 255)``, what the official
    EdgeConnect test script does (``postprocess``: ``img * 255`` then ``.int()``), on average half a
    level darker.
    """

    ROUND = "round"
    TRUNCATE = "truncate"


@dataclass(frozen=True)
class FusedRecipe:
    """The picture choices baked into a fused model (export/fused.py), recorded in its manifest options.

    Attributes:
        edge_source: ``composite`` (predicted edges in the hole, Canny outside) or ``raw``.
        rounding: how the graph's uint8 ``output`` is quantized.
        mask_threshold: the uint8 model's hole rule, ``mask > mask_threshold`` (hosts feed their mask
            files as they are; the runtime feeds 0/255 holes, which every threshold reads alike).
    """

    edge_source: EdgeSource = EdgeSource.COMPOSITE
    rounding: Rounding = Rounding.ROUND
    mask_threshold: int = MASK_THRESHOLD

    def to_options(self) -> dict[str, object]:
        return {"edge_source": self.edge_source.value, "to_8bit": self.rounding.value,
                "mask_threshold": self.mask_threshold}  # fmt: skip

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> FusedRecipe:
        """From a manifest entry's options (files exported before these existed: the defaults)."""
        return cls(
            EdgeSource(str(options.get("edge_source", EdgeSource.COMPOSITE.value))),
            Rounding(str(options.get("to_8bit", Rounding.ROUND.value))),
            int(options.get("mask_threshold", MASK_THRESHOLD)),  # type: ignore[call-overload]
        )

    @property
    def is_default(self) -> bool:
        return self == FusedRecipe()


@dataclass(frozen=True)
class CannyParams:
    """Canny settings the weights were trained with (skimage.feature.canny semantics).

    Attributes:
        sigma: Gaussian standard deviation (EdgeConnect: 2), in :data:`SIGMA_RANGE`.
        low: hysteresis low threshold on the gradient magnitude of a [0, 1] image, >= 0.
        high: hysteresis high threshold, >= low.
    """

    sigma: float = 2.0
    low: float = 0.1
    high: float = 0.2

    def to_json(self) -> dict[str, float]:
        return {"sigma": self.sigma, "low": self.low, "high": self.high}

    def check(self, where: str) -> CannyParams:
        """Return self, or raise a WeightsError naming ``where`` when a value is not finite or out of range."""
        values = {"sigma": self.sigma, "low": self.low, "high": self.high}
        for name, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise WeightsError(f"{where}: Canny {name} {value!r}; expected a finite number")
        lo, hi = SIGMA_RANGE
        if not lo <= self.sigma <= hi:
            raise WeightsError(f"{where}: Canny sigma {self.sigma}; expected {lo} <= sigma <= {hi}")
        if not 0 <= self.low <= self.high:
            raise WeightsError(f"{where}: Canny thresholds low={self.low}, high={self.high}; expected 0 <= low <= high")
        return self

    @classmethod
    def from_json(cls, data: object, where: str) -> CannyParams:
        """Parse and check ``{"sigma", "low", "high"}``."""
        if not isinstance(data, dict) or set(data) - {"sigma", "low", "high"}:
            raise WeightsError(f"{where}: canny {data!r}; expected an object with sigma, low and high")
        return cls(**{k: data[k] for k in ("sigma", "low", "high") if k in data}).check(where)
