"""Command line: each command builds its options, calls one library function and prints the result.

Only this module decides exit codes: an :class:`EdgeInpaintError` becomes one line on stderr and
exit 1, with no traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import json
import os
import sys
import textwrap
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from edgeinpaint.calibration.qdq import CalibrationMethod
from edgeinpaint.core import specs
from edgeinpaint.core.errors import EdgeInpaintError, EngineFailure
from edgeinpaint.core.params import Rounding
from edgeinpaint.core.presets import BlendChoice, Preset, picture_recipe
from edgeinpaint.core.text import printable
from edgeinpaint.core.version import __version__
from edgeinpaint.executors import Executor
from edgeinpaint.export.config import FusedIO
from edgeinpaint.runtime.hd import HDStrategy
from edgeinpaint.serving.triton.repository import TritonBackend
from edgeinpaint.trainer.config import Stage
from edgeinpaint.trainer.metrics import Baseline

app = typer.Typer(
    help="Fast, faithful, deployable EdgeConnect inpainting.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: rich panels truncate long option names at 80 columns; plain help wraps the text instead.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgeinpaint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fast, faithful, deployable EdgeConnect inpainting."""


weights_app = typer.Typer(help="Weights files: import official checkpoints, inspect.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _preset_help() -> str:
    from edgeinpaint.core.presets import PRESETS, describe

    return (
        "Named set of picture options (explicit options win; the report records both): "
        + "; ".join(describe(p) for p in PRESETS)
        + ". official = knazeri/edge-connect's test.py."
    )


@dataclasses.dataclass(frozen=True)
class PictureChoice:
    """The picture options run, serve, evaluate and export share: the preset and its explicit overrides
    (export bakes them into the fused model)."""

    preset: Preset = typer.Option(Preset.PAPER, help=_preset_help())
    mask_threshold: int | None = typer.Option(
        None,
        min=0,
        max=254,
        help="A mask pixel whose gray value (0-255) is above this is a hole (default: the preset's).",
    )
    to_8bit: Rounding | None = typer.Option(
        None, "--to-8bit", help="How the result becomes 8 bits: round, or truncate as test.py (default: the preset's)."
    )
    edge_source: specs.EdgeSource | None = typer.Option(
        None, help="Edges for the inpaint generator: composite (the paper) or raw (test.py); default: the preset's."
    )


@dataclasses.dataclass(frozen=True)
class ModelChoice(PictureChoice):
    """The options run, serve and evaluate share (where the model comes from, how it runs, the picture):
    declared once, with the same names, defaults and help everywhere; they are the Python API's arguments.
    """

    weights: str | None = typer.Option(None, help="Weights file or bundled name ('demo'); exported once into a cache.")
    artifacts: Path | None = typer.Option(None, help="Artifacts directory from `edgeinpaint export`.")
    backend: specs.Backend = typer.Option(
        specs.Backend.AUTO, help="Inference backend (auto: the fastest that opens here, and it says which)."
    )
    precision: specs.Precision = typer.Option(specs.Precision.FP32, help="Precision to run (auto never changes it).")
    threads: int | None = typer.Option(None, min=1, help="CPU threads for the engines (default: all cores).")

    def settings(self, **more: Any) -> Any:
        """The Python API's settings for these options and ``more`` (api.settings' other arguments)."""
        from edgeinpaint.api import settings

        return settings(**dataclasses.asdict(self), **more)

    def open(self, progress: Callable[[str], None], **more: Any) -> Any:
        """The Python API's Inpainter for these options and ``more``."""
        from edgeinpaint.api import Inpainter

        return Inpainter(progress=progress, **dataclasses.asdict(self), **more)


def with_group(cls: type, param: str) -> Callable[[F], F]:
    """Give ``fn``'s ``param`` (a ``cls`` option group) to Typer as the group's options, one by one.

    Typer reads options from a function's signature only; the wrapper's signature lists the group's
    fields in ``param``'s place and builds the group from them before calling ``fn``.
    """
    import inspect

    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    group = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
             for f in dataclasses.fields(cls)]  # fmt: skip

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]
        at = [p.name for p in params].index(param)

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            return fn(**{param: cls(**{name: kwargs.pop(name) for name in fields})}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=[*params[:at], *group, *params[at + 1 :]])  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in wrapper.__signature__.parameters.values()}  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


@dataclasses.dataclass(frozen=True)
class CalibrationChoice:
    """The options export and calibrate share: the weights, the artifacts folder, the INT8 calibration data."""

    weights: str = typer.Option("demo", help="Weights file or bundled name.")
    output: Path = typer.Option(Path("artifacts"), "--output", "-o", help="Artifacts directory.")
    calibration: Path | None = typer.Option(None, help="Calibration / accuracy-check images (needed for int8).")
    calibration_masks: Path | None = typer.Option(
        None, help="Masks paired with --calibration (default: generated free-form)."
    )
    calibration_size: int = typer.Option(32, min=1, help="Number of calibration images.")
    calibration_method: CalibrationMethod = typer.Option(CalibrationMethod.PERCENTILE, help="INT8 calibration.")

    def config(self, **options: Any) -> Any:
        """The ExportConfig of these options and ``options`` (the weights resolved, calibration checked
        before any export work)."""
        from edgeinpaint.export.config import ExportConfig
        from edgeinpaint.weights.registry import resolve_weights

        if options.get("precision", specs.Precision.INT8) is specs.Precision.INT8 and self.calibration is None:
            raise EdgeInpaintError(
                f"{'--precision int8' if 'precision' in options else 'calibrate'} needs --calibration DIR: photos like "
                "the ones you will inpaint (e.g. `edgeinpaint export --precision int8 --calibration examples/images`)"
            )
        for option, path in (("--calibration", self.calibration), ("--calibration-masks", self.calibration_masks)):
            if path is not None and not path.exists():
                raise EdgeInpaintError(f"{option} {path}: not found; expected an image folder or file")
        return ExportConfig(**{**dataclasses.asdict(self), "weights": resolve_weights(self.weights)}, **options)


