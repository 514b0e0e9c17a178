"""Fidelity to the official test script: ``run --preset official`` vs the official procedure, per backend.

The reference is our own code, written from the procedure of knazeri/edge-connect's ``test.py
--model 3`` as its source describes it (dataset.py ``load_item`` / ``load_mask`` in test mode,
edge_connect.py ``test`` and ``postprocess``), not a copy of it:

- image ``imread``; gray ``rgb2gray(img)`` (float64); mask ``rgb2gray(mask)``, then ``(mask > 0) * 255``;
- ``canny(img_gray, sigma=SIGMA, mask=(1 - mask / 255).astype(bool))``;
- tensors: image / 255, gray and edges as float32, mask / 255;
- ``edges = edge_model(images_gray, edges, masks)`` (inputs ``[gray·(1−m)+m, edges·(1−m), m]``), then
  ``outputs = inpaint_model(images, edges, masks)`` (inputs ``[images·(1−m)+m, edges]``): raw edges;
- ``outputs * masks + images * (1 - masks)``, then ``img * 255`` ... ``.int()``: truncation.

Usage (photos are resized to a longer side of ``--size``, multiples of 4 as test.py needs, each with a
soft colour mask, so the official ``> 0`` mask rule matters)::

    python -m edgeinpaint.benchmarks.official --photos DIR [--weights W | --edgeconnect FOLDER] \\
        [--backend torch --backend onnxruntime --backend openvino] [--fused]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer

from edgeinpaint.core.architecture import Architecture


def official_networks(folder: Path, arch: Architecture | None = None) -> tuple[Any, Any, float]:
    """An official checkpoint folder's two generators as saved (spectral norm unfolded) and its SIGMA."""
    import torch
    import yaml

    from edgeinpaint.models import EdgeGenerator, InpaintGenerator

    arch = arch or Architecture()
    edge_g, inpaint_g = EdgeGenerator(arch, use_spectral_norm=True), InpaintGenerator(arch)

    def state(name: str) -> dict[str, Any]:
        saved = torch.load(folder / name, map_location="cpu", weights_only=True)["generator"]
        return {k.removeprefix("module."): v for k, v in saved.items()}

    edge_g.load_state_dict(state("EdgeModel_gen.pth"))
    inpaint_g.load_state_dict(state("InpaintingModel_gen.pth"))
    return edge_g.eval(), inpaint_g.eval(), float(yaml.safe_load((folder / "config.yml").read_text())["SIGMA"])


def official_test_script(edge_g: Any, inpaint_g: Any, sigma: float, image_path: Path, mask_path: Path) -> np.ndarray:
    """The official test procedure (module docstring) on one image/mask file pair; (H, W, 3) uint8.

    Args:
        edge_g / inpaint_g: generators taking the concatenated inputs, as the official ones do.
    """
    import torch
    from PIL import Image
    from skimage.color import gray2rgb, rgb2gray
    from skimage.feature import canny

    img = np.asarray(Image.open(image_path))
    if img.ndim == 2:
        img = gray2rgb(img)
    img_gray = rgb2gray(img)
    mask = rgb2gray(np.asarray(Image.open(mask_path).convert("RGB")))
    mask = (mask > 0).astype(np.uint8) * 255
    edge = canny(img_gray, sigma=sigma, mask=(1 - mask / 255).astype(bool))

    def tensor(a: np.ndarray) -> Any:  # torchvision's to_tensor: HWC -> CHW float32
        a = a[..., None] if a.ndim == 2 else a
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))[None]

    images, images_gray = tensor(img / 255.0), tensor(img_gray)
    edges, masks = tensor(edge.astype(np.float32)), tensor(mask / 255.0)
    with torch.no_grad():
        edge_in = torch.cat([images_gray * (1 - masks) + masks, edges * (1 - masks), masks], 1)
        edges = edge_g(edge_in)  # raw edges, not composited (test, unlike train/eval/sample)
        outputs = inpaint_g(torch.cat([images * (1 - masks) + masks, edges], 1))
        merged = outputs * masks + images * (1 - masks)
    return np.asarray((merged * 255.0).permute(0, 2, 3, 1).int()[0].numpy(), dtype=np.uint8)


