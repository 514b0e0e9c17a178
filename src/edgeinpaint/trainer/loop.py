"""The EdgeConnect training loop: 4 stages, correct update order, resume, DDP, AMP, logs.

Update order: the generator forward runs once; the discriminator steps on detached outputs; the
generator losses are then computed against the *updated* discriminator and the generator steps.
Upstream computed G losses before the D step and backpropagated after it, which modern PyTorch
rejects (a parameter saved for backward was modified in place).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeinpaint.core.atomic import publish
from edgeinpaint.core.errors import EdgeInpaintError
from edgeinpaint.core.params import CannyParams
from edgeinpaint.core.stages import edge_guide
from edgeinpaint.models import Architecture, Discriminator, EdgeGenerator, InpaintGenerator
from edgeinpaint.models.edge_generator import edge_input
from edgeinpaint.models.inpaint_generator import inpaint_input
from edgeinpaint.trainer.config import TrainConfig
from edgeinpaint.trainer.data import CropPolicy, InpaintingDataset, collate, list_images
from edgeinpaint.trainer.losses import AdversarialLoss, VGG19Loss, feature_matching, find_vgg19, gradient_l1
from edgeinpaint.trainer.masks import MaskSampler
from edgeinpaint.weights.format import save_weights, weights_from_modules

log = logging.getLogger(__name__)

#: Which networks each stage builds and which of them train.
STAGE_NETWORKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "edge": (("edge_generator", "edge_discriminator"), ("edge_generator", "edge_discriminator")),
    "inpaint": (
        ("inpaint_generator", "inpaint_discriminator"),
        ("inpaint_generator", "inpaint_discriminator"),
    ),
    "edge-inpaint": (
        ("edge_generator", "inpaint_generator", "inpaint_discriminator"),
        ("inpaint_generator", "inpaint_discriminator"),
    ),
    "joint": (
        ("edge_generator", "edge_discriminator", "inpaint_generator", "inpaint_discriminator"),
        ("edge_generator", "edge_discriminator", "inpaint_generator", "inpaint_discriminator"),
    ),
}
OFFICIAL_FILES = {
    "edge_generator": ("EdgeModel_gen.pth", "generator"),
    "edge_discriminator": ("EdgeModel_dis.pth", "discriminator"),
    "inpaint_generator": ("InpaintingModel_gen.pth", "generator"),
    "inpaint_discriminator": ("InpaintingModel_dis.pth", "discriminator"),
}


@dataclass
class Distributed:
    """Process-group facts (rank 0 of 1 when not launched by torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Distributed:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Distributed(
        rank=dist.get_rank(), world=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0"))
    )


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file and rename, so a crash never leaves a half-written checkpoint."""
    with publish(path) as tmp:
        torch.save(obj, tmp)


class Trainer:
    """Builds the stage's networks, optimisers and data, and runs iterations.

    Args:
        config: the run's configuration.
        echo: optional callback for human-readable messages (warnings, checkpoints).
    """

    def __init__(self, config: TrainConfig, echo: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.echo = echo or (lambda msg: log.info(msg))
        if config.threads:
            torch.set_num_threads(config.threads)
        want = config.device
        if want == "auto":
            want = "cuda" if torch.cuda.is_available() else "cpu"
        self.dist = setup_distributed(torch.device(want))
        self.device = torch.device(f"cuda:{self.dist.local_rank}" if want == "cuda" else want)
        self.out = Path(config.output)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        self.arch = Architecture(config.base_channels, config.residual_blocks)
        self.canny = CannyParams(config.sigma, config.low, config.high)
        built, trained = STAGE_NETWORKS[config.stage]
        if config.inpaint_adv_weight == 0:
            # A pure reconstruction run: the inpaint discriminator is neither built nor trained.
            built = tuple(n for n in built if n != "inpaint_discriminator")
            trained = tuple(n for n in trained if n != "inpaint_discriminator")
        self.trained = trained
        self.nets: dict[str, Any] = {}
        use_sigmoid = config.gan_loss != "hinge"
        factories: dict[str, Callable[[], nn.Module]] = {
            "edge_generator": lambda: EdgeGenerator(self.arch, use_spectral_norm=True),
            "inpaint_generator": lambda: InpaintGenerator(self.arch),
            "edge_discriminator": lambda: Discriminator(2, use_sigmoid, base_channels=config.discriminator_channels),
            "inpaint_discriminator": lambda: Discriminator(3, use_sigmoid, base_channels=config.discriminator_channels),
        }
        for name in built:
            net = factories[name]().to(self.device)
            if config.channels_last:
                net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self.nets[name] = net
        self.iteration = 0
        self._init_from(config.init_from)
        for name, net in self.nets.items():
            frozen = name not in trained
            net.requires_grad_(not frozen)
            net.train(not frozen)
        # DDP wraps trainable nets; the generator-step discriminator call uses the raw module so
        # the discriminator's reducer never waits for gradients it will not get in that step.
        self.ddp: dict[str, Any] = {}
        for name in trained:
            if self.dist.world > 1:
                from torch.nn.parallel import DistributedDataParallel

                ids = [self.device.index] if self.device.type == "cuda" else None
                self.ddp[name] = DistributedDataParallel(self.nets[name], device_ids=ids)
            else:
                self.ddp[name] = self.nets[name]
        self.optimizers = {
            name: torch.optim.Adam(
                self.nets[name].parameters(),
                lr=config.lr * (config.d_lr_ratio if name.endswith("discriminator") else 1.0),
                betas=(config.beta1, config.beta2),
            )
            for name in trained
        }
        self.schedulers = {
            name: torch.optim.lr_scheduler.MultiStepLR(
                opt, milestones=list(config.lr_milestones), gamma=config.lr_gamma
            )
            for name, opt in self.optimizers.items()
        }
        self.adversarial = AdversarialLoss(config.gan_loss)
        self.vgg: VGG19Loss | None = None
        if "inpaint_generator" in trained and (config.perceptual_weight or config.style_weight):
            vgg_path = find_vgg19(Path(config.vgg19) if config.vgg19 else None)
            if vgg_path is None:
                self.echo(
                    "warning: VGG19 weights not found (pass vgg19 = PATH or place vgg19-dcbb9e9d.pth in torchvision's "
                    "cache); perceptual and style losses are OFF for this run"
                )
            else:
                self.vgg = VGG19Loss(vgg_path).to(self.device)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.amp)
        if self.amp_dtype is not None and self.device.type != "cuda":
            self.echo("warning: AMP is only used on CUDA; training in FP32")
            self.amp_dtype = None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype is torch.float16)
        masks = MaskSampler(
            kinds=dict(config.masks),
            ratio=tuple(config.mask_ratio),  # type: ignore[arg-type]
            external=tuple(list_images([Path(config.mask_dir)])) if config.mask_dir else (),
            invert=config.mask_invert,
        )
        crop = CropPolicy(config.size, config.crop, config.flip)
        self.data = InpaintingDataset(
            list_images([Path(p) for p in config.data]), masks, crop, self.canny, config.seed, config.max_side
        )
        self.val = None
        if config.val_data:
            self.val = InpaintingDataset(
                list_images([Path(p) for p in config.val_data], "validation data (val_data / --set val_data=DIR)"),
                masks,
                CropPolicy(config.size, "center", False),
                self.canny,
                config.seed + 1,
                config.max_side,
            )
        self.resume()

    # ----------------------------------------------------------------------------- state

    def _init_from(self, sources: tuple[str, ...]) -> None:
        """Seed networks from earlier runs (last.pt, spectral norm intact) or weights files (folded)."""
        for src in sources:
            path = Path(src)
            if path.is_dir():
                ckpt = self._load_checkpoint(path / "last.pt")
                for name, state in ckpt["models"].items():
                    if name in self.nets:
                        self.nets[name].load_state_dict(state)
                        self.echo(f"initialised {name} from {path / 'last.pt'}")
            else:
                from edgeinpaint.weights.format import load_weights

                weights = load_weights(path)
                for name in weights.tensors:
                    if name not in self.nets:
                        continue
                    if name == "edge_generator" and name not in self.trained:
                        # A frozen edge generator can run folded: swap in the plain network.
                        self.nets[name] = weights.build(name).to(self.device)
                    elif name == "inpaint_generator":
                        self.nets[name].load_state_dict(
                            {k: torch.from_numpy(v) for k, v in weights.tensors[name].items()}
                        )
                    else:
                        raise EdgeInpaintError(
                            f"{path}: a folded {name} cannot be trained further; init from the run directory instead"
                        )
                    self.echo(f"initialised {name} from {path}")

    @staticmethod
    def _load_checkpoint(path: Path) -> dict[str, Any]:
        """A run's ``last.pt``, or one line naming the file (truncated by a full disk, random bytes, a pickle
        that wants more than tensors, or a dictionary without our keys)."""
        if not path.is_file():
            raise EdgeInpaintError(f"{path}: no checkpoint; expected a run folder with last.pt")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # zipfile, pickle and torch errors alike: the file is not a usable checkpoint
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise EdgeInpaintError(
                f"{path}: not a readable checkpoint ({reason}); delete it to start over, or restore a copy"
            ) from None
        if not isinstance(ckpt, dict) or not isinstance(ckpt.get("models"), dict) or "iteration" not in ckpt:
            raise EdgeInpaintError(f"{path}: not an edgeinpaint checkpoint (expected models, iteration, ...)")
        return ckpt

    def state(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "stage": self.config.stage,
            "models": {k: v.state_dict() for k, v in self.nets.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scaler": self.scaler.state_dict(),
            # Data randomness is keyed by (seed, iteration), so the torch RNG is the only state.
            "rng": {"torch": torch.get_rng_state()},
        }

    def resume(self) -> bool:
        """Continue from ``output/last.pt`` if it exists (models, optimisers, iteration, RNG)."""
        path = self.out / "last.pt"
        if not path.is_file():
            return False
        ckpt = self._load_checkpoint(path)
        if ckpt.get("stage") != self.config.stage:
            raise EdgeInpaintError(f"{path}: checkpoint is for stage {ckpt.get('stage')!r}, not {self.config.stage!r}")
        for name, state in ckpt["models"].items():
            if name in self.nets:
                self.nets[name].load_state_dict(state)
        for name, state in ckpt["optimizers"].items():
            if name in self.optimizers:
                self.optimizers[name].load_state_dict(state)
        for name, state in ckpt.get("schedulers", {}).items():
            if name in self.schedulers:
                self.schedulers[name].load_state_dict(state)
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.iteration = int(ckpt["iteration"])
        self.echo(f"resumed from {path} at iteration {self.iteration}")
        return True

    def save(self) -> None:
        """last.pt (everything to resume), official-format files and our folded safetensors (rank 0)."""
        if not self.dist.main:
            return
        atomic_save(self.state(), self.out / "last.pt")
        for name, net in self.nets.items():
            file, key = OFFICIAL_FILES[name]
            if (
                key == "generator"
                and not any(n.endswith("weight_orig") for n, _ in net.named_parameters())
                and name == "edge_generator"
            ):
                continue  # a folded frozen edge generator has no official-format form
            payload = (
                {"iteration": self.iteration, key: net.state_dict()} if key == "generator" else {key: net.state_dict()}
            )
            atomic_save(payload, self.out / file)
        (self.out / "config.yml").write_text(f"SIGMA: {self.canny.sigma}\nMODEL: {self.config.stage}\n")
        save_weights(
            weights_from_modules(
                self.nets.get("edge_generator"),
                self.nets.get("inpaint_generator"),
                self.arch,
                self.canny,
                {
                    "source": "edgeinpaint train",
                    "stage": self.config.stage,
                    "iteration": self.iteration,
                    "config": self.config.to_json(),
                },
                blend=self.config.blend,
            ),
            self.out / "weights.safetensors",
        )

    # ----------------------------------------------------------------------------- data

    def batch(self, iteration: int) -> dict[str, torch.Tensor]:
        """The batch of ``iteration``: a pure function of (seed, iteration, rank), so resume is exact.

        Sampling is rank-sliced like DistributedSampler: each epoch's permutation is shared and
        rank r takes every world-th index.
        """
        n = len(self.data)
        per_rank = self.config.batch_size
        global_bs = per_rank * self.dist.world
        start = iteration * global_bs
        items = []
        for j in range(per_rank):
            k = start + j * self.dist.world + self.dist.rank
            epoch, pos = divmod(k, n)
            perm = np.random.default_rng([self.config.seed, epoch]).permutation(n)
            items.append(self.data.item(int(perm[pos]), key=k))
        arrays = collate(items)
        return {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}

    # ----------------------------------------------------------------------------- step

    def _autocast(self) -> Any:
        return torch.autocast(
            device_type=self.device.type,
            dtype=self.amp_dtype or torch.float32,
            enabled=self.amp_dtype is not None,
        )

    def _d_step(self, name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            # One forward over real and fake (the discriminator has no normalisation, so this is
            # the same as two calls, and DDP sees a single forward per backward).
            scores, _ = self.ddp[name](torch.cat([real, fake.detach()]))
            s_real, s_fake = scores.chunk(2)
            loss = (self.adversarial(s_real, True, True) + self.adversarial(s_fake, False, True)) / 2
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        return loss.detach()

    def step(self) -> dict[str, float]:
        """One iteration of the configured stage; returns the losses."""
        c = self.config
        b = self.batch(self.iteration)
        image, gray, edges, mask = b["image"], b["gray"], b["edges"], b["mask"]
        logs: dict[str, torch.Tensor] = {}
        g_losses: list[torch.Tensor] = []
        edge_trained = "edge_generator" in self.trained
        with self._autocast():
            if "edge_generator" in self.nets:
                if edge_trained:
                    # Through the (possibly DDP-wrapped) forward so gradients are synchronised.
                    edge_pred = self.ddp["edge_generator"](edge_input(gray, edges, mask))
                else:
                    with torch.no_grad():
                        edge_pred = self.nets["edge_generator"].predict(gray, edges, mask)
        if edge_trained:
            logs["edge_d"] = self._d_step(
                "edge_discriminator", torch.cat([gray, edges], 1), torch.cat([gray, edge_pred], 1)
            )
            with self._autocast():
                disc = self.nets["edge_discriminator"]
                fake_scores, fake_feats = disc(torch.cat([gray, edge_pred], 1))
                with torch.no_grad():
                    _, real_feats = disc(torch.cat([gray, edges], 1))
                adv = self.adversarial(fake_scores, True, False) * c.edge_adv_weight
                fm = feature_matching(fake_feats, real_feats) * c.fm_weight
                logs["edge_adv"], logs["edge_fm"] = adv.detach(), fm.detach()
                g_losses.append(adv + fm)
        if "inpaint_generator" in self.nets:
            # Stage inpaint conditions on ground-truth Canny; later stages on what serving feeds:
            # predicted edges in the hole, Canny outside.
            guide = edges if c.stage == "inpaint" else edge_guide(edge_pred, edges, mask)
            with self._autocast():
                raw = self.ddp["inpaint_generator"](inpaint_input(image, guide, mask))
            adversarial = c.inpaint_adv_weight > 0  # weight 0: a pure reconstruction run, no D to train
            if adversarial:
                logs["inpaint_d"] = self._d_step("inpaint_discriminator", image, raw)
            with self._autocast():
                if adversarial:
                    fake_scores, _ = self.nets["inpaint_discriminator"](raw)
                    adv = self.adversarial(fake_scores, True, False) * c.inpaint_adv_weight
                else:
                    adv = torch.zeros((), device=self.device)
                # Paper: L1(raw, truth) / mean(mask); l1_known_weight < 1 down-weights known pixels.
                weight = mask + c.l1_known_weight * (1 - mask)
                l1 = (raw - image).abs().mul(weight).mean() * c.l1_weight / mask.mean().clamp_min(1e-3)
                total = adv + l1
                logs["inpaint_adv"], logs["inpaint_l1"] = adv.detach(), l1.detach()
                if c.gradient_weight > 0:
                    grad = gradient_l1(raw, image, mask, c.gradient_scales) * c.gradient_weight
                    logs["inpaint_gradient"] = grad.detach()
                    total = total + grad
                if self.vgg is not None:
                    perc = self.vgg.perceptual(raw.float(), image) * c.perceptual_weight
                    style = self.vgg.style((raw * mask).float(), image * mask) * c.style_weight
                    logs["inpaint_perceptual"], logs["inpaint_style"] = perc.detach(), style.detach()
                    total = total + perc + style
                g_losses.append(total)
        for name in self.trained:
            if name.endswith("generator"):
                self.optimizers[name].zero_grad(set_to_none=True)
        self.scaler.scale(sum(g_losses, torch.zeros((), device=self.device))).backward()
        for name in self.trained:
            if name.endswith("generator"):
                self.scaler.step(self.optimizers[name])
        self.scaler.update()
        for sched in self.schedulers.values():
            sched.step()
        self.iteration += 1
        self.last_outputs = {"image": image, "edges": edges, "mask": mask}
        if "edge_generator" in self.nets:
            self.last_outputs["edge_pred"] = edge_pred.detach()
        if "inpaint_generator" in self.nets:
            self.last_outputs["raw"] = raw.detach()
        values = {k: float(v) for k, v in logs.items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise EdgeInpaintError(f"iteration {self.iteration}: non-finite losses {bad}; lower lr or disable AMP")
        return values

    # ----------------------------------------------------------------------------- extras

    def write_samples(self) -> Path:
        """A PNG grid: rows = samples; columns = input, masked, edges, predicted edges, output."""
        from PIL import Image

        o = {k: v.float().cpu().numpy() for k, v in self.last_outputs.items()}
        image, mask = o["image"], o["mask"]
        cols = [image, image * (1 - mask) + mask, np.repeat(o["edges"], 3, 1)]
        if "edge_pred" in o:
            cols.append(np.repeat(o["edge_pred"], 3, 1))
        if "raw" in o:
            cols.append(o["raw"] * mask + image * (1 - mask))
        rows = [np.concatenate([c[i] for c in cols], axis=2) for i in range(min(4, image.shape[0]))]
        grid = np.concatenate(rows, axis=1).transpose(1, 2, 0)
        path = self.out / "samples" / f"{self.iteration:08d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.clip(np.rint(grid * 255), 0, 255).astype(np.uint8)).save(path)
        return path

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """PSNR / hole L1 of the composite (inpaint stages) or edge precision/recall (edge stage)."""
        if self.val is None:
            return {}
        n = min(self.config.val_size, len(self.val))
        for net in self.nets.values():
            net.eval()
        totals: dict[str, float] = {}
        for i in range(n):
            s = {k: torch.from_numpy(v[None]).to(self.device) for k, v in self.val.item(i, key=0).items()}
            m = s["mask"]
            metrics: dict[str, float] = {}
            if "edge_generator" in self.nets:
                pred = self.nets["edge_generator"].predict(s["gray"], s["edges"], m)
                hit = ((pred > 0.5) & (s["edges"] > 0.5) & (m > 0.5)).sum().item()
                metrics["edge_precision"] = hit / max(1.0, ((pred > 0.5) & (m > 0.5)).sum().item())
                metrics["edge_recall"] = hit / max(1.0, ((s["edges"] > 0.5) & (m > 0.5)).sum().item())
                guide = edge_guide(pred, s["edges"], m)
            else:
                guide = s["edges"]
            if "inpaint_generator" in self.nets:
                raw = self.nets["inpaint_generator"].predict(s["image"], guide, m)
                comp = raw * m + s["image"] * (1 - m)
                if self.config.blend != "paste":  # what serving will do with this output
                    comp = _served_composite(raw, s["image"], m, self.config.blend)
                mse = float(((comp - s["image"]) ** 2).mean())
                metrics["psnr"] = 10 * math.log10(1.0 / max(mse, 1e-10))
                metrics["hole_l1"] = float((comp - s["image"]).abs().sum() / (3 * m.sum()).clamp_min(1))
            for k, v in metrics.items():
                totals[k] = totals.get(k, 0.0) + v / n
        for name, net in self.nets.items():
            net.train(name in self.trained)
        return totals


def _served_composite(raw: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, blend: str) -> torch.Tensor:
    """(1, 3, H, W) composite as the runtime makes it (core/blend.py), back in [0, 1]."""
    from edgeinpaint.core.blend import blend as blend_into
    from edgeinpaint.core.images import to_uint8

    out = blend_into(
        raw[0].permute(1, 2, 0).float().cpu().numpy(),
        to_uint8(image[0].permute(1, 2, 0).cpu().numpy()),
        mask[0, 0].cpu().numpy() > 0.5,
        blend,
    )
    return torch.from_numpy(out / 255.0).permute(2, 0, 1)[None].to(raw.device, raw.dtype)


def train(
    config: TrainConfig,
    echo: Callable[[str], None] | None = None,
    progress: Callable[[int, dict[str, float], float], None] | None = None,
) -> Path:
    """Run training until ``config.iterations``; returns the output directory.

    Args:
        echo: message callback. progress: called every iteration with (iteration, losses, it/s).
    """
    trainer = Trainer(config, echo)
    out = trainer.out
    csv_path = out / "log.csv"
    writer = None
    try:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tensorboard")) if trainer.dist.main else None
    except ImportError:
        pass
    t0, done0 = time.perf_counter(), trainer.iteration
    header_written = csv_path.exists()
    while trainer.iteration < config.iterations:
        losses = trainer.step()
        it = trainer.iteration
        rate = (it - done0) / max(time.perf_counter() - t0, 1e-9)
        if progress:
            progress(it, losses, rate)
        if trainer.dist.main and (it % config.log_every == 0 or it == config.iterations):
            row = {"iteration": it, "it_per_s": round(rate, 4), **{k: round(v, 6) for k, v in losses.items()}}
            with csv_path.open("a", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(row))
                if not header_written:
                    w.writeheader()
                    header_written = True
                w.writerow(row)
            if writer is not None:
                for k, v in losses.items():
                    writer.add_scalar(k, v, it)
        if trainer.dist.main and it % config.sample_every == 0:
            trainer.write_samples()
        if trainer.dist.main and trainer.val is not None and it % config.val_every == 0:
            metrics = trainer.validate()
            trainer.echo(f"validation @ {it}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
            with (out / "validation.csv").open("a") as fh:
                fh.write(",".join([str(it)] + [f"{k}={v:.6f}" for k, v in metrics.items()]) + "\n")
        if it % config.checkpoint_every == 0 or it == config.iterations:
            trainer.save()
    if writer is not None:
        writer.close()
    return out
