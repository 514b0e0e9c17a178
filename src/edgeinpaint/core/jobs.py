"""Which files a batch run reads and writes: image discovery, mask pairing, output paths."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from edgeinpaint.core.errors import InputError
from edgeinpaint.core.images import IMAGE_SUFFIXES

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

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


@dataclass
class JobPlan:
    """What a run will do, decided before any work.

    Attributes:
        jobs: images to inpaint. hidden: hidden files (``.name``) not read, relative paths.
        excluded: image files under the output folder, which lies inside the input tree (a
            previous run's outputs are never read back as inputs).
        unsupported: other files in the input tree (``.gif``, ``.heic``, ...), not read.
        mask_hint: when images found no mask, what the mask folder holds instead (or None).
    """

    jobs: list[Job]
    hidden: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    mask_hint: str | None = None


def is_uri(text: str | PurePath) -> bool:
    """True for ``scheme://...`` (object storage, ``file://``); False for plain local paths."""
    return isinstance(text, str) and bool(_SCHEME.match(text))


def _is_within(path: PurePath, root: PurePath) -> bool:
    return path == root or root in path.parents


def discover_images(root: Path, exclude: Path | None = None) -> tuple[Path, list[Path]]:
    """(base directory, image files under ``root``, recursively, sorted); a file root is one image.

    Hidden files and files under ``exclude`` are left out (see :func:`scan_images` for the counts).
    """
    return scan_images(root, exclude).images_at()


@dataclass
class Scan:
    """What an input tree holds, sorted: images to read, hidden files, files under the excluded
    output folder, and files of other formats (``.gif``, ``.heic``, ``.txt``: listed as skipped)."""

    base: Path
    images: list[Path]
    hidden: list[Path] = field(default_factory=list)
    excluded: list[Path] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)

    def images_at(self) -> tuple[Path, list[Path]]:
        return self.base, self.images


def scan_images(root: Path, exclude: Path | None = None) -> Scan:
    """The input tree under ``root`` (recursive); a file root is one image."""
    root = Path(root)
    if root.is_file():
        return Scan(root.parent, [root])
    if not root.is_dir():
        raise InputError(f"{root}: input not found; expected an image file or a directory of images")
    scan = Scan(root, [])
    skip = exclude.resolve() if exclude is not None else None
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        if skip is not None and _is_within(p.resolve(), skip):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                scan.excluded.append(p)
        elif is_hidden(p.relative_to(root)):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                scan.hidden.append(p)
        elif p.suffix.lower() not in IMAGE_SUFFIXES:
            scan.unsupported.append(p)
        else:
            scan.images.append(p)
    return scan


def check_output_root(output: PurePath, roots: Sequence[tuple[str, PurePath, bool]], shown: str) -> None:
    """Refuse an output root equal to the input or mask folder, or inside the mask folder.

    The one rule for local folders (paths resolved) and object-store prefixes (``bucket/key``).

    Args:
        output: the output root. roots: (kind "input"/"mask", root, root is a folder).
        shown: the output as the user typed it (for the message).

    Raises:
        InputError: the outputs would replace or mix with the inputs or masks.
    """
    for kind, root, is_dir in roots:
        folder = root if is_dir else root.parent
        if output == folder or (kind == "mask" and _is_within(output, folder) and is_dir):
            raise InputError(
                f"--output {shown} is {'inside ' if output != folder else ''}the {kind} folder {folder}: the "
                f"outputs would replace or mix with the {kind}s; choose another output folder"
            )


def _check_not_inputs(jobs: list[Job], input_path: Path, mask_path: Path | None, output_dir: Path) -> None:
    """Refuse a run whose outputs would replace an input image or mask (symlinks resolved)."""
    roots = [("input", Path(input_path).resolve())]
    if mask_path is not None:
        roots.append(("mask", Path(mask_path).resolve()))
    check_output_root(
        Path(output_dir).resolve(), [(kind, root, root.is_dir()) for kind, root in roots], str(output_dir)
    )
    sources = {j.image.resolve() for j in jobs} | {j.mask.resolve() for j in jobs if j.mask is not None}
    for job in jobs:
        if job.output.resolve() in sources:
            raise InputError(f"{job.output}: the output would overwrite an input file; choose another output folder")


def is_hidden(relative: PurePath) -> bool:
    """A file whose relative path has a part starting with ``.`` (never read as an input)."""
    return any(part.startswith(".") for part in relative.parts)


def output_name(relative: PurePath, suffix: str | None, taken: set[PurePath]) -> PurePath:
    """The output's relative name: the input's, with ``suffix`` forced; records it in ``taken``.

    ``a.jpg`` and ``a.png`` both becoming ``a.png`` keep the source extension: ``a.jpg.png``.
    """
    name = relative.with_suffix(suffix) if suffix else relative
    if name in taken:
        name = relative.with_name(f"{relative.stem}.{relative.suffix.lstrip('.')}{name.suffix}")
    taken.add(name)
    return name


