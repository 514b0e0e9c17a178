"""Everyday use on real folders: files that are not images, mask folders that do not pair, mask conventions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import hole_mask, photo

runner = CliRunner()


def _folders(tmp_path: Path, names: tuple[str, ...] = ("astronaut", "coffee")) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, name in enumerate(names):
        Image.fromarray(photo(name, 48)).save(images / f"{name}.png")
        Image.fromarray((hole_mask(48, 48, seed=i) * 255).astype(np.uint8)).save(masks / f"{name}.png")
    return images, masks


def test_other_formats_are_listed_as_skipped(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = _folders(tmp_path)
    Image.fromarray(photo("rocket", 48)).save(images / "anim.gif")
    (images / "photo.heic").write_bytes(b"not read")
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts)]
    result = runner.invoke(app, [*argv, "--report", str(report)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    skipped = json.loads(report.read_text())["skipped"]
    assert "anim.gif (not a supported image format)" in skipped
    assert "photo.heic (not a supported image format)" in skipped
    assert "skipped 2" in result.output and sorted(p.name for p in out.iterdir()) == ["astronaut.png", "coffee.png"]


def test_masks_with_a_suffix_fail_before_any_engine_with_a_hint(tmp_path: Path) -> None:
    """`photo_mask.png` masks pair with no image: one error naming the affix, before the engines open
    (an artifacts folder that does not exist would fail later, so it shows nothing was opened)."""
    images, masks = _folders(tmp_path)
    for mask in masks.iterdir():
        mask.rename(masks / f"{mask.stem}_mask.png")
    argv = ["run", "-i", str(images), "-m", str(masks), "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*argv, "--artifacts", str(tmp_path / "no-such-artifacts")], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 1, result.output
    assert "no mask pairs with any image" in text and "astronaut_mask.png" in text
    assert "suffix '_mask'" in text and "Traceback" not in text
    assert not (tmp_path / "out").exists()


def test_some_unpaired_images_fail_one_by_one_with_the_hint(tiny_artifacts: Path, tmp_path: Path) -> None:
    images, masks = _folders(tmp_path)
    (masks / "coffee.png").rename(masks / "mask_coffee.png")
    argv = ["run", "-i", str(images), "-m", str(masks), "-o", str(tmp_path / "out"), "--artifacts", str(tiny_artifacts)]
    result = runner.invoke(app, argv, env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "no mask with stem 'coffee'" in text and "prefix 'mask_'" in text
    assert (tmp_path / "out" / "astronaut.png").is_file()  # the good file is finished


def test_mask_conventions_are_read_or_reported(tiny_artifacts: Path, tmp_path: Path) -> None:
    """0/1 masks are holes, not black; an empty mask, a full one and a photo as its own mask are warned about."""
    images, masks = _folders(tmp_path, ("astronaut", "coffee", "chelsea", "rocket"))
    hole = hole_mask(48, 48, seed=7)
    Image.fromarray(hole.astype(np.uint8)).save(masks / "astronaut.png")  # 0/1
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(masks / "coffee.png")  # nothing to fill
    Image.fromarray(photo("chelsea", 48)).save(masks / "chelsea.png")  # the photo as its own mask
    Image.fromarray(np.full((48, 48), 255, np.uint8)).save(masks / "rocket.png")  # everything
    out, report = tmp_path / "out", tmp_path / "report.json"
    argv = ["run", "-i", str(images), "-m", str(masks), "-o", str(out), "--artifacts", str(tiny_artifacts)]
    result = runner.invoke(app, [*argv, "--report", str(report)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    warned = {w["file"]: w["message"] for w in json.loads(report.read_text())["warnings"]}
    assert "only 0 and 1" in warned["astronaut.png"]
    painted = np.asarray(Image.open(out / "astronaut.png"))
    assert not np.array_equal(painted[hole], photo("astronaut", 48)[hole])  # the 0/1 hole was filled
    assert "nothing to fill" in warned["coffee.png"]
    assert "photo rather than a mask" in warned["chelsea.png"]
    assert "covers the whole image" in warned["rocket.png"]


def test_evaluate_runs_on_artifacts_without_torch(tiny_artifacts: Path, tmp_path: Path) -> None:
    """`evaluate --artifacts` needs no torch (torch is made unimportable in the child process)."""
    import subprocess
    import sys

    images, masks = _folders(tmp_path)
    report = tmp_path / "ev.json"
    code = (
        "import sys, importlib.abc\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from edgeinpaint.cli import main; "
        f"sys.argv = ['edgeinpaint', 'evaluate', '-i', {str(images)!r}, '-m', {str(masks)!r}, "
        f"'--artifacts', {str(tiny_artifacts)!r}, '--report', {str(report)!r}]; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(report.read_text())["summary"]
    assert {row["method"] for row in summary} == {"edgeinpaint"}


def test_version_and_serve_on_a_busy_port(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from edgeinpaint.core.version import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"edgeinpaint {__version__}"
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        argv = [sys.executable, "-m", "edgeinpaint.cli", "serve", "--port", str(port), "--artifacts", str(tmp_path)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        busy.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "serving" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_serve_logs_one_line_per_request(tiny_artifacts: Path) -> None:
    """`serve` binds first (port 0: a free one, printed), then writes an access line per request."""
    import re
    import sys
    import urllib.request

    from tests.integration.serve_process import serve_process

    argv = [sys.executable, "-m", "edgeinpaint.cli", "serve", "--port", "0", "--artifacts", str(tiny_artifacts)]
    log: list[str] = []
    with (
        serve_process(argv, log=log) as port,
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as answer,
    ):
        assert answer.status == 200
    err = "".join(log)
    assert re.search(r'"GET /healthz HTTP/1\.1" 200', err), err
