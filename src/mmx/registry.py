"""Name → factory registries (timm-style ``register`` / ``create`` / ``list``).

The registered names are the project's vocabulary: fusion modules (``cg``, ``concat``), model
presets, and later experts.
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from mmx.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of factories; ``create(name, **kw)`` builds one."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def deco(fn: Callable[..., T]) -> Callable[..., T]:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = fn
            return fn

        return deco

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def create(self, name: str, *args, **kwargs) -> T:
        return self.get(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
