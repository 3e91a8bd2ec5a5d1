"""Multi-channel U-Net in the pix2pix style (method note §4).

The network maps one ``(dim, dim, 1)`` image (the sum of all components) to
``(dim, dim, n_comp)`` (one channel per component), with ``tanh`` output.

Architecture
------------
- Encoder: ``depth = log2(dim)`` blocks, each halving the image, down to 1 x 1. Block ``i`` has
  :func:`filter_list` ``[i]`` filters: Conv2D(k, stride 2, same padding, no bias, N(0, 0.02)
  initialisation), BatchNormalization (not on the first block), LeakyReLU.
- Decoder: ``depth - 1`` blocks, each doubling the image: Conv2DTranspose(k, stride 2, no bias,
  N(0, 0.02)), BatchNormalization, Dropout (first ``dropout_blocks`` blocks only), ReLU, then
  concatenation with the encoder output of the same size (U skip connections). Decoder block
  ``j`` has the filters of the encoder block it is concatenated with.
- Output: Conv2DTranspose(k, stride 2) to ``n_comp`` channels with ``tanh``, computed in float32
  even under a mixed-precision policy.

Layers are named ``enc<i>_conv``, ``enc<i>_bn``, ``enc<i>_act``, ``dec<j>_conv``, ``dec<j>_bn``,
``dec<j>_dropout``, ``dec<j>_act``, ``dec<j>_skip`` and ``output`` (``i``, ``j`` from 1), so that
tests and weight files can address them.

Options beyond the paper (each the paper's architecture at its default)
----------------------------------------------------------------------
- ``in_channels``: the input is ``(dim, dim, in_channels)`` (the summed field first, then the
  neighbouring windows and position channels of :mod:`gravsep.network.features`); 1 is the
  paper's.
- ``network["padding"]``: ``zeros`` (the paper's ``same`` zero padding) or ``periodic``: every
  convolution and transposed convolution padded as the sphere continues, circularly in
  longitude and across the poles (:mod:`gravsep.network.sphere`; which axis gets what follows
  from ``sampling``). The pad layers are ``<conv>_pad``, the crops of the transposed
  convolutions ``<conv>_crop``.
- ``network["linear_head"]``: the output is the U-Net's plus a fixed linear map of the summed
  field, the regression baseline fitted on the training years
  (:mod:`gravsep.network.linear_head`; layers ``head_project``, ``head_map``, ``head_sum``).
"""

import math

import keras

from gravsep.network import sphere
from gravsep.network.linear_head import add_head as add_linear_head

#: Keys of a model's ``network`` configuration that :func:`build_unet` needs.
NETWORK_KEYS = ("num_filters_min", "num_filters_max", "filter_size", "dropout", "dropout_blocks")


def depth_for(dim):
    """Number of encoder blocks for images of ``dim`` x ``dim``: ``log2(dim)``.

    Raises
    ------
    ValueError
        If ``dim`` is not a power of two of at least 2.
    """
    dim = int(dim)
    if dim < 2 or dim & (dim - 1):
        raise ValueError(f"image size must be a power of two >= 2, got {dim}")
    return int(round(math.log2(dim)))


def filter_list(dim, num_filters_min, num_filters_max):
    """Filters per encoder block.

    Starts at ``num_filters_min``, doubles per block up to ``num_filters_max`` and keeps the
    maximum until the image is 1 x 1.

    Parameters
    ----------
    dim : int
        Image size (a power of two).
    num_filters_min, num_filters_max : int
        First and largest number of filters.

    Returns
    -------
    list of int
        ``log2(dim)`` entries.
    """
    num_filters_min, num_filters_max = int(num_filters_min), int(num_filters_max)
    if num_filters_min < 1 or num_filters_max < num_filters_min:
        raise ValueError(
            f"need 1 <= num_filters_min <= num_filters_max, got {num_filters_min}, "
            f"{num_filters_max}"
        )
    return [min(num_filters_min * 2**i, num_filters_max) for i in range(depth_for(dim))]


