"""Convolutions that know the sphere: periodic longitude and the continuation across the poles.

A global image of the dataset is a Driscoll-Healy grid (:mod:`gravsep`): rows run from the
north pole southwards, columns eastwards from longitude 0 over the whole circle. Zero padding,
the paper's (``network.padding: zeros``), puts an edge at longitude 0/360, where the sphere has
none, and at the poles, where the sphere continues. With ``network.padding: periodic`` every
convolution and transposed convolution pads with what the sphere holds there:

- along a longitude axis, circularly (column ``-1`` is column ``w - 1``);
- along latitude, across the pole: the row mirrored about the edge (pad row ``-k`` is row
  ``k - 1``, pad row ``h - 1 + k`` is row ``h - k``) and shifted by half the circle, 180 degrees
  of longitude (a great circle over the pole goes on at the opposite longitude). Mirroring
  about the edge puts the pole half a row beyond the edge row, where it lies in the feature
  maps of the deeper levels (each a stride-2 convolution of the level above); on the input
  grid the north pole is row 0 itself and the south pole one row beyond the last, so there the
  mirror is within one row of the exact continuation.

Which axis gets what depends on the sampling (:func:`edge_modes`): ``lat_lon`` images (rows
latitude, columns longitude) get both; ``t_lon`` images (rows time, columns longitude) get the
periodic columns and zero padding along time; ``lat_t`` images (rows latitude at one longitude,
columns time) keep zeros on both axes: across the pole their continuation is another image (the
opposite longitude), which a single image does not hold. A regional extent is not a circle;
periodic padding is refused for it (:func:`check_extent`).

:class:`SpherePad` is the padding layer; :func:`conv` and :func:`conv_transpose` are the
U-Net's stride-2 (transposed) convolutions: with zero padding Keras's own ``padding="same"``
(the paper's layers, unchanged), otherwise the pad and a ``valid`` convolution, or for the
transposed convolution the pad, the ``same`` transposed convolution of the padded image and a
crop (:class:`Crop`) to what ``same`` gives on the image itself.
"""

import functools

import keras
import numpy as np

#: The ``network.padding`` values.
PADDINGS = ("zeros", "periodic")
#: Edge treatment of the rows and of the columns.
ROW_MODES, COL_MODES = ("zeros", "pole"), ("zeros", "periodic")


def edge_modes(padding, sampling):
    """Edge treatment ``(rows, columns)`` of the images of a sampling.

    Parameters
    ----------
    padding : {"zeros", "periodic"}
        ``network.padding``.
    sampling : {"lat_lon", "lat_t", "t_lon"}

    Returns
    -------
    tuple of str
        Rows ``zeros`` or ``pole``, columns ``zeros`` or ``periodic``.
    """
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; one of {PADDINGS}")
    if sampling not in ("lat_lon", "lat_t", "t_lon"):
        raise ValueError(f"unknown sampling {sampling!r}")
    if padding == "zeros":
        return "zeros", "zeros"
    return {"lat_lon": ("pole", "periodic"), "t_lon": ("zeros", "periodic"),
            "lat_t": ("zeros", "zeros")}[sampling]  # fmt: skip


def check_extent(padding, extent):
    """Raise ValueError for periodic padding of a regional extent (no circle to wrap)."""
    if padding == "periodic" and dict(extent or {}).get("type", "global") != "global":
        raise ValueError(
            "network.padding: periodic needs a global extent (a regional cut-out has no "
            "periodic longitude and no pole)"
        )


def extended_columns(w, left, right, shift=0):
    """Column of the image under each padded column, circularly: ``(left + w + right,)``."""
    return (np.arange(-left, w + right) + shift) % w


