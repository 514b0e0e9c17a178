"""Generator hyper-parameters, importable without torch (weights metadata, manifests, runtime)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edgeinpaint.core.errors import WeightsError

#: Accepted ranges: the paper uses 64 channels and 8 blocks; anything past these is a corrupt or
#: hostile file (a 4096-channel generator would need tens of GB before a single image).
BASE_CHANNELS_RANGE = (1, 512)
RESIDUAL_BLOCKS_RANGE = (0, 64)


@dataclass(frozen=True)
class Architecture:
    """Generator hyper-parameters; the defaults are the paper's.

    Attributes:
        base_channels: width of the first encoder conv; the encoder uses c, 2c, 4c channels.
        residual_blocks: number of dilated residual blocks in the middle.
    """

    base_channels: int = 64
    residual_blocks: int = 8

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object, where: str = "weights") -> Architecture:
        """Parse ``{"base_channels": c, "residual_blocks": n}``, each an integer in its range.

        Raises:
            WeightsError: not an object, missing or non-integer fields, values out of range.
        """
        if not isinstance(data, dict):
            raise WeightsError(f"{where}: architecture {data!r}; expected an object")
        values = {}
        for name, (lo, hi) in (("base_channels", BASE_CHANNELS_RANGE), ("residual_blocks", RESIDUAL_BLOCKS_RANGE)):
            value = data.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise WeightsError(f"{where}: architecture {name} {value!r}; expected an integer in [{lo}, {hi}]")
            values[name] = value
        return cls(**values)
