"""Training: one step of every stage, frozen networks, exact resume, DDP on CPU, official round trip."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeinpaint.trainer.loop import Trainer, train
from tests.integration.train_helpers import make_data, tiny_config


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("train_data"))


def snapshot(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def changed(before: dict[str, torch.Tensor], net: torch.nn.Module) -> bool:
    return any(not torch.equal(before[k], v) for k, v in net.state_dict().items() if not k.endswith(("_u", "_v")))


@pytest.mark.parametrize("stage", ["edge", "inpaint", "joint"])
def test_one_step_per_stage(data: Path, tmp_path: Path, stage: str) -> None:
    trainer = Trainer(tiny_config(data, tmp_path / stage, stage))
    before = {k: snapshot(v) for k, v in trainer.nets.items()}
    losses = trainer.step()
    assert losses and all(np.isfinite(v) for v in losses.values())
    for name, net in trainer.nets.items():
        assert changed(before[name], net), f"{name} did not change in stage {stage}"


def test_edge_inpaint_stage_freezes_edge_generator(data: Path, tmp_path: Path) -> None:
    edge_run, inpaint_run = tmp_path / "edge", tmp_path / "inpaint"
    train(tiny_config(data, edge_run, "edge"))
    train(tiny_config(data, inpaint_run, "inpaint"))
    trainer = Trainer(tiny_config(data, tmp_path / "ei", "edge-inpaint", init_from=(str(edge_run), str(inpaint_run))))
    edge_before = snapshot(trainer.nets["edge_generator"])
    inpaint_before = snapshot(trainer.nets["inpaint_generator"])
    trained_edge = torch.load(edge_run / "last.pt", weights_only=True)["models"]["edge_generator"]
    assert all(torch.equal(trained_edge[k], v) for k, v in edge_before.items())  # initialised from the edge run
    trainer.step()
    assert not changed(edge_before, trainer.nets["edge_generator"])
    assert all(not p.requires_grad for p in trainer.nets["edge_generator"].parameters())
    assert changed(inpaint_before, trainer.nets["inpaint_generator"])
    assert "edge_generator" not in trainer.optimizers


def test_resume_gives_the_identical_next_step(data: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    train(tiny_config(data, straight, "joint", iterations=3, checkpoint_every=10))
    resumed = tmp_path / "resumed"
    train(tiny_config(data, resumed, "joint", iterations=2))
    train(tiny_config(data, resumed, "joint", iterations=3))  # picks up last.pt at iteration 2
    a = torch.load(straight / "last.pt", weights_only=True)
    b = torch.load(resumed / "last.pt", weights_only=True)
    assert a["iteration"] == b["iteration"] == 3
    for net in a["models"]:
        for key, value in a["models"][net].items():
            assert torch.allclose(value, b["models"][net][key], atol=1e-6, rtol=0), (net, key)


def test_outputs_official_format_and_weights(data: Path, tmp_path: Path) -> None:
    from edgeinpaint.weights.edgeconnect import import_edgeconnect
    from edgeinpaint.weights.format import load_weights

    out = tmp_path / "joint"
    train(tiny_config(data, out, "joint", iterations=2))
    for f in (
        "EdgeModel_gen.pth",
        "EdgeModel_dis.pth",
        "InpaintingModel_gen.pth",
        "InpaintingModel_dis.pth",
        "log.csv",
    ):
        assert (out / f).is_file(), f
    gen = torch.load(out / "EdgeModel_gen.pth", weights_only=True)
    assert gen["iteration"] == 2 and "encoder.1.weight_orig" in gen["generator"]
    dis = torch.load(out / "EdgeModel_dis.pth", weights_only=True)["discriminator"]
    assert "features.0.weight_orig" in dis and "conv1.0.weight_orig" in dis
    assert list((out / "samples").glob("*.png"))
    imported = import_edgeconnect(out)
    ours = load_weights(out / "weights.safetensors")
    for net in ("edge_generator", "inpaint_generator"):
        for key, value in ours.tensors[net].items():
            assert np.allclose(value, imported.tensors[net][key], atol=1e-6), (net, key)


def test_broken_images_are_skipped(data: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    (folder / "zz_broken.png").write_bytes(b"broken")
    trainer = Trainer(tiny_config(folder, tmp_path / "run", "inpaint", batch_size=5))
    trainer.step()
    assert folder / "zz_broken.png" in trainer.data.broken


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_ddp_two_cpu_processes_stay_in_sync(data: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    from tests.integration.train_helpers import ddp_worker

    result = str(tmp_path / "params")
    mp.spawn(ddp_worker, args=(2, _free_port(), str(data), str(tmp_path / "ddp"), result), nprocs=2, join=True)
    p0, p1 = np.load(f"{result}_0.npy"), np.load(f"{result}_1.npy")
    assert np.array_equal(p0, p1)  # gradients were all-reduced
    b0, b1 = np.load(f"{result}_0_batch.npy"), np.load(f"{result}_1_batch.npy")
    assert not np.array_equal(b0, b1)  # each rank saw its own slice of the data


def test_pure_reconstruction_run_has_no_inpaint_discriminator(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(data, tmp_path / "l1", "inpaint", inpaint_adv_weight=0.0, l1_known_weight=0.1))
    assert "inpaint_discriminator" not in trainer.nets and "inpaint_discriminator" not in trainer.optimizers
    losses = trainer.step()
    assert "inpaint_d" not in losses and losses["inpaint_adv"] == 0.0 and np.isfinite(losses["inpaint_l1"])


@pytest.mark.parametrize("content", ["truncated", "random", "not ours"])
def test_a_broken_last_pt_is_one_line_naming_it(data: Path, tmp_path: Path, content: str) -> None:
    """A truncated (full disk), random or foreign last.pt is an EdgeInpaintError naming the file, not a traceback."""
    import io

    from edgeinpaint.core.errors import EdgeInpaintError

    run = tmp_path / "run"
    run.mkdir()
    good = io.BytesIO()
    torch.save({"iteration": 1, "stage": "edge", "models": {}}, good)
    payload = {
        "truncated": good.getvalue()[: len(good.getvalue()) // 2],
        "random": np.random.default_rng(0).bytes(4096),
        "not ours": b"",
    }[content]
    if content == "not ours":
        foreign = io.BytesIO()
        torch.save([1, 2, 3], foreign)
        payload = foreign.getvalue()
    (run / "last.pt").write_bytes(payload)
    with pytest.raises(EdgeInpaintError, match=r"last\.pt: not"):
        Trainer(tiny_config(data, run, "edge"))
