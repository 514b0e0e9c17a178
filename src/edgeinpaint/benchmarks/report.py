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


#: Width from which every column is shown; below it, the compact table (JSON and CSV always have everything).
WIDE = 200


def _range(row: dict[str, Any], low: str, high: str, digits: int) -> str:
    if row.get(low) is None or row.get(high) is None or row.get("rounds", 1) < 2:
        return ""
    return f"{row[low]:.{digits}f}-{row[high]:.{digits}f}"


def _num(row: dict[str, Any], key: str, digits: int) -> str:
    return "" if row.get(key) is None else f"{row[key]:.{digits}f}"


def table(rows: list[dict[str, Any]], title: str, width: int = WIDE) -> Any:
    """The bench table: every column at ``width`` >= :data:`WIDE`, else the columns that matter, in 80.

    The compact table shows measured rows only (unavailable ones are listed by :func:`notes`), the median
    throughput and speed-up over torch across the alternated rounds, and their min-max range.
    """
    from rich import box
    from rich.table import Table

    if width >= WIDE:
        t = Table(title=title)
        present = [c for c in COLUMNS if any(c in r for r in rows)]
        for c in present:
            t.add_column(
                c,
                justify="right" if c not in ("backend", "precision", "stage", "status", "reason") else "left",
                overflow="fold",
            )
        for r in rows:
            t.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in present))
        return t
    compact: list[tuple[str, Any]] = [
        ("backend", lambda r: str(r["backend"]) + ("" if r.get("stage", "model") == "model" else f" {r['stage']}")),
        ("prec", lambda r: str(r["precision"])),
        ("input", lambda r: f"{r['batch']}x{r['size']}²"),
        ("img/s", lambda r: _num(r, "images_per_s", 1)),
        ("range", lambda r: _range(r, "images_per_s_min", "images_per_s_max", 1)),
        ("xtorch", lambda r: _num(r, "speedup_vs_torch", 2)),
        ("range", lambda r: _range(r, "speedup_min", "speedup_max", 2)),
        ("PSNR", lambda r: _num(r, "psnr_vs_fp32", 1)),
    ]
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for name, _get in compact:
        t.add_column(name, justify="left" if name in ("backend", "prec") else "right", no_wrap=True)
    for r in rows:
        if r.get("status", "ok") == "ok":
            t.add_row(*(get(r) for _name, get in compact))
    return t


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """One line per configuration that was not measured, with the reason (deduplicated)."""
    seen: dict[str, None] = {}
    for r in rows:
        if r.get("status", "ok") != "ok":
            seen[f"{r['backend']} {r['precision']}: {r.get('reason') or r.get('status')}"] = None
    return list(seen)


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
