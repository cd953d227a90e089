"""A bounded cache of SPARQL answers, per worker process, keyed on the build being served:
the graph changes only when it is rebuilt, so an answer stays right until the build id
changes. Least recently used answers go first when the byte budget is spent."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedAnswer:
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]


class AnswerCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, CachedAnswer] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> CachedAnswer | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple, answer: CachedAnswer) -> None:
        size = len(answer.body)
        if size > self.max_bytes // 4:  # one answer never takes most of the budget
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = answer
            self._size += size
            while self._size > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old.body)
