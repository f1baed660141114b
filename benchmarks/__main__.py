import asyncio

from benchmarks import lifecycle, outbox_relay, publish


async def main() -> None:
    for benchmark in (outbox_relay, publish, lifecycle):
        await benchmark.run()


asyncio.run(main())
