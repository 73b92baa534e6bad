"""cgc: Customized Gate Control (Tang et al., RecSys 2020), a single PLE level."""

from easymtl.layers.extraction import PLE
from easymtl.models import register_model
from easymtl.models.ple import level_kwargs


@register_model("cgc")
def build_cgc(config, num_tasks: int) -> PLE:
    return PLE(num_tasks, [level_kwargs(config)], level_names=["cgc"], name="cgc")
