from collections import deque

import numpy as np
import pytest

from snnstudio.errors import SnnStudioError
from snnstudio.probe import RingBuffer


def test_ring_matches_deque_oracle_over_random_pushes():
    rng = np.random.default_rng(1)
    ring, oracle = RingBuffer(7), deque(maxlen=7)
    for _ in range(60):
        n = int(rng.integers(1, 12))
        block = rng.normal(size=(n, 3)).astype(np.float32)
        ring.push(block)
        oracle.extend(block)
        assert len(ring) == len(oracle)
        np.testing.assert_array_equal(ring.array(), np.array(oracle))
        np.testing.assert_array_equal(ring.latest(2), np.array(oracle)[-2:])


def test_ring_memory_is_bounded_and_total_counts_everything():
    ring = RingBuffer(16)
    ring.push(np.zeros((1, 64, 8, 8), np.float32))
    size = ring.nbytes
    for _ in range(100):
        ring.push(np.ones((5, 64, 8, 8), np.float32))
    assert ring.nbytes == size == 16 * 64 * 8 * 8 * 4
    assert ring.total == 501 and len(ring) == 16


def test_ring_restarts_on_new_item_shape_and_copies_out():
    ring = RingBuffer(4)
    ring.push(np.arange(6).reshape(3, 2))
    out = ring.array()
    out[:] = -1  # a copy: the ring is unchanged
    np.testing.assert_array_equal(ring.array(), np.arange(6).reshape(3, 2))
    ring.push(np.ones((2, 5)))
    assert ring.item_shape == (5,) and len(ring) == 2


def test_ring_bad_capacity_and_scalar_push_are_typed_errors():
    with pytest.raises(SnnStudioError, match="capacity"):
        RingBuffer(0)
    with pytest.raises(SnnStudioError, match="scalar"):
        RingBuffer(3).push(np.float32(1.0))
