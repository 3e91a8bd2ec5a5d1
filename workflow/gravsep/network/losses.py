"""The separation loss (method note §4) as pure TensorFlow functions.

Tensors follow the network's layout: inputs ``x`` of shape ``(batch, rows, cols)``, targets and
predictions ``y`` of shape ``(batch, rows, cols, n_comp)``. All functions work in whatever units
they are given; :class:`SeparationLoss` works in the (possibly scaled) network units.

Total loss::

    L = sum_c w_c MSE_c / norm_c  +  w_sum MSE_sum / norm_sum
        + sum_c a_c SLOPE_c  +  sum_c b_c SHAPE_c

- ``MSE_c`` is the mean square of ``yhat_c - y_c`` over one sample's pixels.
- The sum term compares the sum of the predicted components with the input. With target
  scaling (targets divided by ``s_c``, input by ``s_in``), the residual is formed in physical
  units and expressed in input units: ``r = sum_c (s_c / s_in) yhat_c - x``, which equals
  ``(sum_c s_c yhat_c - s_in x) / s_in``. Without scaling all ``s`` are 1 and it is the
  reference's ``sum_c yhat_c - x``.
- ``norm`` per ``loss_type``: ``absolute_MSE`` 1; ``relative_MSE`` the mean square of the
  reference field (target ``y_c``, or the input ``x`` for the sum term); ``signal_weighted_MSE``
  its mean absolute value. Norms are clipped below at :data:`NORM_FLOOR`.
- Norms and mean squares are taken **per sample** and the normalised errors averaged over the
  batch, so a loss does not depend on how samples are batched (for the reference's batch size 1
  it is the same thing); a whole-year loss is the mean over its samples.
- ``w_c`` and ``w_sum`` are the configured component and sum weights normalised to sum 1.
- Time-shape terms (only with a time axis, samplings ``lat_t`` and ``t_lon``), per component,
  with the slope taken as the first difference along time per time step and the mean slope as
  the mean of those differences:
  ``SLOPE_c`` = mean square of (mean slope of ``yhat_c`` - mean slope of ``y_c``) over the
  other image axis and the batch; ``SHAPE_c`` = mean square of (slope of ``yhat_c`` - its own
  mean slope), which is zero exactly when the prediction is linear in time. The configured
  ``slope_weight`` / ``shape_weight`` is either one number, spread evenly over the components
  (``a_c = slope_weight / n_comp``), or a list of per-component weights (e.g. only on S).
  These terms are not normalised.
- Area weighting (``training.area_weighted_loss``, off in the paper): every mean over a
  sample's pixels (the mean squares and the norms) weights each row by cos(latitude)
  normalised to mean 1 over the rows (``row_weights``, samplings ``lat_lon`` and ``lat_t``),
  or, for ``t_lon`` (one latitude per image), each sample's normalised errors are weighted by
  the cos(latitude) of its image, normalised to mean 1 over the dataset's latitudes
  (``sample_weighted``, the weights come with the batch). The loss then weights the globe
  as the metrics do (:mod:`gravsep.evaluation.metrics`). The time-shape terms stay
  unweighted.
"""

import numpy as np
import tensorflow as tf

from gravsep.dataset.sampling import TIME_AXIS
from gravsep.harmonics import grids

#: Lower bound of every loss normalisation (method note §4).
NORM_FLOOR = 0.01
#: The loss types.
LOSS_TYPES = ("absolute_MSE", "relative_MSE", "signal_weighted_MSE")


def normalise_weights(component_weights, sum_weight):
    """Normalise component weights and the sum weight together to sum 1.

    Parameters
    ----------
    component_weights : sequence of float
        One non-negative weight per component.
    sum_weight : float
        Non-negative weight of the sum term.

    Returns
    -------
    weights : numpy.ndarray
        ``(n_comp,)`` float64.
    sum_weight : float
    """
    w = np.asarray(component_weights, dtype=np.float64).reshape(-1)
    ws = float(sum_weight)
    if np.any(w < 0) or ws < 0:
        raise ValueError("component and sum weights must be non-negative")
    total = w.sum() + ws
    if total <= 0:
        raise ValueError("component and sum weights must not all be zero")
    return w / total, ws / total


