"""Peak memory of every process a benchmark starts, against its pod's memory limit.

Processes are noted (``note``) while they still run, just before they are stopped: their peak
resident memory (``VmHWM`` in ``/proc/<pid>/status``) is kept per name, the largest over every
run. ``make bench`` ends with one JSON line per name (``report_peaks``), beside the memory limit
of the Deployment that runs it in production, read from the rendered ``deploy/k8s`` prod overlay
(``kubectl kustomize``, as ``tests/k8s_render.py`` renders it); the budget is 60 % of it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import report

REPOSITORY = Path(__file__).resolve().parents[1]
PROD_OVERLAY = REPOSITORY / "deploy" / "k8s" / "overlays" / "prod"
BUDGET = 0.6
MIB = 2**20
_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}

# Process name (as benchmarks start them) -> the Deployment that runs it in production.
DEPLOYMENT_OF = {
    "workflows": "workflow-worker",
    **{name: f"{name}-worker" for name in ("strategy", "content", "publisher", "reporting")},
    "listening": "listening-worker",
    "listening-consumer": "listening-worker",
    "gateway": "gateway",
    # The gateway_read benchmark's second gateway, which keeps the configured rate limits.
    "gateway-rate-limited": "gateway",
    # And its third, with the read cache off.
    "gateway-uncached": "gateway",
    **{f"{name}-api": name for name in ("strategy", "content", "publisher", "listening")},
    "reporting-api": "reporting",
}

_peaks: dict[str, int] = {}


def peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident memory so far (``VmHWM``); None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def note(name: str, pid: int) -> None:
    """Keep the peak of process ``name`` (the largest of every process noted under it)."""
    peak = peak_rss_bytes(pid)
    if peak is not None:
        _peaks[name] = max(peak, _peaks.get(name, 0))


def noted() -> dict[str, int]:
    return dict(_peaks)


def quantity_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``768Mi``, ``1Gi``, ``512M``) in bytes."""
    found = re.fullmatch(r"(\d+)([KMG]i?)?", quantity.strip())
    if found is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(found.group(1)) * _UNITS[found.group(2) or ""]


def memory_limits(documents: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each Deployment's memory limit (its first container's), in bytes."""
    limits = {}
    for document in documents:
        if document.get("kind") != "Deployment":
            continue
        container = document["spec"]["template"]["spec"]["containers"][0]
        limit = container.get("resources", {}).get("limits", {}).get("memory")
        if limit is not None:
            limits[document["metadata"]["name"]] = quantity_bytes(str(limit))
    return limits


def rendered_limits() -> dict[str, int]:
    """The prod overlay's Deployments' memory limits; empty without ``kubectl``."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return {}
    rendered = subprocess.run(  # noqa: S603 (kubectl found on PATH, a path of ours)
        [kubectl, "kustomize", str(PROD_OVERLAY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return memory_limits(document for document in yaml.safe_load_all(rendered) if document)


def peak_lines(peaks: Mapping[str, int], limits: Mapping[str, int]) -> list[dict[str, Any]]:
    """One figure per process: its peak, its Deployment's limit and the share of it used."""
    lines = []
    for name, peak in sorted(peaks.items()):
        deployment = DEPLOYMENT_OF.get(name)
        limit = limits.get(deployment) if deployment else None
        line: dict[str, Any] = {"process": name, "value": round(peak / MIB, 1)}
        if deployment is not None and limit is not None:
            share = peak / limit
            line |= {
                "deployment": deployment,
                "limit_mib": round(limit / MIB, 1),
                "share_of_limit": round(share, 3),
                "budget": BUDGET,
                "within_budget": share < BUDGET,
            }
        else:
            line["deployment"] = None  # not deployed by deploy/k8s (a Temporal dev server)
        lines.append(line)
    return lines


def report_peaks() -> None:
    for line in peak_lines(noted(), rendered_limits()):
        process, value = line.pop("process"), line.pop("value")
        report("memory", f"peak_rss_{process}", value, "MiB", **line)
