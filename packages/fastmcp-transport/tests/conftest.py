import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test helpers live beside the tests; importlib mode does not put this folder on
# sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=["hypercorn", "h1"])
def http_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test on each HTTP server (``http_server_support.serve``)."""
    import http_server_support

    http_server_support.server_name = request.param
    try:
        yield request.param
    finally:
        http_server_support.server_name = "hypercorn"
