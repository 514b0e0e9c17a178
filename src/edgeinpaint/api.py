"""The Python API: open a model once, inpaint numpy arrays, PIL images or files, export and benchmark.

    import edgeinpaint

    with edgeinpaint.Inpainter(weights="demo") as model:      # same options as `edgeinpaint run`
        picture = model("photo.jpg", "mask.png")               # (H, W, 3) uint8, as `run` makes it
        pictures = model([rgb_a, rgb_b], [hole_a, hole_b])     # numpy arrays or PIL images, one or a list
        edgeinpaint.save(picture, "out/photo.png")              # `run`'s encoder: the same bytes

Every picture comes from the same recipe as ``run``, ``serve`` and the Ray executor
(runtime/recipe.py); files are read with ``run``'s loader (EXIF orientation, 16-bit, mask rule). Errors
are the library's own types (:class:`~edgeinpaint.core.errors.EdgeInpaintError` and its subclasses:
``InputError`` for a bad image or mask, ``TooLarge`` above the pixel cap, ``ArtifactError``,
``WeightsError``, ``DependencyError``), each one line naming what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Union, Unpack, overload

import numpy as np

from edgeinpaint.core import images
from edgeinpaint.core.engine import Closing
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.params import Rounding
from edgeinpaint.core.presets import BlendChoice, Preset, picture_recipe
from edgeinpaint.core.specs import Backend, CannyVariant, EdgeSource, Precision
from edgeinpaint.runtime.hd import HDConfig, HDStrategy
from edgeinpaint.runtime.inpainter import EngineOptions, ModelSource, PictureOptions, Settings
from edgeinpaint.runtime.loading import LoadOptions
from edgeinpaint.runtime.pipeline import WriteOptions
from edgeinpaint.runtime.recipe import Recipe

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

#: An image: (H, W, 3) RGB or (H, W) gray numpy array (uint8, or uint16 kept at 16 bits), a PIL image, or a file.
ImageLike = Union[np.ndarray, "PILImage", str, Path]
#: A mask: (H, W) bool (True = hole) or uint8 (> the mask threshold = hole, 0/255 as drawn), a PIL image, a file.
MaskLike = Union[np.ndarray, "PILImage", str, Path]


class Choices(TypedDict, total=False):
    """The keyword arguments of :func:`settings` and :class:`Inpainter` (typed for checkers and editors)."""

    artifacts: str | Path | None
    backend: Backend | str
    precision: Precision | str
    preset: Preset | str
    fused: bool
    hd_strategy: HDStrategy | str
    hd_trigger: int
    resize_limit: int
    canny: CannyVariant | str | None
    edge_source: EdgeSource | str | None
    blend: BlendChoice | str | None
    to_8bit: Rounding | str | None
    mask_threshold: int | None
    threads: int | None
    cuda_graph: bool
    max_pixels: int | None
    strict: bool
    alpha_mask: bool


def settings(
    weights: str | Path | None = None,
    *,
    artifacts: str | Path | None = None,
    backend: Backend | str = Backend.AUTO,
    precision: Precision | str = Precision.FP32,
    preset: Preset | str = Preset.PAPER,
    fused: bool = False,
    hd_strategy: HDStrategy | str = HDStrategy.CROP,
    hd_trigger: int = 1024,
    resize_limit: int = 1024,
    canny: CannyVariant | str | None = None,
    edge_source: EdgeSource | str | None = None,
    blend: BlendChoice | str | None = None,
    to_8bit: Rounding | str | None = None,
    mask_threshold: int | None = None,
    threads: int | None = None,
    cuda_graph: bool = False,
    max_pixels: int | None = 16_000_000,
    strict: bool = True,
    alpha_mask: bool = False,
) -> Settings:
    """The runtime's :class:`~edgeinpaint.runtime.inpainter.Settings` for these choices (the arguments of
    :class:`Inpainter`, which documents them; ``strict`` refuses a mask of another size instead of
    resizing it, ``alpha_mask`` takes every hole from the image's alpha)."""
    recipe = picture_recipe(
        _choice(Preset, preset, "preset"),
        mask_threshold,
        _choice(CannyVariant, canny, "canny") if canny is not None else None,
        _choice(EdgeSource, edge_source, "edge_source") if edge_source is not None else None,
        _choice(BlendChoice, blend, "blend") if blend is not None else None,
        _choice(Rounding, to_8bit, "to_8bit") if to_8bit is not None else None,
    )
    hd = HDConfig(_choice(HDStrategy, hd_strategy, "hd_strategy"), hd_trigger, resize_limit=resize_limit)
    return Settings(
        ModelSource(str(weights) if weights is not None else None, Path(artifacts) if artifacts is not None else None),
        EngineOptions(_choice(Backend, backend, "backend"), _choice(Precision, precision, "precision"), threads,
                      cuda_graph, recipe.canny, fused),
        PictureOptions(recipe.edge_source, hd, recipe.blend, recipe.rounding),
        LoadOptions(alpha_mask, strict, recipe.mask_threshold, max_pixels),
        recipe,
    )  # fmt: skip


