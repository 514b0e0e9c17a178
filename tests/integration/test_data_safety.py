"""The user's data is never lost or corrupted: outputs never replace inputs, a full disk is a per-file error,
hostile file names print as text, temps are this run's own, permissions follow the umask.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core import atomic
from tests.conftest import hole_mask, photo, run_argv

runner = CliRunner()
NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def make_corpus(root: Path, n: int = 4, size: int = 48) -> tuple[Path, Path]:
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(photo(NAMES[i % 4], size)).save(images / f"img{i}.png")
        Image.fromarray((hole_mask(size, size, seed=i) * 255).astype(np.uint8)).save(masks / f"img{i}.png")
    return images, masks


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def run_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("target", ["input", "mask", "input-symlink", "inside-mask"])
def test_output_that_would_replace_inputs_is_refused_before_any_work(
    tiny_artifacts: Path, tmp_path: Path, target: str
) -> None:
    images, masks = make_corpus(tmp_path)
    before = {"images": hashes(images), "masks": hashes(masks)}
    out = {"input": images, "mask": masks, "inside-mask": masks / "out"}.get(target)
    if target == "input-symlink":
        out = tmp_path / "link"
        out.symlink_to(images, target_is_directory=True)
    assert out is not None
    code, text = run_cli("-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts))
    assert code == 1 and "choose another output folder" in " ".join(text.split())
    assert {"images": hashes(images), "masks": hashes(masks)} == before
    assert not (masks / "out").exists()


def test_output_inside_the_input_tree_is_never_read_back(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = make_corpus(tmp_path)
    out = images / "painted"
    for _ in range(2):  # a rerun must not read the previous outputs as inputs (out/out/out...)
        code, text = run_cli("-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts))
        assert code == 0, text
    assert sorted(p.name for p in out.iterdir()) == [f"img{i}.png" for i in range(4)]
    assert "done 4, skipped 4" in " ".join(text.split())  # the 4 outputs of the first run, counted as skipped


def test_hidden_files_are_counted_as_skipped(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = make_corpus(tmp_path, n=2)
    shutil.copy(images / "img0.png", images / ".hidden.png")
    code, text = run_cli(
        "-i", str(images), "-m", str(masks), "-o", str(tmp_path / "o"), "--artifacts", str(tiny_artifacts),
        "--report", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0 and "done 2, skipped 1, failed 0" in " ".join(text.split())
    assert json.loads((tmp_path / "r.json").read_text())["skipped"] == [".hidden.png (hidden)"]


def test_hostile_file_names_print_as_text_and_never_abort(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = make_corpus(tmp_path, n=3)
    (images / "x[").mkdir()
    (images / "x[" / "bad.png").write_bytes(b"not an image")  # the path contains "[/"
    (images / "[bold]oops.png").write_bytes(b"nope")
    (images / "esc\x1b[2Jname\nfake.png").write_bytes(b"nope")
    for extra in (["--in-process"], ["--pipeline", "--workers", "1"]):
        code, text = run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(tmp_path / f"o{len(extra)}"), "--artifacts",
            str(tiny_artifacts), *extra,
        )  # fmt: skip
        assert code == 1
        flat = " ".join(text.split())
        assert "done 3, skipped 0, failed 3" in flat
        assert "x[/bad.png" in flat and "[bold]oops.png" in flat
        assert "\x1b" not in text and "esc\\x1b[2Jname\\nfake.png" in flat
        assert len(list((tmp_path / f"o{len(extra)}").glob("img*.png"))) == 3


def test_in_process_reports_a_decompression_bomb_per_file(
    tiny_artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image as PILImage

    images, masks = make_corpus(tmp_path, n=2, size=24)
    Image.fromarray(photo("coffee", 96)).save(images / "bomb.png")
    Image.fromarray((hole_mask(96, 96) * 255).astype(np.uint8)).save(masks / "bomb.png")
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 2000)  # 96² > 2 x 2000: PIL's bomb error
    code, text = run_cli(
        "-i", str(images), "-m", str(masks), "-o", str(tmp_path / "o"), "--artifacts", str(tiny_artifacts),
        "--in-process",
    )  # fmt: skip
    flat = " ".join(text.split())
    assert code == 1 and "done 2, skipped 0, failed 1" in flat and "bomb.png" in flat


def test_long_names_and_umask_permissions(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = make_corpus(tmp_path, n=1)
    long = "n" * 246 + ".png"  # 250 bytes: the temp name must not grow it past NAME_MAX
    (images / "img0.png").rename(images / long)
    (masks / "img0.png").rename(masks / long)
    old = os.umask(0o022)
    try:
        code, text = run_cli(
            "-i", str(images), "-m", str(masks), "-o", str(tmp_path / "o"), "--artifacts", str(tiny_artifacts)
        )
    finally:
        os.umask(old)
    assert code == 0, text
    assert stat.S_IMODE((tmp_path / "o" / long).stat().st_mode) == 0o644


def test_manifest_and_weights_files_follow_the_umask(tiny_weights: Path, tmp_path: Path) -> None:
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.weights.format import load_weights, save_weights

    old = os.umask(0o022)
    try:
        save_weights(load_weights(tiny_weights), tmp_path / "w.safetensors")
        export_artifacts(ExportConfig(weights=tmp_path / "w.safetensors", output=tmp_path / "art"))
    finally:
        os.umask(old)
    for p in [tmp_path / "w.safetensors", tmp_path / "art" / "manifest.json", *(tmp_path / "art").glob("*.onnx")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def test_temps_are_short_and_cleanup_touches_only_this_runs(tmp_path: Path) -> None:
    (tmp_path / ".draft.tmp.txt").write_text("the user's")
    tag, other = atomic.new_run_tag(), atomic.new_run_tag()
    mine, theirs = atomic.temp_path(tmp_path / ("x" * 250), tag), atomic.temp_path(tmp_path / "y.png", other)
    assert len(mine.name) < 40
    mine.write_bytes(b""), theirs.write_bytes(b"")
    assert atomic.remove_temps({tmp_path}, tag) == 1
    assert not mine.exists() and theirs.exists() and (tmp_path / ".draft.tmp.txt").exists()
    # A temp whose run's process is gone is stale; a live run's (this process's) is not.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{atomic.TEMP_PREFIX}{dead.stdout.strip()}-abcd-0{atomic.TEMP_SUFFIX}"
    stale.write_bytes(b"")
    assert atomic.remove_stale_temps({tmp_path}) == 1
    assert not stale.exists() and theirs.exists() and (tmp_path / ".draft.tmp.txt").exists()


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")

    def short(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", short)
    with pytest.raises(OSError, match="No space"):
        atomic.write_bytes(target, b"new content")
    assert target.read_bytes() == b"previous" and [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.fixture
def full_disk(tmp_path: Path) -> Path:
    """A 256 KiB tmpfs (root only; skipped elsewhere)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("mode", [["--in-process"], ["--pipeline", "--workers", "1"]])
