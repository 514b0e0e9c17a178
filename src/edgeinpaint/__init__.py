"""edgeinpaint: fast, faithful, deployable EdgeConnect image inpainting.

The Python API (edgeinpaint/api.py)::

    import edgeinpaint

    with edgeinpaint.Inpainter(weights="demo") as model:
        picture = model("photo.jpg", "mask.png")
        edgeinpaint.save(picture, "out/photo.png")

Names are imported on first use (PEP 562), so ``import edgeinpaint`` stays cheap and the command
line, which never needs them, does not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeinpaint.core.version import __version__

if TYPE_CHECKING:
    from edgeinpaint.api import Inpainter, Settings, bench, export, save, settings
    from edgeinpaint.core.errors import (
        ArtifactError,
        DependencyError,
        EdgeInpaintError,
        InputError,
        TooLarge,
        WeightsError,
    )

_API = {"Inpainter", "Settings", "bench", "export", "save", "settings"}
_ERRORS = {"ArtifactError", "DependencyError", "EdgeInpaintError", "InputError", "TooLarge", "WeightsError"}
__all__ = [
    "ArtifactError",
    "DependencyError",
    "EdgeInpaintError",
    "Inpainter",
    "InputError",
    "Settings",
    "TooLarge",
    "WeightsError",
    "__version__",
    "bench",
    "export",
    "save",
    "settings",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        from edgeinpaint import api

        return getattr(api, name)
    if name in _ERRORS:
        from edgeinpaint.core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'edgeinpaint' has no attribute {name!r}")