@dataclasses.dataclass(frozen=True)
class RayChoice:
    """run --executor ray: where the run goes and what each actor asks Ray for (executors/ray_data.py)."""

    ray_address: str | None = typer.Option(
        None, help="--executor ray: cluster to join ('auto', 'ray://head:10001'); default: RAY_ADDRESS or a local Ray."
    )
    ray_actors: int = typer.Option(1, min=1, help="--executor ray: inpaint actors (each opens the engines once).")
    ray_actor_cpus: float = typer.Option(
        0.5, min=0.01, help="--executor ray: CPUs each actor asks for (fractions keep small nodes from deadlocking)."
    )
    ray_rows_per_block: int = typer.Option(
        4, min=1, help="--executor ray: pairs per Ray Data block (per task / actor call; larger = less overhead)."
    )
    ray_actor_gpus: float = typer.Option(
        0.0, min=0.0, help="--executor ray: GPUs each actor asks for (1: one per GPU)."
    )

    def options(self) -> Any:
        from edgeinpaint.executors.ray_data import RayOptions

        return RayOptions(self.ray_address, self.ray_actors, self.ray_actor_cpus, self.ray_actor_gpus,
                          rows_per_block=self.ray_rows_per_block)  # fmt: skip


with_model_choice = with_group(ModelChoice, "model")


def say(label: str, style: str, message: object, console_: Console | None = None) -> None:
    """Print ``label`` in ``style`` and ``message`` as plain text: user strings are never markup
    and their control characters are escaped (core/text.py).

    On a terminal (or with COLUMNS set) long lines wrap at spaces, never inside a word or a path
    (rich would fold a long path mid-name); in a pipe or a log each message stays one line.
    """
    out = console_ or err_console
    text = printable(message)
    full = f"{label} {text}" if label else text
    lines = [full]
    if out.is_terminal or os.environ.get("COLUMNS"):
        lines = textwrap.wrap(
            full, width=out.width, break_long_words=False, break_on_hyphens=False, subsequent_indent="  "
        ) or [full]
    styled = Text()
    if label:
        styled.append(label, style)
        styled.append(lines[0][len(label) :])
    else:
        styled.append(lines[0])
    for line in lines[1:]:
        styled.append("\n" + line)
    out.print(styled, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _needs_extra(command: str, extra: str) -> typing.Iterator[None]:
    """An ImportError inside becomes one line: which module ``command`` needs and the extra that installs it."""
    try:
        yield
    except ImportError as exc:
        raise EdgeInpaintError(
            f"{command} needs {exc.name}: pip install 'edgeinpaint[{extra}]' (in a clone: pip install -e '.[{extra}]')"
        ) from None


def _note(message: str) -> None:
    """Progress lines of library calls (file names inside: plain text)."""
    say("", "", message)


_dim = Console(stderr=True, style="dim")


def user_errors(fn: F) -> F:
    """Turn EdgeInpaintError into 'error: …' on stderr and exit code 1.

    Anything else (an EngineFailure, a bug) keeps its traceback: it is a bug report, not a
    user error, and hiding it would hide what to report.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EdgeInpaintError as exc:
            say("error:", "bold red", exc)
            raise typer.Exit(1) from None
        except EngineFailure:
            say("internal error:", "bold red", "an engine failed while running; please report this with the traceback")
            raise

    return wrapper  # type: ignore[return-value]


@app.command()
def env() -> None:
    """Print versions, the GPU and driver, and ONNX Runtime's providers (doctor's report, without the backends)."""
    from edgeinpaint.diagnostics.doctor import Report, environment, providers

    report = Report()
    environment(report)
    providers(report)
    _print_sections(report)
    for problem in report.problems:  # e.g. ONNX Runtime missing, or two of its builds installed together
        say("fix:", "yellow", problem)


def _print_sections(report: Any) -> None:
    """A doctor report's sections, one table each (values folded, never truncated)."""
    for section, rows in report.sections.items():
        table = Table(title=section, show_header=False, title_justify="left")
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in rows:
            table.add_row(Text(printable(label)), Text(printable(value)))
        console.print(table)


@app.command()
@user_errors
def doctor(
    selftest: bool = typer.Option(
        False, help="Export the demo weights in every precision and check every available backend against CPU FP32."
    ),
    keep: Path | None = typer.Option(None, help="With --selftest: export into this folder (reused next time)."),
) -> None:
    """What this machine can run (driver, CUDA, TensorRT, ONNX Runtime providers that really load) and why not."""
    from edgeinpaint.diagnostics.doctor import diagnose
    from edgeinpaint.diagnostics.doctor import selftest as run_selftest

    checks: list[Any] = []
    if selftest:
        report, checks = run_selftest(progress=_note, keep=keep)
    else:
        report = diagnose()
    _print_sections(report)
    if checks:
        # Short cells that never wrap; the details (reasons, transfer counts) follow as lines, one per
        # distinct text, so at 80 columns they wrap at words instead of one word per table row.
        table = Table(title="selftest (pictures vs ONNX Runtime CPU FP32)", title_justify="left")
        for col in ("backend", "precision", "PSNR dB", "floor dB", "img/s", "status"):
            table.add_column(col, no_wrap=True)
        details: dict[str, list[str]] = {}
        for c in checks:
            cells = (c.backend, c.precision, c.psnr_db, c.floor_db, c.images_per_s, c.status)
            table.add_row(*(Text(printable("" if v is None else v)) for v in cells))
            detail = c.detail or (", ".join(f"{k} {v}" for k, v in c.transfers.items()) if c.transfers else "")
            if detail:
                details.setdefault(detail, []).append(f"{c.backend} {c.precision}")
        console.print(table)
        for detail, which in details.items():
            say(f"{', '.join(which)}:", "dim", detail, console)
        times = [c.composite_ms for c in checks if c.composite_ms is not None]
        if times:  # img/s counts the networks; the composite runs on the host, timed apart
            say("composite:", "dim", f"{min(times):.1f}-{max(times):.1f} ms per image on the host", console)
    for problem in report.problems:
        say("fix:", "yellow", problem)
    if not report.ok:
        say("selftest failed:", "bold red", "a backend's pictures are below the precision floor (table above)")
        raise typer.Exit(1)


