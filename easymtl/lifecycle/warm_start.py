"""Warm start: a new model_dir's model begins with the variables of another checkpoint.

Called by :meth:`Runner.restore` when model_dir has no checkpoint and
train_config.fine_tune_checkpoint is set. Each model variable is looked up in that
checkpoint by name (its Keras path, e.g. ``mmoe/tower_ctr/head/kernel``, or the name
that train_config.fine_tune_ckpt_param_map gives it) and loaded when the shapes agree.
Variables the checkpoint lacks (a new feature's table, a new tower) and variables of
another shape (a tower input that grew) keep their fresh initial values; an embedding
table whose row count changed keeps the overlapping rows when its ids keep their rows
(num_buckets, vocab_list, boundaries: not a hashed table, whose every id moves). The
step and epoch counters stay at 0; the optimizers start fresh unless
train_config.fine_tune_restore_optimizer. The loaded, resized, fresh and unused
variables are logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import tensorflow as tf

from easymtl.checkpoints import model_variables
from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")

_MODEL = "model/"
_VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"


@dataclasses.dataclass
class Report:
    """What a warm start loaded.

    Attributes:
        checkpoint: The checkpoint read.
        loaded: Variables loaded whole, as (name, name in the checkpoint).
        resized: Variables whose overlapping part was loaded: (name, old, new shape).
        fresh: Variables found under another shape and left fresh: (name, old, new).
        new: Variables the checkpoint lacks, left fresh.
        unused: Checkpoint model variables no variable of this model took.
        optimizer: Whether the optimizer state was loaded.
    """

    checkpoint: str
    loaded: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    resized: list[tuple[str, list[int], list[int]]] = dataclasses.field(default_factory=list)
    fresh: list[tuple[str, list[int], list[int]]] = dataclasses.field(default_factory=list)
    new: list[str] = dataclasses.field(default_factory=list)
    unused: list[str] = dataclasses.field(default_factory=list)
    optimizer: bool = False


def checkpoint_path(path: str) -> str:
    """The checkpoint `path` names: itself (a prefix), or a directory's newest.

    Raises:
        EasymtlError: there is no checkpoint there.
    """
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise EasymtlError(
                f"train_config.fine_tune_checkpoint {path!r}: the directory holds no checkpoint"
            )
        return latest
    if os.path.exists(path + ".index"):
        return path
    raise EasymtlError(
        f"train_config.fine_tune_checkpoint {path!r}: no checkpoint there; expected a "
        "checkpoint prefix such as model_dir/model.ckpt-1000 or a directory holding one"
    )


def read_param_map(path: str) -> dict[str, str]:
    """The ``new_name<TAB>old_name`` lines of a fine_tune_ckpt_param_map file.

    Raises:
        EasymtlError: the file is missing or a line is not two tab-separated names.
    """
    field = "train_config.fine_tune_ckpt_param_map"
    if not os.path.isfile(path):
        raise EasymtlError(f"{field} {path!r}: no such file")
    mapping = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 2 or not all(p.strip() for p in parts):
                raise EasymtlError(
                    f"{field} {path!r} line {number}: expected 'new_name<TAB>old_name', "
                    f"got {line!r}"
                )
            mapping[parts[0].strip()] = parts[1].strip()
    return mapping


def unescape(name: str) -> str:
    """A checkpoint key's object name back to the Keras path ('.S' is '/', '..' '.')."""
    out, i = [], 0
    while i < len(name):
        if name[i] == "." and i + 1 < len(name):
            out.append("/" if name[i + 1] == "S" else name[i + 1])
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def warm_start(runner) -> Report:
    """Loads train_config.fine_tune_checkpoint into `runner`'s model (see the module).

    Raises:
        EasymtlError: the checkpoint or param map cannot be read, a mapped variable
            does not fit, nothing matches, or the optimizer state cannot be loaded.
    """
    train = runner.config.train_config
    path = checkpoint_path(train.fine_tune_checkpoint)
    where = f"train_config.fine_tune_checkpoint {path!r}"
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as e:
        raise EasymtlError(f"{where}: cannot be read ({_reason(e)})") from None
    old = {
        unescape(key[len(_MODEL) : -len(_VALUE)]): key
        for key in shapes
        if key.startswith(_MODEL) and key.endswith(_VALUE)
    }
    if not old:
        raise EasymtlError(f"{where}: holds no model variables (not an easymtl checkpoint)")
    mapping = {}
    if train.fine_tune_ckpt_param_map:
        mapping = read_param_map(train.fine_tune_ckpt_param_map)
    variables = model_variables(runner.model)
    _check_mapping(mapping, variables, old, train.fine_tune_ckpt_param_map)
    keeps_rows = _row_stable_tables(runner.model)
    report = Report(path)
    used = set()
    for name, var in variables.items():
        source = _source(name, mapping)
        if source not in old:
            if name in mapping:  # mapped explicitly to a name the checkpoint lacks
                raise EasymtlError(f"{where}: has no variable {source!r} (mapped from {name!r})")
            report.new.append(name)
            continue
        key = old[source]
        used.add(source)
        old_shape, new_shape = list(shapes[key]), var.shape.as_list()
        if dtypes[key] != var.dtype:
            raise EasymtlError(
                f"{where}: {source!r} is {dtypes[key].name}, {name!r} is {var.dtype.name}"
            )
        if old_shape == new_shape:
            var.assign(reader.get_tensor(key))
            report.loaded.append((name, source))
            continue
        partial = len(old_shape) == len(new_shape) and (
            train.force_restore_shape_compatible
            or (name in keeps_rows and old_shape[1:] == new_shape[1:])
        )
        if partial:
            var.assign(_overlap(var.numpy(), reader.get_tensor(key)))
            report.resized.append((name, old_shape, new_shape))
        elif _explicit(name, mapping):
            raise EasymtlError(
                f"{where}: {source!r} has shape {old_shape}, {name!r} {new_shape}; drop the "
                "line from train_config.fine_tune_ckpt_param_map or set "
                "train_config.force_restore_shape_compatible"
            )
        else:
            report.fresh.append((name, old_shape, new_shape))
    report.unused = sorted(set(old) - used)
    if not report.loaded and not report.resized:
        mine, theirs = next(iter(variables)), next(iter(sorted(old)))
        raise EasymtlError(
            f"{where}: none of its {len(old)} model variables matches this model by name "
            f"and shape (its names look like {theirs!r}, this model's like {mine!r}); map "
            "them with train_config.fine_tune_ckpt_param_map"
        )
    if train.fine_tune_restore_optimizer:
        _restore_optimizer(runner, reader, shapes, report, mapping)
    _log(report)
    return report


