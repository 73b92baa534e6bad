"""shared_bottom: one MLP shared by all tasks under their towers (Caruana, 1997)."""

from easymtl.models import MODELS, mlp_kwargs


@MODELS.register("shared_bottom")
def build_shared_bottom(config, num_tasks: int):
    """The shared :class:`~easymtl.layers.mlp.MLP` of a SharedBottom message."""
    from easymtl.layers.mlp import MLP

    return MLP(**mlp_kwargs(config.bottom_mlp), name="bottom_mlp")
