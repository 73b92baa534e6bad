"""auc: streaming ROC AUC of a binary tower's probabilities."""

import keras

from easymtl.metrics import register_metric


@register_metric("auc")
def build_auc(config, name: str) -> keras.metrics.AUC:
    return keras.metrics.AUC(num_thresholds=config.thresholds, name=name)
