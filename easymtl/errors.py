"""The one error type that easymtl raises for bad input (config, data, paths, flags)."""

from __future__ import annotations


class EasymtlError(Exception):
    """A problem the user can act on; its message is one line naming what and where.

    The CLIs print it as ``error: <message>`` and exit with status 2.
    """


class ConfigError(EasymtlError):
    """A config field with a bad value.

    Args:
        field: Dotted path of the field, with indices of repeated fields, e.g.
            ``model_config.ple.extraction_networks[0].expert_num_per_task``.
        message: What is wrong and what was expected.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
