"""``python -m fastmcp``: the ``fastmcp`` command."""

from fastmcp._cli import console_main

if __name__ == "__main__":
    console_main()
