"""`run --executor ray`: the same bytes as a local run, from folders and from S3, with bad files and a killed actor.

Everything Ray runs inside a private network namespace (`unshare -n`, loopback only: outside one Ray
binds a non-loopback interface), and the S3 server (moto) runs there too, on 127.0.0.1. One
namespace, one Ray and one S3 server serve every scenario (ray_data_job.py); the tests below read
what each scenario did.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgeinpaint.cli import app
from tests.conftest import hole_mask, photo
from tests.integration.test_ray_serve import _private_netns_works

pytest.importorskip("ray.data")
pytest.importorskip("moto")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _private_netns_works(), reason="needs root and unshare -n for a private network namespace"),
]

NAMES = ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry"]
KILL_COUNT = 40


def _write_pairs(images: Path, masks: Path, names: list[str], size: int, seed: int = 0) -> None:
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for k, name in enumerate(names):
        stem = f"{k:02d}-{name}"
        target = images / ("sub" if k % 3 == 2 else "") / f"{stem}.png"
        target.parent.mkdir(exist_ok=True)
        Image.fromarray(photo(name, size)).save(target, compress_level=1)
        mask_target = masks / target.relative_to(images).with_suffix(".png")
        mask_target.parent.mkdir(exist_ok=True)
        Image.fromarray((hole_mask(size, size, seed=seed + k) * 255).astype(np.uint8)).save(mask_target)


def run_argv(images: Path, masks: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "-i", str(images), "-m", str(masks), "-o", str(out), *extra]


def _local(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, tiny_artifacts: Path, poisson_artifacts: Path) -> dict[str, Any]:
    """Local references, then every Ray scenario in one namespace; returns paths and what each did."""
    tmp = tmp_path_factory.mktemp("ray-data")
    _write_pairs(tmp / "i", tmp / "m", NAMES, 64)
    (tmp / "one.png").write_bytes((tmp / "m" / "00-astronaut.png").read_bytes())
    _write_pairs(tmp / "bad", tmp / "badm", NAMES[:2], 64)
    (tmp / "bad" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.fromarray(photo("coffee", 64)).save(tmp / "bad" / "no-mask.png")
    _write_pairs(tmp / "k", tmp / "km", [NAMES[k % len(NAMES)] for k in range(KILL_COUNT)], 160, seed=7)
    paste = ("--artifacts", str(tiny_artifacts), "--backend", "onnxruntime")
    poisson = ("--artifacts", str(poisson_artifacts), "--backend", "onnxruntime")
    ray = ("--executor", "ray")
    # References: the local run, in-process.
    _local(run_argv(tmp / "i", tmp / "m", tmp / "ref-paste", *paste, "--in-process"))
    _local(run_argv(tmp / "i", tmp / "one.png", tmp / "ref-poisson", *poisson, "--in-process"))
    _local(run_argv(tmp / "bad", tmp / "badm", tmp / "ref-bad", *paste, "--in-process"))
    _local(run_argv(tmp / "k", tmp / "km", tmp / "ref-kill", *paste, "--in-process"))
    # Object keys that look like URI syntax: names, never options (a "?" key once redirected the run).
    odd_names = ["IMG 0001", "photo (1)", "b?endpoint_override=127.0.0.1:9&scheme=http&x="]
    for k, stem in enumerate(odd_names):
        for folder in ("odd", "oddm"):
            (tmp / folder).mkdir(exist_ok=True)
        Image.fromarray(photo(NAMES[k], 64)).save(tmp / "odd" / f"{stem}.png", compress_level=1)
        Image.fromarray((hole_mask(64, 64, seed=20 + k) * 255).astype(np.uint8)).save(tmp / "oddm" / f"{stem}.png")
    _local(run_argv(tmp / "odd", tmp / "oddm", tmp / "ref-odd", *paste, "--in-process"))
    odd_in = ["run", "-i", "{s3}bkt/odd", "-m", "{s3}bkt/oddm"]
    pairs = tmp / "pairs.csv"
    rows = [f"s3://bkt/i/{rel},s3://bkt/m/{rel},s3://bkt/pout/{rel}" for rel in sorted(_tree(tmp / "m"))]
    rows.append("s3://bkt/i/gone.png,s3://bkt/m/00-astronaut.png,s3://bkt/pout/gone.png")
    pairs.write_text("image,mask,output\n" + "\n".join(rows) + "\n")
    spec = {
        "upload": {
            str(tmp / "i"): "bkt/i",
            str(tmp / "m"): "bkt/m",
            str(pairs): "bkt/pairs.csv",
            str(tmp / "odd"): "bkt/odd",
            str(tmp / "oddm"): "bkt/oddm",
        },
        "runs": [
            {"name": "paste", "argv": run_argv(tmp / "i", tmp / "m", tmp / "ray-paste", *paste, *ray)},
            {"name": "poisson", "argv": run_argv(tmp / "i", tmp / "one.png", tmp / "ray-poisson", *poisson, *ray)},
            {"name": "s3", "argv": ["run", "-i", "{s3}bkt/i", "-m", "{s3}bkt/m", "-o", "{s3}bkt/out", *paste, *ray]},
            {"name": "pairs", "argv": ["run", "--pairs", "{s3}bkt/pairs.csv", *paste, *ray]},
            {
                "name": "odd",
                "argv": [*odd_in, "-o", "{s3}bkt/oddout", *paste, *ray],
            },
            {
                "name": "dotdot",
                "argv": [*odd_in, "-o", "{s3}bkt/x/../odd", *paste, *ray],
            },
            {
                "name": "bad",
                "argv": run_argv(
                    tmp / "bad", tmp / "badm", tmp / "ray-bad", *paste, *ray, "--report", str(tmp / "r.json")
                ),
            },
            {
                "name": "resume",
                "argv": run_argv(tmp / "i", tmp / "m", tmp / "ray-paste", *paste, *ray, "--skip-existing"),
            },
            {
                "name": "kill",
                "argv": run_argv(tmp / "k", tmp / "km", tmp / "ray-kill", *paste, *ray),
                "kill_actor": True,
                "total": KILL_COUNT,
            },
        ],
        "download": {
            "bkt/out": str(tmp / "s3-out"),
            "bkt/pout": str(tmp / "s3-pout"),
            "bkt/oddout": str(tmp / "s3-oddout"),
            "bkt/odd": str(tmp / "s3-odd"),
        },
    }
    (tmp / "spec.json").write_text(json.dumps(spec))
    helper = Path(__file__).with_name("ray_data_job.py")
    command = f"ip link set lo up && {sys.executable} {helper} {tmp / 'spec.json'} {tmp / 'result.json'}"
    root = str(Path(__file__).parents[2])
    # HOME in the test folder: Ray writes its auth token there.
    env = {**os.environ, "HOME": str(tmp), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": root}
    done = subprocess.run(
        ["unshare", "-n", "bash", "-c", command], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"tmp": tmp, **json.loads((tmp / "result.json").read_text())}


def _run(cluster: dict[str, Any], name: str, code: int = 0) -> dict[str, Any]:
    run = cluster["runs"][name]
    assert run["exception"] is None, run
    assert run["exit_code"] == code, run["output"]
    return run


def test_folder_and_single_mask_give_the_local_bytes_for_paste_and_poisson(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    _run(cluster, "paste")
    _run(cluster, "poisson")
    assert len(_tree(tmp / "ref-paste")) == len(NAMES)
    assert _tree(tmp / "ray-paste") == _tree(tmp / "ref-paste")
    assert _tree(tmp / "ray-poisson") == _tree(tmp / "ref-poisson")
    assert _tree(tmp / "ray-poisson") != _tree(tmp / "ray-paste")  # the two composites really differ


def test_s3_in_and_out_gives_the_local_bytes(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    _run(cluster, "s3")
    assert _tree(tmp / "s3-out") == _tree(tmp / "ref-paste")
    assert sorted(cluster["keys"]["bkt/out"]) == sorted(_tree(tmp / "ref-paste"))  # no temp keys left


def test_pairs_file_on_s3_reports_the_missing_object_and_writes_the_rest(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    run = _run(cluster, "pairs", code=1)
    assert "s3://bkt/i/gone.png: file not found" in run["output"].replace("\n", "")
    assert _tree(tmp / "s3-pout") == _tree(tmp / "ref-paste")
    assert "gone.png" not in cluster["keys"]["bkt/pout"]


def test_bad_files_are_reported_good_files_done_nothing_partial(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    run = _run(cluster, "bad", code=1)
    report = json.loads((tmp / "r.json").read_text())
    assert report["counts"] == {"done": 2, "skipped": 0, "failed": 2}
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert "cannot decode image" in reasons["corrupt.png"]
    assert "no mask with stem 'no-mask'" in reasons["no-mask.png"]
    assert _tree(tmp / "ray-bad") == _tree(tmp / "ref-bad")  # same good outputs, no temps, nothing for the bad
    assert "failed 2" in run["output"]


def test_resume_skips_what_exists(cluster: dict[str, Any]) -> None:
    run = _run(cluster, "resume")
    assert f"done 0, skipped {len(NAMES)}, failed 0" in run["output"]


def test_killed_actor_is_restarted_and_the_outputs_are_identical(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    run = _run(cluster, "kill")
    assert run["killed"], "the actor was never seen mid-run: the scenario did not test a kill"
    assert _tree(tmp / "ray-kill") == _tree(tmp / "ref-kill")
    assert len(_tree(tmp / "ray-kill")) == KILL_COUNT


def test_object_keys_are_names_not_uri_options(cluster: dict[str, Any]) -> None:
    """Keys with spaces, parentheses, "?", "&" and "=" are read and written under their own names on the
    same endpoint (a "?endpoint_override=..." key was once applied as connection options)."""
    tmp = cluster["tmp"]
    run = _run(cluster, "odd")
    assert "done 3, skipped 0, failed 0" in run["output"]
    assert _tree(tmp / "s3-oddout") == _tree(tmp / "ref-odd")
    assert sorted(cluster["keys"]["bkt/oddout"]) == sorted(_tree(tmp / "ref-odd"))


def test_an_output_that_resolves_to_the_input_is_refused(cluster: dict[str, Any]) -> None:
    tmp = cluster["tmp"]
    run = _run(cluster, "dotdot", code=1)
    assert "is the input folder" in " ".join(run["output"].split())
    assert sorted(cluster["keys"]["bkt/odd"]) == sorted(_tree(tmp / "odd"))  # nothing written beside the inputs


def test_a_killed_driver_takes_the_ray_it_started_along(tmp_path: Path, tiny_artifacts: Path) -> None:
    """`kill -9` of `run --executor ray`: the local Ray it started (GCS, raylet, agents) does not outlive it."""
    import tempfile

    _write_pairs(tmp_path / "i", tmp_path / "m", [NAMES[k % len(NAMES)] for k in range(40)], 160)
    ray_tmp = tempfile.mkdtemp(prefix="r", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    try:
        probe = Path(__file__).with_name("ray_kill_probe.py")
        report = tmp_path / "report.json"
        args = [tmp_path / "i", tmp_path / "m", tmp_path / "o", tiny_artifacts, ray_tmp, report]
        command = f"ip link set lo up && {sys.executable} {probe} {' '.join(str(a) for a in args)}"
        root = str(Path(__file__).parents[2])
        env = {**os.environ, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": root,
               "RAY_TMPDIR": ray_tmp}  # fmt: skip
        done = subprocess.run(
            ["unshare", "-n", "bash", "-c", command], env=env, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result = json.loads(report.read_text())
        assert result["during"] > 0 and result["left"] == 0, result
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
