"""The python-backend form of `export --triton` served by PyTriton's bundled `tritonserver`: its pictures are `run`'s.

PyTriton is not a dependency of edgeinpaint: the test builds an isolated environment (nvidia-pytriton,
numpy < 2 as its python backend stub needs, ONNX Runtime, SciPy, Pillow; edgeinpaint's own source
through a .pth file), cached between runs, and runs the server and the client there, inside a private
network namespace (loopback only). Compared with `run --fused --backend onnxruntime`: the same fused
graph on the same engine, so the pictures are equal pixel for pixel, for paste and Poisson weights.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.serving.triton.repository import TritonBackend, TritonOptions, write_repository
from tests.conftest import hole_mask, photo
from tests.integration.test_ray_serve import _private_netns_works

pytest.importorskip("tritonclient")

#: What the isolated environment holds (its folder is named by the hash of this list).
REQUIREMENTS = ["nvidia-pytriton==0.7.0", "numpy<2", "pillow", "onnxruntime", "scipy", "tritonclient[http]"]
SRC = Path(__file__).parents[2] / "src"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _private_netns_works(), reason="needs root and unshare -n for a private network namespace"),
    pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64", reason="PyTriton: linux x86_64"),
]


@pytest.fixture(scope="module")
def triton_python() -> Path:
    """The isolated environment's Python (built once per requirement list, then reused)."""
    key = hashlib.sha256(" ".join([sys.version, *REQUIREMENTS]).encode()).hexdigest()[:12]
    root = (
        Path(os.environ.get("EDGEINPAINT_TEST_CACHE", Path.home() / ".cache" / "edgeinpaint-tests")) / f"pytriton-{key}"
    )
    python = root / "bin" / "python"
    if not (root / ".complete").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True, timeout=300)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS]
        done = subprocess.run(pip, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"cannot install PyTriton's environment from PyPI: {done.stderr[-500:]}")
        (root / ".complete").write_text("ok")
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "edgeinpaint-src.pth").write_text(f"{SRC}\n")  # this checkout's source, whatever it was before
    return python


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    (folder / "i").mkdir(parents=True)
    (folder / "m").mkdir()
    out = []
    for k, name in enumerate(["astronaut", "coffee", "chelsea"]):
        image, mask = folder / "i" / f"{name}.png", folder / "m" / f"{name}.png"
        Image.fromarray(photo(name, 64 + 16 * k)).save(image)
        Image.fromarray((hole_mask(64 + 16 * k, 64 + 16 * k, seed=k) * 255).astype(np.uint8)).save(mask)
        out.append((image, mask))
    return out


@pytest.mark.parametrize("which", ["tiny_artifacts", "poisson_artifacts"])
def test_served_ensemble_gives_runs_pictures(
    which: str, request: pytest.FixtureRequest, triton_python: Path, tmp_path: Path
) -> None:
    artifacts: Path = request.getfixturevalue(which)
    pairs = _pairs(tmp_path)
    args = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "m"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, "--artifacts", str(artifacts), "--backend", "onnxruntime", "--fused"])
    assert result.exit_code == 0, result.output
    repo = tmp_path / "repo"
    write_repository(artifacts, repo, TritonOptions(backend=TritonBackend.PYTHON))
    probe = Path(__file__).with_name("triton_serve_probe.py")
    answers = tmp_path / "answers.json"
    files = " ".join(f"{i} {m}" for i, m in pairs)
    command = f"ip link set lo up && {triton_python} {probe} {repo} 18700 {SRC} {answers} {files}"
    done = subprocess.run(["unshare", "-n", "bash", "-c", command], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(answers.read_text())
    for (image, _mask), picture in zip(pairs, report["pictures"], strict=True):
        served = np.asarray(Image.open(io.BytesIO(bytes.fromhex(picture))))
        expected = np.asarray(Image.open(tmp_path / "o" / image.name))
        assert served.shape == expected.shape
        assert np.array_equal(served, expected), f"{image.name}: max {np.abs(served.astype(int) - expected).max()}"
    assert report["bad"]["status"] == "400" and "IMAGE: cannot decode image" in report["bad"]["message"]
    assert report["ready_after_bad"]
