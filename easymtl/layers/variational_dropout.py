"""Variational dropout over the features of a feature group (TorchEasyRec's
``variational_dropout``): feature selection by learned dropout ratios."""

from __future__ import annotations

import keras
from keras import ops

_EPSILON = 1.1920929e-07  # float32 machine epsilon, as TorchEasyRec's


@keras.saving.register_keras_serializable(package="easymtl")
class VariationalDropout(keras.layers.Layer):
    """Drops each feature of a group with a learned probability (concrete dropout).

    Each feature i has a logit ``feature_p[i]`` (standard normal at start) and a dropout
    ratio ``p_i = sigmoid(feature_p[i])``. In training every row's feature i is scaled by
    ``1 - z``, z a relaxed Bernoulli(p_i) sample (temperature 0.1); in inference by
    ``1 - p_i``. The layer adds ``regularization_lambda / batch × Σ_i (1 - p_i)`` to the
    model's losses, which pushes ratios up: features the tasks do not need end with a
    high ratio, so ``1 - p_i`` ranks the features (:meth:`dropout_ratios`). As
    TorchEasyRec's ``VariationalDropout``.

    Args:
        feature_names: The group's parts (features, then sequence encoders), in the order
            of the tensors call takes.
        regularization_lambda: Weight of the penalty.
        temperature: Temperature of the relaxed Bernoulli samples.

    Example:
        >>> vd = VariationalDropout(["a", "b"])
        >>> out = vd([ops.ones((3, 4)), ops.ones((3, 1))], training=False)
        >>> [tuple(o.shape) for o in out]
        [(3, 4), (3, 1)]
    """

    def __init__(
        self,
        feature_names: list[str],
        regularization_lambda: float = 0.01,
        temperature: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(feature_names) < 2:
            raise ValueError(f"`feature_names` must name 2 or more. Received: {feature_names}")
        if not regularization_lambda >= 0:
            raise ValueError(
                f"`regularization_lambda` must not be negative. Received: {regularization_lambda}"
            )
        if not temperature > 0:
            raise ValueError(f"`temperature` must be positive. Received: {temperature}")
        self.feature_names = list(feature_names)
        self.regularization_lambda = float(regularization_lambda)
        self.temperature = float(temperature)
        self.seed = keras.random.SeedGenerator(0)

    def build(self, input_shape):
        if len(input_shape) != len(self.feature_names):
            raise ValueError(
                f"Expected {len(self.feature_names)} inputs. Received: {len(input_shape)}"
            )
        self.feature_p = self.add_weight(
            shape=(len(self.feature_names),),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="feature_p",
        )

    def call(self, parts, training=None):
        p = ops.sigmoid(ops.cast(self.feature_p, parts[0].dtype))
        batch = ops.shape(parts[0])[0]
        if training:
            u = keras.random.uniform((batch, len(self.feature_names)), seed=self.seed)
            u = ops.cast(u, p.dtype)
            logit = (
                ops.log(p + _EPSILON)
                - ops.log(1.0 - p + _EPSILON)
                + ops.log(u + _EPSILON)
                - ops.log(1.0 - u + _EPSILON)
            )
            drop = ops.sigmoid(logit / self.temperature)
        else:
            drop = ops.broadcast_to(p[None, :], (batch, len(self.feature_names)))
        self.add_loss(self.regularization_lambda / ops.cast(batch, p.dtype) * ops.sum(1.0 - p))
        return [part * (1.0 - drop[:, i : i + 1]) for i, part in enumerate(parts)]

    def dropout_ratios(self) -> dict[str, float]:
        """Each feature's learned dropout ratio ``sigmoid(feature_p)`` (TorchEasyRec's
        mean_drop_p): the lower, the more the tasks need the feature."""
        values = ops.convert_to_numpy(ops.sigmoid(self.feature_p)).tolist()
        return dict(zip(self.feature_names, values))

    def get_config(self):
        return {
            **super().get_config(),
            "feature_names": self.feature_names,
            "regularization_lambda": self.regularization_lambda,
            "temperature": self.temperature,
        }