def _source(name: str, mapping: dict[str, str]) -> str:
    """The checkpoint name of variable `name`: mapped exactly, by the longest mapped
    prefix ("a/" -> "b/"), or its own."""
    if name in mapping:
        return mapping[name]
    prefixes = [p for p in mapping if p.endswith("/") and name.startswith(p)]
    if prefixes:
        prefix = max(prefixes, key=len)
        return mapping[prefix] + name[len(prefix) :]
    return name


def _explicit(name: str, mapping: dict[str, str]) -> bool:
    return name in mapping


def _check_mapping(mapping, variables, old, path) -> None:
    field = f"train_config.fine_tune_ckpt_param_map {path!r}"
    for new, source in mapping.items():
        if new.endswith("/") != source.endswith("/"):
            raise EasymtlError(f"{field}: {new!r} and {source!r}: a prefix maps to a prefix")
        if new.endswith("/"):
            if not any(v.startswith(new) for v in variables):
                raise EasymtlError(f"{field}: no variable of this model starts with {new!r}")
            if not any(o.startswith(source) for o in old):
                raise EasymtlError(f"{field}: no checkpoint variable starts with {source!r}")
        elif new not in variables:
            raise EasymtlError(
                f"{field}: this model has no variable {new!r} (its variables are named like "
                f"{next(iter(variables))!r})"
            )


