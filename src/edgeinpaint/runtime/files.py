"""Which files a batch run reads and writes: image discovery, mask pairing, output paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeinpaint.errors import InputError
from edgeinpaint.images import IMAGE_SUFFIXES

#: When several masks share a stem, prefer lossless formats.
_MASK_PREFERENCE = (".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Job:
    """One image to inpaint.

    Attributes:
        image: input image path.
        mask: mask path, or None when no mask was found (reported as a per-file error).
        output: destination path (same relative path and format as the input).
        relative: the input's path relative to the input root (for messages and reports).
    """

    image: Path
    mask: Path | None
    output: Path
    relative: str


def discover_images(root: Path) -> tuple[Path, list[Path]]:
    """(base directory, image files under ``root``, recursively, sorted); a file root is one image."""
    root = Path(root)
    if root.is_file():
        return root.parent, [root]
    if not root.is_dir():
        raise InputError(f"{root}: input not found; expected an image file or a directory of images")
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    return root, files


def _mask_for(mask_root: Path, relative: Path) -> Path | None:
    folder = mask_root / relative.parent
    candidates = [folder / f"{relative.stem}{suffix}" for suffix in _MASK_PREFERENCE]
    candidates += [folder / f"{relative.stem}{suffix.upper()}" for suffix in _MASK_PREFERENCE]
    return next((c for c in candidates if c.is_file()), None)


def plan_jobs(input_path: Path, mask_path: Path, output_dir: Path, output_suffix: str | None = None) -> list[Job]:
    """Pair every input image with its mask (by relative stem, or one mask file for all).

    Args:
        input_path: image file or directory (recursive).
        mask_path: mask file (applies to every image) or directory mirroring the input tree.
        output_dir: output root; the input tree is mirrored there.
        output_suffix: force an output format (e.g. ".png"); default keeps the input's.

    Raises:
        InputError: missing input/mask roots, or no images at all.
    """
    base, images = discover_images(input_path)
    if not images:
        raise InputError(f"{input_path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    mask_path = Path(mask_path)
    if not mask_path.exists():
        raise InputError(f"{mask_path}: mask not found; expected a mask file or a directory of masks")
    jobs = []
    taken: set[Path] = set()
    for image in images:
        relative = image.relative_to(base)
        mask = mask_path if mask_path.is_file() else _mask_for(mask_path, relative)
        out_name = relative.with_suffix(output_suffix) if output_suffix else relative
        if out_name in taken:
            # a.jpg and a.png both becoming a.png: keep the source extension in the name
            out_name = relative.with_name(f"{relative.stem}.{relative.suffix.lstrip('.')}{out_name.suffix}")
        taken.add(out_name)
        jobs.append(Job(image=image, mask=mask, output=Path(output_dir) / out_name, relative=str(relative)))
    return jobs
