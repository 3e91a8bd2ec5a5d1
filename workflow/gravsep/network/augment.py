"""Data augmentation of training targets (method note §4), as seeded TensorFlow graph ops.

Each component has its own augmentation settings, applied to its target channel with its own
random draws; the input is then re-summed from the augmented targets, so input and targets stay
consistent. Settings per component (all optional)::

    grow: int          nearest-neighbour enlargement by this many pixels, then a random crop
                       back to the original size (a random shift with slight stretch)
    flip_lr: bool      left-right flip (columns reversed) with probability 1/2
    flip_ud: bool      top-down flip (rows reversed) with probability 1/2
    offset: float a    add a constant drawn uniformly from [-a, a] (units of the data)
    sign_flip: bool    multiply by -1 with probability 1/2
    contrast: [lo, hi] scale the deviations from the image mean by a factor from [lo, hi]

They are applied in this order. All random draws are stateless
(``tf.random.stateless_*``): the result is a pure function of the data and a seed of shape
``(2,)``, so a pipeline that derives seeds from (run seed, epoch, sample) is reproducible,
resumable and independent of threading. Every function works inside ``tf.function`` and
``tf.data.Dataset.map``.
"""

import tensorflow as tf

#: The augmentation keys, in the order they are applied.
AUGMENTATIONS = ("grow", "flip_lr", "flip_ud", "offset", "sign_flip", "contrast")


def _sub_seed(seed, *keys):
    seed = tf.cast(seed, tf.int64)
    for k in keys:
        seed = tf.random.experimental.stateless_fold_in(seed, k)
    return seed


def _coin(seed):
    return tf.random.stateless_uniform([], seed) < 0.5


def grow_crop(image, pixels, seed):
    """Enlarge by ``pixels`` (nearest neighbour) and crop a random window of the old size.

    Parameters
    ----------
    image : tf.Tensor
        ``(rows, cols)``.
    pixels : int
        Growth in pixels along each axis (0: unchanged).
    seed : tf.Tensor
        Stateless seed, shape ``(2,)``.
    """
    image = tf.convert_to_tensor(image)
    pixels = int(pixels)
    if pixels <= 0:
        return image
    shape = tf.shape(image)
    big = tf.image.resize(
        image[..., None], shape + pixels, method=tf.image.ResizeMethod.NEAREST_NEIGHBOR
    )
    crop = tf.image.stateless_random_crop(big, tf.concat([shape, [1]], 0), seed=seed)
    return tf.ensure_shape(crop[..., 0], image.shape)


def random_flip(image, axis, seed):
    """Reverse ``image`` along ``axis`` with probability 1/2."""
    image = tf.convert_to_tensor(image)
    return tf.cond(_coin(seed), lambda: tf.reverse(image, [axis]), lambda: image)


def random_offset(image, amplitude, seed):
    """Add a constant drawn uniformly from ``[-amplitude, amplitude]``."""
    image = tf.convert_to_tensor(image)
    a = float(amplitude)
    value = tf.random.stateless_uniform([], seed, minval=-a, maxval=a, dtype=image.dtype)
    return image + value


def random_sign(image, seed):
    """Multiply by -1 with probability 1/2."""
    image = tf.convert_to_tensor(image)
    return tf.where(_coin(seed), -image, image)


def random_contrast(image, lower, upper, seed):
    """Scale the deviations from the image mean by a factor drawn from ``[lower, upper]``."""
    image = tf.convert_to_tensor(image)
    factor = tf.random.stateless_uniform(
        [], seed, minval=float(lower), maxval=float(upper), dtype=image.dtype
    )
    mean = tf.reduce_mean(image)
    return (image - mean) * factor + mean


def check_spec(spec):
    """Validate one component's augmentation settings; return them as a plain dict."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; known: {list(AUGMENTATIONS)}")
    if int(spec.get("grow", 0)) < 0:
        raise ValueError(f"grow must be >= 0, got {spec['grow']}")
    if float(spec.get("offset", 0.0)) < 0:
        raise ValueError(f"offset must be >= 0, got {spec['offset']}")
    contrast = spec.get("contrast")
    if contrast is not None:
        if len(contrast) != 2 or not 0 <= float(contrast[0]) <= float(contrast[1]):
            raise ValueError(
                f"contrast must be [lower, upper] with 0 <= lower <= upper: {contrast}"
            )
    return spec


def specs_for(components, augmentation):
    """One settings dict (possibly empty) per component, in channel order.

    Parameters
    ----------
    components : sequence of str
        Channel names.
    augmentation : dict or None
        Component name -> settings.
    """
    augmentation = dict(augmentation or {})
    unknown = sorted(set(augmentation) - set(components))
    if unknown:
        raise ValueError(f"augmentation for unknown component(s) {unknown}; have {components}")
    return [check_spec(augmentation.get(c)) for c in components]


def is_active(specs):
    """Whether any setting in ``specs`` changes data."""
    for spec in specs:
        if int(spec.get("grow", 0)) > 0 or float(spec.get("offset", 0.0)) > 0:
            return True
        if spec.get("flip_lr") or spec.get("flip_ud") or spec.get("sign_flip"):
            return True
        if spec.get("contrast") is not None:
            return True
    return False


def augment_component(image, spec, seed):
    """Apply one component's augmentations to one image ``(rows, cols)``."""
    image = tf.convert_to_tensor(image)
    spec = check_spec(spec)
    if int(spec.get("grow", 0)) > 0:
        image = grow_crop(image, spec["grow"], _sub_seed(seed, 0))
    if spec.get("flip_lr"):
        image = random_flip(image, 1, _sub_seed(seed, 1))
    if spec.get("flip_ud"):
        image = random_flip(image, 0, _sub_seed(seed, 2))
    if float(spec.get("offset", 0.0)) > 0:
        image = random_offset(image, spec["offset"], _sub_seed(seed, 3))
    if spec.get("sign_flip"):
        image = random_sign(image, _sub_seed(seed, 4))
    if spec.get("contrast") is not None:
        lower, upper = spec["contrast"]
        image = random_contrast(image, lower, upper, _sub_seed(seed, 5))
    return image


def augment_targets(target, specs, seed):
    """Augment each channel of one target ``(rows, cols, n_comp)`` with its own settings.

    Channel ``c`` uses seed ``fold_in(seed, c)``, so its draws do not depend on the others.
    """
    channels = [
        augment_component(target[..., c], spec, _sub_seed(seed, 1000 + c))
        for c, spec in enumerate(specs)
    ]
    return tf.stack(channels, axis=-1)


def augment_pair(target, specs, seed):
    """Augment one sample's targets and re-sum its input.

    Parameters
    ----------
    target : tf.Tensor
        ``(rows, cols, n_comp)``.
    specs : list of dict
        From :func:`specs_for`.
    seed : tf.Tensor
        Stateless seed, shape ``(2,)``.

    Returns
    -------
    input : tf.Tensor
        ``(rows, cols)``, the sum of the augmented targets.
    target : tf.Tensor
        ``(rows, cols, n_comp)``.
    """
    target = augment_targets(target, specs, seed)
    return tf.reduce_sum(target, axis=-1), target
