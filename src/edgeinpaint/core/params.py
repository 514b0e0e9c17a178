"""Serving parameters a weights file fixes: the Canny settings and the composite (blend).

Both live here, below every layer, because the Canny graphs, the exporter, the runtime and the
trainer all read them; the weights format only stores them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from edgeinpaint.core.errors import WeightsError

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
