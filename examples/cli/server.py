"""The server of the `fastmcp` command's reference (packages/fastmcp/CLI.md).

fastmcp list examples/cli/server.py
fastmcp call examples/cli/server.py add a=2 b=3
fastmcp run examples/cli/server.py -t http --port 8000
"""

import msgspec
import trio

from fastmcp_core import McpContext
from fastmcp_server import Server

server = Server("demo", "1.0.0", instructions="A small server to try the fastmcp command on.")


class Stats(msgspec.Struct):
    count: int
    mean: float


@server.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def shout(message: str, times: int = 1, loud: bool = True) -> str:
    """Repeat a message, in capitals unless loud is false."""
    text = message.upper() if loud else message
    return " ".join([text] * times)


@server.tool
async def stats(values: list[float]) -> Stats:
    """Count and average some numbers."""
    return Stats(count=len(values), mean=sum(values) / len(values) if values else 0.0)


@server.tool
async def countdown(start: int, ctx: McpContext) -> str:
    """Count down to zero, reporting progress at every step."""
    for step in range(start):
        await ctx.report_progress(step + 1, start, f"{start - step}...")
        await trio.sleep(0.05)
    return "liftoff"


@server.resource("demo://motd", mime_type="text/plain")
async def motd() -> str:
    """The message of the day."""
    return "Have a nice day."


@server.resource("demo://users/{name}")
async def user(name: str) -> str:
    """A user's card."""
    return f"User {name}"


@server.prompt
async def review(code: str, language: str = "python") -> str:
    """Ask for a code review."""
    return f"Please review this {language} code:\n{code}"


if __name__ == "__main__":
    server.run()
