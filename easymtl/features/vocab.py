"""Vocabularies of id features: ``vocab_list``, ``vocab_dict``, ``vocab_file`` and
``default_bucketize_value``, mapped to embedding rows. Imports no TensorFlow.

The rules (:func:`vocab_mapping`), with TorchEasyRec's meaning wherever easymtl has no
rule of its own from before:

- ``vocab_list`` alone: value i -> row i + 2, the ``default_value`` -> 0 (unless it is
  in the list), unknown values -> 1, as TorchEasyRec (its list is ``[default_value,
  "<OOV>"] + vocab_list``); rows: len + 2.
- ``vocab_list`` with ``default_bucketize_value`` d: value i -> row i, unknown -> d
  (d < len); rows: len. As TorchEasyRec: the list is used as it is.
- ``vocab_dict`` alone: each value -> its id, the ``default_value`` -> 0, unknown -> 1
  (TorchEasyRec reserves ids 0 and 1 of a vocab_dict: its ids start at 2); rows: the
  largest id + 1.
- ``vocab_dict`` with ``default_bucketize_value`` d: each value -> its id, unknown -> d;
  rows: max(largest id, d) + 1.
- ``vocab_file`` (needs ``default_bucketize_value``, as in TorchEasyRec): a file of one
  value per line (the value on line i -> row i, as a vocab_list with d), or of "value id"
  per line (as a vocab_dict with d).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from easymtl.errors import ConfigError


@dataclass(frozen=True)
class Vocabulary:
    """A vocabulary mapped to rows.

    Attributes:
        keys: The values, each once (the first mapping of a repeated value wins).
        ids: The row of each value.
        unknown: The row of a value not in `keys`.
        rows: Rows of the embedding table.
    """

    keys: tuple[str, ...]
    ids: tuple[int, ...]
    unknown: int
    rows: int


def vocab_mapping(
    vocab_list: list[str] | None = None,
    vocab_dict: dict[str, int] | None = None,
    default_bucketize_value: int | None = None,
    default_value: str | None = None,
) -> Vocabulary:
    """The rows of a vocabulary given as a list or as a dict (see the module docstring).

    Raises:
        ValueError: both or neither of `vocab_list`, `vocab_dict`; an empty one; a
            `default_bucketize_value` outside the list.
    """
    if (vocab_list is None) == (vocab_dict is None):
        raise ValueError("Exactly one of `vocab_list`, `vocab_dict` is needed.")
    dbv = default_bucketize_value
    if dbv is not None and dbv < 0:
        raise ValueError(f"`default_bucketize_value` must not be negative. Received: {dbv}")
    pairs: dict[str, int] = {}
    if vocab_list is not None:
        if not vocab_list:
            raise ValueError("`vocab_list` must not be empty.")
        if dbv is not None and dbv >= len(vocab_list):
            raise ValueError(
                f"`default_bucketize_value` must be below the {len(vocab_list)} values of "
                f"`vocab_list`. Received: {dbv}"
            )
        offset = 0 if dbv is not None else 2
        for i, value in enumerate(vocab_list):
            pairs.setdefault(str(value), i + offset)
        if dbv is None and default_value is not None:
            pairs.setdefault(default_value, 0)
        rows = len(vocab_list) + offset
        return Vocabulary(tuple(pairs), tuple(pairs.values()), 1 if dbv is None else dbv, rows)
    if not vocab_dict:
        raise ValueError("`vocab_dict` must not be empty.")
    for value, i in vocab_dict.items():
        if int(i) < 0:
            raise ValueError(f"`vocab_dict` ids must not be negative. Received: {value}: {i}")
        pairs.setdefault(str(value), int(i))
    if dbv is None:
        if default_value is not None:
            pairs[default_value] = 0
        unknown = 1
    else:
        unknown = dbv
    rows = max([*pairs.values(), unknown]) + 1
    return Vocabulary(tuple(pairs), tuple(pairs.values()), unknown, rows)


def read_vocab_file(path: str, where: str) -> tuple[list[str], list[int] | None]:
    """The values of a vocab_file and, for a "value id" file, their ids (else None).

    Raises:
        ConfigError: at `where` (the vocab_file field), naming the path and line: the
            file does not exist, holds no values, or has a line of neither form.
    """
    try:
        stat = os.stat(path)
    except OSError:
        raise ConfigError(where, f"vocabulary file {path!r} does not exist") from None
    try:
        return _read(path, stat.st_mtime_ns, stat.st_size)
    except _BadLine as e:
        raise ConfigError(where, f"{path}: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(where, f"cannot read vocabulary file {path!r}: {e}") from None


class _BadLine(ValueError):
    pass


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int, size: int) -> tuple[list[str], list[int] | None]:
    del mtime_ns, size  # the cache key: a file changed on disk is read again
    values: list[str] = []
    ids: list[int] = []
    width = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if width is None:
                width = len(parts)
            if len(parts) != width or width > 2:
                raise _BadLine(
                    f"line {n}: expected one value per line, or 'value id' on every line; "
                    f"got {line.strip()!r}"
                )
            values.append(parts[0])
            if width == 2:
                if not parts[1].isdigit():
                    raise _BadLine(f"line {n}: id {parts[1]!r} is not a non-negative integer")
                ids.append(int(parts[1]))
    if not values:
        raise _BadLine("holds no values")
    return values, (ids if width == 2 else None)


def _has(proto, name: str) -> bool:
    return name in proto.DESCRIPTOR.fields_by_name


def proto_vocabulary(proto, where: str = "") -> Vocabulary | None:
    """The vocabulary of an id-like feature message (IdFeature, SequenceIdFeature,
    ComboFeature, LookupFeature, MatchFeature), or None when it has none.

    Raises:
        ConfigError: a bad vocab_file or default_bucketize_value (at `where`).
    """
    dbv = (
        proto.default_bucketize_value
        if _has(proto, "default_bucketize_value") and proto.HasField("default_bucketize_value")
        else None
    )
    default = proto.default_value if proto.HasField("default_value") else None
    if _has(proto, "vocab_file") and proto.HasField("vocab_file"):
        values, ids = read_vocab_file(proto.vocab_file, f"{where}.vocab_file")
        if dbv is None:
            raise ConfigError(
                f"{where}.default_bucketize_value",
                "a vocab_file needs default_bucketize_value (the row of values not in it), "
                "as in TorchEasyRec",
            )
        mapping = {"vocab_list": values} if ids is None else {"vocab_dict": dict(zip(values, ids))}
    elif proto.vocab_list:
        mapping = {"vocab_list": list(proto.vocab_list)}
    elif _has(proto, "vocab_dict") and proto.vocab_dict:
        mapping = {"vocab_dict": dict(proto.vocab_dict)}
    else:
        return None
    try:
        return vocab_mapping(**mapping, default_bucketize_value=dbv, default_value=default)
    except ValueError as e:
        raise ConfigError(f"{where}.default_bucketize_value", str(e)) from None
