"""Fixtures shared by the model tests: a random-init `lite` model and an odd-sized frame pair."""
import pytest
import torch

import videoinr


@pytest.fixture(autouse=True)
def _lite_restored(request):
    """Whatever a test (passing or failing) did to the shared `lite` model's switches, mode or chunk size is
    undone after it, so no state leaks into later tests."""
    yield
    if "lite" in request.fixturenames:
        from videoinr.runtime import Policy

        model = request.getfixturevalue("lite")
        Policy().apply(model)
        model.eval()
        model.max_query_points = 1 << 16


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return videoinr.create_model("lite", pretrained=False)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    return torch.rand(2, 3, 13, 17), torch.rand(2, 3, 13, 17)  # odd sizes, not multiples of 4