def mask_name_for(relative: PurePath, exists: Callable[[PurePath], bool]) -> PurePath | None:
    """The mask paired with image ``relative`` in a mask folder mirroring the input tree, or None.

    Same stem, any image suffix (either case); when several exist, lossless formats first.

    Args:
        exists: whether a relative mask name is a file in the mask folder.
    """
    candidates = [relative.parent / f"{relative.stem}{suffix}" for suffix in _MASK_PREFERENCE]
    candidates += [relative.parent / f"{relative.stem}{suffix.upper()}" for suffix in _MASK_PREFERENCE]
    return next((c for c in candidates if exists(c)), None)


def plan_run(
    input_path: Path,
    mask_path: Path | None,
    output_dir: Path,
    output_suffix: str | None = None,
    writes: bool = True,
) -> JobPlan:
    """Pair every input image with its mask (by relative stem, or one mask file for all), safely.

    Args:
        input_path: image file or directory (recursive).
        mask_path: mask file (applies to every image), directory mirroring the input tree, or
            None (the hole comes from each image's alpha channel).
        output_dir: output root; the input tree is mirrored there.
        output_suffix: force an output format (e.g. ".png"); default keeps the input's.
        writes: the caller writes the outputs (False: only reads the pairs, e.g. evaluation).

    Raises:
        InputError: missing input/mask roots, no images at all, or (``writes``) outputs that would replace an
            input or mask (the output folder equal to the input or mask folder, inside the mask
            folder, or a file name collision).
    """
    out_root = Path(output_dir).resolve()
    in_root = Path(input_path).resolve()
    inside_input = writes and in_root.is_dir() and _is_within(out_root, in_root) and out_root != in_root
    scan = scan_images(input_path, out_root if inside_input else None)
    base, images, hidden, excluded = scan.base, scan.images, scan.hidden, scan.excluded
    if not images:
        others = (
            f"; skipped {len(scan.unsupported)} other file(s), e.g. {scan.unsupported[0].name}"
            if scan.unsupported
            else ""
        )
        raise InputError(f"{input_path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))}){others}")
    if mask_path is not None and not Path(mask_path).exists():
        raise InputError(f"{mask_path}: mask not found; expected a mask file or a directory of masks")
    jobs = []
    taken: set[PurePath] = set()
    for image in images:
        relative = image.relative_to(base)
        if mask_path is None:
            mask = None
        else:
            mask = Path(mask_path) if Path(mask_path).is_file() else _mask_for(Path(mask_path), relative)
        out_name = output_name(relative, output_suffix, taken)
        jobs.append(Job(image=image, mask=mask, output=Path(output_dir) / out_name, relative=str(relative)))
    if writes:
        _check_not_inputs(jobs, input_path, mask_path, output_dir)
    hint = None
    if mask_path is not None and Path(mask_path).is_dir() and any(j.mask is None for j in jobs):
        hint = mask_hint(Path(mask_path), [Path(j.relative) for j in jobs if j.mask is None])
    return JobPlan(
        jobs,
        hidden=[str(p.relative_to(base)) for p in hidden],
        excluded=[str(p.relative_to(base)) for p in excluded],
        unsupported=[str(p.relative_to(base)) for p in scan.unsupported],
        mask_hint=hint,
    )


def mask_hint(mask_root: Path, unpaired: Sequence[PurePath], shown: int = 3) -> str:
    """What a mask folder holds when images found no mask: a few of its names, and the affix they share.

    Masks named ``<stem>_mask.png`` or ``mask_<stem>.png`` pair with no image; the hint names the affix
    so the user can rename them (``for f in *_mask.png; do mv "$f" "${f%_mask.png}.png"; done``).
    """
    masks = sorted(
        p.relative_to(mask_root) for p in mask_root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not masks:
        return f"the mask folder {mask_root} holds no image files"
    affixes: dict[tuple[str, str], int] = {}
    by_parent: dict[PurePath, list[str]] = {}
    for m in masks:
        by_parent.setdefault(m.parent, []).append(m.stem)
    for image in unpaired:
        for stem in by_parent.get(image.parent, []):
            at = stem.find(image.stem)
            if at >= 0 and stem != image.stem:
                key = (stem[:at], stem[at + len(image.stem) :])
                affixes[key] = affixes.get(key, 0) + 1
    names = ", ".join(str(m) for m in masks[:shown]) + (", ..." if len(masks) > shown else "")
    hint = f"the mask folder holds {len(masks)} mask(s) like {names}"
    if affixes:
        (prefix, suffix), count = max(affixes.items(), key=lambda kv: kv[1])
        what = " and ".join(f"{kind} {value!r}" for kind, value in (("prefix", prefix), ("suffix", suffix)) if value)
        hint += f"; {count} of them are image names with the {what}: masks pair by the image's own stem, rename them"
    return hint


def _mask_for(mask_root: Path, relative: Path) -> Path | None:
    name = mask_name_for(relative, lambda c: (mask_root / c).is_file())
    return None if name is None else mask_root / name


def pair_images(input_path: Path, mask_path: Path) -> list[Job]:
    """Image/mask pairs for callers that only read them (calibration, evaluation); outputs are not meaningful."""
    return plan_run(input_path, mask_path, Path("."), writes=False).jobs
