"""The shared-memory pipeline, batching, high-resolution strategies and batch-run UX."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.stages import preprocess
from edgeinpaint.runtime.hd import HDConfig, HDStrategy, hole_boxes
from edgeinpaint.runtime.inpainter import ModelSource, PictureOptions, open_recipe
from edgeinpaint.runtime.shm import PREFIX
from tests.conftest import hole_mask, photo, run_argv

runner = CliRunner()
NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def shm_segments(pid: int | None = None) -> set[str]:
    """The shared-memory segments a run in process ``pid`` (default: this one) created: the names carry the
    creator's pid, so other programs' segments in the shared /dev/shm are never counted."""
    mine = f"{PREFIX}{pid or os.getpid()}_"
    return {p for p in os.listdir("/dev/shm") if p.startswith(mine)} if os.path.isdir("/dev/shm") else set()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("corpus")
    images, masks = root / "images", root / "masks"
    for i in range(8):
        name = NAMES[i % 4]
        size = 64 if i % 2 else 48
        sub = images / ("nested" if i >= 6 else "")
        sub.mkdir(parents=True, exist_ok=True)
        msub = masks / ("nested" if i >= 6 else "")
        msub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo(name, size)).save(sub / f"{name}{i}.png")
        Image.fromarray((hole_mask(size, size, seed=i) * 255).astype(np.uint8)).save(msub / f"{name}{i}.png")
    return images, masks


def run_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, " ".join(result.output.split())


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_in_process_multiprocess_and_batch_sizes_are_byte_identical(
    corpus: tuple[Path, Path], tiny_artifacts: Path, tmp_path: Path
) -> None:
    images, masks = corpus
    before = shm_segments()
    outs = {}
    for label, extra in (
        ("inproc", ["--in-process"]),
        ("mp1", ["--pipeline", "--workers", "2"]),
        ("mp4", ["--pipeline", "--workers", "2", "--batch-size", "4"]),
        ("inproc_poisson", ["--in-process", "--blend", "poisson"]),
        ("mp4_poisson", ["--pipeline", "--workers", "2", "--batch-size", "4", "--blend", "poisson"]),
        ("inproc_exact", ["--in-process", "--canny", "exact"]),
        ("mp1_exact", ["--pipeline", "--workers", "2", "--canny", "exact"]),
        ("inproc_reference", ["--in-process", "--canny", "reference"]),
    ):
        code, text = run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(tmp_path / label), "--artifacts", str(tiny_artifacts), *extra
        )
        assert code == 0, text
        outs[label] = tree(tmp_path / label)
    # The output mirrors the input tree exactly (the nested folder included).
    expected = {("nested/" if i >= 6 else "") + f"{NAMES[i % 4]}{i}.png" for i in range(8)}
    assert set(outs["inproc"]) == expected
    assert outs["inproc"] == outs["mp1"] == outs["mp4"]
    assert outs["inproc_poisson"] == outs["mp4_poisson"] != outs["inproc"]
    # The exact graph gives skimage's edges, so the same bytes as the skimage reference.
    assert outs["inproc_exact"] == outs["mp1_exact"] == outs["inproc_reference"]
    code, text = run_cli("-i", str(images), "-m", str(masks), "--artifacts", str(tiny_artifacts), "--blend", "feather")
    assert code == 2 and "'feather' is not one of" in text and "'poisson'" in text
    assert shm_segments() == before


def test_results_do_not_depend_on_batch_mates(tiny_artifacts: Path) -> None:
    inpainter = open_recipe(ModelSource(artifacts=tiny_artifacts))
    samples = [preprocess(photo(n, 64), hole_mask(64, 64, seed=i), inpainter.canny) for i, n in enumerate(NAMES)]
    together = inpainter.batch(samples)
    for s, t in zip(samples, together, strict=True):
        assert np.array_equal(inpainter.batch([s])[0], t)


def test_skip_existing_resume_is_identical(corpus: tuple[Path, Path], tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = corpus
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert (
        run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(full), "--artifacts", str(tiny_artifacts), "--in-process"
        )[0]
        == 0
    )
    # a "killed" run: only some outputs exist
    resumed.mkdir()
    for name in list(tree(full))[:3]:
        (resumed / name).parent.mkdir(parents=True, exist_ok=True)
        (resumed / name).write_bytes((full / name).read_bytes())
    code, text = run_cli(
        "-i", str(images), "-m", str(masks), "-o", str(resumed), "--artifacts", str(tiny_artifacts), "--skip-existing"
    )
    assert code == 0 and "done 5, skipped 3, failed 0" in text
    assert tree(full) == tree(resumed)


def test_bad_corpus_multiprocess(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    images.mkdir()
    masks.mkdir()
    good = photo("astronaut", 64)
    Image.fromarray(good).save(images / "good.png")
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(masks / "good.png")
    (images / "truncated.png").write_bytes((images / "good.png").read_bytes()[:200])
    (images / "empty.png").write_bytes(b"")
    (images / "text.jpg").write_text("not an image")
    Image.fromarray(good).save(images / "nomask.png")
    Image.fromarray(good).save(images / "black.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(masks / "black.png")
    Image.fromarray(good).save(images / "small_mask.png")
    Image.fromarray((hole_mask(32, 32) * 255).astype(np.uint8)).save(masks / "small_mask.png")
    Image.fromarray(good).save(images / "gray_mask.png")
    Image.fromarray(np.full((64, 64), 100, np.uint8)).save(masks / "gray_mask.png")  # non-binary, all below threshold
    for name in ("truncated", "empty", "text"):
        Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    before = shm_segments()
    report = tmp_path / "report.json"
    code, text = run_cli(
        "-i",
        str(images),
        "-m",
        str(masks),
        "-o",
        str(out),
        "--artifacts",
        str(tiny_artifacts),
        "--pipeline",
        "--workers",
        "2",
        "--report",
        str(report),
    )
    assert code == 1
    data = json.loads(report.read_text())
    assert sorted(data["done"]) == ["black.png", "good.png", "gray_mask.png", "small_mask.png"]
    assert {f["file"] for f in data["failed"]} == {"truncated.png", "empty.png", "text.jpg", "nomask.png"}
    assert any("resized with nearest neighbour" in w["message"] for w in data["warnings"])
    assert np.array_equal(np.asarray(Image.open(out / "black.png")), good)  # all-black mask: copied through
    assert sorted(p.name for p in out.iterdir()) == ["black.png", "good.png", "gray_mask.png", "small_mask.png"]
    assert shm_segments() == before
    code, text = run_cli(
        "-i",
        str(images / "small_mask.png"),
        "-m",
        str(masks / "small_mask.png"),
        "-o",
        str(tmp_path / "o2"),
        "--artifacts",
        str(tiny_artifacts),
        "--strict",
        "--in-process",
    )
    assert code == 1 and "expected the same size" in text


def test_alpha_mask_format_and_collisions(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, out = tmp_path / "in", tmp_path / "out"
    images.mkdir()
    rgb = photo("coffee", 64)
    alpha = np.where(hole_mask(64, 64), 0, 255).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(images / "a.png")
    Image.fromarray(np.dstack([rgb, alpha])).save(images / "a.webp", lossless=True)
    code, text = run_cli(
        "-i",
        str(images),
        "-m",
        "alpha",
        "-o",
        str(out),
        "--artifacts",
        str(tiny_artifacts),
        "--format",
        "jpg",
        "--in-process",
    )
    assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.webp.jpg"]
    assert Image.open(out / "a.jpg").format == "JPEG"


def test_hd_crop_and_resize_keep_known_pixels(tiny_artifacts: Path) -> None:
    import cv2

    rgb = cv2.resize(photo("astronaut", None), (300, 220), interpolation=cv2.INTER_AREA)
    hole = np.zeros((220, 300), bool)
    hole[30:40, 20:60] = True
    hole[150:170, 200:215] = True
    for strategy in (HDStrategy.CROP, HDStrategy.RESIZE):
        hd = HDConfig(strategy=strategy, trigger=128, min_margin=16, resize_limit=128)
        out = open_recipe(ModelSource(artifacts=tiny_artifacts), picture=PictureOptions(hd=hd))(rgb, hole)
        assert np.array_equal(out[~hole], rgb[~hole]), strategy
        assert not np.array_equal(out[hole], rgb[hole])
    boxes = hole_boxes(hole, 0.5, 16)
    assert len(boxes) == 2  # far apart: not merged
    assert all(owned.sum() in (400, 300) for _, owned in boxes)  # each box owns one stroke
    merged = hole_boxes(hole, 5.0, 16)
    assert len(merged) == 1 and merged[0][1].sum() == hole.sum()
    (y0, x0, y1, x1), owned = merged[0]
    assert owned.shape == (y1 - y0, x1 - x0)


def _spawn_run(images: Path, masks: Path, out: Path, artifacts: Path) -> subprocess.Popen[bytes]:
    argv = run_argv(images, masks, out, "--artifacts", str(artifacts), "--pipeline", "--workers", "2")
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("many")
    images = root / "images"
    images.mkdir()
    for i in range(400):
        Image.fromarray(photo(NAMES[i % 4], 96)).save(images / f"img{i:03d}.png", compress_level=1)
    mask = root / "mask.png"
    Image.fromarray((hole_mask(96, 96) * 255).astype(np.uint8)).save(mask)
    return images, mask


def _wait_for_outputs(out: Path, proc: subprocess.Popen[bytes], n: int = 3, timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout and proc.poll() is None:
        if out.exists() and len(list(out.glob("*.png"))) >= n:
            return
        time.sleep(0.1)
    raise AssertionError("the run produced no outputs in time")


def _workers(pid: int) -> list[int]:
    """Reader/writer processes of ``pid`` (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    found = []
    for child in map(int, out):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(child)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "sigint", "sighup", "kill_worker"])
