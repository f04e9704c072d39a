import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from common import REPO, emit_rtl  # noqa: E402


def pytest_configure(config):
    """Refreshes build/abi.json from the abi crate before anything reads it."""
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "abi", "--example", "abi-export", "--", "json"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout
    p = REPO / "build" / "abi.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(out)


@pytest.fixture(scope="session")
def rtl():
    """Emits the RTL (every module as its own top) once per session."""
    return emit_rtl()
