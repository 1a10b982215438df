"""Capability-style handlers: what a handler uses, it receives as a parameter.

No globals: the lifespan opens the notes store once, while the server runs, and every
handler that names a ``Notes`` parameter gets it (it is not part of the tool's input
schema). ``ctx`` carries the request's own capabilities: cancellation, budget,
progress, logging, questions to the client.

    python examples/dependencies.py
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from fastmcp import McpContext, Server


@attrs.define
class Notes:
    """Stands in for a database connection."""

    items: list[str] = attrs.field(factory=list)
    open: bool = True


@asynccontextmanager
async def lifespan(server: Server) -> AsyncIterator[Notes]:
    notes = Notes()  # connect once, at start-up
    try:
        yield notes
    finally:
        notes.open = False  # and close when the server stops


server = Server("notes", "1.0.0", lifespan=lifespan).provide(Notes)


@server.tool
async def add_note(ctx: McpContext, notes: Notes, text: str) -> int:
    """Store a note; returns how many there are.

    Args:
        text: the note
    """
    await ctx.checkpoint()
    notes.items.append(text)
    await ctx.info(f"stored note {len(notes.items)}")
    return len(notes.items)


@server.tool
async def list_notes(notes: Notes) -> list[str]:
    """Every note, oldest first."""
    return list(notes.items)


if __name__ == "__main__":
    server.run_stdio()
