import sys
from pathlib import Path

# Test helpers live beside the tests; importlib mode does not put this folder on
# sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))
