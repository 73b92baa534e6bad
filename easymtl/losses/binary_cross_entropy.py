"""binary_cross_entropy: sigmoid cross entropy on a tower's logits."""

import tensorflow as tf

from easymtl.losses import register_loss


@register_loss("binary_cross_entropy")
def build_binary_cross_entropy(config):
    def loss(labels, logits):
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)

    return loss
