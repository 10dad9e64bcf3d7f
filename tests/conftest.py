"""Shared test fixtures: the real data at <repo>/../shared/data (read-only)."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data beside the repository; fails (never skips) when it is missing."""
    root = SHARED_DATA.resolve()
    if not (root / "README.md").is_file():
        pytest.fail(f"shared data not found at {root}: tests need ../shared/data beside the repository")
    return root
