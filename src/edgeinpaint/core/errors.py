"""User-facing errors.

Library code raises these; only ``cli.py`` turns them into an exit code (1) and a one-line message
without a traceback. Every message says what was expected, what was found and, where it helps,
what to do.
"""

from __future__ import annotations


class EdgeInpaintError(Exception):
    """Base class for errors that are the user's to fix (bad file, bad option, missing artifact)."""


class InputError(EdgeInpaintError):
    """An input image or mask cannot be used (missing, corrupt, wrong size, unsupported)."""


class TooLarge(InputError):  # noqa: N818 - the condition, as the 413 it becomes in the server
    """An image has more pixels than accepted (the header says so; nothing is decoded)."""


class WeightsError(EdgeInpaintError):
    """A weights file or official checkpoint is missing, malformed or inconsistent."""


class ArtifactError(EdgeInpaintError):
    """An artifacts directory is incomplete, tampered with or does not match this toolkit."""


class ExportError(EdgeInpaintError):
    """An exported graph failed its own accuracy check or could not be produced."""


class DependencyError(EdgeInpaintError):
    """An optional dependency (torch, tensorrt, cuda-python) is needed but not installed."""


def require_torch() -> None:
    """Raise a :class:`DependencyError` with the install command when torch is absent."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only on runtime-only installs
        raise DependencyError(
            "this command needs PyTorch: pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu "
            "(the CPU build; GPU users pick theirs at pytorch.org), then pip install 'edgeinpaint[torch]' (from a "
            "clone: pip install -e '.[torch]')"
        ) from exc


class EngineFailure(RuntimeError):  # noqa: N818 - the name says what it is to a reader of a traceback
    """An engine failed while running (CUDA error, TensorRT execution failure).

    Not an :class:`EdgeInpaintError`: nothing the user typed is wrong, so the CLI shows it as a bug
    report with its traceback instead of a one-line error (as Polygraphy separates the two).
    """
