"""A thread-safe cache of the latest values made per key: what a run tree reuses in a long-lived process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Each key's value, made once, for the ``size`` keys used last (a test session or a served flow keeps
    only the latest runs' values). Making runs under the cache's lock, so concurrent callers make it once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            value = self._values[key] = make()
            while len(self._values) > self.size:
                self._values.popitem(last=False)
            return value