class Inpainter(Closing):
    """A model opened once: weights (exported into the cache on first use) or an artifacts folder.

    Args:
        weights: weights file or bundled name ("demo"); None with no ``artifacts``: the demo weights.
        artifacts: a folder written by ``edgeinpaint export``.
        backend: "auto" (the fastest that opens here), "onnxruntime", "openvino", "tensorrt", "torch", ...
        precision: "fp32", "fp16", "int8" (as exported).
        preset: "paper" (default) or "official" (the official test script's choices); ``canny``,
            ``edge_source``, ``blend``, ``to_8bit`` and ``mask_threshold`` override it one by one, as
            on the command line.
        fused: run the fused single-file model.
        hd_strategy / hd_trigger / resize_limit: what to do above ``hd_trigger`` px ("crop" around
            holes, "resize" to ``resize_limit``, "original").
        threads: CPU threads for the engines (None: all cores). cuda_graph: replay CUDA graphs.
        max_pixels: images and masks above this many pixels are refused (``TooLarge``).
        progress: called with one-line messages (which backend auto picked, an export in progress).
        **choices: any other argument of :func:`settings` (:class:`Choices`).
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        progress: Callable[[str], None] | None = None,
        **choices: Unpack[Choices],
    ) -> None:
        self.settings = settings(weights, **choices)
        self.load = self.settings.load
        self.recipe: Recipe = self.settings.open(progress)

    @property
    def backend(self) -> str:
        """The backend that runs the networks (auto's pick)."""
        return self.recipe.generators.backend.value

    @overload
    def __call__(self, image: ImageLike, mask: MaskLike | None = None) -> Any: ...
    @overload
    def __call__(self, image: Sequence[ImageLike], mask: Sequence[MaskLike | None] | None = None) -> list[Any]: ...

    def __call__(self, image: Any, mask: Any = None) -> Any:
        """Inpaint one image, or a list of images (with a list of masks).

        Args:
            image: (H, W, 3) RGB or (H, W) gray uint8 / uint16 array, a PIL image, or a file path.
            mask: (H, W) bool (True = hole) or uint8 / uint16 (above the mask threshold = hole), a PIL
                image, or a file; None takes the hole from the image's alpha (alpha < 128 = hole).

        Returns:
            The picture as the image came: numpy (H, W, 3) of the input's dtype (16 bits kept for
            known pixels) for arrays and files, a PIL image for PIL images.

        Raises:
            InputError: a bad image or mask (named by its position in a list), a mask of another size.
            TooLarge: more pixels than ``max_pixels``.
        """
        if isinstance(image, (list, tuple)):
            masks = list(mask) if mask is not None else [None] * len(image)
            if len(masks) != len(image):
                raise InputError(f"{len(image)} images but {len(masks)} masks; expected one mask per image")
            return [self._one(i, m, f"image {k}") for k, (i, m) in enumerate(zip(image, masks, strict=True))]
        return self._one(image, mask, "image")

    def _one(self, image: Any, mask: Any, name: str) -> Any:
        pil = _is_pil(image)
        pixels, alpha, label = _pixels(image, name, self.load)
        hole = _hole(mask, alpha, label, self.load) if mask is not None or alpha is not None else None
        if hole is None:
            raise InputError(f"{label}: no mask and no alpha channel; expected a mask (True / 255 = hole)")
        if hole.shape != pixels.shape[:2]:
            found, wanted = f"{hole.shape[1]}x{hole.shape[0]}", f"{pixels.shape[1]}x{pixels.shape[0]}"
            raise InputError(f"{label}: mask is {found} but the image is {wanted}; expected the same size")
        picture = images.restore_depth(self.recipe(pixels, hole), hole, pixels)
        if not pil:
            return picture
        from PIL import Image

        out = Image.fromarray(picture)
        if alpha is not None and mask is not None:  # the image's own transparency stays
            out.putalpha(Image.fromarray(alpha))
        return out

    def close(self) -> None:
        self.recipe.close()


def save(picture: Any, path: str | Path, quality: int = 95) -> None:
    """Write a picture as ``run`` does (same encoder settings, so the same bytes; atomic: whole or absent).

    Args:
        picture: (H, W, 3) uint8 / uint16 array or a PIL image. path: its suffix picks the format.
    """
    alpha = None
    if _is_pil(picture):
        if picture.mode in ("RGBA", "LA"):
            alpha = np.asarray(picture.getchannel("A"))
        picture = np.asarray(picture.convert("RGB"))
    images.encode_image(np.asarray(picture), Path(path), quality=quality, alpha=alpha,
                 png_compression=WriteOptions().png_compression)  # fmt: skip


def export(
    weights: str | Path,
    output: str | Path,
    precision: Precision | str = Precision.FP32,
    calibration: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """``edgeinpaint export``: the ONNX files (FP32 always, plus ``precision``), Canny graphs and the fused
    model into ``output`` (incremental); needs PyTorch. Returns ``output``."""
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.config import ExportConfig
    from edgeinpaint.weights.registry import resolve_weights

    config = ExportConfig(
        weights=resolve_weights(str(weights)),
        output=Path(output),
        precision=_choice(Precision, precision, "precision"),
        calibration=Path(calibration) if calibration is not None else None,
    )
    export_artifacts(config, progress=progress)
    return Path(output)


def bench(
    artifacts: str | Path,
    backends: Sequence[Backend | str] = (Backend.ONNXRUNTIME,),
    sizes: Sequence[int] = (256,),
    batches: Sequence[int] = (1,),
    duration: float = 3.0,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """``edgeinpaint bench`` on an artifacts folder: one row per backend x batch x size (images/s, ms,
    PSNR against FP32), as the command prints them."""
    from edgeinpaint.benchmarks.suites import BenchConfig, run_bench

    config = BenchConfig(
        artifacts=Path(artifacts),
        backends=tuple(_choice(Backend, b, "backend") for b in backends),
        sizes=tuple(sizes),
        batches=tuple(batches),
        duration=duration,
        baseline_torch=False,
    )
    return list(run_bench(config, progress or (lambda _m: None)).rows)


def _choice(kind: Any, value: Any, name: str) -> Any:
    """``value`` as the enum ``kind`` (its member or its string), or an InputError listing the choices."""
    try:
        return kind(value)
    except ValueError:
        raise InputError(f"{name}={value!r}: expected one of {', '.join(m.value for m in kind)}") from None


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "getbands")


def _pixels(image: Any, name: str, load: LoadOptions) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(H, W, 3) uint8/uint16 RGB, its alpha or None, and the name errors use.

    Files are read by ``run``'s decoder (EXIF orientation applied, 16-bit colour kept); arrays and PIL
    images are taken as they are.
    """
    if isinstance(image, (str, Path)):
        decoded = images.decode_image(image, None, load.max_pixels)
        return decoded.rgb, decoded.alpha, str(image)
    if _is_pil(image):
        rgb, alpha = images.pil_pixels(image)
    else:
        array = np.asarray(image)
        if array.dtype not in (np.uint8, np.uint16):
            raise InputError(f"{name}: {array.dtype} pixels; expected uint8 or uint16 (0..255 / 0..65535)")
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise InputError(f"{name}: shape {array.shape}; expected (H, W), (H, W, 3) RGB or (H, W, 4) RGBA")
        alpha = array[..., 3] if array.shape[2] == 4 else None
        if alpha is not None and alpha.dtype == np.uint16:
            alpha = (alpha // 257).astype(np.uint8)
        rgb = np.ascontiguousarray(array[..., :3])
    images.check_size(name, rgb.shape[0], rgb.shape[1], load.max_pixels)
    return rgb, alpha, name


def _hole(mask: Any, alpha: np.ndarray | None, name: str, load: LoadOptions) -> np.ndarray:
    """(H, W) bool from a mask (``run``'s mask rule) or, without one, from the alpha (alpha < 128 = hole)."""
    if mask is None:
        assert alpha is not None
        return np.asarray(alpha < 128)
    if isinstance(mask, (str, Path)):
        return images.decode_mask(mask, None, load.max_pixels, load.mask_threshold)
    if _is_pil(mask):
        return images.hole_from_gray(images.pil_gray(mask), load.mask_threshold, f"{name}'s mask")
    array = np.asarray(mask)
    if array.dtype == bool:
        return np.asarray(array if array.ndim == 2 else array.any(axis=-1))
    if array.dtype.kind not in "ui":
        raise InputError(f"{name}'s mask: {array.dtype} values; expected bool or integers (0..255, 0..65535)")
    # The same arithmetic as run's mask decoder (core/images.py decode_mask): gray on the 8-bit scale.
    gray = images.rgb_to_gray(array[..., :3].astype(np.float64)) if array.ndim == 3 else array.astype(np.float64)
    if array.dtype.itemsize > 1:
        gray = np.clip(gray, 0, 65535) / 257.0
    if gray.ndim != 2:
        raise InputError(f"{name}'s mask: shape {array.shape}; expected (H, W) or (H, W, 3)")
    return images.hole_from_gray(gray, load.mask_threshold, f"{name}'s mask")
