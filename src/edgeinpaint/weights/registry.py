"""Bundled weights, addressed by name (``--weights demo``)."""

from __future__ import annotations

from pathlib import Path

BUNDLED_DIR = Path(__file__).with_name("bundled")
BUNDLED = {"demo": BUNDLED_DIR / "demo.safetensors"}


def resolve_weights(spec: str | Path) -> Path:
    """Map a bundled name (``demo``) or a path to a weights file path (existence checked by the loader)."""
    key = str(spec)
    if key in BUNDLED:
        return BUNDLED[key]
    return Path(spec)
