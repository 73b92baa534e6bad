"""Parameter-server training: embedding tables sharded over ``ps`` tasks, asynchronous
workers, and the chief that coordinates them (see docs/distributed.md).

- :mod:`easymtl.ps.cluster`: the cluster of ``TF_CONFIG`` (strategy, coordinator, the
  servers of worker and ps tasks) and how tables are split into shards.
- :mod:`easymtl.ps.runner`: :class:`~easymtl.ps.runner.PSRunner`, the chief's runner
  (variable placement and step scheduling for the Runner's loop).
- :mod:`easymtl.ps.schedule`: the rounds of asynchronous steps on the workers.

Importing this package loads no TensorFlow.
"""