@weights_app.command("import")
@user_errors
def weights_import(
    edgeconnect: Path = typer.Option(
        ...,
        "--edgeconnect",
        help="Official checkpoint folder (EdgeModel_gen.pth, InpaintingModel_gen.pth, config.yml).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Destination .safetensors file."),
    sigma: float | None = typer.Option(None, help="Canny sigma override (default: SIGMA from config.yml)."),
) -> None:
    """Import official EdgeConnect checkpoints (weights-only load, spectral norm folded and verified)."""
    from edgeinpaint.weights.edgeconnect import import_edgeconnect
    from edgeinpaint.weights.format import save_weights

    weights = import_edgeconnect(edgeconnect, sigma=sigma)
    digest = save_weights(weights, output)
    arch = weights.architecture
    say(
        "wrote",
        "",
        f"{output}: sha256 {digest}, {arch.base_channels} base channels, {arch.residual_blocks} residual blocks, "
        f"Canny sigma {weights.canny.sigma}, blend {weights.blend.value}, "
        f"spectral-norm fold error {weights.provenance['fold_max_abs_diff']:.2g}",
        console,
    )


@weights_app.command("info")
@user_errors
def weights_info(
    file: Path = typer.Argument(..., help="Weights file, or a bundled name such as 'demo'."),
    provenance: bool = typer.Option(False, help="Print the whole provenance record (training config, source files)."),
) -> None:
    """Show a weights file's metadata, parameter counts and sha256."""
    from edgeinpaint.weights.format import load_weights
    from edgeinpaint.weights.registry import resolve_weights

    weights = load_weights(resolve_weights(file))
    arch = weights.architecture
    rows = [
        ("file", str(weights.path)),
        ("sha256", str(weights.sha256)),
        ("architecture", f"{arch.base_channels} base channels, {arch.residual_blocks} residual blocks"),
        ("canny", f"sigma {weights.canny.sigma}, low {weights.canny.low}, high {weights.canny.high}"),
        ("blend", weights.blend.value),
    ]
    for net, state in sorted(weights.tensors.items()):
        rows.append((net, f"{sum(int(v.size) for v in state.values()):,} parameters, {len(state)} tensors"))
    summary = {k: v for k, v in weights.provenance.items() if not isinstance(v, (dict, list))}
    rows.append(("provenance", ", ".join(f"{k}={v}" for k, v in summary.items()) or "-"))
    for label, value in rows:  # one line each, folded, never truncated (sha256 included)
        say(f"{label}:", "bold", value, console)
    if provenance:
        # json.dumps escapes every control character inside strings (and, with ensure_ascii, every
        # non-ASCII one), so the JSON is printed as it is: escaping it again would show its newlines as \n.
        console.print(Text(json.dumps(weights.provenance, indent=1, default=str)), soft_wrap=True)
    elif len(summary) < len(weights.provenance):
        say("", "dim", "(nested provenance fields: --provenance)", console)


@app.command()
@user_errors
@with_group(CalibrationChoice, "calibration")
@with_group(PictureChoice, "picture")
def export(
    calibration: CalibrationChoice = CalibrationChoice(),  # its options, in this place (with_group)
    precision: specs.Precision = typer.Option(
        specs.Precision.FP32, help="fp32, fp16 or int8 (FP32 is always exported too)."
    ),
    fused_io: FusedIO = typer.Option(FusedIO.UINT8, help="Fused model I/O: uint8 (NHWC) or float (NCHW)."),
    picture: PictureChoice = PictureChoice(),  # its options, baked into the fused model (with_group)
    engine: bool | None = typer.Option(
        None, "--engine/--no-engine", help="Build TensorRT engines (default: when TensorRT and a GPU are present)."
    ),
    shapes: str | None = typer.Option(
        None, help="TensorRT profile (default batch=1:1:4,height=16:512:2048,width=16:512:2048)."
    ),
    workspace: float = typer.Option(4.0, help="TensorRT workspace limit in GiB."),
    optimization_level: int = typer.Option(3, min=0, max=5, help="TensorRT builder optimization level."),
    opset: int = typer.Option(specs.OPSET, help="ONNX opset to pin."),
    triton: Path | None = typer.Option(
        None, help="Also write a Triton Inference Server model repository here (ensemble: encoded files in and out)."
    ),
    triton_backend: TritonBackend = typer.Option(
        TritonBackend.ONNXRUNTIME,
        help="Triton backend for the networks: onnxruntime, tensorrt (plans from --engine), both, or python "
        "(ONNX Runtime inside python models: servers without the onnxruntime backend, e.g. PyTriton's).",
    ),
    max_batch: int = typer.Option(4, min=1, help="--triton: max_batch_size of every model."),
    triton_instances: int = typer.Option(1, min=1, help="--triton: instances per model (instance_group count)."),
    triton_ort_tensorrt: bool = typer.Option(
        False, help="--triton: ask the onnxruntime backend for its TensorRT accelerator at --precision."
    ),
) -> None:
    """Export ONNX (FP32 + the requested precision), the exact Canny graph, the fused model and engines."""
    from edgeinpaint.core.device import current_device
    from edgeinpaint.core.params import FusedRecipe
    from edgeinpaint.core.sidecar import parse_shapes
    from edgeinpaint.export.artifacts import export_artifacts

    recipe = picture_recipe(picture.preset, picture.mask_threshold, None, picture.edge_source, None, picture.to_8bit)
    parse_shapes(shapes)  # fail on a bad spec before any work
    if engine:
        current_device()  # clear error now when TensorRT or the GPU is missing
    config = calibration.config(
        opset=opset,
        precision=precision,
        fused_uint8=fused_io is FusedIO.UINT8,
        fused_recipe=FusedRecipe(recipe.edge_source, recipe.rounding, recipe.mask_threshold),
        engine=engine,
        shapes=shapes,
        workspace_gib=workspace,
        optimization_level=optimization_level,
    )
    manifest = export_artifacts(config, progress=_note)
    output = calibration.output
    table = Table(title=Text(printable(f"{output}/manifest.json")))
    for col in ("file", "role", "precision"):
        table.add_column(col, no_wrap=True)  # never split a file name (the accuracy column wraps at words)
    table.add_column("accuracy (full figures in the manifest)")
    for f in manifest.files:
        table.add_row(f.file, f.role, f.precision, _headline(f.accuracy))
    console.print(table)
    if triton is not None:
        from edgeinpaint.serving.triton.repository import TritonOptions, write_repository

        options = TritonOptions(triton_backend, precision, max_batch, triton_instances, triton_ort_tensorrt)
        models = write_repository(output, triton, options)
        say(
            "triton:", "green", f"{triton}: {', '.join(models)} (every config.pbtxt checked against its model)", console
        )


