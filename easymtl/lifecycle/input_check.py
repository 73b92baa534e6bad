"""Every training row read once before the first step of a run
(``data_config.check_rows_before_training``): a bad row, or too many skipped, stops the
run before it trains, saves or exports anything."""

from __future__ import annotations

import logging
import time

from easymtl.callbacks import Callback

log = logging.getLogger("easymtl")


class InputCheck(Callback):
    """Reads the training input once, with the checks training applies, before the
    first step: under ``bad_row_policy: STOP`` the first bad row stops the run (naming
    file, line and column); under SKIP, more than ``max_bad_row_fraction`` bad rows do.

    Runs on a single-process chief only: workers of a cluster read their shards as they
    train (a worker waiting for the chief's pass could time out).
    """

    def before_train(self, step: int) -> None:
        from easymtl.data import BadRows, build_dataset, check_files, expand_paths

        runner = self.runner
        cluster = runner.cluster
        if not cluster.is_chief or cluster.num_workers > 1 or cluster.ps is not None:
            return
        config = runner.config
        data = config.data_config
        source = "train_input_path"
        files = check_files(expand_paths(config.train_input_path, source), data, source)
        columns = runner.inputs.input_names + runner.inputs.label_names
        checks = runner.inputs.row_checks

        def read(paths):
            return build_dataset(data, paths, columns, 4096, training=False, checks=checks)

        start = time.perf_counter()
        bad_rows = BadRows(data, files, columns, checks, source, rebuild=read)
        for _ in bad_rows(read(files)):
            pass
        log.info(
            "%d training rows read and checked in %.1fs%s (data_config.check_rows_before_training)",
            bad_rows.rows,
            time.perf_counter() - start,
            f", {bad_rows.skipped} of them bad" if bad_rows.skipped else "",
        )
