"""shared_bottom: one MLP shared by all tasks under their towers (Caruana, 1997)."""

from easymtl.layers.mlp import MLP
from easymtl.models import mlp_kwargs, register_model


@register_model("shared_bottom")
def build_shared_bottom(config, num_tasks: int) -> MLP:
    return MLP(**mlp_kwargs(config.bottom_mlp), name="bottom_mlp")
