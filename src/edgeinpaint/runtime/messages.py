"""The messages the shared-memory pipeline's processes exchange: one type per kind, fields that never change meaning.

Readers -> engine process: :class:`SampleReady`, :class:`ReadFailed`.
Engine process -> writers: :class:`WriteRequest`.
Writers -> engine process: :class:`Written`.
Pixels travel in shared-memory slots (runtime/shm.py); messages carry only slot numbers and sizes.
"""

from __future__ import annotations

from typing import NamedTuple


class SampleReady(NamedTuple):
    """A prepared image in input slot ``slot``.

    Attributes:
        job: job index. size: (H, W). batch_key: images with the same key share an engine call
            (the prepared image's ``batch_key``: the padded size, or the size for the fused model).
        has_alpha: the slot's ``alpha`` field holds the alpha to write with the output.
        warnings: messages about the job (e.g. a resized mask).
    """

    job: int
    slot: int
    size: tuple[int, int]
    batch_key: tuple[int, int]
    has_alpha: bool
    warnings: tuple[str, ...]


class Unchanged(NamedTuple):
    """An image with no hole pixel in input slot ``slot``: written as it is (only ``rgb8``/``alpha`` filled)."""

    job: int
    slot: int
    size: tuple[int, int]
    has_alpha: bool
    warnings: tuple[str, ...]


class ReadFailed(NamedTuple):
    """Job ``job`` could not be read or preprocessed; ``reason`` names the file."""

    job: int
    reason: str


class WriteRequest(NamedTuple):
    """Output slot ``slot`` is ready for the writers.

    Attributes:
        composite: the slot holds the raw generator output + input + hole, and the writer
            composites (paste or Poisson); otherwise ``rgb8`` is the finished picture.
    """

    job: int
    slot: int
    size: tuple[int, int]
    composite: bool
    has_alpha: bool


class Written(NamedTuple):
    """A writer's outcome for job ``job``: None, or the reason it failed."""

    job: int
    error: str | None