def soft_mask(h: int, w: int, seed: int) -> np.ndarray:
    """A blurred RGB free-form mask (values 0..255, soft borders), as masks from paint tools; (H, W, 3) uint8."""
    import cv2

    from edgeinpaint.trainer.masks import MaskSampler

    hard = MaskSampler({"free_form": 1.0}, ratio=(0.1, 0.35)).sample(np.random.default_rng(seed), h, w)
    soft = cv2.GaussianBlur(hard.astype(np.float32) * 255, (0, 0), 3)
    return np.repeat(np.clip(soft, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _pairs(photos: Path, root: Path, size: int) -> list[str]:
    import cv2
    from PIL import Image

    (root / "in").mkdir()
    (root / "masks").mkdir()
    names = []
    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for i, path in enumerate(files):
        img = np.asarray(Image.open(path).convert("RGB"))
        scale = size / max(img.shape[:2])
        wh = (int(img.shape[1] * scale) // 4 * 4, int(img.shape[0] * scale) // 4 * 4)
        img = cv2.resize(img, wh, interpolation=cv2.INTER_AREA)
        Image.fromarray(img).save(root / "in" / f"{path.stem}.png")
        Image.fromarray(soft_mask(img.shape[0], img.shape[1], seed=i)).save(root / "masks" / f"{path.stem}.png")
        names.append(path.stem)
    return names


def main(
    photos: Path = typer.Option(..., help="Folder of photos (e.g. scripts/get-photos.sh --split DEST: DEST/heldout)."),
    weights: str = typer.Option("demo", help="Our weights file or bundled name (ignored with --edgeconnect)."),
    edgeconnect: Path | None = typer.Option(None, help="An official checkpoint folder (paper width)."),
    backend: list[str] = typer.Option(["torch", "onnxruntime", "openvino"], help="Backends to compare."),
    fused: bool = typer.Option(True, help="Also run the fused model on each ONNX backend."),
    size: int = typer.Option(512, min=16, help="Longer side of each photo."),
) -> None:
    """Print, per backend, the share of values identical to the official procedure and the largest difference."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cli = [sys.executable, "-m", "edgeinpaint.cli"]
        if edgeconnect is not None:
            ours = root / "imported.safetensors"
            subprocess.run([*cli, "weights", "import", "--edgeconnect", str(edgeconnect), "-o", str(ours)], check=True)
            networks = official_networks(edgeconnect)
            weights = str(ours)
        else:
            from edgeinpaint.weights.format import load_weights
            from edgeinpaint.weights.registry import resolve_weights

            loaded = load_weights(resolve_weights(weights))
            networks = (loaded.build("edge_generator"), loaded.build("inpaint_generator"), loaded.canny.sigma)
        names = _pairs(photos, root, size)
        runs = [(b, False) for b in backend] + [(b, True) for b in backend if fused and b != "torch"]
        print(f"{len(names)} photos, longer side {size}, weights {weights}")
        env = {**os.environ, "EDGEINPAINT_CACHE": str(root / "cache")}
        for name, use_fused in runs:
            out = root / f"out-{name}-{use_fused}"
            argv = [*cli, "run", "-i", str(root / "in"), "-m", str(root / "masks"), "-o", str(out)]
            argv += ["--weights", weights, "--preset", "official", "--backend", name]
            subprocess.run([*argv, *(["--fused"] if use_fused else [])], check=True, capture_output=True, env=env)
            same, worst, within = [], 0, 0
            for stem in names:
                ref = official_test_script(*networks, root / "in" / f"{stem}.png", root / "masks" / f"{stem}.png")
                diff = np.abs(np.asarray(Image.open(out / f"{stem}.png")).astype(np.int16) - ref)
                same.append(float((diff == 0).mean()))
                worst = max(worst, int(diff.max()))
                within += int(diff.max() <= 1)
            label = name + (" --fused" if use_fused else "")
            versus = ""
            if use_fused:  # the same backend's three engines, on the same files
                three = root / f"out-{name}-False"
                gaps = [
                    int(np.abs(np.asarray(Image.open(out / f"{stem}.png")).astype(np.int16)
                               - np.asarray(Image.open(three / f"{stem}.png"))).max())
                    for stem in names
                ]  # fmt: skip
                versus = f"; vs {name}'s three engines: max {max(gaps)} level(s)"
            print(
                f"{label:22} identical values: min {min(same):.4%}, mean {np.mean(same):.4%}; "
                f"max difference {worst} level(s) ({within}/{len(names)} photos within 1){versus}"
            )


if __name__ == "__main__":
    typer.run(main)
