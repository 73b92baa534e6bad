"""cgc: Customized Gate Control (Tang et al., RecSys 2020), a single PLE level."""

from easymtl.models import MODELS
from easymtl.models.ple import check_level, level_kwargs


@MODELS.register("cgc", check=check_level)
def build_cgc(config, num_tasks: int):
    """The one-level :class:`~easymtl.layers.extraction.PLE` of a CGC message."""
    from easymtl.layers.extraction import PLE

    return PLE(num_tasks, [level_kwargs(config)], level_names=["cgc"], name="cgc")