def _init():
    # A fresh initialiser per layer: an unseeded keras initialiser draws its seed when it is
    # created (from the global seed set by keras.utils.set_random_seed), so sharing one
    # instance would give equal kernels to layers of equal shape.
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def build_unet(dim, n_comp, network, name="unet", *, in_channels=1, sampling="lat_lon",
               linear_head=None, ramp_channel=None):  # fmt: skip
    """Build the multi-channel U-Net.

    Parameters
    ----------
    dim : int
        Image size (power of two); the input is ``(dim, dim, in_channels)``.
    n_comp : int
        Number of output channels (components).
    network : dict
        ``num_filters_min``, ``num_filters_max``, ``filter_size``, ``dropout`` (rate) and
        ``dropout_blocks`` (number of leading decoder blocks with dropout); optional
        ``padding`` (``zeros``, the default, or ``periodic``).
    name : str
        Model name.
    in_channels : int
        Input channels.
    sampling : {"lat_lon", "lat_t", "t_lon"}
        What the image axes are (where ``periodic`` padding wraps and crosses the poles).
    linear_head : list of numpy.ndarray or int, optional
        With ``network["linear_head"]``: the head's weights
        (:func:`gravsep.network.linear_head.head_weights`) or its rank (zeros).
    ramp_channel : int, optional
        The input's ``year_ramp`` channel, which a head fitted with the year ramp reads.

    Returns
    -------
    keras.Model
        Uncompiled model, output ``(dim, dim, n_comp)`` in (-1, 1).
    """
    missing = [k for k in NETWORK_KEYS if k not in network]
    if missing:
        raise ValueError(f"network configuration lacks {missing}")
    if int(n_comp) < 1:
        raise ValueError(f"n_comp must be >= 1, got {n_comp}")
    filters = filter_list(dim, network["num_filters_min"], network["num_filters_max"])
    k = int(network["filter_size"])
    rate = float(network["dropout"])
    n_dropout = int(network["dropout_blocks"])
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if n_dropout < 0:
        raise ValueError(f"dropout_blocks must be >= 0, got {n_dropout}")

    if int(in_channels) < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    edges = dict(zip(("rows", "cols"), sphere.edge_modes(network.get("padding", "zeros"),
                                                         sampling), strict=True))  # fmt: skip

    inputs = keras.Input(shape=(dim, dim, int(in_channels)), name="input")
    x = inputs
    skips = []
    for i, f in enumerate(filters, start=1):
        x = sphere.conv(x, f, k, **edges, use_bias=False, kernel_initializer=_init(),
                        name=f"enc{i}_conv")  # fmt: skip
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"enc{i}_bn")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.3, name=f"enc{i}_act")(x)
        skips.append(x)

    # Decoder: from the 1 x 1 bottleneck up to dim / 2, mirrored on the encoder.
    for j, (f, skip) in enumerate(zip(filters[-2::-1], skips[-2::-1], strict=True), start=1):
        x = sphere.conv_transpose(x, f, k, **edges, use_bias=False,
                                  kernel_initializer=_init(), name=f"dec{j}_conv")  # fmt: skip
        x = keras.layers.BatchNormalization(name=f"dec{j}_bn")(x)
        if j <= n_dropout and rate > 0.0:
            x = keras.layers.Dropout(rate, name=f"dec{j}_dropout")(x)
        x = keras.layers.ReLU(name=f"dec{j}_act")(x)
        x = keras.layers.Concatenate(name=f"dec{j}_skip")([x, skip])

    # with the linear head the U-Net's output starts at zero, so the network starts as the
    # linear separation and training moves it only where that lowers the loss
    head_on = bool(network.get("linear_head"))
    outputs = sphere.conv_transpose(
        x, int(n_comp), k, **edges, kernel_initializer="zeros" if head_on else _init(),
        activation="tanh",
        dtype="float32",  # tanh and the loss in float32 also under mixed precision
        name="output",
    )  # fmt: skip
    if network.get("linear_head"):
        if linear_head is None:
            raise ValueError("network.linear_head needs the head's weights or rank")
        outputs = add_linear_head(inputs, outputs, dim, int(n_comp), linear_head,
                                  ramp_channel=ramp_channel)  # fmt: skip
    return keras.Model(inputs, outputs, name=name)
