"""One small registry class for every name a config may give: models, losses, metrics,
loss weightings, feature kinds and data readers.

A registration maps a name (a proto oneof field, or an enum value) to a builder, plus the
facts validation needs about it (``check``, ``task_type``, ...). The builder may be named
lazily as ``"module:function"``, so that the names and the pure config checks are known
without importing the module that builds (and with it TensorFlow); so may a fact that
is built code, as ``lazy("module:attribute")`` (e.g. a model's Keras subclass).

Example:
    >>> LOSSES = Registry("loss")
    >>> @LOSSES.register("l2_loss", task_type="regression")
    ... def build_l2_loss(config): ...
    >>> LOSSES.register("huber_loss", "easymtl.losses.huber_loss:build_huber_loss")
    'easymtl.losses.huber_loss:build_huber_loss'
    >>> LOSSES.names()
    ['l2_loss', 'huber_loss']
    >>> LOSSES.entry("l2_loss").task_type
    'regression'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

from easymtl.errors import EasymtlError


class UnknownName(EasymtlError, KeyError):
    """A name that no registration of a registry has; the message lists the choices."""

    def __str__(self) -> str:
        return str(self.args[0])


def _resolve(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


class lazy(str):  # lower case: it reads as a call, lazy("module:attribute")
    """A fact given as ``"module:attribute"``: the entry imports it when it is read."""


class Entry:
    """One registration: its name, its builder and the facts it was registered with
    (read as attributes, e.g. ``entry.check``; a fact not given reads as None, a
    :class:`lazy` one is imported on first read)."""

    def __init__(self, name: str, target: Callable | str, info: dict[str, Any]):
        self.name = name
        self._target = target
        self.info = info

    @property
    def builder(self) -> Callable:
        """The builder, imported on first use where it was registered as a path."""
        if isinstance(self._target, str):
            self._target = _resolve(self._target)
        return self._target

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key == "info":
            raise AttributeError(key)
        value = self.info.get(key)
        if isinstance(value, lazy):
            value = self.info[key] = _resolve(value)
        return value


class Registry:
    """Names of one kind of config choice, each mapped to a builder.

    Args:
        kind: What the names are, for messages ("model", "loss", ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, builder: Callable | str | None = None, **info: Any):
        """Registers `builder` (a callable, or ``"module:function"`` imported on first
        use) under `name` with the facts `info`; without `builder`, returns a decorator
        that registers the function it decorates.

        Raises:
            ValueError: `name` is registered already.
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")

        def add(target: Callable | str):
            self._entries[name] = Entry(name, target, info)
            return target

        return add if builder is None else add(builder)

    def entry(self, name: str) -> Entry:
        """The registration of `name`.

        Raises:
            UnknownName: no registration has that name; the message lists the choices.
        """
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownName(
                f"unknown {self.kind} {name!r}; expected one of {', '.join(self._entries)}"
            ) from None

    def __getitem__(self, name: str) -> Callable:
        return self.entry(name).builder

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """The registrations, in order (their builders are not imported)."""
        return list(self._entries.values())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
