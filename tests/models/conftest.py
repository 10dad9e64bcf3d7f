"""Fixtures shared by the model tests: a random-init `lite` model and an odd-sized frame pair."""
import pytest
import torch

import videoinr


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return videoinr.create_model("lite", pretrained=False)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    return torch.rand(2, 3, 13, 17), torch.rand(2, 3, 13, 17)  # odd sizes, not multiples of 4
