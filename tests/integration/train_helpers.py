"""Helpers for the training tests (importable by spawned DDP workers)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from edgeinpaint.trainer.config import TrainConfig


def make_data(folder: Path, n: int = 4) -> Path:
    from tests.conftest import photo

    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(("astronaut", "coffee", "chelsea", "rocket")[:n]):
        Image.fromarray(photo(name, 96)).save(folder / f"{i}_{name}.png")
    return folder


def tiny_config(data: Path, out: Path, stage: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = dict(
        stage=stage,
        data=(str(data),),
        output=str(out),
        size=32,
        base_channels=8,
        residual_blocks=1,
        discriminator_channels=8,
        batch_size=2,
        iterations=1,
        checkpoint_every=1,
        sample_every=1,
        log_every=1,
        masks={"free_form": 1.0, "block": 1.0},
        mask_ratio=(0.1, 0.5),
        threads=1,
        seed=7,
    )
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def ddp_worker(rank: int, world: int, port: int, data: str, out: str, result: str) -> None:
    import torch

    from edgeinpaint.trainer.loop import Trainer

    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
        }
    )
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(Path(data), Path(out), "inpaint"))
    batch = trainer.batch(0)
    trainer.step()
    flat = torch.cat([p.detach().flatten() for p in trainer.nets["inpaint_generator"].parameters()])
    np.save(f"{result}_{rank}.npy", flat.numpy())
    np.save(f"{result}_{rank}_batch.npy", batch["image"].cpu().numpy())
    import torch.distributed as dist

    dist.destroy_process_group()
