"""A client script: start the quick-start server as a child process and use it.

    python examples/client.py

The client negotiates the newest protocol both sides speak, lists what the server
offers, calls a tool, reads a resource and renders a prompt; leaving the ``async with``
stops the server.
"""

import sys
from pathlib import Path

import trio

from fastmcp import Client
from fastmcp_protocol import TextContent, TextResourceContents

SERVER = Path(__file__).with_name("quickstart.py")


async def main() -> None:
    async with Client([sys.executable, str(SERVER)]) as client:
        info = client.server_info  # None only if a modern server does not say
        print(f"connected to {info and info.name} ({client.protocol_version})")
        for tool in await client.list_all_tools():
            print(f"tool {tool.name}: {tool.description}")

        total = await client.call_tool("add", {"a": 2, "b": 3}, result_type=str)
        print(f"add(2, 3) = {total}")

        for contents in (await client.read_resource("config://settings")).contents:
            if isinstance(contents, TextResourceContents):
                print(f"{contents.uri} = {contents.text}")

        prompt = await client.get_prompt("greeting", {"name": "Ada"})
        for message in prompt.messages:
            if isinstance(message.content, TextContent):
                print(f"{message.role}: {message.content.text}")


if __name__ == "__main__":
    trio.run(main)
