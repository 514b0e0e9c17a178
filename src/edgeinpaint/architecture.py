"""Generator hyper-parameters, importable without torch (weights metadata, manifests, runtime)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
    def from_json(cls, data: dict[str, object]) -> Architecture:
        return cls(int(data["base_channels"]), int(data["residual_blocks"]))  # type: ignore[call-overload]
