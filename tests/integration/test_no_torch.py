"""A runtime-only install (no PyTorch) with a warm cache runs `run --weights demo` and `serve --weights demo`:
opening exported artifacts never needs torch, only a cache miss (an export) does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from tests.conftest import hole_mask, photo
from tests.integration.serve_process import serve_process

WITHOUT_TORCH = str(Path(__file__).with_name("without_torch.py"))


def test_warm_cache_runs_and_serves_without_torch(tmp_path: Path) -> None:
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    Image.fromarray(photo("rocket", 64)).save(tmp_path / "i" / "r.png")
    Image.fromarray((hole_mask(64, 64, seed=3) * 255).astype(np.uint8)).save(tmp_path / "m" / "r.png")
    env = {**os.environ, "EDGEINPAINT_CACHE": str(tmp_path / "cache")}
    args = [
        "run",
        "--weights",
        "demo",
        "--backend",
        "onnxruntime",
        "-i",
        str(tmp_path / "i"),
        "-m",
        str(tmp_path / "m"),
    ]

    cold = subprocess.run([sys.executable, WITHOUT_TORCH, *args, "-o", str(tmp_path / "o0")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cold.returncode != 0 and "needs PyTorch" in cold.stderr + cold.stdout  # a miss exports: torch named
    warm = subprocess.run([sys.executable, "-m", "edgeinpaint.cli", *args, "-o", str(tmp_path / "o1")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert warm.returncode == 0, warm.stderr
    done = subprocess.run([sys.executable, WITHOUT_TORCH, *args, "-o", str(tmp_path / "o2")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    expected = (tmp_path / "o1" / "r.png").read_bytes()
    assert (tmp_path / "o2" / "r.png").read_bytes() == expected

    argv = [sys.executable, WITHOUT_TORCH, "serve", "--port", "0", "--weights", "demo", "--backend", "onnxruntime"]
    with serve_process(argv, env) as port:
        files = {
            "image": ("r.png", (tmp_path / "i" / "r.png").read_bytes()),
            "mask": ("m.png", (tmp_path / "m" / "r.png").read_bytes()),
        }
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/inpaint", files=files, timeout=60)
        assert answer.status_code == 200 and answer.content == expected
