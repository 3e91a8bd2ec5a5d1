"""The linear head: the regression baseline's map as a fixed branch of the network.

With ``network.linear_head: true`` the network's output is the U-Net's plus a linear map of the
summed field (input channel 0), ``head(x) = B^T (A^T x + a) + b``, whose weights are the ridge
regression of :mod:`gravsep.evaluation.regression` fitted on the training years (regularisation
per component chosen on the validation years) and rewritten in network units (input divided by
the input scale, targets by the target scales). The head is not trained: the U-Net learns what
the map leaves, so the network starts from the linear separation instead of having to find it
by gradient descent on a few hundred samples (where it does not: on the embedded default the
regression alone has a tenth of the paper's network's error for AO and H).

Layers ``head_select`` (a fixed 1 x 1 convolution that keeps input channel 0, the summed
field), ``head_project`` (pixels -> N, the training windows' centred, area-weighted features),
``head_map`` (N -> pixels x components, the ridge coefficients) and ``head_sum`` (U-Net output
plus head), all float32 and none trained. Parameters: pixels x (1 + components) x N (about 2.7
million on the embedded default's 64 x 64 grid with 105 training windows).
With position channels (``training.position_channels``) the fit also has the year ramp
(``regression_statistics(..., ramp=True)``), read from the input's ``year_ramp`` channel (the
last; constant over a ``lat_lon`` image) by ``head_ramp_select`` and ``head_ramp_pool``, and
added by ``head_ramp_project`` (to the N features) and ``head_ramp_map`` (to the output).

A ``lat_lon`` sampling only (one map per sample, no random mixing: the map is affine in the
sample, and a random combination's weights do not sum to 1).
"""

import numpy as np

from gravsep.evaluation.regression import pixel_weights


def head_weights(stats, input_scale, target_scales):
    """Kernels and biases of the head from the regression fit, in network units.

    Parameters
    ----------
    stats : dict
        :func:`gravsep.evaluation.regression.regression_statistics` of the dataset.
    input_scale : float
        [m]; network input = input / input_scale.
    target_scales : array_like
        ``(C,)`` [m]; network target = target / scale.

    Returns
    -------
    list of numpy.ndarray
        ``[A (P, N), a (N,), B (N, P*C), b (P*C,)]`` float32, pixel-major and
        component-minor as Keras flattens ``(dim, dim, C)``; for a fit with the year ramp
        followed by ``[U (1, N), u (N,), V (1, P*C), v (P*C,)]``, the ramp's terms.
    """
    feats = np.asarray(stats["reg_features"], dtype=np.float64)  # (N, P)
    n, p = feats.shape
    n_lon = stats["reg_shape"][1]
    sw = np.sqrt(pixel_weights(stats["reg_lat"], n_lon))
    proj = (float(input_scale) * sw)[:, None] * feats.T
    bias1 = -(feats @ (sw * np.asarray(stats["reg_x_mean"], dtype=np.float64)))
    scales = np.asarray(target_scales, dtype=np.float64)
    coef = np.asarray(stats["reg_coef"], dtype=np.float64) / scales[:, None, None]  # (C, N, P)
    kernel2 = coef.transpose(1, 2, 0).reshape(n, -1)
    bias2 = (np.asarray(stats["reg_y_mean"], dtype=np.float64) / scales[:, None]).T.reshape(-1)
    out = [proj, bias1, kernel2, bias2]
    if "reg_ramp_x" in stats:
        r_mean = float(stats["reg_ramp_mean"])
        ramp_k = -(feats @ (sw * np.asarray(stats["reg_ramp_x"], dtype=np.float64)))  # (N,)
        ramp_y = (np.asarray(stats["reg_ramp_y"], dtype=np.float64) / scales[:, None]).T
        ramp_y = ramp_y.reshape(-1)
        out += [ramp_k[None, :], -r_mean * ramp_k, ramp_y[None, :], -r_mean * ramp_y]
    return [a.astype(np.float32) for a in out]


def add_head(inputs, outputs, dim, n_comp, weights, ramp_channel=None):
    """``outputs + head(inputs)`` with the head's layers fixed to ``weights``.

    Parameters
    ----------
    inputs, outputs : keras tensors
        ``(dim, dim, channels)`` network input and ``(dim, dim, n_comp)`` U-Net output.
    dim, n_comp : int
    weights : list of numpy.ndarray or int
        :func:`head_weights`, or a rank N for a head of zeros (a network built before its
        fit, e.g. to measure its cost).
    ramp_channel : int, optional
        Input channel of the year ramp; needed by weights with the ramp's terms, and with a
        rank it adds them as zeros.
    """
    import keras

    rank = int(weights) if np.isscalar(weights) else int(weights[0].shape[1])
    with_ramp = ramp_channel is not None if np.isscalar(weights) else len(weights) == 8
    if with_ramp and ramp_channel is None:
        raise ValueError("the linear head was fitted with the year ramp: the input needs its "
                         "channel (training.position_channels)")  # fmt: skip
    channels = int(inputs.shape[-1])

    def select(channel, name):
        layer = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, dtype="float32",
                                    kernel_initializer="zeros", name=name)  # fmt: skip
        picked = layer(inputs)
        keep = np.zeros((1, 1, channels, 1), dtype=np.float32)
        keep[0, 0, int(channel), 0] = 1.0
        layer.set_weights([keep])
        return picked

    def dense(units, name):
        return keras.layers.Dense(units, trainable=False, dtype="float32",
                                  kernel_initializer="zeros", name=name)  # fmt: skip

    flat = keras.layers.Flatten(name="head_flatten", dtype="float32")(select(0, "head_select"))
    layers = {"head_project": dense(rank, "head_project"),
              "head_map": dense(dim * dim * n_comp, "head_map")}  # fmt: skip
    features = layers["head_project"](flat)
    if with_ramp:
        ramp = keras.layers.GlobalAveragePooling2D(name="head_ramp_pool", dtype="float32")(
            select(ramp_channel, "head_ramp_select"))  # fmt: skip
        layers["head_ramp_project"] = dense(rank, "head_ramp_project")
        layers["head_ramp_map"] = dense(dim * dim * n_comp, "head_ramp_map")
        features = keras.layers.Add(name="head_ramp_features", dtype="float32")(
            [features, layers["head_ramp_project"](ramp)])  # fmt: skip
    head = layers["head_map"](features)
    if with_ramp:
        head = keras.layers.Add(name="head_ramp_sum", dtype="float32")(
            [head, layers["head_ramp_map"](ramp)])  # fmt: skip
    if not np.isscalar(weights):
        order = ("head_project", "head_map", "head_ramp_project", "head_ramp_map")
        for k, name in enumerate(order[: len(weights) // 2]):
            layers[name].set_weights(weights[2 * k : 2 * k + 2])
    head = keras.layers.Reshape((dim, dim, n_comp), name="head_reshape", dtype="float32")(head)
    return keras.layers.Add(name="head_sum", dtype="float32")([outputs, head])