def extended_rows(h, top, bottom):
    """Row under each padded row across the poles, and whether it lies across a pole.

    Returns
    -------
    rows : numpy.ndarray
        ``(top + h + bottom,)`` int: the image row (mirrored about the edge, repeatedly for
        pads wider than the image).
    across : numpy.ndarray
        Bool, same shape: an odd number of poles crossed (the row is shifted by 180 degrees).
    """
    m = np.arange(-top, h + bottom) % (2 * h)
    across = m >= h
    return np.where(across, 2 * h - 1 - m, m), across


def _part(x, axis, start, size):
    """``size`` entries of ``x`` from ``start`` along ``axis`` (``tf.slice``: its gradient is
    much cheaper on CPU than that of a strided slice)."""
    begin, shape = [0, 0, 0, 0], [-1, -1, -1, -1]
    begin[axis], shape[axis] = int(start), int(size)
    return keras.ops.slice(x, begin, shape)


def _wrap_columns(x, left, right):
    """Circular padding of axis 2 (slices when the pads fit in the image, else a gather)."""
    w = int(x.shape[2])
    if left > w or right > w:
        return keras.ops.take(x, extended_columns(w, left, right), axis=2)
    return _joined(2, (_part(x, 2, w - left, left), left), (x, w), (_part(x, 2, 0, right), right))


def _joined(axis, *parts):
    """Concatenate the non-empty ``(tensor, size)`` parts along ``axis``."""
    return keras.ops.concatenate([p for p, n in parts if n], axis=axis)