def per_component_weights(weight, n_comp):
    """Spread a slope/shape weight over components.

    A number is divided evenly (``weight / n_comp`` each); a sequence must have one entry per
    component and is used as is.

    Returns
    -------
    numpy.ndarray
        ``(n_comp,)`` float64.
    """
    if np.ndim(weight) == 0:
        return np.full(n_comp, float(weight) / n_comp)
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n_comp,):
        raise ValueError(f"need one weight per component ({n_comp}), got {list(w)}")
    return w


def area_weights(lat):
    """cos(latitude) normalised to mean 1: ``(n,)`` float64 for latitudes ``(n,)`` [degrees].

    The metrics' row areas (:func:`gravsep.harmonics.grids.area_weights`, summing to 1) times
    the number of rows, so the loss weights rows exactly as the metrics do.
    """
    w = grids.area_weights(lat)
    return w * w.size


def pixel_mean(values, row_weights=None):
    """Per-sample mean over the image axes 1 and 2, rows weighted by ``row_weights``.

    Parameters
    ----------
    values : tf.Tensor
        ``(batch, rows, cols)`` or ``(batch, rows, cols, n_comp)``.
    row_weights : numpy.ndarray, optional
        ``(rows,)`` with mean 1; default the plain mean.
    """
    if row_weights is not None:
        shape = [1, -1, 1] + [1] * (values.shape.rank - 3)
        values = values * tf.reshape(tf.constant(row_weights, values.dtype), shape)
    return tf.reduce_mean(values, axis=[1, 2])


def normalisation(reference, loss_type, row_weights=None):
    """Per-sample loss normalisation of a reference field.

    Parameters
    ----------
    reference : tf.Tensor
        ``(batch, rows, cols)`` or ``(batch, rows, cols, n_comp)``.
    loss_type : str
        One of :data:`LOSS_TYPES`.
    row_weights : numpy.ndarray, optional
        Area weights of the rows (:func:`pixel_mean`).

    Returns
    -------
    tf.Tensor
        ``(batch,)`` or ``(batch, n_comp)``, clipped below at :data:`NORM_FLOOR`.
    """
    reference = tf.convert_to_tensor(reference)
    if loss_type == "absolute_MSE":
        shape = tf.shape(reference)
        out_shape = [shape[0]] if reference.shape.rank == 3 else [shape[0], shape[3]]
        return tf.ones(out_shape, dtype=reference.dtype)
    if loss_type == "relative_MSE":
        value = pixel_mean(tf.square(reference), row_weights)
    elif loss_type == "signal_weighted_MSE":
        value = pixel_mean(tf.abs(reference), row_weights)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}; one of {LOSS_TYPES}")
    return tf.maximum(value, tf.cast(NORM_FLOOR, reference.dtype))


def mean_square_error(a, b, row_weights=None):
    """Per-sample mean square of ``a - b`` over the image axes 1 and 2 (rows weighted by
    ``row_weights``, see :func:`pixel_mean`).

    Returns
    -------
    tf.Tensor
        ``(batch,)`` or ``(batch, n_comp)``.
    """
    return pixel_mean(tf.square(a - b), row_weights)


def _check_time_axis(time_axis):
    if time_axis not in (1, 2):
        raise ValueError(f"time axis must be 1 (rows) or 2 (columns), got {time_axis}")


def slopes(y, time_axis):
    """First differences along the time axis (the slope per time step).

    Parameters
    ----------
    y : tf.Tensor
        ``(batch, rows, cols, n_comp)``.
    time_axis : int
        1 (rows) or 2 (columns).

    Returns
    -------
    tf.Tensor
        ``y`` with the time axis one shorter.
    """
    _check_time_axis(time_axis)
    if time_axis == 1:
        return y[:, 1:] - y[:, :-1]
    return y[:, :, 1:] - y[:, :, :-1]


def mean_slope(y, time_axis):
    """Mean slope along time, keeping the time axis with length 1."""
    return tf.reduce_mean(slopes(y, time_axis), axis=time_axis, keepdims=True)


