"""The recipe: the one place a picture is made from decoded pixels and a hole.

Every caller (the in-process run, the shared-memory pipeline's readers / engine / writers, the
server, Ray actors, the benchmarks, the Python API) drives the same four steps and decides nothing
about them itself:

- ``prepare(pixels, hole) -> Prepared``: the CPU work before the networks (gray, Canny, padding);
  a picklable :class:`Preparer` runs it in reader processes.
- ``infer(prepared) -> raw``: one engine call for prepared images of one ``batch_key``.
- ``finish(prepared, raw) -> picture``: the composite (paste or Poisson) and the 8-bit rounding; a
  picklable :class:`Finisher` runs it in writer processes.
- ``recipe(pixels, hole)``: the whole route for one image, the high-resolution strategy included;
  ``batchable(h, w)`` says whether an image of that size may take the three steps above instead.

Two implementations: :class:`ThreeStage` (Canny -> edge generator -> inpaint generator, the paper's
chain) and :class:`Fused` (one graph with Canny, both generators and the composites inside). The
shape follows Polygraphy's runners (one lifecycle, a checked ``infer``) and IOPaint's
``InpaintModel.__call__`` (padding, HD strategy and the model call behind one method).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from edgeinpaint.canny.stage import CannySpec, make_canny
from edgeinpaint.core import specs
from edgeinpaint.core.blend import blend as blend_into
from edgeinpaint.core.engine import Closing
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.fused_io import as_unit_float, fused_feeds, fused_output
from edgeinpaint.core.images import pad_amounts
from edgeinpaint.core.params import Blend, CannyParams, Rounding
from edgeinpaint.core.stages import CannyFn, Prepared, Sample, as_uint8, crop_output, infer, preprocess
from edgeinpaint.runtime.engines import Generators
from edgeinpaint.runtime.hd import HDConfig, inpaint_hd


class Preparer:
    """``prepare`` as a picklable object: reader processes get it and rebuild their Canny stage.

    Args:
        canny_spec: the Canny stage to run, or None when the model takes the pixels and the hole as
            they are (the fused model's Canny is inside its graph).
        threads: ONNX Runtime threads of the Canny graph (None = one).
    """

    def __init__(self, canny_spec: CannySpec | None, threads: int | None = None) -> None:
        self.canny_spec, self.threads = canny_spec, threads
        self._canny: CannyFn | None = None

    def __getstate__(self) -> dict[str, Any]:  # the Canny session stays in its process
        return {"canny_spec": self.canny_spec, "threads": self.threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["canny_spec"], state["threads"])  # type: ignore[misc]

    @property
    def canny(self) -> CannyFn:
        """The Canny stage, built on first use: (gray (H, W) float64, known (H, W) bool) -> edges."""
        if self.canny_spec is None:
            raise InputError("this model computes its edges inside its graph; it has no separate Canny stage")
        if self._canny is None:
            self._canny = make_canny(self.canny_spec, self.threads)
        return self._canny

    def __call__(self, pixels: np.ndarray, hole: np.ndarray) -> Prepared:
        """Args: pixels (H, W, 3) uint8 or uint16 RGB, the file's own values; hole (H, W) bool."""
        if self.canny_spec is None:
            return Prepared(as_uint8(pixels), hole)
        return preprocess(pixels, hole, self.canny)

    def plane_shapes(self, height: int, width: int) -> dict[str, tuple[int, ...]]:
        """Shapes of the float planes a prepared image of this size carries (shared-memory slots hold them)."""
        if self.canny_spec is None:
            return {}
        ph, pw = pad_amounts(height, width)
        hp, wp = height + ph, width + pw
        return {"image": (3, hp, wp), "gray": (1, hp, wp), "edges": (1, hp, wp), "mask": (1, hp, wp)}

    def rebuild(self, rgb8: np.ndarray, hole: np.ndarray, planes: dict[str, np.ndarray]) -> Prepared:
        """A prepared image from its parts (views into shared memory: nothing is copied)."""
        if self.canny_spec is None:
            return Prepared(rgb8, hole)
        return Sample(rgb8, hole, planes["image"], planes["gray"], planes["edges"], planes["mask"])


@dataclass(frozen=True)
class Finisher:
    """``finish`` as a picklable object (writer processes composite): raw output -> picture.

    Attributes:
        blend: the composite (the weights' own unless overridden). rounding: how the hole becomes 8 bits.
    """

    blend: Blend
    rounding: Rounding = Rounding.ROUND

    def __call__(self, raw: np.ndarray, rgb8: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Args: raw (H, W, 3) float32 in [0, 1]; rgb8 (H, W, 3) uint8; hole (H, W) bool. Returns (H, W, 3) uint8."""
        return blend_into(raw, rgb8, hole, self.blend, self.rounding)


class Recipe(Closing, ABC):
    """Both networks and the stages around them, opened once (runtime/inpainter.py ``open_recipe``).

    Args:
        generators: the engines (and the backend that runs them); closed with the recipe.
        preparer / finisher: the CPU stages before and after the networks.
        hd: the high-resolution strategy.
        edge_source: which edges feed the inpaint generator (composite, or the raw prediction).
    """

    #: Reported by ``/v1/info`` and ``bench``; nothing outside this module branches on it.
    kind: ClassVar[str]

    def __init__(
        self,
        generators: Generators,
        preparer: Preparer,
        finisher: Finisher,
        hd: HDConfig,
        edge_source: specs.EdgeSource = specs.EdgeSource.COMPOSITE,
    ) -> None:
        self.generators, self.preparer, self.finisher, self.hd = generators, preparer, finisher, hd
        self.edge_source = edge_source

    @property
    def blend(self) -> Blend:
        return self.finisher.blend

    @property
    def rounding(self) -> Rounding:
        return self.finisher.rounding

    @property
    def canny(self) -> CannyFn:
        """The Canny stage the preparer runs (benchmarks and calibration build samples with it)."""
        return self.preparer.canny

    def batchable(self, height: int, width: int) -> bool:
        """True when an image of this size is made by prepare -> infer -> finish (in a batch); False when
        only :meth:`__call__` makes it (the high-resolution strategy's crops)."""
        return not self.hd.applies(height, width)

    def prepare(self, pixels: np.ndarray, hole: np.ndarray) -> Prepared:
        """Args: pixels (H, W, 3) uint8 or uint16 RGB; hole (H, W) bool, True = hole."""
        return self.preparer(pixels, hole)

    def infer(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        """The networks on prepared images of one ``batch_key``: per image (H, W, 3) float32 in [0, 1].

        Raises:
            InputError: images of different batch keys in one call.
        """
        if len({p.batch_key for p in prepared}) > 1:
            raise InputError(f"one engine call takes one size; got {sorted({p.batch_key for p in prepared})}")
        return self._infer(prepared) if prepared else []

    @abstractmethod
    def _infer(self, prepared: Sequence[Prepared]) -> list[np.ndarray]: ...

    def finish(self, prepared: Prepared, raw: np.ndarray) -> np.ndarray:
        """The picture from one raw output: (H, W, 3) uint8, known pixels byte-identical to the input's 8 bits."""
        return self.finisher(raw, prepared.rgb8, prepared.hole)

    def batch(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        """infer + finish for prepared images of one batch key; (H, W, 3) uint8 each."""
        return [self.finish(p, r) for p, r in zip(prepared, self.infer(prepared), strict=True)]

    def __call__(self, pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Inpaint one image of any size.

        Args:
            pixels: (H, W, 3) uint8 or uint16 RGB (the file's own values).
            hole: (H, W) bool, True = hole.

        Returns:
            (H, W, 3) uint8 composite (the input itself, at 8 bits, when nothing is a hole).
        """
        if not hole.any():
            return as_uint8(pixels)
        if not self.batchable(*hole.shape):
            return inpaint_hd(self._whole, pixels, hole, self.hd)
        return self._whole(pixels, hole)

    def _whole(self, pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """One image (or crop) at its own size through the three steps."""
        prepared = self.prepare(pixels, hole)
        return self.finish(prepared, self.infer([prepared])[0])

    def close(self) -> None:
        self.generators.close()


class ThreeStage(Recipe):
    """Canny (in ``prepare``) -> edge generator -> edge composite -> inpaint generator."""

    kind = "three-stage"

    def _infer(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        samples = [p for p in prepared if isinstance(p, Sample)]
        if len(samples) != len(prepared):
            raise InputError("the three-stage recipe infers samples it prepared (gray, edges, padding)")
        edge, inpaint = self.generators.edge, self.generators.inpaint
        assert edge is not None and inpaint is not None
        outputs = infer(samples, edge, inpaint, self.edge_source)
        return [crop_output(s, o) for s, o in zip(samples, outputs, strict=True)]


class Fused(Recipe):
    """The fused single-file model: the pixels and the hole in, the paste composite and the raw output out.

    Args:
        uint8_io: the model's I/O is NHWC uint8 (else NCHW float32 in [0, 1]).
    """

    kind = "fused"

    def __init__(self, *args: Any, uint8_io: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uint8_io = uint8_io

    def _infer(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        """Per image the output :meth:`finish` turns into the graph's own picture.

        For a paste composite that is the graph's ``output`` (quantized inside the graph as exported:
        rounded, or truncated by the official preset), returned as float32 v / 255, which the finisher's
        rounding maps back to v exactly (both roundings, all 256 values; core/images.py ``to_uint8``).
        For a Poisson composite it is ``raw``, the generator's rounded output, which the finisher blends
        (core/blend.py ``finish_fused`` makes the same pictures from both outputs).
        """
        engine = self.generators.fused
        assert engine is not None
        name = "output" if self.blend is Blend.PASTE else "raw"
        feeds = fused_feeds([p.rgb8 for p in prepared], [p.hole for p in prepared], self.uint8_io)
        got = fused_output(engine.run(feeds), name, self.uint8_io, self.rounding)
        return [as_unit_float(got[i]) for i in range(len(prepared))]


class OnDevice(Recipe):
    """The whole recipe on the torch device (``--backend torch-cuda``): the fused model's arithmetic as
    torch ops, for users without TensorRT.

    Per batch the pixels and the hole go up as one uint8 tensor and the picture (or, for the Poisson
    composite, the raw output) comes down as one: gray, Canny (canny/torch_canny.py, the float32 graph's
    arithmetic), padding, both generators, the edge composite and the paste composite run on the device.

    Args:
        canny: the weights' Canny settings. mask_threshold: the hole rule of the uint8 mask upload.
    """

    kind = "on-device"

    def __init__(self, *args: Any, canny: CannyParams, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.canny_params = canny
        edge, inpaint = self.generators.edge, self.generators.inpaint
        if not (hasattr(edge, "module") and hasattr(inpaint, "module")):
            raise InputError("the on-device recipe runs PyTorch modules (--backend torch-cuda)")
        self.edge: Any = edge  # TorchEngine: its module, device and autocast (runtime/engines/torch.py)
        self.inpaint: Any = inpaint

    def _infer(self, prepared: Sequence[Prepared]) -> list[np.ndarray]:
        import torch

        from edgeinpaint.canny.torch_canny import canny_torch

        device = self.edge.device
        h, w = prepared[0].size
        packed = np.concatenate([np.stack([p.rgb8 for p in prepared]), np.stack([p.hole for p in prepared])[..., None]
                                 * np.uint8(255)], axis=3)  # fmt: skip
        with torch.inference_mode():
            up = torch.from_numpy(packed).to(device, non_blocking=True)  # the one upload
            image = up[..., :3].permute(0, 3, 1, 2).float() / 255.0
            hole = (up[..., 3:].permute(0, 3, 1, 2).float() > 127.0).float()
            known = 1.0 - hole
            coeffs = torch.tensor(specs.GRAY_COEFFS, dtype=torch.float32, device=device).reshape(1, 3, 1, 1)
            gray = torch.nn.functional.conv2d(image, coeffs)  # as the fused graph: a 1x1 convolution
            edges = canny_torch(gray, known, self.canny_params)
            ph, pw = pad_amounts(h, w)

            def pad(x: Any) -> Any:
                return torch.nn.functional.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x

            p_image, p_gray, p_edges, p_hole = pad(image), pad(gray), pad(edges), pad(hole)
            pred = self.edge.forward_device([p_gray, p_edges, p_hole]).float()  # a CUDA graph with --cuda-graph
            guide = pred * p_hole + p_edges * (1 - p_hole) if self.edge_source is specs.EdgeSource.COMPOSITE else pred
            raw = self.inpaint.forward_device([p_image, guide, p_hole]).float()[:, :, :h, :w]
            if self.blend is Blend.PASTE:  # the picture, quantized as the fused graph does
                value, rounding = raw * hole + image * known, self.rounding
            else:  # the raw output for the Poisson composite on the host, always rounded
                value, rounding = raw, Rounding.ROUND
            scaled = value * 255.0
            scaled = torch.floor(scaled) if rounding is Rounding.TRUNCATE else torch.round(scaled)
            down = (
                scaled.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()
            )  # the one download
        return [as_unit_float(down[i]) for i in range(len(prepared))]
