"""binary_focal_loss: focal loss (Lin et al., ICCV 2017) on a binary tower's logits."""

import tensorflow as tf


def binary_focal_loss(labels, logits, gamma: float = 2.0, alpha: float = 0.5):
    """Per-example ``-alpha_t * (1 - p_t)^gamma * log(p_t)``, where p_t is the probability
    given to the true class and alpha_t is alpha for positives, 1 - alpha for negatives.

    As TorchEasyRec's BinaryFocalLoss, the modulating factor is a weight: no gradient
    flows through it (only through the cross entropy).
    """
    labels = tf.cast(labels, logits.dtype)
    p = tf.sigmoid(logits)
    weight = alpha * labels * tf.pow(1.0 - p, gamma) + (1.0 - alpha) * (1.0 - labels) * tf.pow(
        p, gamma
    )
    weight = tf.stop_gradient(weight)
    return weight * tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def build_binary_focal_loss(config):
    """The loss of a BinaryFocalLoss message (checked by ``check_focal``)."""
    gamma, alpha = config.gamma, config.alpha
    return lambda labels, logits: binary_focal_loss(labels, logits, gamma, alpha)
