import asyncio

from benchmarks import outbox_relay, publish


async def main() -> None:
    for benchmark in (outbox_relay, publish):
        await benchmark.run()


asyncio.run(main())
