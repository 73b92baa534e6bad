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
    """A separator that is set is not empty (a message without the field passes)."""
    if name in f.DESCRIPTOR.fields_by_name and f.HasField(name) and not getattr(f, name):
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


def check_data_type(f, where: str) -> None:
    """A data_type, where the message has one, is FP32 or FP16 (easymtl keeps FP32
    tables either way)."""
    if "data_type" in f.DESCRIPTOR.fields_by_name and f.data_type not in ("FP32", "FP16"):
        raise ConfigError(f"{where}.data_type", f"{f.data_type!r}: expected 'FP32' or 'FP16'")


def check_embedding(f, where: str, value_dim: int = 1) -> None:
    """A number-valued feature's embedding: boundaries (bucket ids) or a dense embedding
    (``mlp`` / ``autodis``) need a positive embedding_dim, not both. A dense value's
    embedding_dim is not used, as in TorchEasyRec (the builder logs it)."""
    dense = f.WhichOneof("dense_emb") if "dense_emb" in f.DESCRIPTOR.oneofs_by_name else None
    if f.boundaries and dense:
        raise ConfigError(
            f"{where}.{dense}", "embeds a dense value; with boundaries the value is bucket ids"
        )
    if dense == "autodis":
        check_positive(f.autodis, "num_channels", f"{where}.autodis")
        if not f.autodis.temperature > 0:
            raise ConfigError(f"{where}.autodis.temperature", "must be positive")
        if value_dim > 1:
            raise ConfigError(
                f"{where}.autodis", f"embeds one number; value_dim is {value_dim} (use mlp)"
            )
    if f.boundaries or dense:
        check_positive(f, "embedding_dim", where, f"with {'boundaries' if f.boundaries else dense}")


def check_one_of(f, where: str, kinds: list[str], set_kinds: list[str]) -> str:
    """Exactly one of `kinds` is set (`set_kinds` are those set); returns it."""
    if len(set_kinds) != 1:
        raise ConfigError(
            where,
            f"expected exactly one of {', '.join(kinds)}; got " + (", ".join(set_kinds) or "none"),
        )
    return set_kinds[0]
