"""What training and evaluation read: the input columns, the label columns, their
datasets (sharded over the workers) and the bad-row accounting around them."""

from __future__ import annotations

import tensorflow as tf

from easymtl.data import BadRows, RowChecks, build_dataset, check_files, expand_paths, field_dtype
from easymtl.data.checks import float_fields


class Inputs:
    """The raw columns a model reads and the label columns its evaluation reads.

    Args:
        config: The PipelineConfig.
        input_names: The raw input columns the model reads.
        tasks: The model's tasks.
        evaluated: What evaluation scores besides the tasks (the fused score), if any.
        feature_checks: The features' own row checks (``FeatureInputs.row_checks()``).
        seed: The shuffle seed of epoch 0 (epoch e shuffles with seed + e).

    Attributes:
        input_names: As given.
        label_names: The label columns of the tasks and of `evaluated`, each once.
        row_checks: The value rules applied to each row (:class:`RowChecks`).
    """

    def __init__(self, config, input_names, tasks, evaluated, feature_checks, seed: int):
        self.config = config
        self.input_names = list(input_names)
        columns = (c for t in [*tasks, *evaluated] for c in t.columns)
        self.label_names = list(dict.fromkeys(columns))
        self.row_checks = RowChecks.build(
            tasks, float_fields(config.data_config, self.input_names), feature_checks
        )
        self.seed = seed

    def dataset(
        self, training: bool, epoch: int = 0, shard: tuple[int, int] = (0, 1)
    ) -> tf.data.Dataset:
        """The train or eval batches. Training shard `shard` = (index, workers) reads a
        share of the files when there are at least as many files as workers, else every
        workers-th batch."""
        data = self.config.data_config
        _, files, batch_size = self.source(training)
        index, workers = shard
        by_file = training and workers > 1 and len(files) >= workers
        dataset = build_dataset(
            data,
            files[index::workers] if by_file else files,
            self.input_names + self.label_names,
            batch_size,
            training=training,
            seed=self.seed + epoch,
            checks=self.row_checks,
        )
        if training and workers > 1 and not by_file:
            dataset = dataset.shard(workers, index)
        return dataset

    def source(self, training: bool) -> tuple[str, list[str], int]:
        """(config field, files, batch size) of the train or eval input."""
        data = self.config.data_config
        field = "train_input_path" if training else "eval_input_path"
        files = check_files(expand_paths(getattr(self.config, field), field), data, field)
        batch_size = data.batch_size if training else (data.eval_batch_size or data.batch_size)
        return field, files, batch_size

    def bad_rows(self, training: bool) -> BadRows:
        """Iterates the train or eval batches, stopping at or counting bad rows."""
        data = self.config.data_config
        field, files, _ = self.source(training)
        columns = self.input_names + self.label_names
        return BadRows(
            data,
            files,
            columns,
            self.row_checks,
            field,
            rebuild=lambda fs: build_dataset(
                data, fs, columns, 4096, training=False, checks=self.row_checks
            ),
        )

    def split(self, batch: dict) -> tuple[dict, dict]:
        """(features, labels) of a batch: the raw input columns the model reads, and the
        label columns its tasks and the fused score's evaluation read."""
        return (
            {k: batch[k] for k in self.input_names},
            {k: batch[k] for k in self.label_names},
        )

    def rows(self, batch: dict) -> int:
        """The rows of a batch (eager)."""
        return int(batch[self.label_names[0]].shape[0])

    def serving_specs(self) -> dict[str, tf.TensorSpec]:
        """One TensorSpec per raw input field the model reads: [batch], or
        [batch, list length] for a list (ARRAY_*) field."""
        from easymtl.data.csv import field_shape

        fields = {f.input_name: f for f in self.config.data_config.input_fields}
        return {
            name: tf.TensorSpec(field_shape(fields[name]), field_dtype(fields[name]), name=name)
            for name in self.input_names
        }

    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """One empty-valued row of the raw input columns."""
        fields = {f.input_name: f for f in self.config.data_config.input_fields}
        dummy = {}
        for name in self.input_names:
            dtype = field_dtype(fields[name])
            dummy[name] = tf.constant([""]) if dtype == tf.string else tf.zeros([1], dtype)
        return dummy
