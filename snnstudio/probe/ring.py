"""Bounded ring buffer of per-step numpy records (time first).

Hand-written (a few lines of numpy) because ``collections.deque`` of arrays copies per item and
cannot hand back one contiguous ``[steps, ...]`` array; this one preallocates ``capacity`` slots
on the first push and never grows: memory is ``capacity × item size`` whatever the run length.
"""

from __future__ import annotations

import numpy as np

from snnstudio.errors import SnnStudioError


class RingBuffer:
    """Keeps the last ``capacity`` steps of items of one shape and dtype.

    ``push(block)`` appends ``block[0], block[1], ...`` (a ``[n, *item_shape]`` array) in order.
    When the item shape or dtype changes (a new batch size, say) the buffer starts afresh.
    """

    def __init__(self, capacity: int):
        if int(capacity) < 1:
            raise SnnStudioError(f"ring buffer capacity must be >= 1 step, got {capacity}")
        self.capacity = int(capacity)
        self._data: np.ndarray | None = None
        self._next = 0  # slot the next item goes to
        self._len = 0
        #: items pushed since the last clear (including the ones that fell out)
        self.total = 0

    def clear(self) -> None:
        """Forget every item (the next push sets the item shape anew)."""
        self._data = None
        self._next = self._len = self.total = 0

    def __len__(self) -> int:
        return self._len

    @property
    def item_shape(self) -> tuple[int, ...] | None:
        """Shape of one item, ``None`` before the first push."""
        return None if self._data is None else self._data.shape[1:]

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer's storage."""
        return 0 if self._data is None else self._data.nbytes

    def push(self, block: np.ndarray) -> None:
        """Append the ``n`` items of ``block`` (layout ``[n, *item_shape]``)."""
        block = np.asarray(block)
        if block.ndim == 0:
            raise SnnStudioError("ring buffer push needs a [n, ...] block, got a scalar")
        if self._data is None or self._data.shape[1:] != block.shape[1:] or self._data.dtype != block.dtype:
            self._data = np.empty((self.capacity, *block.shape[1:]), dtype=block.dtype)
            self._next = self._len = 0
        n = block.shape[0]
        self.total += n
        if n >= self.capacity:  # only the last `capacity` items survive
            self._data[:] = block[n - self.capacity :]
            self._next, self._len = 0, self.capacity
            return
        end = self._next + n
        if end <= self.capacity:
            self._data[self._next : end] = block
        else:
            k = self.capacity - self._next
            self._data[self._next :] = block[:k]
            self._data[: n - k] = block[k:]
        self._next = end % self.capacity
        self._len = min(self.capacity, self._len + n)

    def latest(self, n: int = 1) -> np.ndarray:
        """Copy of the last ``min(n, len)`` items, oldest first (``[n, *item_shape]``)."""
        if self._data is None:
            return np.empty((0,))
        n = min(int(n), self._len)
        idx = (self._next - n + np.arange(n)) % self.capacity
        return self._data[idx]

    def array(self) -> np.ndarray:
        """Copy of every kept item in time order, ``[len, *item_shape]``."""
        return self.latest(self._len)