def _row_stable_tables(model) -> set[str]:
    """Paths of the embedding tables whose rows keep their ids when the table grows:
    every feature on them maps ids to rows without a hash."""
    from easymtl.features.id_feature.layer import IdFeature
    from easymtl.features.raw_feature.layer import RawFeature

    features = model.features
    hashed = set()
    for feature, (table, _) in features.embeddings.items():
        layer = features.features[feature]
        stable = isinstance(layer, RawFeature) or (
            isinstance(layer, IdFeature) and layer.hash_bucket_size is None
        )
        if not stable:
            hashed.add(table)
    return {t.embeddings.path for name, t in features.tables.items() if name not in hashed}


def _overlap(current: np.ndarray, old: np.ndarray) -> np.ndarray:
    """`current` with its leading part (the overlap with `old`) taken from `old`."""
    region = tuple(slice(0, min(a, b)) for a, b in zip(current.shape, old.shape))
    out = current.copy()
    out[region] = old[region]
    return out


def _restore_optimizer(runner, reader, shapes, report: Report, mapping) -> None:
    """Loads the dense optimizer's slots and iterations and the sparse (and wide)
    optimizers' slots, which checkpoints keep by position: only into the very same model."""
    if report.new or report.unused or report.resized or report.fresh or mapping:
        raise EasymtlError(
            "train_config.fine_tune_restore_optimizer: the optimizer state of "
            f"{report.checkpoint!r} is stored by position, so it loads only into the same "
            f"model; this one differs ({len(report.new)} new, {len(report.unused)} unused, "
            f"{len(report.resized) + len(report.fresh)} reshaped variables"
            f"{', a param map' if mapping else ''}); set it false to start the optimizers fresh"
        )
    pairs = []
    dense = runner.state.dense_optimizer
    for i, var in enumerate(dense.variables):
        if var is dense.iterations:
            key = "dense_optimizer/_iterations"
        elif i >= 2:
            key = f"dense_optimizer/_variables/{i}"
        else:  # the learning rate: this config's
            continue
        pairs.append((key + _VALUE, var))
    for name in ("sparse_optimizer", "wide_optimizer"):  # the wide one: if set
        optimizer = getattr(runner.state, name)
        for i, slots in enumerate(optimizer.slots if optimizer is not None else []):
            for j, var in enumerate(slots):
                pairs.append((f"{name}/slots/{i}/{j}{_VALUE}", var))
    for key, var in pairs:
        if key not in shapes or list(shapes[key]) != var.shape.as_list():
            raise EasymtlError(
                "train_config.fine_tune_restore_optimizer: "
                f"{report.checkpoint!r} has no optimizer state {key.split('/.')[0]!r} of shape "
                f"{var.shape.as_list()} (another optimizer?); set it false to start the "
                "optimizers fresh"
            )
    for key, var in pairs:
        var.assign(reader.get_tensor(key))
    report.optimizer = True


def _log(report: Report) -> None:
    log.info(
        "warm start from %s: %d variables loaded, %d resized (overlap kept), %d new, "
        "%d of another shape (fresh), %d in the checkpoint unused; optimizer state %s",
        report.checkpoint,
        len(report.loaded),
        len(report.resized),
        len(report.new),
        len(report.fresh),
        len(report.unused),
        "loaded" if report.optimizer else "fresh",
    )
    loaded = [n if n == s else f"{n} <- {s}" for n, s in report.loaded]
    for title, names in (
        ("loaded", loaded),
        ("resized, overlapping part loaded", [f"{n} {o} -> {s}" for n, o, s in report.resized]),
        ("new (fresh)", report.new),
        ("of another shape (fresh)", [f"{n} {o} -> {s}" for n, o, s in report.fresh]),
        ("unused in the checkpoint", report.unused),
    ):
        if names:
            log.info("warm start: %s: %s", title, ", ".join(names))


def _reason(e: Exception) -> str:
    return " ".join((getattr(e, "message", None) or str(e)).split())[:200]
