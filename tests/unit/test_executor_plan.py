"""The cluster planner pairs like the local run, over any storage (here: file:// URIs through pyarrow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.errors import InputError
from edgeinpaint.core.jobs import plan_run
from edgeinpaint.executors.plan import plan_pairs, read_pairs_file
from edgeinpaint.executors.storage import read_bytes, write_atomic

pytest.importorskip("pyarrow")


def _tree(root: Path) -> None:
    for name in ["a.png", "b.jpg", "b.png", "sub/c.webp", ".hidden.png", "notes.txt", "out/old.png"]:
        (root / "i" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "i" / name).write_bytes(b"x")
    for name in ["a.JPG", "a.png", "b.png", "sub/c.png"]:
        (root / "m" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "m" / name).write_bytes(b"x")


def test_uri_plan_pairs_exactly_like_the_local_plan(tmp_path: Path) -> None:
    _tree(tmp_path)
    local = plan_run(tmp_path / "i", tmp_path / "m", tmp_path / "i" / "out", ".png")
    uri = plan_pairs(f"file://{tmp_path}/i", f"file://{tmp_path}/m", f"file://{tmp_path}/i/out", ".png")
    assert [p.relative for p in uri.pairs] == [j.relative for j in local.jobs]
    assert [p.mask for p in uri.pairs] == [f"file://{j.mask}" if j.mask else None for j in local.jobs]
    assert [p.output for p in uri.pairs] == [f"file://{j.output}" for j in local.jobs]  # b.jpg -> b.jpg.png
    assert (uri.hidden, uri.excluded) == (local.hidden, local.excluded) == ([".hidden.png"], ["out/old.png"])


@pytest.mark.parametrize("output", ["i", "m", "m/inside"])
def test_uri_plan_refuses_outputs_over_inputs_or_masks(tmp_path: Path, output: str) -> None:
    _tree(tmp_path)
    with pytest.raises(InputError, match="choose another output folder"):
        plan_pairs(f"file://{tmp_path}/i", f"file://{tmp_path}/m", f"file://{tmp_path}/{output}", None)


def test_pairs_file_needs_its_columns_and_never_writes_over_an_input(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("image,output\na.png,o/a.png\n")
    with pytest.raises(InputError, match="expected columns image, mask, output; missing mask"):
        read_pairs_file(str(pairs), alpha_mask=False)
    assert read_pairs_file(str(pairs), alpha_mask=True).pairs[0].mask is None
    pairs.write_text("image,mask,output\na.png,m.png,a.png\n")
    with pytest.raises(InputError, match="the output would overwrite an input file"):
        read_pairs_file(str(pairs), alpha_mask=False)
    pairs.write_text("image,mask,output\n,m.png,o.png\n")
    with pytest.raises(InputError, match="row 2 has no image"):
        read_pairs_file(str(pairs), alpha_mask=False)


def test_storage_reads_name_the_uri_and_writes_leave_no_temp(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"file://{tmp_path}/nope.png: file not found"):
        read_bytes(f"file://{tmp_path}/nope.png")
    write_atomic(f"file://{tmp_path}/d/x.png", b"bytes")
    assert read_bytes(f"file://{tmp_path}/d/x.png") == b"bytes"
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["x.png"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-i", "s3://bucket/photos", "-m", "m", "-o", "o"],
            "--input s3://bucket/photos: storage URIs need --executor ray",
        ),
        (["--pairs", "p.csv", "-m", "alpha"], "--pairs needs --executor ray"),
        (["-i", "i", "-o", "o"], "--mask is required"),
    ],
)
def test_local_run_explains_what_needs_the_cluster_executor(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["run", "--weights", "demo", *args])
    assert result.exit_code == 1
    assert message in result.output.replace("\n", " ")


def test_uri_options_stay_at_the_end_of_child_uris_and_one_filesystem_serves_a_store() -> None:
    from edgeinpaint.executors.storage import place

    root = place("s3://bkt/photos?region=us-east-1&scheme=http")
    assert root.path == "bkt/photos"
    child = root.child("sub/a.png")
    assert child == "s3://bkt/photos/sub/a.png?region=us-east-1&scheme=http"
    assert place(child).path == "bkt/photos/sub/a.png" and place(child).fs is root.fs