@app.command()
@user_errors
@with_group(CalibrationChoice, "calibration")
def calibrate(calibration: CalibrationChoice = CalibrationChoice()) -> None:  # its options (with_group)
    """Calibrate INT8 ranges only; cached by data hash and reused by `export --precision int8`."""
    from edgeinpaint.export.artifacts import export_artifacts
    from edgeinpaint.export.ladder import calibrate_only
    from edgeinpaint.weights.format import load_weights

    config = calibration.config(engine=False)
    manifest = export_artifacts(config, progress=_note)  # FP32 (incremental)
    for cache in calibrate_only(config, load_weights(config.weights), config.output, manifest, _note):
        say("calibration cache:", "", cache, console)


@app.command()
@user_errors
@with_model_choice
@with_group(RayChoice, "ray")
def run(
    input: str | None = typer.Option(
        None,
        "--input",
        "-i",
        help="Image file or directory (recursive; the tree is mirrored). With --executor ray also a URI "
        "(s3://bucket/prefix, gs://...).",
    ),
    mask: str | None = typer.Option(
        None,
        "--mask",
        "-m",
        help="Mask file (for every image) or directory paired by stem; the word 'alpha' takes the hole from "
        "each image's alpha channel (alpha < 128 = hole; a folder named alpha: pass ./alpha).",
    ),
    output: str = typer.Option(
        "outputs", "--output", "-o", help="Output directory (not an input or mask folder); a URI with --executor ray."
    ),
    model: ModelChoice = ModelChoice(),  # its options, in this place (with_model_choice)
    canny: specs.CannyVariant | None = typer.Option(
        None,
        help="Canny stage: fast (float32 graph, 1.0-1.6x skimage's speed, F1 0.99999 vs skimage), exact "
        "(float64 graph, edges identical to skimage), tensorrt (the TensorRT-parsable float32 graph) "
        "or reference (skimage); default: the preset's.",
    ),
    batch_size: int = typer.Option(1, min=1, help="Images of one padded size per engine call."),
    workers: int = typer.Option(
        2, min=1, help="Reader processes (writers: half as many) of the shared-memory pipeline."
    ),
    in_process: bool | None = typer.Option(
        None,
        "--in-process/--pipeline",
        help="One process, or the shared-memory pipeline (identical outputs). Default: in-process for small "
        "jobs, where starting workers costs more than it saves, the pipeline above; the run says which.",
    ),
    blend: BlendChoice | None = typer.Option(
        None,
        help="Composite: paste (the paper), poisson, or auto (the weights' choice; default unless the preset "
        "sets one).",
    ),
    hd_strategy: HDStrategy = typer.Option(
        HDStrategy.CROP, help="Above --hd-trigger: crop (around holes), resize, or original."
    ),
    hd_trigger: int = typer.Option(1024, min=16, help="Longer side (px) above which --hd-strategy applies."),
    resize_limit: int = typer.Option(1024, min=16, help="Longer side for --hd-strategy resize."),
    strict: bool = typer.Option(False, help="A mask of another size is an error (default: resized, with a warning)."),
    format: str | None = typer.Option(
        None, "--format", help="Output format (png, jpg, webp, ...); default: the input's."
    ),
    quality: int = typer.Option(95, min=1, max=100, help="JPEG/WebP quality."),
    cuda_graph: bool = typer.Option(
        False, help="tensorrt / torch-cuda: capture and replay CUDA graphs per image size."
    ),
    fused: bool = typer.Option(
        False,
        help="Run the fused single-file model (Canny, both generators and the composite in one graph: on a GPU "
        "one upload and one download per batch; its Canny is the float32 graph).",
    ),
    png_compression: int = typer.Option(
        1, min=0, max=9, help="PNG zlib level (1: fast; 6: PIL's default, ~10% smaller)."
    ),
    max_memory: float = typer.Option(
        2.0,
        min=0.05,
        help="GiB of shared memory the pipeline's rings may use; larger images run in the engine process.",
    ),
    skip_existing: bool = typer.Option(False, help="Skip images whose output exists (resume a killed run)."),
    report: Path | None = typer.Option(
        None, help="Write a JSON report (done, skipped, failed with reasons, warnings)."
    ),
    executor: Executor = typer.Option(
        Executor.LOCAL, help="local: this machine; ray: Ray Data actors on a Ray cluster (or a local Ray)."
    ),
    pairs: str | None = typer.Option(
        None,
        help="--executor ray: CSV/Parquet file (path or URI) with columns image, mask, output, instead of "
        "--input/--mask/--output listings (for archives too large to list).",
    ),
    ray: RayChoice = RayChoice(),  # its options, in this place (with_group)
) -> None:
    """Inpaint images with masks; finishes every good file and exits 1 if any failed."""
    from edgeinpaint.runtime.batch import RunConfig
    from edgeinpaint.runtime.pipeline import WriteOptions

    if mask is None and not (pairs and executor is Executor.RAY):
        raise EdgeInpaintError("--mask is required: a mask file, a folder of masks, or the word 'alpha'")
    if input is None and pairs is None:
        raise EdgeInpaintError("--input is required (or, with --executor ray, --pairs FILE)")
    chosen = model.settings(
        canny=canny, blend=blend, fused=fused, cuda_graph=cuda_graph, hd_strategy=hd_strategy, hd_trigger=hd_trigger,
        resize_limit=resize_limit, strict=strict, alpha_mask=mask == "alpha", max_pixels=None,
    )  # fmt: skip
    config = RunConfig(
        input=input,  # strings: run_batch refuses URIs by their scheme, which Path() would mangle
        mask=None if mask == "alpha" else mask,
        output=output,
        pairs=pairs,
        output_suffix=_output_suffix(format),
        model=chosen,
        write=WriteOptions(quality=quality, skip_existing=skip_existing, png_compression=png_compression),
        in_process=in_process,
        workers=workers,
        batch_size=batch_size,
        max_memory=int(max_memory * (1 << 30)),
    )
    summary = _run_with_progress(config, ray.options() if executor is Executor.RAY else None)
    _finish_run(summary, output, report, {"preset": model.preset.value, "picture": chosen.recipe.to_json()})