def slope_value_term(y_true, y_pred, time_axis):
    """Mean square difference of the mean slopes along time, per component.

    Returns
    -------
    tf.Tensor
        ``(n_comp,)``.
    """
    diff = mean_slope(y_pred, time_axis) - mean_slope(y_true, time_axis)
    return tf.reduce_mean(tf.square(diff), axis=[0, 1, 2])


def linear_shape_term(y_pred, time_axis):
    """Mean square deviation of the predicted slope from its mean slope, per component.

    Zero exactly when the prediction is linear along time.

    Returns
    -------
    tf.Tensor
        ``(n_comp,)``.
    """
    s = slopes(y_pred, time_axis)
    dev = s - tf.reduce_mean(s, axis=time_axis, keepdims=True)
    return tf.reduce_mean(tf.square(dev), axis=[0, 1, 2])


class SeparationLoss:
    """The separation loss with all its terms.

    Parameters
    ----------
    n_comp : int
        Number of components.
    loss_type : str
        One of :data:`LOSS_TYPES`.
    component_weights : sequence of float
        Weight per component (normalised together with ``sum_weight``).
    sum_weight : float
        Weight of the sum term.
    slope_weight, shape_weight : float or sequence of float
        Weights of the time-shape terms (see :func:`per_component_weights`); must be 0
        without a time axis.
    time_axis : int or None
        Image axis that is time (1 rows, 2 columns) or None.
    target_scales : sequence of float, optional
        ``s_c``: physical target = network target * ``s_c``; default all 1.
    input_scale : float
        ``s_in``: physical input = network input * ``s_in``.
    row_weights : sequence of float, optional
        Area weights of the image rows (mean 1); default unweighted.
    sample_weighted : bool
        Weight each sample's normalised errors by the weights given to :meth:`terms`.
    """

    def __init__(
        self,
        n_comp,
        loss_type="signal_weighted_MSE",
        component_weights=None,
        sum_weight=0.0,
        slope_weight=0.0,
        shape_weight=0.0,
        time_axis=None,
        target_scales=None,
        input_scale=1.0,
        row_weights=None,
        sample_weighted=False,
    ):
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss_type {loss_type!r}; one of {LOSS_TYPES}")
        self.n_comp = int(n_comp)
        self.loss_type = loss_type
        if component_weights is None:
            component_weights = [1.0] * self.n_comp
        if len(component_weights) != self.n_comp:
            raise ValueError(f"need {self.n_comp} component weights, got {list(component_weights)}")
        w, ws = normalise_weights(component_weights, sum_weight)
        self.component_weights = w
        self.sum_weight = ws
        self.slope_weights = per_component_weights(slope_weight, self.n_comp)
        self.shape_weights = per_component_weights(shape_weight, self.n_comp)
        if time_axis is None:
            if np.any(self.slope_weights != 0) or np.any(self.shape_weights != 0):
                raise ValueError(
                    "slope_weight and shape_weight need a time axis (sampling lat_t or t_lon)"
                )
        else:
            _check_time_axis(time_axis)
        self.time_axis = time_axis
        scales = np.ones(self.n_comp) if target_scales is None else np.asarray(target_scales)
        if scales.shape != (self.n_comp,):
            raise ValueError(f"need {self.n_comp} target scales, got {scales}")
        self.sum_factors = scales.astype(np.float64) / float(input_scale)
        self.row_weights = None if row_weights is None else np.asarray(row_weights, np.float64)
        self.sample_weighted = bool(sample_weighted)

    @classmethod
    def from_config(cls, training, n_comp, sampling, target_scales=None, input_scale=1.0,
                    lat=None):  # fmt: skip
        """Build from a model's resolved ``training`` dict and the dataset's sampling.

        ``lat`` (the dataset's latitudes [degrees]) is needed with ``area_weighted_loss``:
        row weights for ``lat_lon`` and ``lat_t``; for ``t_lon`` the loss is sample-weighted
        and the weights (:func:`area_weights` of the image latitudes) come with the batches.
        """
        if sampling not in TIME_AXIS:
            raise ValueError(f"unknown sampling {sampling!r}; one of {sorted(TIME_AXIS)}")
        weighting = {}
        if training.get("area_weighted_loss", False):
            if lat is None:
                raise ValueError("training.area_weighted_loss needs the dataset's latitudes")
            if sampling == "t_lon":
                weighting = {"sample_weighted": True}
            else:
                weighting = {"row_weights": area_weights(lat)}
        return cls(
            n_comp,
            loss_type=training["loss_type"],
            component_weights=training.get("component_weights"),
            sum_weight=training.get("sum_weight", 0.0),
            slope_weight=training.get("slope_weight", 0.0),
            shape_weight=training.get("shape_weight", 0.0),
            time_axis=TIME_AXIS[sampling],
            target_scales=target_scales,
            input_scale=input_scale,
            **weighting,
        )

    def _batch_mean(self, per_sample, weights):
        """Mean over the batch (axis 0), weighted per sample with ``sample_weighted``."""
        if self.sample_weighted:
            if weights is None:
                raise ValueError("a sample-weighted loss needs the samples' weights")
            w = tf.cast(weights, per_sample.dtype)
            per_sample = per_sample * tf.reshape(w, [-1] + [1] * (per_sample.shape.rank - 1))
        return tf.reduce_mean(per_sample, axis=0)

    def terms(self, x, y_true, y_pred, weights=None):
        """Every term of the loss, already weighted, each averaged over the batch.

        Parameters
        ----------
        x : tf.Tensor
            Input ``(batch, rows, cols)``, or ``(batch, rows, cols, channels)`` with the
            summed field as channel 0 (:mod:`gravsep.network.features`).
        y_true, y_pred : tf.Tensor
            ``(batch, rows, cols, n_comp)``.
        weights : tf.Tensor, optional
            ``(batch,)`` loss weight per sample; used only when ``sample_weighted``.

        Returns
        -------
        dict of tf.Tensor
            ``components`` ``(n_comp,)``, ``sum``, ``slope`` ``(n_comp,)``, ``shape``
            ``(n_comp,)`` and ``total`` (scalar).
        """
        y_true = tf.convert_to_tensor(y_true)
        y_pred = tf.cast(y_pred, y_true.dtype)
        x = tf.cast(x, y_true.dtype)
        if x.shape.rank == 4:
            x = x[..., 0]
        dtype = y_true.dtype
        rw = self.row_weights
        comp = mean_square_error(y_pred, y_true, rw) / normalisation(y_true, self.loss_type, rw)
        comp = self._batch_mean(comp, weights) * tf.constant(self.component_weights, dtype)
        total = tf.reduce_sum(comp)
        out = {"components": comp}
        if self.sum_weight > 0:
            summed = tf.reduce_sum(y_pred * tf.constant(self.sum_factors, dtype), axis=-1)
            s = mean_square_error(summed, x, rw) / normalisation(x, self.loss_type, rw)
            s = self._batch_mean(s, weights) * tf.cast(self.sum_weight, dtype)
            total = total + s
        else:
            s = tf.zeros([], dtype)
        out["sum"] = s
        zeros = tf.zeros([self.n_comp], dtype)
        if self.time_axis is not None and np.any(self.slope_weights != 0):
            slope = slope_value_term(y_true, y_pred, self.time_axis)
            slope = slope * tf.constant(self.slope_weights, dtype)
            total = total + tf.reduce_sum(slope)
        else:
            slope = zeros
        if self.time_axis is not None and np.any(self.shape_weights != 0):
            shape = linear_shape_term(y_pred, self.time_axis)
            shape = shape * tf.constant(self.shape_weights, dtype)
            total = total + tf.reduce_sum(shape)
        else:
            shape = zeros
        out["slope"] = slope
        out["shape"] = shape
        out["total"] = total
        return out

    def __call__(self, x, y_true, y_pred, weights=None):
        """The total loss (scalar tensor)."""
        return self.terms(x, y_true, y_pred, weights)["total"]
