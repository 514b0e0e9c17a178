"""Run `edgeinpaint run --executor ray` scenarios inside a private network namespace (see test_ray_data.py).

Usage: ray_data_job.py SPEC.json RESULT.json. In the namespace only loopback exists, so Ray, the
S3 server (moto, on 127.0.0.1) and every client stay on 127.0.0.1. One local Ray serves every
scenario (the CLI joins the Ray this process started). The spec:

    {"upload": {"LOCAL_DIR_OR_FILE": "bucket/key", ...},          # before the runs
     "runs": [{"name": ..., "argv": [...], "kill_actor": bool}],  # "{s3}" in argv -> s3://
     "download": {"bucket/prefix": "LOCAL_DIR"}}                  # after the runs

The result: per run its exit code and output, and the keys left under every downloaded prefix.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def _start_s3() -> object:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return server


def _s3():  # type: ignore[no-untyped-def]
    import pyarrow.fs as pafs

    return pafs.S3FileSystem(
        endpoint_override=os.environ["AWS_ENDPOINT_URL"], region="us-east-1", allow_bucket_creation=True
    )


def _upload(items: dict[str, str]) -> None:
    fs = _s3()
    for local, key in items.items():
        bucket = key.split("/", 1)[0]
        fs.create_dir(bucket)
        source = Path(local)
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for f in files:
            target = key if source.is_file() else f"{key}/{f.relative_to(source).as_posix()}"
            with fs.open_output_stream(target) as out:
                out.write(f.read_bytes())


def _download(items: dict[str, str]) -> dict[str, list[str]]:
    import pyarrow.fs as pafs

    fs = _s3()
    keys: dict[str, list[str]] = {}
    for prefix, local in items.items():
        infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        keys[prefix] = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            relative = info.path[len(prefix) + 1 :]
            keys[prefix].append(relative)
            target = Path(local) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with fs.open_input_stream(info.path) as stream:
                target.write_bytes(stream.read())
    return keys


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"InpaintActor" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _kill_actor_midway(output: Path, total: int, killed: list[int]) -> None:
    """Kill -9 the inpaint actor once some but not all outputs exist (bounded wait: 120 s)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        written = (
            [p for p in output.rglob("*") if p.is_file() and not p.name.startswith(".")] if output.exists() else []
        )
        if 0 < len(written) < total:
            for pid in _actor_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            return
        time.sleep(0.02)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    server = _start_s3()
    import ray
    from typer.testing import CliRunner

    from edgeinpaint.cli import app

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    result: dict[str, object] = {"runs": {}}
    try:
        _upload(spec.get("upload", {}))
        for run in spec["runs"]:
            argv = [a.replace("{s3}", "s3://") for a in run["argv"]]
            killed: list[int] = []
            watcher = None
            if run.get("kill_actor"):
                out = Path(argv[argv.index("-o") + 1])
                watcher = threading.Thread(target=_kill_actor_midway, args=(out, run["total"], killed), daemon=True)
                watcher.start()
            done = CliRunner().invoke(app, argv)
            if watcher is not None:
                watcher.join(timeout=5)
            result["runs"][run["name"]] = {  # type: ignore[index]
                "exit_code": done.exit_code,
                "output": done.output[-4000:],
                "exception": repr(done.exception) if done.exception and done.exit_code not in (0, 1) else None,
                "killed": killed,
            }
        result["keys"] = _download(spec.get("download", {}))
    finally:
        ray.shutdown()
        server.stop()  # type: ignore[attr-defined]
    Path(sys.argv[2]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
