"""edgeinpaint's own wheel for the Triton python models (edgeinpaint is not on PyPI: ``pip install edgeinpaint``
in the server would fail or find another project).

Built with ``pip wheel --no-deps --no-build-isolation`` from a copy of the source tree this package runs from
(a clone installed with ``pip install -e .``), so nothing is written into the user's checkout and nothing is
downloaded (the build backend, setuptools, is already installed: it installed this package).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgeinpaint.core.errors import ExportError


def source_tree() -> Path | None:
    """The checkout this package runs from (``src`` layout, pyproject.toml), or None (installed from a wheel)."""
    root = Path(__file__).resolve().parents[4]  # src/edgeinpaint/serving/triton/wheel.py -> the checkout
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "edgeinpaint").is_dir() else None


def build_wheel(dest: Path) -> Path | None:
    """Build edgeinpaint's wheel into ``dest``; None when there is no source tree to build it from.

    Raises:
        ExportError: the build failed (its last line of output is in the message).
    """
    root = source_tree()
    if root is None:
        return None
    with tempfile.TemporaryDirectory(prefix="edgeinpaint-wheel-") as tmp:
        copy = Path(tmp) / "src-tree"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).is_file():
                shutil.copyfile(root / name, copy / name)
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
        shutil.copytree(root / "src", copy / "src", ignore=ignore)
        built = Path(tmp) / "wheel"
        argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(built)]
        done = subprocess.run([*argv, str(copy)], capture_output=True, text=True, timeout=600)
        wheels = sorted(built.glob("edgeinpaint-*.whl")) if built.is_dir() else []
        if done.returncode != 0 or not wheels:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel written"]
            raise ExportError(f"building edgeinpaint's wheel for the Triton python models failed: {last[0]}")
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheels[0].name
        shutil.copyfile(wheels[0], target)
        return target
