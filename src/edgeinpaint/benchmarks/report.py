"""Bench outputs: rich table, JSON (with environment), CSV, matplotlib plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from edgeinpaint.core.atomic import publish, write_text
from edgeinpaint.core.errors import DependencyError

COLUMNS = (
    "backend",
    "precision",
    "batch",
    "size",
    "stage",
    "status",
    "median_ms",
    "p90_ms",
    "p99_ms",
    "images_per_s",
    "cold_start_ms",
    "psnr_vs_fp32",
    "gmac_per_image",
    "gflops",
    "peak_share",
    "speedup_vs_torch",
    "rss_mb",
    "reason",
)


def table(rows: list[dict[str, Any]], title: str) -> Any:
    from rich.table import Table

    present = [c for c in COLUMNS if any(c in r for r in rows)]
    t = Table(title=title)
    for c in present:
        t.add_column(
            c,
            justify="right" if c not in ("backend", "precision", "stage", "status", "reason") else "left",
            overflow="fold",
        )
    for r in rows:
        t.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in present))
    return t


def write_json(path: Path, rows: list[dict[str, Any]], environment: dict[str, Any]) -> None:
    write_text(path, json.dumps({"environment": environment, "rows": rows}, indent=2))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with publish(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def write_plot(path: Path, rows: list[dict[str, Any]]) -> None:
    """Throughput vs batch, one line per backend/precision/size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise DependencyError(
            "--plot needs matplotlib: pip install 'edgeinpaint[bench]' (from a clone: pip install -e '.[bench]')"
        ) from exc
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r["status"] == "ok" and r["stage"] == "model":
            series.setdefault(f"{r['backend']} {r['precision']} {r['size']}²", []).append(
                (r["batch"], r["images_per_s"])
            )
    for label, points in sorted(series.items()):
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    ax.set_xlabel("batch")
    ax.set_ylabel("images / s")
    ax.set_title("edgeinpaint throughput")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
