import asyncio

from benchmarks import outbox_relay


async def main() -> None:
    for benchmark in (outbox_relay,):
        await benchmark.run()


asyncio.run(main())