@keras.saving.register_keras_serializable(package="gravsep")
class SpherePad(keras.layers.Layer):
    """Pad ``(batch, rows, cols, channels)`` images with zeros, circularly or across the poles.

    Parameters
    ----------
    pad : tuple of int
        ``(top, bottom, left, right)`` pixels.
    rows : {"zeros", "pole"}
        Zero rows, or rows across the pole (mirrored about the edge, shifted by half the
        width); ``pole`` needs ``cols="periodic"``.
    cols : {"zeros", "periodic"}
        Zero columns, or circular ones.
    """

    def __init__(self, pad, rows="zeros", cols="zeros", **kwargs):
        super().__init__(**kwargs)
        self.pad = tuple(int(p) for p in pad)
        if len(self.pad) != 4 or min(self.pad) < 0:
            raise ValueError(f"pad must be four non-negative ints, got {pad}")
        if rows not in ROW_MODES or cols not in COL_MODES:
            raise ValueError(f"rows one of {ROW_MODES}, cols one of {COL_MODES}: {rows}, {cols}")
        if rows == "pole" and cols != "periodic":
            raise ValueError("rows='pole' needs cols='periodic' (the 180-degree shift wraps)")
        self.rows, self.cols = rows, cols

    def call(self, x):
        top, bottom, left, right = self.pad
        h, w = int(x.shape[1]), int(x.shape[2])
        ops = keras.ops
        if self.cols == "periodic":
            xc = _wrap_columns(x, left, right)
        else:
            xc = ops.pad(x, [[0, 0], [0, 0], [left, right], [0, 0]])
        if self.rows != "pole":
            return ops.pad(xc, [[0, 0], [top, bottom], [0, 0], [0, 0]])
        if top <= h and bottom <= h:  # slices: cheaper than a gather
            half = w // 2
            if half:  # the opposite longitude: columns shifted by half the circle
                x = ops.concatenate([_part(x, 2, half, w - half), _part(x, 2, 0, half)], axis=2)
            xr = _wrap_columns(x, left, right)
            north = ops.flip(_part(xr, 1, 0, top), axis=1)
            south = ops.flip(_part(xr, 1, h - bottom, bottom), axis=1)
            return _joined(1, (north, top), (xc, h), (south, bottom))
        xr = ops.take(x, extended_columns(w, left, right, w // 2), axis=2)
        rows, across = extended_rows(h, top, bottom)
        return ops.take(ops.concatenate([xc, xr], axis=1), rows + h * across, axis=1)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        top, bottom, left, right = self.pad
        return (b, None if h is None else h + top + bottom,
                None if w is None else w + left + right, c)  # fmt: skip

    def get_config(self):
        return super().get_config() | {"pad": list(self.pad), "rows": self.rows,
                                       "cols": self.cols}  # fmt: skip


def same_pads(n, k, stride=2):
    """``(before, after)`` of TensorFlow's ``same`` padding for an axis of ``n`` pixels."""
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


def transpose_pads(k, stride=2):
    """Input pads ``(before, after)`` of a periodic transposed convolution and its crop start.

    The ``same`` transposed convolution of stride ``s`` maps ``n`` pixels to ``s n``: output
    ``o`` gathers input ``i`` through kernel tap ``t = o + b - s i`` (``b`` the ``same`` pad
    before of the forward convolution on ``s n`` pixels), so taps reach ``before`` input
    pixels beyond the first edge and ``after`` beyond the last. Padding the input by those and
    running the ``same`` transposed convolution on the padded image shifts every output by
    ``s * before``; cropping ``s n`` outputs from there gives the same alignment with the
    padded values in place of zeros.
    """
    b = same_pads(2 * stride, k, stride)[0]  # independent of n for even s n
    before = max(0, (k - 1 - b) // stride)
    after = max(0, (b + stride - 1) // stride)
    return before, after, stride * before


@keras.saving.register_keras_serializable(package="gravsep")
class Crop(keras.layers.Layer):
    """Keep ``size`` rows and columns from ``start`` of ``(batch, rows, cols, channels)``.

    Like ``keras.layers.Cropping2D``, but through ``tf.slice`` (on CPU, the gradient of
    Cropping2D's strided slice made a transposed convolution's step about half again slower).
    """

    def __init__(self, start, size, **kwargs):
        super().__init__(**kwargs)
        self.start, self.size = tuple(int(v) for v in start), tuple(int(v) for v in size)

    def call(self, x):
        return keras.ops.slice(x, [0, *self.start, 0], [-1, *self.size, -1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return super().get_config() | {"start": list(self.start), "size": list(self.size)}


def conv(x, filters, k, *, rows, cols, name, **kwargs):
    """Stride-2 convolution, ``same`` size, padded as ``rows``/``cols`` say (layer ``name``).

    With zeros on both axes this is Keras's ``Conv2D(padding="same")`` itself; otherwise a
    :class:`SpherePad` (``<name>_pad``) with the ``same`` pad widths and a ``valid``
    convolution.
    """
    if rows == "zeros" and cols == "zeros":
        return keras.layers.Conv2D(filters, k, strides=2, padding="same", name=name,
                                   **kwargs)(x)  # fmt: skip
    pad = same_pads(int(x.shape[1]), k) + same_pads(int(x.shape[2]), k)
    x = SpherePad(pad, rows, cols, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(filters, k, strides=2, padding="valid", name=name, **kwargs)(x)


def conv_transpose(x, filters, k, *, rows, cols, name, dtype=None, **kwargs):
    """Stride-2 transposed convolution to twice the size, padded as ``rows``/``cols`` say.

    With zeros on both axes this is Keras's ``Conv2DTranspose(padding="same")``; otherwise a
    :class:`SpherePad` of the input (``<name>_pad``, :func:`transpose_pads`), the ``same``
    transposed convolution of the padded image (``name``) and a :class:`Crop` to
    ``2 h x 2 w`` (``<name>_crop``).
    """
    layer = functools.partial(keras.layers.Conv2DTranspose, filters, k, strides=2,
                              padding="same", name=name, dtype=dtype, **kwargs)  # fmt: skip
    if rows == "zeros" and cols == "zeros":
        return layer()(x)
    h, w = int(x.shape[1]), int(x.shape[2])
    before, after, start = transpose_pads(k)
    x = SpherePad((before, after, before, after), rows, cols, name=f"{name}_pad", dtype=dtype)(x)
    x = layer()(x)
    return Crop((start, start), (2 * h, 2 * w), name=f"{name}_crop", dtype=dtype)(x)
