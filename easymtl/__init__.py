"""easymtl: config-driven multi-task learning for recommender systems on Keras 3."""

__version__ = "0.1.0"
