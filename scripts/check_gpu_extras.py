"""Resolve each GPU extra with pip (nothing installed) and check that its pieces can load together.

usage: python scripts/check_gpu_extras.py [--wheels] [--json REPORT.json]

For each extra of pyproject.toml whose name is ``cudaNN`` it runs ``pip install --dry-run --report``
on the extra's requirements (``--no-deps``: the TensorRT meta-packages fetch their libraries from
pypi.nvidia.com at build time, which a resolver must not need) and checks:

- ONNX Runtime's CUDA major (the ``nvidia-cuda-runtime`` requirement of its ``cuda`` extra) is NN;
- cuda-python's major is NN (cuda-python 13 needs an R580+ driver, 12 works from R525);
- with ``--wheels``: the ONNX Runtime wheel is downloaded (~280 MB) and the NEEDED entries of its
  provider libraries are read (``readelf -d``): ``libcudart.so.NN`` for the CUDA provider and
  ``libnvinfer.so.M`` for the TensorRT provider, where M must be the resolved TensorRT's major.

Exit status 1 when any check fails; the table says which.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def extras() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {k: v for k, v in data["project"]["optional-dependencies"].items() if re.fullmatch(r"cuda\d+", k)}


def resolve(requirements: list[str]) -> dict[str, dict]:
    """name -> the metadata pip's report gives for what it would install (no dependencies followed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
               "--report", str(report), *requirements]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        installs = json.loads(report.read_text())["install"]
    return {i["metadata"]["name"].lower(): {**i["metadata"], "url": i["download_info"]["url"]} for i in installs}


def cuda_major_of_ort(metadata: dict) -> int | None:
    for req in metadata.get("requires_dist") or []:
        found = re.match(r"nvidia-cuda-runtime(?:-cu(\d+))?\s*~=\s*(\d+)", req)
        if found:
            return int(found.group(1) or found.group(2))
    return None


def needed(wheel_url: str) -> dict[str, list[str]]:
    """Provider library -> its NEEDED sonames, from the downloaded wheel."""
    out: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        name = wheel_url.rsplit("/", 1)[-1]
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp,
                        f"{name.split('-')[0].replace('_', '-')}=={name.split('-')[1]}"], check=True)  # fmt: skip
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                if re.search(r"libonnxruntime_providers_(cuda|tensorrt)\.so$", member):
                    path = Path(z.extract(member, tmp))
                    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
                    out[path.name] = re.findall(r"Shared library: \[(.+?)\]", dynamic)
    return out


def check(extra: str, requirements: list[str], wheels: bool) -> dict:
    major = int(extra.removeprefix("cuda"))
    got = resolve(requirements)
    ort = got.get("onnxruntime-gpu", {})
    trt = next((m for n, m in got.items() if n.startswith("tensorrt")), {})
    cuda_python = got.get("cuda-python", {})
    row: dict = {
        "extra": extra,
        "onnxruntime-gpu": ort.get("version"),
        "ort_cuda_major": cuda_major_of_ort(ort),
        "tensorrt": trt.get("version"),
        "cuda-python": cuda_python.get("version"),
        "requires_python": ort.get("requires_python"),
    }
    problems = []
    if row["ort_cuda_major"] != major:
        problems.append(f"ONNX Runtime {row['onnxruntime-gpu']} is built for CUDA {row['ort_cuda_major']}, not {major}")
    if cuda_python and int(str(cuda_python["version"]).split(".")[0]) != major:
        problems.append(f"cuda-python {cuda_python['version']} is not a CUDA {major} release")
    if wheels and ort:
        libs = needed(ort["url"])
        row["needed"] = {lib: [n for n in names if re.match(r"lib(cudart|nvinfer|nvonnxparser)\.", n)]
                         for lib, names in libs.items()}  # fmt: skip
        cudart = {n for names in libs.values() for n in names if n.startswith("libcudart.so.")}
        if cudart != {f"libcudart.so.{major}"}:
            problems.append(f"the providers link {sorted(cudart)}, not libcudart.so.{major}")
        nvinfer = [n for n in libs.get("libonnxruntime_providers_tensorrt.so", []) if n.startswith("libnvinfer.so.")]
        trt_major = str(trt.get("version", "")).split(".")[0]
        if nvinfer != [f"libnvinfer.so.{trt_major}"]:
            problems.append(
                f"the TensorRT provider links {nvinfer}, but the extra installs TensorRT {trt.get('version')}"
            )
    row["problems"] = problems
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", action="store_true", help="also read the provider libraries' NEEDED entries")
    parser.add_argument("--json", type=Path, help="write the rows as JSON")
    args = parser.parse_args()
    rows = [check(extra, reqs, args.wheels) for extra, reqs in extras().items()]
    for row in rows:
        status = "ok" if not row["problems"] else "FAIL: " + "; ".join(row["problems"])
        print(f"[{row['extra']}] onnxruntime-gpu {row['onnxruntime-gpu']} (CUDA {row['ort_cuda_major']}, "
              f"Python {row['requires_python']}), tensorrt {row['tensorrt']}, cuda-python {row['cuda-python']}: "
              f"{status}")  # fmt: skip
        for lib, names in row.get("needed", {}).items():
            print(f"    {lib}: {' '.join(names)}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 1 if any(row["problems"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
