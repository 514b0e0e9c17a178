"""TrainConfig: one frozen dataclass, loaded from TOML with command-line overrides."""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.params import Blend

STAGES = ("edge", "inpaint", "edge-inpaint", "joint")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs (defaults = the official example config where it has one).

    Attributes are grouped: data, masks, architecture, Canny, losses, optimisation, scale, operations.
    ``init_from`` lists earlier run directories (their ``last.pt``) or weights files whose networks
    seed this run (stage edge-inpaint takes its frozen edge generator from the edge run).
    """

    stage: str = "inpaint"
    data: tuple[str, ...] = ()
    val_data: tuple[str, ...] = ()
    output: str = "runs/edgeinpaint"
    size: int = 256
    crop: str = "random"
    flip: bool = True
    max_side: int = 1024
    # masks
    masks: dict[str, float] = field(default_factory=lambda: {"free_form": 1.0})
    mask_ratio: tuple[float, float] = (0.1, 0.5)
    mask_dir: str | None = None
    mask_invert: bool = False
    # architecture and Canny
    base_channels: int = 64
    residual_blocks: int = 8
    discriminator_channels: int = 64
    sigma: float = 2.0
    low: float = 0.1
    high: float = 0.2
    # losses
    gan_loss: str = "nsgan"
    edge_adv_weight: float = 1.0
    fm_weight: float = 10.0
    l1_weight: float = 1.0
    #: Weight of known (non-hole) pixels inside the L1 term. 1.0 = the paper (L1 over the raw output
    #: / mean(mask)); lower values focus a small, briefly trained model on the hole, which is all
    #: the composite keeps.
    l1_known_weight: float = 1.0
    #: Weight of an L1 loss on image gradients (finite differences) over the hole and its border.
    #: 0 = the paper. With the Poisson composite (``blend = "poisson"``) only the output's gradients
    #: reach the image, so a model meant for it is trained on them (see weights/bundled/MODEL_CARD.md).
    gradient_weight: float = 0.0
    #: Pyramid levels of the gradient loss (1 = full resolution only).
    gradient_scales: int = 1
    #: Serving composite recorded in the weights: "paste" (the paper) or "poisson".
    blend: str = "paste"
    perceptual_weight: float = 0.1
    style_weight: float = 250.0
    inpaint_adv_weight: float = 0.1
    vgg19: str | None = None
    # optimisation
    batch_size: int = 8
    iterations: int = 2_000_000
    lr: float = 1e-4
    d_lr_ratio: float = 0.1
    beta1: float = 0.0
    beta2: float = 0.9
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    # scale
    device: str = "auto"
    amp: str = "none"
    channels_last: bool = False
    threads: int | None = None
    # operations
    seed: int = 0
    init_from: tuple[str, ...] = ()
    checkpoint_every: int = 1000
    sample_every: int = 1000
    log_every: int = 50
    val_every: int = 5000
    val_size: int = 16

    def validate(self) -> None:
        if self.blend not in {b.value for b in Blend}:
            raise EdgeInpaintError(f"unknown blend {self.blend!r}; expected one of {', '.join(b.value for b in Blend)}")
        if self.stage not in STAGES:
            raise EdgeInpaintError(f"unknown stage {self.stage!r}; expected one of {', '.join(STAGES)}")
        if self.amp not in ("none", "bf16", "fp16"):
            raise EdgeInpaintError(f"amp must be none, bf16 or fp16, not {self.amp!r}")
        if self.size % 4 or self.size < 16:
            raise EdgeInpaintError(f"size must be a multiple of 4 and >= 16, not {self.size}")
        if not self.data:
            raise EdgeInpaintError("no training data; set data = [DIR, ...] in the config or pass --data")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Config keys holding paths (or lists of paths).
PATH_KEYS = ("data", "val_data", "mask_dir", "vgg19", "init_from")


def _relative_to(value: Any, base: Path) -> Any:
    if isinstance(value, list):
        return [_relative_to(v, base) for v in value]
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str(base / value)
    return value


def _coerce(name: str, value: Any, current: Any) -> Any:
    if isinstance(current, tuple):
        items = value if isinstance(value, (list, tuple)) else [v for v in str(value).split(",") if v]
        kind = type(current[0]) if current else str
        return tuple(kind(v) for v in items)
    if isinstance(current, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if isinstance(current, dict):
        if isinstance(value, dict):
            return {str(k): float(v) for k, v in value.items()}
        return {k: float(w) for k, _, w in (p.partition(":") for p in str(value).split(","))}
    if current is None or isinstance(current, str):
        return None if value in (None, "", "none", "None") and name in ("vgg19", "mask_dir", "threads") else value
    return type(current)(value)


def load_config(path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """Defaults <- TOML file <- overrides (``key=value`` strings from the command line)."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values.update(tomllib.loads(Path(path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise EdgeInpaintError(f"{path}: cannot read training config ({exc})") from exc
        # Paths in a config file are relative to the file, so a config in a clone works anywhere.
        base = Path(path).resolve().parent
        for key in PATH_KEYS:
            if key in values:
                values[key] = _relative_to(values[key], base)
    values.update({k: v for k, v in overrides.items() if v is not None})
    defaults = TrainConfig()
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        import difflib

        hints = [f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, known, 1)) else repr(k)
                 for k in unknown]  # fmt: skip
        raise EdgeInpaintError(
            f"unknown training option(s) {', '.join(hints)}; the options are: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        current = getattr(defaults, name)
        try:
            kwargs[name] = _coerce(name, value, current if current is not None else "")
            if name == "threads" and kwargs[name] is not None:
                kwargs[name] = int(kwargs[name])
        except (TypeError, ValueError) as exc:
            raise EdgeInpaintError(f"training option {name}={value!r}: {exc}") from exc
    config = TrainConfig(**kwargs)
    config.validate()
    return config


#: One line per TrainConfig field, for ``train --options`` (a test checks every field has one).
FIELD_HELP: dict[str, str] = {
    "stage": "edge | inpaint | edge-inpaint (released models: G1 frozen, G2 trains) | joint",
    "data": "image folders (recursive) to train on",
    "val_data": "image folders for the validation metrics (default: none)",
    "output": "run folder: checkpoints, samples, logs, weights.safetensors",
    "size": "training crop side in px (multiple of 4)",
    "crop": "random | center: how the training crop is taken",
    "flip": "random horizontal flips",
    "max_side": "images are first downscaled to this longer side",
    "masks": "mask kinds and their weights, e.g. {free_form = 0.6, block = 0.4}",
    "mask_ratio": "hole share range (min, max) of generated masks",
    "mask_dir": "a folder of mask files to sample from instead of generated masks",
    "mask_invert": "mask files use 0 = hole (NVIDIA's irregular mask set)",
    "base_channels": "generator width (paper: 64)",
    "residual_blocks": "dilated residual blocks in the middle (paper: 8)",
    "discriminator_channels": "PatchGAN discriminator width (paper: 64)",
    "sigma": "Canny Gaussian sigma (paper: 2), stored in the weights",
    "low": "Canny low hysteresis threshold",
    "high": "Canny high hysteresis threshold",
    "gan_loss": "nsgan | lsgan | hinge",
    "edge_adv_weight": "edge generator adversarial loss weight",
    "fm_weight": "edge generator feature-matching loss weight (paper: 10)",
    "l1_weight": "inpaint generator L1 loss weight",
    "l1_known_weight": "weight of known pixels inside the L1 term (1 = the paper)",
    "gradient_weight": "L1 on image gradients over the hole (0 = the paper; for the Poisson composite)",
    "gradient_scales": "pyramid levels of the gradient loss",
    "blend": "serving composite recorded in the weights: paste | poisson",
    "perceptual_weight": "VGG19 perceptual loss weight (paper: 0.1; needs vgg19)",
    "style_weight": "VGG19 style (Gram) loss weight (paper: 250; needs vgg19)",
    "inpaint_adv_weight": "inpaint generator adversarial loss weight (paper: 0.1)",
    "vgg19": "local torchvision VGG19 weights file (never downloaded); unset: no VGG losses",
    "batch_size": "images per step (per process)",
    "iterations": "total optimizer steps",
    "lr": "generator learning rate (Adam)",
    "d_lr_ratio": "discriminator learning rate = lr * this",
    "beta1": "Adam beta1 (paper: 0)",
    "beta2": "Adam beta2 (paper: 0.9)",
    "lr_milestones": "steps at which the learning rates are multiplied by lr_gamma",
    "lr_gamma": "learning-rate factor at each milestone",
    "device": "auto | cpu | cuda | cuda:N",
    "amp": "none | bf16 | fp16 mixed precision",
    "channels_last": "NHWC memory format (faster convolutions on recent GPUs)",
    "threads": "CPU threads for torch (default: all cores)",
    "seed": "random seed",
    "init_from": "earlier run folders (their last.pt) or weights files whose networks seed this run",
    "checkpoint_every": "steps between checkpoints (last.pt + official-format *_gen.pth)",
    "sample_every": "steps between sample pictures",
    "log_every": "steps between log lines (log.csv, TensorBoard when installed)",
    "val_every": "steps between validation runs",
    "val_size": "validation images per run",
}


def option_help() -> list[tuple[str, str, str]]:
    """Every TrainConfig field: (name, default as TOML would read it, what it does), for ``train --options``."""
    defaults = TrainConfig()
    return [
        (f.name, repr(getattr(defaults, f.name)), FIELD_HELP.get(f.name, "")) for f in dataclasses.fields(TrainConfig)
    ]


class Stage(str, enum.Enum):
    """Training stages of the paper."""

    EDGE = "edge"
    INPAINT = "inpaint"
    EDGE_INPAINT = "edge-inpaint"
    JOINT = "joint"
