"""The trainer's parts, which :class:`easymtl.runner.Runner` composes (detectron2's
engine/train_loop.py split):

- :mod:`~easymtl.trainer.state`: the train state: variables by optimizer, the
  optimizers, the loop's counters and the checkpoint over them.
- :mod:`~easymtl.trainer.loop`: the one training loop: callbacks around each round of
  :meth:`Runner.run_step`, logging, saving, signals.
- :mod:`~easymtl.trainer.schedule`: step scheduling in this process (one step a round);
  parameter servers bring their own (:mod:`easymtl.ps.schedule`).
- :mod:`~easymtl.trainer.evaluator`: evaluation, beside training.
- :mod:`~easymtl.trainer.inputs`: the input and label columns and their datasets.
- :mod:`~easymtl.trainer.train_log`: the train losses, their history and log line.
- :mod:`~easymtl.trainer.saver`: the chief's checkpoints of a run.
"""
