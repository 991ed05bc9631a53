"""Named plugin registries.

One registry per plugin family (strategies, optimizers, datasets, ...). Plugins are
registered by decorator and looked up by name; an unknown name fails with the list of
known ones. This replaces getattr-by-string dispatch (ARCHITECTURE §5.4).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name that no plugin of the family is registered under."""


class UnknownOptionError(ValueError):
    """An option a plugin does not take; the message starts with the option's name,
    so that a caller can put the path it came from in front (``data.params.`` + it)."""


class Registry(Generic[T]):
    """A mapping from names to factories of one plugin family.

    Example:
        >>> STRATEGIES: Registry[Callable[..., float]] = Registry("strategy")
        >>> @STRATEGIES.register("one")
        ... def one() -> float:
        ...     return 1.0
        >>> STRATEGIES.get("one")()
        1.0
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a factory under ``name`` (names are unique)."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return decorator

    def factory(self, name: str) -> Callable[..., T]:
        """The registered factory itself, without calling it."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def get(self, name: str, **params: Any) -> T:
        """Build the plugin registered as ``name`` with keyword ``params``."""
        return self.factory(name)(**params)

    def parameters(self, name: str, *, exclude: Collection[str] = ()) -> list[str] | None:
        """The keyword options the plugin ``name`` takes (its factory's signature), less
        ``exclude`` (arguments its caller supplies); None where it takes any
        (``**kwargs``). Lets a config name an unknown option instead of showing a
        ``TypeError`` from deep inside."""
        signature = inspect.signature(self.factory(name))
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
            return None
        return [
            p.name
            for p in signature.parameters.values()
            if p.kind in kinds and p.name not in exclude
        ]

    def check_options(
        self, name: str, options: Collection[Any], *, exclude: Collection[str] = ()
    ) -> None:
        """Raise :class:`UnknownOptionError` for the first of ``options`` (keys) that
        the plugin ``name`` does not take (see :meth:`parameters`)."""
        known = self.parameters(name, exclude=exclude)
        if known is None:
            return
        for key in options:
            if key not in known:
                raise UnknownOptionError(
                    f"{key}: unknown parameter of {self.kind} {name!r} "
                    f"(known: {', '.join(known) or 'none'})"
                )

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
