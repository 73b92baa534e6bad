"""Config checks that several feature kinds share (no TensorFlow): each raises
:class:`~easymtl.errors.ConfigError` naming the field."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.normalizer import parse_normalizer

POOLINGS = ("sum", "mean")


def check_pooling(f, where: str) -> None:
    """`f.pooling` is "sum" or "mean" (a message without the field passes)."""
    if getattr(f, "pooling", "sum") not in POOLINGS:
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")


def check_positive(f, name: str, where: str, when: str = "") -> None:
    """`f.<name>` is not 0 (`when` says under which condition it is needed)."""
    if getattr(f, name) == 0:
        raise ConfigError(f"{where}.{name}", "must be positive" + (f" {when}" if when else ""))


def check_separator(f, where: str, name: str = "separator") -> None:
    """A separator that is set is not empty."""
    if f.HasField(name) and not getattr(f, name):
        raise ConfigError(f"{where}.{name}", "must not be empty")


def check_boundaries(f, where: str) -> None:
    """`f.boundaries` increase strictly."""
    if list(f.boundaries) != sorted(set(f.boundaries)):
        raise ConfigError(f"{where}.boundaries", "must be strictly increasing")


def check_number(f, name: str, where: str) -> None:
    """The string field `f.<name>` holds a number."""
    try:
        float(getattr(f, name))
    except ValueError:
        raise ConfigError(f"{where}.{name}", f"{getattr(f, name)!r} is not a number") from None


def check_normalizer(f, where: str) -> None:
    """A normalizer that is set parses (see :func:`parse_normalizer`)."""
    if f.HasField("normalizer"):
        try:
            parse_normalizer(f.normalizer)
        except ValueError as e:
            raise ConfigError(f"{where}.normalizer", str(e)) from None


def check_one_of(f, where: str, kinds: list[str], set_kinds: list[str]) -> str:
    """Exactly one of `kinds` is set (`set_kinds` are those set); returns it."""
    if len(set_kinds) != 1:
        raise ConfigError(
            where,
            f"expected exactly one of {', '.join(kinds)}; got " + (", ".join(set_kinds) or "none"),
        )
    return set_kinds[0]
