"""`serve --ray`: two Ray Serve replicas give `run`'s picture; run inside a private network namespace
(`unshare -n`, loopback only: outside one Ray binds a non-loopback interface)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import hole_mask, photo

pytest.importorskip("ray")


def _private_netns_works() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _private_netns_works(), reason="needs root and unshare -n for a private network namespace")
def test_two_replicas_give_runs_picture(tiny_artifacts: Path, tmp_path: Path) -> None:
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    Image.fromarray(photo("rocket", 64)).save(tmp_path / "i" / "r.png", compress_level=1)
    Image.fromarray((hole_mask(64, 64, seed=2) * 255).astype(np.uint8)).save(tmp_path / "m" / "r.png")
    args = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "m"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--artifacts", str(tiny_artifacts), "--backend", "onnxruntime"])
    assert result.exit_code == 0, result.output
    expected = hashlib.sha256((tmp_path / "o" / "r.png").read_bytes()).hexdigest()
    probe = Path(__file__).with_name("ray_serve_probe.py")
    out = tmp_path / "probe.json"
    command = (
        f"ip link set lo up && {sys.executable} {probe} {tiny_artifacts} 18123 "
        f"{tmp_path / 'i' / 'r.png'} {tmp_path / 'm' / 'r.png'} {out}"
    )
    root = str(Path(__file__).parents[2])
    # HOME in the test folder: Ray writes its auth token there.
    env = {**os.environ, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": root}
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["pictures"] == [expected]  # every answer, from either replica, is run's picture
    assert report["replicas"] == 2 and report["bad"] == 422
    # A replica killed mid-request: the server's JSON error (it was Serve's plain-text 500), then recovery.
    status, content_type, text = report["died"]
    assert status == 503 and content_type == "application/json" and "error" in json.loads(text), report["died"]
    assert report["recovered"] == 200


@pytest.mark.slow
@pytest.mark.skipif(not _private_netns_works(), reason="needs root and unshare -n for a private network namespace")
def test_sigterm_stops_serve_ray_cleanly(tiny_artifacts: Path, tmp_path: Path) -> None:
    """SIGTERM (a service manager's stop) ends `serve --ray` with exit 0 and takes the Ray it started along
    (it used to abort with rc 134)."""
    import tempfile

    probe = Path(__file__).with_name("ray_serve_sigterm_probe.py")
    out = tmp_path / "probe.json"
    ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        command = f"ip link set lo up && {sys.executable} {probe} {tiny_artifacts} 18124 {ray_tmp} {out}"
        root = str(Path(__file__).parents[2])
        env = {**os.environ, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": root,
               "RAY_TMPDIR": ray_tmp}  # fmt: skip
        done = subprocess.run(
            ["unshare", "-n", "bash", "-c", command], env=env, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        report = json.loads(out.read_text())
        assert report["up"] and report["during"] > 0, report
        assert report["rc"] == 0, report["output"]
        assert report["left"] == 0, report
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
