"""Where ``run`` executes: this machine (runtime/) or a cluster (ray_data)."""

from __future__ import annotations

import enum


class Executor(str, enum.Enum):
    """run --executor: this machine (in-process or the shared-memory pipeline) or a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"
