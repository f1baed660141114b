"""``python -m benchmarks [name ...]``: every benchmark (``make bench``), or only those named;
then the peak memory of every process they started against its pod's limit, and the summary
of today's figures against the committed reference (``reference.py``)."""

import asyncio
import sys

from benchmarks import (
    conversations_sla,
    gateway_read,
    lifecycle,
    listening_pipeline,
    memory,
    outbox_relay,
    publish,
    reference,
    reporting_kpis,
    sentiment,
)
from benchmarks.common import REPORTED

BENCHMARKS = {
    "outbox_relay": outbox_relay,
    "publish": publish,
    "lifecycle": lifecycle,
    "sentiment": sentiment,
    "listening_pipeline": listening_pipeline,
    "conversations_sla": conversations_sla,
    "reporting_kpis": reporting_kpis,
    "gateway_read": gateway_read,
}


async def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; one of {', '.join(BENCHMARKS)}")
    for name in names or list(BENCHMARKS):
        await BENCHMARKS[name].run()
    memory.report_peaks()
    print()
    print(reference.summary(REPORTED, reference.load_reference()), flush=True)


asyncio.run(main(sys.argv[1:]))