def _output_suffix(format: str | None) -> str | None:
    """``--format`` as a suffix (".png"), refused unless it is one the README lists."""
    from edgeinpaint.core.images import IMAGE_SUFFIXES

    if format is None:
        return None
    suffix = "." + format.lower().lstrip(".")
    if suffix not in IMAGE_SUFFIXES:
        raise EdgeInpaintError(
            f"--format {format!r}: expected one of {', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}"
        )
    return suffix


def _run_with_progress(config: Any, ray_options: Any) -> Any:
    """Run ``config`` locally (or on Ray with ``ray_options``) behind a progress bar; the run's summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from edgeinpaint.runtime.batch import RunEvents, run_batch

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console) as progress:
        task = progress.add_task("inpainting", total=None)
        failures: list[str] = []
        clock: list[float] = []

        def started(total: int, mode: str) -> None:
            # The mode on its own line: a long description would wrap the bar at 80 columns.
            say("running:", "dim", mode, progress.console)
            progress.update(task, total=total)
            clock[:] = [time.perf_counter()]  # the rate counts from here

        def done(_name: str, error: str | None) -> None:
            # Failures are listed once, at the end; here only counted.
            failures.extend([error] if error else [])
            clock.append(time.perf_counter())
            # Images per second since the run started (not between the first and the last result: results
            # that arrive in a burst, as Ray's blocks do, made that 56,031.8/s), once a second has passed.
            elapsed = clock[-1] - clock[0]
            rate = (len(clock) - 1) / elapsed if elapsed >= 1.0 else None
            failed = f", {len(failures)} failed" if failures else ""
            progress.update(task, advance=1, rate=rate, description="inpainting" + failed)

        events = RunEvents(started, done, lambda text: say("", "", text, progress.console))
        if ray_options is None:
            return run_batch(config, events).summary
        from edgeinpaint.executors.ray_data import run_on_ray

        outcome, figures = run_on_ray(config, ray_options, events)
    say("", "dim", figures.describe(len(outcome.summary.done)), console)
    return outcome.summary


def _finish_run(summary: Any, output: str, report: Path | None, meta: dict[str, Any]) -> None:
    """Warnings, the counts, the report file and every failure; exit 1 if a file (or the report) failed."""
    from edgeinpaint.runtime.batch import write_report

    for _rel, text in summary.warnings:
        say("warning:", "yellow", text)
    counts = f"done {len(summary.done)}, skipped {len(summary.skipped)}, failed {len(summary.failed)}"
    say("", "", f"{counts} -> {output}", console)
    report_failed = False
    if report is not None:
        try:
            write_report(summary, report, meta)
        except OSError as exc:
            say("error:", "bold red", f"{report}: cannot write the report ({exc.strerror or exc})")
            report_failed = True
    if summary.failed:
        say("failed files:", "bold red", "")
        for rel, reason in summary.failed:
            say("  ", "", f"{rel}: {reason}")
    if summary.failed or report_failed:
        raise typer.Exit(1)


def _headline(accuracy: dict[str, Any]) -> str:
    """The one or two figures that matter per artifact, short (the manifest keeps everything)."""
    picks = [
        ("psnr_vs_fp32", "{:.1f} dB vs FP32"),
        ("psnr_vs_three_stage", "{:.1f} dB vs 3-stage"),
        ("max_abs_vs_torch", "max {:.1e} vs torch"),
        ("f1_vs_skimage", "F1 {:.5f} vs skimage"),
    ]
    return ", ".join(fmt.format(accuracy[k]) for k, fmt in picks if isinstance(accuracy.get(k), (int, float)))


class RateColumn(ProgressColumn):
    """Images per second of the images actually processed (skipped ones are not counted)."""

    def render(self, task: Task) -> Text:
        speed = task.fields.get("rate")
        return Text(f"{speed:.1f}/s" if speed else "--/s", style="progress.data.speed")


@app.command()
@user_errors
@with_model_choice
def serve(
    model: ModelChoice = ModelChoice(),  # its options, in this place (with_model_choice)
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default; 0.0.0.0 exposes it)."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port."),
    max_batch: int = typer.Option(4, min=1, help="Requests of one padded size batched per engine call (1: off)."),
    max_delay_ms: float = typer.Option(5.0, min=0.0, help="How long the first request of a batch waits for company."),
    queue_size: int = typer.Option(64, min=1, help="Requests waiting at most; beyond, 503 with Retry-After."),
    max_upload_mb: float = typer.Option(32.0, min=0.001, help="Largest upload per file (MB)."),
    max_pixels: int = typer.Option(16_000_000, min=144, help="Largest image (pixels)."),
    api_key: str | None = typer.Option(None, envvar="EDGEINPAINT_API_KEY", help="Require header X-API-Key."),
    access_log: bool = typer.Option(True, help="One line per request on stderr (client, method, path, status)."),
    max_connections: int | None = typer.Option(
        None, min=1, help="Connections served at once, 503 beyond (default: 64 below the file-descriptor limit)."
    ),
    header_timeout: float = typer.Option(10.0, min=0.1, help="Seconds a client has to send a request's head."),
    body_timeout: float = typer.Option(30.0, min=0.1, help="Seconds a request body may stall between chunks (408)."),
    max_inflight_mb: float | None = typer.Option(
        None, min=1.0, help="MB of request bodies received at once, 503 beyond (default: 4 requests' worth)."
    ),
    allowed_host: list[str] | None = typer.Option(
        None,
        help="Host names the server answers to besides loopback and --host (repeatable; the name clients or a "
        "proxy use). Bound to 0.0.0.0 without any: every name.",
    ),
    ray: bool = typer.Option(False, "--ray", help="Run as Ray Serve replicas (each with its own engines)."),
    replicas: int = typer.Option(1, min=1, help="--ray: replicas."),
    autoscale: str | None = typer.Option(None, help="--ray: MIN:MAX replicas, scaled by load (instead of --replicas)."),
    ray_address: str | None = typer.Option(None, help="--ray: an existing cluster (default: start a local one)."),
    cpus_per_replica: float = typer.Option(0.5, min=0.0, help="--ray: CPUs each replica asks for."),
    gpus_per_replica: float = typer.Option(0.0, min=0.0, help="--ray: GPUs each replica asks for."),
) -> None:
    """Serve the HTTP API (POST /v1/inpaint, /healthz, /v1/info, /metrics) and a page to paint a hole (/)."""
    with _needs_extra("serve", "serve"):
        import uvicorn  # noqa: F401 - a missing extra is one line here, not an ImportError later

        from edgeinpaint.serving.app import ServeConfig, create_app
    from edgeinpaint.serving.guard import host_names

    chosen = model.settings()

    config = ServeConfig(
        hosts=host_names(host, allowed_host or []),
        body_timeout_s=body_timeout,
        max_inflight_bytes=None if max_inflight_mb is None else int(max_inflight_mb * (1 << 20)),
        mask_threshold=chosen.recipe.mask_threshold,
        max_batch=max_batch,
        max_delay_ms=max_delay_ms,
        queue_size=queue_size,
        max_upload_bytes=int(max_upload_mb * (1 << 20)),
        max_pixels=max_pixels,
        api_key=api_key,
    )
    if ray:
        _serve_ray(chosen, config, host, port, replicas, autoscale, ray_address, cpus_per_replica, gpus_per_replica)
        return
    # Bind first: a busy port is one line of error before any engine opens, never "serving http://..."
    # followed by uvicorn's bind failure.
    from edgeinpaint.serving import server

    try:
        sock = server.listen(host, port)
    except OSError as exc:
        raise EdgeInpaintError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port"
        ) from None
    try:
        inpainter = model.open(_note)
    except BaseException:
        sock.close()
        raise
    # Names, not paths: /v1/info must not tell a client where the models live on the server.
    info = {"weights": Path(model.weights).name if model.weights else None,
            "artifacts": model.artifacts.name if model.artifacts else None,
            "preset": model.preset.value, "picture": chosen.recipe.to_json()}  # fmt: skip
    app_ = create_app(inpainter.recipe, config, info=info)
    bound = sock.getsockname()[1]
    say("serving", "bold", f"http://{host}:{bound}/ ({inpainter.backend} {model.precision.value})")
    with inpainter:
        try:
            server.serve(app_, sock, access_log, header_timeout, max_connections)
        finally:
            sock.close()


def _serve_ray(
    chosen: Any,
    config: Any,
    host: str,
    port: int,
    replicas: int,
    autoscale: str | None,
    address: str | None,
    cpus: float,
    gpus: float,
) -> None:
    """Deploy on Ray Serve and wait for Ctrl-C."""
    with _needs_extra("serve --ray", "ray"):
        from ray import serve as ray_serve

        from edgeinpaint.serving.ray_serve import RayOptions, run_ray
    bounds = None
    if autoscale is not None:
        try:
            lo, hi = (int(v) for v in autoscale.split(":"))
        except ValueError:
            raise EdgeInpaintError(f"--autoscale {autoscale!r}: expected MIN:MAX, e.g. 1:4") from None
        if not 0 <= lo <= hi or hi < 1:
            raise EdgeInpaintError(f"--autoscale {autoscale!r}: expected 0 <= MIN <= MAX, MAX >= 1")
        bounds = (lo, hi)
    options = RayOptions(replicas, bounds, address, host, port, cpus, gpus)
    import signal

    import ray as ray_lib

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a service manager) stops like Ctrl-C: Serve, then Ray, shut down

    previous = signal.getsignal(signal.SIGTERM)
    started = not ray_lib.is_initialized()
    # Ray's core worker installs a C-level SIGTERM handler at ray.init that aborts the process ("*** SIGTERM
    # received ***", rc 134). SIGTERM is blocked while Ray starts (its threads inherit the block), then ours
    # replaces Ray's and the signal is unblocked: one that arrived meanwhile is delivered to ours.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        try:
            run_ray(chosen, config, options)
            signal.signal(signal.SIGTERM, stop)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        say("serving", "bold", f"http://{host}:{port}/ on Ray Serve ({autoscale or replicas} replicas); Ctrl-C stops")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("", "", "stopping Ray Serve", console)
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        with contextlib.suppress(Exception):
            ray_serve.shutdown()
        if started:  # the local cluster this command started goes with it (its agents included)
            with contextlib.suppress(Exception):
                ray_lib.shutdown()


@app.command("canny")
@user_errors
def canny_command(
    input: Path = typer.Option(..., "--input", "-i", help="Image file or directory (recursive)."),
    mask: Path | None = typer.Option(
        None,
        "--mask",
        "-m",
        help="Hole mask file or directory (white = hole; edges only in the known region).",
    ),
    output: Path = typer.Option(Path("edges"), "--output", "-o", help="Output directory for binary PNG edge maps."),
    sigma: float = typer.Option(2.0, help="Gaussian sigma."),
    low: float = typer.Option(0.1, help="Low hysteresis threshold (gradient magnitude of a [0,1] image)."),
    high: float = typer.Option(0.2, help="High hysteresis threshold."),
    variant: specs.CannyVariant = typer.Option(
        specs.CannyVariant.EXACT,
        "--canny",
        help="exact (float64 graph, identical to skimage), fast (float32 graph), tensorrt (TensorRT's graph) "
        "or reference (skimage itself).",
    ),
) -> None:
    """Write Canny edge maps (255 = edge) exactly as EdgeConnect computes them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from edgeinpaint.canny.run import write_edge_maps
    from edgeinpaint.canny.stage import CannySpec, make_canny
    from edgeinpaint.core.errors import WeightsError
    from edgeinpaint.core.jobs import discover_images, plan_run
    from edgeinpaint.core.params import CannyParams

    try:
        params = CannyParams(sigma, low, high).check("--sigma/--low/--high")
    except WeightsError as exc:
        raise EdgeInpaintError(str(exc)) from None
    fn = make_canny(CannySpec(variant, params))
    jobs: list[tuple[Path, Path | None, Path]]
    if mask is None:
        base, images = discover_images(input)
        jobs = [(p, None, output / p.relative_to(base).with_suffix(".png")) for p in images]
    else:
        jobs = [(j.image, j.mask, j.output) for j in plan_run(input, mask, output, output_suffix=".png").jobs]
    with Progress(TextColumn("[bold]canny"), BarColumn(), MofNCompleteColumn(), console=err_console) as progress:
        task = progress.add_task("canny", total=len(jobs))
        done, failed = write_edge_maps(fn, jobs, on_done=lambda _e: progress.advance(task))
    say("", "", f"done {done}, failed {len(failed)} -> {output}", console)
    for name, reason in failed:
        say("  ", "", f"{name}: {reason}")
    if failed:
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": False})
@user_errors
def train(
    stage: Stage | None = typer.Option(None, help="Training stage (the paper's: edge, inpaint, edge-inpaint, joint)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with TrainConfig fields."),
    data: list[str] | None = typer.Option(None, help="Image directory or .flist (repeatable)."),
    output: str | None = typer.Option(None, "--output", "-o", help="Run directory (checkpoints, logs, samples)."),
    iterations: int | None = typer.Option(None, help="Stop at this iteration."),
    set_: list[str] | None = typer.Option(
        None,
        "--set",
        help="Override any config field: key=value (repeatable), e.g. --set val_data=DIR --set size=128. "
        "The fields and their defaults: `edgeinpaint train --options`.",
    ),
    options: bool = typer.Option(False, "--options", help="List every config field with its default and exit."),
) -> None:
    """Train EdgeConnect (resumes from OUTPUT/last.pt when present; torchrun for multi-GPU).

    configs/demo.toml is the small CPU recipe of the bundled demo weights; without --config the
    paper-size model (64 channels, 8 residual blocks) is trained. From a clone: `make train-demo`.
    """
    if options:
        from edgeinpaint.trainer.config import option_help

        table = Table(title="train options (TOML keys, --set key=value)", title_justify="left")
        table.add_column("field", no_wrap=True)
        table.add_column("default", overflow="fold")
        table.add_column("what it does")
        for name, default, text in option_help():
            table.add_row(name, Text(default), Text(text))
        console.print(table)
        raise typer.Exit(0)
    if stage is None:
        raise EdgeInpaintError("--stage is required: edge, inpaint, edge-inpaint or joint")
    from edgeinpaint.core.errors import require_torch

    require_torch()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from edgeinpaint.trainer.config import load_config
    from edgeinpaint.trainer.loop import train as run_training

    overrides: dict[str, Any] = {"stage": stage.value, "output": output, "iterations": iterations}
    if data:
        overrides["data"] = data
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise EdgeInpaintError(f"--set {item!r}: expected key=value")
        overrides[key.strip()] = value.strip()
    cfg = load_config(config, overrides)
    if config is None:
        say(
            "note:",
            "yellow",
            f"no --config: training the paper-size model ({cfg.base_channels} channels, {cfg.residual_blocks} "
            "residual blocks; hours per epoch on a CPU); -c configs/demo.toml is the small CPU recipe",
        )
    rank0 = int(os.environ.get("RANK", "0")) == 0
    with Progress(
        TextColumn(f"[bold]train {cfg.stage}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not rank0,
    ) as progress:
        task = progress.add_task("train", total=cfg.iterations, info="")

        def on_step(it: int, losses: dict[str, float], rate: float) -> None:
            info = f"{rate:.2f} it/s " + " ".join(f"{k} {v:.3f}" for k, v in losses.items())
            progress.update(task, completed=it, info=info)

        out = run_training(cfg, echo=lambda m: say("", "", m, progress.console), progress=on_step)
    say("training finished:", "", f"{out}/weights.safetensors", console)


@app.command()
@user_errors
@with_model_choice
def evaluate(
    input: Path = typer.Option(..., "--input", "-i", help="Ground-truth images (file or directory)."),
    mask: Path = typer.Option(..., "--mask", "-m", help="Hole masks (file or directory paired by stem)."),
    model: ModelChoice = ModelChoice(),  # its options, in this place (with_model_choice)
    baseline: list[Baseline] | None = typer.Option(
        None, help="Baseline(s) in the same run: telea, ns (OpenCV), harmonic (Poisson composite of a flat output)."
    ),
    report: Path | None = typer.Option(None, help="Write results (.json with per-image rows, or .csv summary)."),
    blend: BlendChoice | None = typer.Option(
        None,
        help="Composite: paste (the paper), poisson (gradient-domain), or auto (the weights' choice; default unless "
        "the preset sets one).",
    ),
    lpips_weights: Path | None = typer.Option(
        None, help="torchvision AlexNet state dict (alexnet-owt-7be5be79.pth) for LPIPS; never downloaded."
    ),
    fid_weights: Path | None = typer.Option(
        None, help="TorchScript Inception (inception-2015-12-05.pt, StyleGAN2-ADA/clean-fid) for FID; never downloaded."
    ),
) -> None:
    """PSNR / SSIM / L1 of the composite, overall and by hole-ratio bin, against OpenCV baselines."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from edgeinpaint.core.jobs import pair_images
    from edgeinpaint.core.stages import as_uint8
    from edgeinpaint.runtime.loading import load_job
    from edgeinpaint.trainer.metrics import METRIC_DEFINITIONS, evaluate_methods, harmonic_inpaint, opencv_inpaint

    if report is not None and report.suffix.lower() not in (".json", ".csv"):  # before any work
        raise EdgeInpaintError(f"--report {report}: expected a .json (per-image rows) or .csv (summary) file")
    chosen = model.settings(blend=blend, max_pixels=None)
    pairs, failed = [], []
    for job in pair_images(input, mask):
        try:  # the same loading as `run`; a bad pair is reported and the rest evaluated
            loaded = load_job(job, chosen.load)
        except EdgeInpaintError as exc:
            failed.append((job.relative, str(exc)))
            continue
        pairs.append((job.relative, as_uint8(loaded.decoded.rgb), loaded.hole))
    if not pairs:
        raise EdgeInpaintError(f"{input}: no image/mask pair could be read ({len(failed)} failed)")
    inpainter = model.open(_note, blend=blend)
    methods: dict[str, Callable[..., Any]] = {"edgeinpaint": inpainter.recipe}
    for b in baseline or []:
        methods["harmonic" if b is Baseline.HARMONIC else f"opencv-{b.value}"] = (
            harmonic_inpaint() if b is Baseline.HARMONIC else opencv_inpaint(b.value)
        )
    lpips = features = None
    if lpips_weights is not None:
        from edgeinpaint.trainer.feature_metrics import Lpips

        lpips = Lpips(lpips_weights)
    if fid_weights is not None:
        from edgeinpaint.trainer.feature_metrics import InceptionFeatures

        features = InceptionFeatures(fid_weights)
    if lpips is None or features is None:
        missing = [n for n, w in (("LPIPS", lpips), ("FID", features)) if w is None]
        err_console.print(f"[dim]{' and '.join(missing)} off: pass --lpips-weights / --fid-weights (local files)[/]")
    with Progress(TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(), console=err_console) as progress:
        task = progress.add_task("eval", total=len(pairs))
        ev = evaluate_methods(methods, pairs, on_image=lambda: progress.advance(task), lpips=lpips, features=features)
    summary = ev.summary()
    columns = [c for c in ("method", "bin", "n", "psnr", "ssim", "l1", "hole_l1", "lpips", "fid") if c in summary[0]]
    table = Table(title=f"{len(pairs)} images")
    for col in columns:
        table.add_column(col, justify="right" if col not in ("method", "bin") else "left")
    for row in summary:
        table.add_row(*(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns))
    console.print(table)
    for key, text in METRIC_DEFINITIONS.items():
        if key in columns:
            console.print(f"[dim]{key}: {text}[/]")
    if report is not None:
        ev.write(report)
        say("", "", f"wrote {report}", console)
    inpainter.close()
    for rel, reason in failed:
        say("skipped:", "yellow", f"{rel}: {reason}")
    if failed:
        raise typer.Exit(1)


@app.command()
@user_errors
def bench(
    artifacts: Path | None = typer.Option(None, help="Artifacts directory (default: export --weights into the cache)."),
    weights: str | None = typer.Option(None, help="Weights file or bundled name (also the PyTorch baseline)."),
    backend: list[specs.Backend] | None = typer.Option(
        None, help="Backends to measure (repeatable; default onnxruntime)."
    ),
    precision: str = typer.Option("fp32", help="Comma list: fp32,fp16,int8."),
    batch: str = typer.Option("1", help="Comma list of batch sizes."),
    size: str = typer.Option("256", help="Comma list of square sizes (multiples of 4)."),
    stages: bool = typer.Option(False, help="Also time Canny, each generator and pre/post separately."),
    pipeline: Path | None = typer.Option(
        None, help="Also time `run` end to end on DIR (DIR/images + DIR/masks, or images)."
    ),
    duration: float = typer.Option(3.0, help="Seconds of steady-state timing per configuration."),
    iterations: int | None = typer.Option(None, help="Fixed number of timed calls instead of --duration."),
    rounds: int = typer.Option(
        3, min=1, help="Rounds per configuration, candidates in alternating order (--duration is split among them)."
    ),
    baseline: str = typer.Option("torch", help="'torch' (PyTorch eager FP32 in the same run) or 'none'."),
    threads: int | None = typer.Option(None, help="CPU threads (default: all cores)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write rows + environment as JSON."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write rows as CSV."),
    plot: Path | None = typer.Option(None, help="Write a throughput-vs-batch plot (PNG)."),
    check: list[str] | None = typer.Option(
        None, help="Fail (exit 1) unless every row meets e.g. 'throughput>=20', 'p99<=50'."
    ),
) -> None:
    """Throughput, latency percentiles, accuracy and roofline share per backend × precision × batch × size."""
    from edgeinpaint.benchmarks import report
    from edgeinpaint.benchmarks.suites import BenchConfig, run_bench
    from edgeinpaint.benchmarks.suites import check as run_checks
    from edgeinpaint.export.artifacts import cached_artifacts
    from edgeinpaint.weights.registry import resolve_weights

    # Every list and check is validated before any export or measurement.
    choices = [p.value for p in specs.Precision]
    precisions = tuple(p.strip() for p in precision.split(",") if p.strip())
    for p in precisions:
        if p not in choices:
            raise EdgeInpaintError(f"--precision {p!r}: expected a comma list of {', '.join(choices)}")
    try:
        batches, sizes = (tuple(int(v) for v in text.split(",")) for text in (batch, size))
    except ValueError as exc:
        raise EdgeInpaintError(f"bad list option ({exc}); use comma-separated integers") from None
    for s in sizes:
        if s % 4 or s < specs.MIN_SIDE:
            raise EdgeInpaintError(f"--size {s}: expected a multiple of 4, at least {specs.MIN_SIDE}")
    failures = run_checks([], check or [])
    weights_path = resolve_weights(weights) if weights else None
    if artifacts is None:
        weights_path = weights_path or resolve_weights("demo")
        artifacts = cached_artifacts(weights_path, progress=_note)
    config = BenchConfig(
        artifacts=artifacts,
        weights=weights_path,
        backends=tuple(backend or [specs.Backend.ONNXRUNTIME]),
        precisions=precisions,
        batches=batches,
        sizes=sizes,
        stages=stages,
        pipeline=pipeline,
        duration=None if iterations else duration,
        iterations=iterations,
        baseline_torch=baseline == "torch",
        threads=threads,
        rounds=rounds,
    )
    result = run_bench(config, progress=lambda m: say("", "", m, _dim))
    title = f"edgeinpaint bench — {result.environment['cpu']} ({result.environment['cores']} cores)"
    # The compact table fits 80 columns; a console of report.WIDE columns or more gets every column
    # (--json / --csv always have everything).
    console.print(report.table(result.rows, title, console.width))
    if console.width < report.WIDE:
        for line in report.notes(result.rows):
            say("not measured:", "yellow", line, console)
    if json_out:
        report.write_json(json_out, result.rows, result.environment)
    if csv_out:
        report.write_csv(csv_out, result.rows)
    if plot:
        report.write_plot(plot, result.rows)
    failures = run_checks(result.rows, check or [])
    for f in failures:
        say("check failed:", "red", f)
    if failures:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    if importlib.util.find_spec("onnxruntime") is None and not {"env", "doctor", "--help", "--version"} & set(
        sys.argv[1:2]
    ):
        from edgeinpaint.diagnostics.doctor import FIXES

        say("error:", "bold red", f"ONNX Runtime is not installed: {FIXES['onnxruntime']}")
        sys.exit(1)
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
