import pytest

from probe_models import ours_net, spike_input


@pytest.fixture
def net():
    return ours_net()


@pytest.fixture
def x():
    return spike_input()
