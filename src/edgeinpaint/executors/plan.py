"""Which objects a cluster run reads and writes: the local run's pairing rules over any storage.

Local folders go through core/jobs.py's :func:`plan_run` itself; URIs are listed through
executors/storage.py and paired by the same helpers (hidden files, mask by stem with lossless
formats first, output names, the output-folder rule), so a run gives the same pairs wherever its
files live. A pairs file (CSV or Parquet with ``image``, ``mask``, ``output`` columns) replaces
the listing for archives too large to list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from edgeinpaint.core.errors import InputError
from edgeinpaint.core.images import IMAGE_SUFFIXES
from edgeinpaint.core.jobs import check_output_root, is_hidden, is_uri, mask_name_for, output_name, plan_run
from edgeinpaint.executors.storage import Place, file_type, list_files, place


@dataclass(frozen=True)
class Pair:
    """One image to inpaint, by URI (or absolute local path).

    Attributes:
        index: position in the plan (reports keep the plan's order). relative: the name shown in
            progress and reports (the path under the input root, or the image URI for a pairs file).
        mask: None when no mask was paired (a per-file error) or the hole is the image's alpha.
    """

    index: int
    image: str
    mask: str | None
    output: str
    relative: str


@dataclass
class PairPlan:
    """What a cluster run will do, decided on the driver before any work.

    Attributes:
        pairs: the images. hidden / excluded: as core/jobs.py's JobPlan.
    """

    pairs: list[Pair]
    hidden: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)


def plan_pairs(input_uri: str, mask_uri: str | None, output_uri: str, output_suffix: str | None) -> PairPlan:
    """Pair images with masks like ``edgeinpaint run``, for local paths or URIs (any mix).

    Args:
        input_uri: image file or folder/prefix. mask_uri: mask file (for every image), folder
            mirroring the input tree, or None (``--mask alpha``). output_uri: output folder/prefix.

    Raises:
        InputError: missing roots, no images, outputs that would replace inputs or masks.
    """
    if not any(is_uri(u) for u in (input_uri, mask_uri or "", output_uri)):
        plan = plan_run(Path(input_uri), Path(mask_uri) if mask_uri else None, Path(output_uri), output_suffix)
        pairs = [
            Pair(
                i,
                str(j.image.absolute()),
                str(j.mask.absolute()) if j.mask else None,
                str(j.output.absolute()),
                j.relative,
            )
            for i, j in enumerate(plan.jobs)
        ]
        return PairPlan(pairs, plan.hidden, plan.excluded)
    return _plan_storage(input_uri, mask_uri, output_uri, output_suffix)


def _plan_storage(input_uri: str, mask_uri: str | None, output_uri: str, output_suffix: str | None) -> PairPlan:
    src, out = place(input_uri), place(output_uri)
    same_store = src.fs.type_name == out.fs.type_name
    out_path = PurePosixPath(out.path)
    kind = file_type(src)
    if kind == "missing":
        raise InputError(f"{input_uri}: input not found; expected an image file or a folder/prefix of images")
    if kind == "file":
        base = Place(input_uri.rsplit("/", 1)[0], src.fs, str(PurePosixPath(src.path).parent))
        names = [PurePosixPath(src.path).name]
    else:
        base, names = src, list_files(src)
    # An output folder inside the input tree is never read back (an output equal to it is refused below).
    inside_input = same_store and kind == "dir" and out_path != PurePosixPath(src.path)
    images, hidden, excluded = [], [], []
    for name in names:
        rel = PurePosixPath(name)
        if rel.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        full = PurePosixPath(base.path) / rel
        if inside_input and out_path in full.parents:
            excluded.append(name)
        elif is_hidden(rel):
            hidden.append(name)
        else:
            images.append(rel)
    if not images:
        raise InputError(f"{input_uri}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    roots = [("input", PurePosixPath(src.path), kind == "dir")]
    single_mask: str | None = None
    masks: set[str] = set()
    mask_root: Place | None = None
    if mask_uri is not None:
        mask_root = place(mask_uri)
        mask_kind = file_type(mask_root)
        if mask_kind == "missing":
            raise InputError(f"{mask_uri}: mask not found; expected a mask file or a folder/prefix of masks")
        if mask_kind == "file":
            single_mask = mask_uri
        else:
            masks = set(list_files(mask_root))
        if mask_root.fs.type_name == out.fs.type_name:
            roots.append(("mask", PurePosixPath(mask_root.path), mask_kind == "dir"))
    if same_store or len(roots) > 1:
        check_output_root(out_path, roots if same_store else roots[1:], output_uri)
    pairs = []
    taken: set = set()
    for index, rel in enumerate(images):
        if mask_root is None:
            mask = None
        elif single_mask is not None:
            mask = single_mask
        else:
            found = mask_name_for(rel, lambda c: str(c) in masks)
            mask = mask_root.child(found) if found is not None else None
        out_name = output_name(rel, output_suffix, taken)
        pairs.append(Pair(index, base.child(rel), mask, out.child(out_name), str(rel)))
    _check_outputs_are_new(pairs)
    return PairPlan(pairs, hidden, excluded)


def _check_outputs_are_new(pairs: list[Pair]) -> None:
    """Refuse a plan in which an output is one of the inputs or masks (URIs compared as resolved)."""
    sources = {place(p.image).path for p in pairs} | {place(p.mask).path for p in pairs if p.mask}
    for p in pairs:
        if place(p.output).path in sources:
            raise InputError(f"{p.output}: the output would overwrite an input file; choose another output")


#: Columns of a pairs file; ``mask`` may be absent with ``--mask alpha``.
PAIR_COLUMNS = ("image", "mask", "output")


def read_pairs_file(uri: str, alpha_mask: bool) -> PairPlan:
    """The pairs of a CSV or Parquet file with columns ``image``, ``mask``, ``output`` (URIs or paths).

    Args:
        alpha_mask: holes from each image's alpha channel (the ``mask`` column is then not read).

    Raises:
        InputError: unreadable file, missing columns, empty cells where a URI is required, or an
            output equal to an input.
    """
    import pyarrow as pa

    where = place(uri)
    suffix = PurePosixPath(where.path).suffix.lower()
    try:
        if suffix == ".csv":
            import pyarrow.csv as pacsv

            with where.fs.open_input_stream(where.path) as stream:
                table = pacsv.read_csv(stream)
        elif suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            table = pq.read_table(where.path, filesystem=where.fs)
        else:
            raise InputError(f"{uri}: expected a .csv or .parquet pairs file, found {suffix or 'no suffix'!r}")
    except FileNotFoundError:
        raise InputError(f"{uri}: pairs file not found") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{uri}: cannot read the pairs file ({exc})") from None
    needed = [c for c in PAIR_COLUMNS if not (alpha_mask and c == "mask")]
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise InputError(
            f"{uri}: expected columns {', '.join(needed)}; missing {', '.join(missing)} "
            f"(found {', '.join(table.column_names) or 'none'})"
        )
    rows = table.select(needed).to_pylist()
    pairs = []
    for index, row in enumerate(rows):
        line = index + 2 if suffix == ".csv" else index  # CSV: the header is line 1
        for column in ("image", "output"):
            if not row.get(column):
                raise InputError(f"{uri}: row {line} has no {column}; every row needs image and output")
        mask = None if alpha_mask else (row.get("mask") or None)
        pairs.append(
            Pair(index, str(row["image"]), None if mask is None else str(mask), str(row["output"]), str(row["image"]))
        )
    if not pairs:
        raise InputError(f"{uri}: the pairs file has no rows")
    _check_outputs_are_new(pairs)
    return PairPlan(pairs)
