"""The smallest useful server: one tool that echoes.

python examples/echo_server.py            # serve on stdin/stdout
fastmcp call examples/echo_server.py echo message=hello
"""

from fastmcp import Server

server = Server("echo", "1.0.0")


@server.tool
async def echo(message: str) -> str:
    """Echo the message back."""
    return message


if __name__ == "__main__":
    server.run_stdio()