def test_no_shared_memory_leftovers_on_interruption(
    many: tuple[Path, Path], tiny_artifacts: Path, tmp_path: Path, how: str
) -> None:
    images, mask = many
    out = tmp_path / "out"
    proc = _spawn_run(images, mask, out, tiny_artifacts)
    _wait_for_outputs(out, proc)
    assert shm_segments(proc.pid), "the pipeline should be using shared memory while running"
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    elif how == "sigint":
        proc.send_signal(signal.SIGINT)
    elif how == "sighup":  # the terminal was closed
        proc.send_signal(signal.SIGHUP)
    else:
        victims = _workers(proc.pid)
        assert victims
        os.kill(victims[-1], signal.SIGKILL)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode != 0
    if how == "kill_worker":
        assert "died" in output
    assert not shm_segments(proc.pid)
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temp files
    for p in out.glob("*.png"):
        Image.open(p).load()  # every written output is complete


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        out = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True).stdout.split()
        found += map(int, out)
        todo += map(int, out)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_kill_9_of_the_main_process_leaves_nothing_behind(
    many: tuple[Path, Path], tiny_artifacts: Path, tmp_path: Path
) -> None:
    """Readers, writers and the resource tracker die with the main process; the rings go.

    (Semaphores are not counted: multiprocessing unlinks their names right after creating them on Linux,
    and the names carry no owner, so a count of /dev/shm/sem.* would only see other programs'.)"""
    images, mask = many
    out = tmp_path / "out"
    proc = _spawn_run(images, mask, out, tiny_artifacts)
    _wait_for_outputs(out, proc)
    family = _descendants(proc.pid)
    assert len(family) >= 3  # readers, writer, resource tracker
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and (any(_alive(p) for p in family) or shm_segments(proc.pid)):
        time.sleep(0.2)
    assert not [p for p in family if _alive(p)], "processes of the killed run survive"
    assert not shm_segments(proc.pid)
    # A writer killed mid-write may leave a temp; the next run removes it (its run is gone) and resumes.
    argv = run_argv(images, mask, out, "--artifacts", str(tiny_artifacts), "--in-process", "--skip-existing")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert not [p for p in out.rglob(".*")], "temps of the killed run are left"
    assert len(list(out.glob("*.png"))) == 400


