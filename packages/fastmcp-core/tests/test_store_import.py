"""The store module is light: coredis is imported only when a Redis store is made."""

from __future__ import annotations

import subprocess
import sys


def test_coredis_is_imported_only_for_a_redis_store() -> None:
    script = (
        "import sys, fastmcp_core.store as store\n"
        "print('coredis' in sys.modules)\n"
        "store.open_store('memory://')\n"
        "print('coredis' in sys.modules)\n"
        "store.open_store('redis://127.0.0.1:1/0')\n"
        "print('coredis' in sys.modules, store.RedisStore.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True", "RedisStore"]