def test_disk_full_is_a_per_file_error_and_nothing_truncated_is_done(
    tiny_artifacts: Path, tmp_path: Path, full_disk: Path, mode: list[str]
) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # noise compresses badly: ~110 KB per PNG, so the 256 KiB disk fills after two
        Image.fromarray(rng.integers(0, 256, (192, 192, 3), dtype=np.uint8)).save(images / f"n{i}.png")
        Image.fromarray((hole_mask(192, 192, seed=i) * 255).astype(np.uint8)).save(masks / f"n{i}.png")
    out = full_disk / "out"
    report = full_disk / "report.json"
    code, text = run_cli(
        "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts),
        "--report", str(report), *mode,
    )  # fmt: skip
    flat = " ".join(text.split())
    assert code == 1 and "No space left on device" in flat and "failed files:" in flat
    written = sorted(out.glob("*.png"))
    assert 0 < len(written) < 6
    for p in written:
        Image.open(p).load()  # every output that exists is complete
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temps left
    assert not report.exists() or json.loads(report.read_text())  # never a 0-byte or partial report
    done = [line for line in flat.split("done ")[1:2]]
    assert done and done[0].startswith(f"{len(written)},")


@pytest.mark.slow
def test_concurrent_runs_share_an_empty_cache_safely(tiny_weights: Path, tmp_path: Path) -> None:
    """Three `run --weights` at once on an empty cache: the export is locked, each run succeeds."""
    images, masks = make_corpus(tmp_path, n=1)
    env = {**os.environ, "EDGEINPAINT_CACHE": str(tmp_path / "cache")}
    args = ["--weights", str(tiny_weights), "--in-process"]
    procs = [
        subprocess.Popen(
            run_argv(images, masks, tmp_path / f"o{i}", *args),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(3)
    ]
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert (tmp_path / "o0" / "img0.png").read_bytes() == (tmp_path / "o2" / "img0.png").read_bytes()
    (cache,) = (tmp_path / "cache" / "artifacts").iterdir()
    assert not [p for p in cache.iterdir() if p.name.startswith(".eip-")]
