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


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    """A random-init `lite` (seed 0) saved as a weights file: fast, real code paths, no shipped weights."""
    import torch

    from videoinr import create_model
    from videoinr.models import save_weights

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "lite_random.safetensors"
    save_weights(create_model("lite", pretrained=False), path)
    return path


@pytest.fixture(scope="session", autouse=True)
def _session_compile_cache(tmp_path_factory):
    """The commands' compile cache and compile-cost record (`runtime.compile_cache_dir`) in a folder of the
    test session, not the user's ~/.cache: a fast compile recorded there by earlier jobs changes the
    commands' policy (compile or not, hence bf16 GEMMs) and so the numbers some tests compare."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
        yield