def test_direct_route_images_match_in_process(tiny_artifacts: Path, tmp_path: Path) -> None:
    """Images above the HD trigger run in the engine process: the same bytes as --in-process."""
    import cv2

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, (h, w) in enumerate(((48, 64), (300, 260), (64, 48), (280, 310))):
        rgb = cv2.resize(photo(NAMES[i], None), (w, h), interpolation=cv2.INTER_AREA)
        Image.fromarray(rgb).save(images / f"m{i}.png")
        Image.fromarray((hole_mask(h, w, seed=i) * 255).astype(np.uint8)).save(masks / f"m{i}.png")
    outs = {}
    for label, extra in (("inproc", ["--in-process"]), ("mp", ["--pipeline", "--workers", "2", "--batch-size", "2"])):
        code, text = run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(tmp_path / label), "--artifacts", str(tiny_artifacts),
            "--hd-trigger", "256", *extra,
        )  # fmt: skip
        assert code == 0, text
        outs[label] = tree(tmp_path / label)
    assert len(outs["inproc"]) == 4 and outs["inproc"] == outs["mp"]


@pytest.mark.parametrize("which", ["paste", "poisson"])
def test_fused_model_runs_in_process_and_in_the_pipeline_alike(
    corpus: tuple[Path, Path], tiny_artifacts: Path, poisson_artifacts: Path, tmp_path: Path, which: str
) -> None:
    """--fused: readers only decode; the same bytes in-process and through the pipeline, close to the 3-stage run."""
    images, masks = corpus
    artifacts = poisson_artifacts if which == "poisson" else tiny_artifacts
    outs = {}
    for label, extra in (
        ("fused_in", ["--in-process", "--fused"]),
        ("fused_mp", ["--pipeline", "--workers", "2", "--batch-size", "2", "--fused"]),
        ("three_stage", ["--in-process"]),
    ):
        code, text = run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(tmp_path / label), "--artifacts", str(artifacts), *extra
        )  # fmt: skip
        assert code == 0, text
        outs[label] = tree(tmp_path / label)
    assert outs["fused_in"] == outs["fused_mp"] and len(outs["fused_in"]) == 8
    for name in outs["fused_in"]:
        a = np.asarray(Image.open(tmp_path / "fused_in" / name), dtype=float)
        b = np.asarray(Image.open(tmp_path / "three_stage" / name), dtype=float)
        mse = np.mean((a - b) ** 2)
        # The fused graph computes gray in float32 (run: float64), which flips a few Canny pixels.
        assert mse == 0 or 10 * np.log10(255**2 / mse) > 30, name
