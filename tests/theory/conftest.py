"""Theory tests run torch on one thread (as the simulation's units do): tiny ops, busy shared CPUs."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
