"""Hyper-parameter search over config fields with Optuna: ``python -m easymtl.tune``.

:mod:`~easymtl.tune.space` reads and checks the search space, :mod:`~easymtl.tune.study`
runs the trials as training processes, :mod:`~easymtl.tune.report` writes the table,
the chart and the best config. See docs/tuning.md.
"""
