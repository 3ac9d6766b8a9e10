"""`make bench`: every benchmark, then one table of all figures and targets, then one JSON line.

Runs bench/api.py (wrk against one API process, PostgreSQL and SQLite), bench/ingest.py (signed
Stripe webhooks applied, PostgreSQL) and bench/deliveries.py (one worker against a plain
aiohttp client, PostgreSQL) one after the other. Their own output goes to a log file named at the
start; each ends with a JSON line, and the table is built from those. Targets are issue 11's.

    .venv/bin/python bench/run.py [--duration 10]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# Figures a phase is held to beside its ratio: p99 at most this many times p50.
P99_OVER_P50 = 3.0
INGEST_TARGET = 0.35
DELIVERY_RATIO_TARGET = 0.6
DELIVERY_P99_TARGET_MS = 50.0
LABELS = {
    "noop": "GET /livez (no-op)",
    "get": "GET /api/v1/payments/{id}",
    "public": "GET /api/v1/payments/{id}/public",
    "orders": "POST /api/v1/orders",
    "replay": "POST /api/v1/payments (replayed key)",
    "create": "POST /api/v1/payments (create)",
}

Row = tuple[str, str, str, str, str, str, str, str]
HEADER: Row = ("call", "db", "req/s", "p50 ms", "p99 ms", "ratio", "target", "met")


def run(script: str, args: list[str], log: Path) -> dict[str, Any] | None:
    """Run one benchmark, its output appended to `log`; its closing JSON line (None if none)."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {script} {' '.join(args)}\n")
        out.flush()
        finished = subprocess.run(
            [sys.executable, str(BENCH / script), *args],
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            check=False,
        )
        out.write(finished.stdout)
    lines = [ln for ln in finished.stdout.splitlines() if ln.startswith("{")]
    took = time.monotonic() - started
    print(f"{script}: exit {finished.returncode} in {took:.0f} s", flush=True)
    if not lines:
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    result["exit_code"] = finished.returncode
    return result


def _num(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _met(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def api_rows(api: dict[str, Any] | None) -> list[Row]:
    rows: list[Row] = []
    for db in ("postgres", "sqlite"):
        phases = (api or {}).get(db) or {}
        for phase, label in LABELS.items():
            figures = phases.get(phase)
            if figures is None:
                rows.append((label, db, "failed", "", "", "", "", ""))
                continue
            target = figures.get("target_ratio")
            goal = f">= {target}, p99 <= 3 x p50" if target else ""
            # The targets are for PostgreSQL; SQLite is reported beside them.
            met = figures.get("met") if target and db == "postgres" else None
            cpu = figures.get("server_cpu_ms")
            rows.append(
                (
                    label,
                    db,
                    _num(figures["rate"]),
                    _num(figures["p50_ms"], 2),
                    _num(figures["p99_ms"], 2),
                    _num(figures["ratio"], 3),
                    goal + (f" (cpu {cpu} ms/req)" if cpu is not None else ""),
                    _met(met),
                )
            )
    return rows


def ingest_rows(ingest: dict[str, Any] | None) -> list[Row]:
    if not ingest or ingest.get("per_s") is None:
        return [("POST /hooks/stripe (ingest)", "postgres", "failed", "", "", "", "", "")]
    ratio = ingest["ratio"]
    cpu = ingest.get("server_cpu_ms_per_req")
    return [
        (
            "GET /livez (ingest's no-op, httpx)",
            "postgres",
            _num(ingest["baseline_per_s"]),
            "-",
            _num(ingest["baseline_p99_ms"], 2),
            "1.000",
            "",
            "-",
        ),
        (
            "POST /hooks/stripe (ingest, httpx)",
            "postgres",
            _num(ingest["per_s"]),
            _num(ingest["p50_ms"], 2),
            _num(ingest["p99_ms"], 2),
            _num(ratio, 3),
            f">= {INGEST_TARGET}" + (f" (cpu {cpu:.3f} ms/req)" if cpu is not None else ""),
            _met(ratio >= INGEST_TARGET and bool(ingest.get("verified"))),
        ),
        *_paynow_rows(ingest),
    ]


def _paynow_rows(ingest: dict[str, Any]) -> list[Row]:
    """Paynow's status updates (form body, SHA-512), measured in the same run as Stripe's."""
    if ingest.get("paynow_per_s") is None:
        return []
    ratio = ingest["paynow_ratio"]
    cpu = ingest.get("paynow_server_cpu_ms_per_req")
    return [
        (
            "POST /hooks/paynow (ingest, httpx)",
            "postgres",
            _num(ingest["paynow_per_s"]),
            _num(ingest["paynow_p50_ms"], 2),
            _num(ingest["paynow_p99_ms"], 2),
            _num(ratio, 3),
            f">= {INGEST_TARGET}" + (f" (cpu {cpu:.3f} ms/req)" if cpu is not None else ""),
            _met(ratio >= INGEST_TARGET and bool(ingest.get("verified"))),
        )
    ]


def delivery_rows(deliveries: dict[str, Any] | None) -> list[Row]:
    if not deliveries:
        return [("deliveries, one worker", "postgres", "failed", "", "", "", "", "")]
    offered = deliveries["offered_per_s"]
    return [
        (
            "deliveries: plain aiohttp client",
            "postgres",
            _num(deliveries["baseline_per_s"]),
            "-",
            "-",
            "1.000",
            "",
            "-",
        ),
        (
            "deliveries: one hazina worker",
            "postgres",
            _num(deliveries["per_s"]),
            "-",
            "-",
            _num(deliveries["ratio"], 3),
            f">= {DELIVERY_RATIO_TARGET}",
            _met(deliveries["ratio"] >= DELIVERY_RATIO_TARGET),
        ),
        (
            f"commit -> delivery at {offered:g}/s",
            "postgres",
            "-",
            _num(deliveries["p50_ms"], 1),
            _num(deliveries["p99_ms"], 1),
            "-",
            f"p99 < {DELIVERY_P99_TARGET_MS:g} ms",
            _met(deliveries["p99_ms"] < DELIVERY_P99_TARGET_MS),
        ),
    ]


def print_table(rows: list[Row]) -> None:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    numeric = {2, 3, 4, 5}
    for index, row in enumerate([HEADER, *rows]):
        cells = [
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds per timed phase")
    parser.add_argument(
        "--events", type=int, default=1500, help="deliveries backlog drained by the worker"
    )
    args = parser.parse_args()
    duration = str(args.duration)
    log = Path(tempfile.mkstemp(prefix="hazina-bench-", suffix=".log")[1])
    print(f"make bench: {duration} s per phase; full output in {log}", flush=True)
    api = run("api.py", ["--duration", duration], log)
    # Ingest's Python clients are noisy on a busy machine: its default interleaved rounds stay.
    ingest = run("ingest.py", ["--duration", duration], log)
    deliveries = run("deliveries.py", ["--events", str(args.events), "--seconds", duration], log)
    print()
    print_table(api_rows(api) + ingest_rows(ingest) + delivery_rows(deliveries))
    results = {"api": api, "ingest": ingest, "deliveries": deliveries}
    failed = [name for name, result in results.items() if not result or result["exit_code"]]
    print(json.dumps({"bench": "all", **results, "failed": failed}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
