"""Plain Keras 3 layers: MLP, mixture-of-experts and extraction networks."""

from easymtl.layers.extraction import PLE, ExtractionNetwork
from easymtl.layers.mlp import MLP
from easymtl.layers.mmoe import MMoE
from easymtl.layers.tower import TaskTower

__all__ = ["MLP", "MMoE", "PLE", "ExtractionNetwork", "TaskTower"]
