"""The quick start: a tool, a resource and a prompt, in the builder style.

python examples/quickstart.py
"""

from fastmcp import McpContext, Server, prompt, resource, tool


@tool(description="Calculate the sum of two numbers")
async def add(ctx: McpContext, a: int, b: int) -> str:
    await ctx.checkpoint()  # a cancellation point
    return str(a + b)


@resource("config://settings", description="Application config", mime_type="application/json")
def config(ctx: McpContext) -> str:
    return '{"theme":"dark"}'


@prompt(description="Generate a greeting message")
async def greeting(name: str) -> str:
    return f"Please greet {name} warmly."


server = (
    Server("example-server", "1.0.0")
    .tool(add)
    .resource(config)
    .prompt(greeting)
    .request_timeout(30)
)

if __name__ == "__main__":
    server.run_stdio()
