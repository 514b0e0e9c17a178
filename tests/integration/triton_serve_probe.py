"""Serve a Triton repository on PyTriton's bundled ``tritonserver`` (loopback) and send it image + mask pairs.

Usage (run with the isolated environment's Python, the one that has nvidia-pytriton and numpy < 2):

    triton_serve_probe.py REPO PORT SRC_ROOT OUT.json IMAGE MASK [IMAGE MASK ...]

Prepares the server as PyTriton does (pytriton/triton.py ``_prepare_triton_inference_server``: the
binaries copied, the python backend stub for this interpreter's version put in place, the bundled
libraries on ``LD_LIBRARY_PATH``), starts it on 127.0.0.1 only, waits (bounded) for the repository to
load, sends each pair once to the ``edgeinpaint`` ensemble, then one corrupt image, and stops it.
Writes the PNG answers (hex) and the bad request's status and message to OUT.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _problems(log: Path) -> str:
    """The log lines that say why (errors, warnings, unavailable models), else its tail."""
    lines = log.read_text().splitlines()
    picked = [line for line in lines if line[:1] in ("E", "W") or "UNAVAILABLE" in line or "rror" in line]
    return "\n".join(picked[-40:]) or "\n".join(lines[-40:])


def main() -> None:
    repo, port, src_root, out = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    pairs = list(zip(sys.argv[5::2], sys.argv[6::2], strict=True))
    import numpy as np
    import pytriton
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    dist = Path(pytriton.__file__).parent / "tritonserver"
    libs = Path(pytriton.__file__).parent.parent / "nvidia_pytriton.libs"
    work = Path(tempfile.mkdtemp(prefix="eip-triton-"))
    server = work / "tritonserver"
    shutil.copytree(dist, server, ignore=shutil.ignore_patterns("python_backend_stubs"))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copy(dist / "python_backend_stubs" / version / "triton_python_backend_stub", server / "backends" / "python")
    site = next(p for p in sys.path if p.endswith("site-packages"))
    libdir = "/usr/lib/x86_64-linux-gnu"  # libpython3.x.so for the stub (PyTriton's docs: LD_LIBRARY_PATH)
    env = {
        **os.environ,
        "LD_LIBRARY_PATH": ":".join(filter(None, [str(libs), libdir, os.environ.get("LD_LIBRARY_PATH")])),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PYTHONPATH": f"{src_root}:{site}",
    }
    command = [
        str(server / "bin" / "tritonserver"),
        f"--model-repository={repo}",
        f"--backend-directory={server / 'backends'}",
        f"--cache-directory={server / 'caches'}",
        "--http-address=127.0.0.1",
        f"--http-port={port}",
        "--allow-grpc=false",
        "--allow-metrics=false",
        "--exit-on-error=true",
    ]
    log = (work / "server.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    result: dict[str, object] = {}
    try:
        client = http.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=120)
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise SystemExit("tritonserver exited:\n" + _problems(work / "server.log"))
            try:
                if client.is_server_ready() and client.is_model_ready("edgeinpaint"):
                    break
            except Exception:  # not listening yet
                pass
            if time.monotonic() > deadline:
                raise SystemExit("tritonserver not ready after 180 s:\n" + _problems(work / "server.log"))
            time.sleep(0.5)

        def ask(image: bytes, mask: bytes) -> bytes:
            inputs = []
            for name, data in (("IMAGE", image), ("MASK", mask)):
                tensor = http.InferInput(name, [1, 1], "BYTES")
                tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
                inputs.append(tensor)
            return bytes(client.infer("edgeinpaint", inputs).as_numpy("PICTURE")[0, 0])

        result["pictures"] = [ask(Path(i).read_bytes(), Path(m).read_bytes()).hex() for i, m in pairs]
        try:
            ask(b"not an image", Path(pairs[0][1]).read_bytes())
            result["bad"] = "accepted"
        except InferenceServerException as exc:
            result["bad"] = {"status": str(exc.status()), "message": exc.message()}
        result["ready_after_bad"] = client.is_model_ready("edgeinpaint")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        result["log_tail"] = (work / "server.log").read_text()[-2000:]
        shutil.rmtree(work, ignore_errors=True)
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
