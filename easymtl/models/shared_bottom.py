"""shared_bottom: one MLP (or any block) shared by all tasks under their towers
(Caruana, 1997)."""

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.blocks import block_spec, check_block


def check_shared_bottom(config, where: str) -> None:
    """Raises ConfigError unless exactly one of bottom_mlp and bottom is set."""
    if config.HasField("bottom_mlp") == config.HasField("bottom"):
        raise ConfigError(
            f"{where}.bottom_mlp",
            "set bottom_mlp or bottom (any block, e.g. dcn_v2 { ... }), one of them",
        )
    if config.HasField("bottom"):
        check_block(config.bottom, f"{where}.bottom")


@MODELS.register("shared_bottom", check=check_shared_bottom)
def build_shared_bottom(config, num_tasks: int):
    """The shared bottom of a SharedBottom message: its MLP, or its block."""
    from easymtl.layers.blocks import make_block

    spec = block_spec(config.bottom) if config.HasField("bottom") else mlp_kwargs(config.bottom_mlp)
    return make_block(spec, name="bottom_mlp")
