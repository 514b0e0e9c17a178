"""scripts/gpu-check.sh --cpu: the prepared GPU check's every code path, on the CPU (its figures mean nothing)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_gpu_check_dry_run_on_the_cpu(tmp_path: Path) -> None:
    done = subprocess.run([str(ROOT / "scripts/gpu-check.sh"), "--cpu", "--out", str(tmp_path / "report")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "report" / "gpu-check.json").read_text())
    sections = report["sections"]
    assert list(sections) == ["environment", "parity", "graphs", "throughput", "tensorrt"]
    assert all(s["status"] == "ok" for s in sections.values()), {k: s.get("error") for k, s in sections.items()}
    parity = sections["parity"]["rows"][0]
    assert parity["backend"] == "torch" and parity["psnr_db"] >= parity["floor_db"]
    assert all(row["max_abs_vs_eager"] == 0.0 for row in sections["graphs"]["rows"])
    assert sections["throughput"]["rows"][0]["images_per_s"] > 0
    assert "[parity] ok" in (tmp_path / "report" / "gpu-check.txt").read_text()
