"""The training options: a model's ``network`` and ``training`` sections, checked.

The configuration schema (:mod:`gravsep.config`) is the one source of defaults and allowed
values: :meth:`TrainingOptions.from_config` fills in the schema's defaults for missing optional
keys and checks every value against it, exactly as the workflow does, so a direct call (tests,
benchmarks, notebooks) behaves like a workflow run. What the schema cannot know, because it
needs the dataset, is checked by :func:`check_dataset`. :func:`resolve_switch` turns the
``auto``/``on``/``off`` switches into booleans.
"""

from dataclasses import dataclass

from gravsep.config import REQUIRED, ConfigError, allowed_values, section_options
from gravsep.plain import plain


def _section(section, values):
    values = plain(dict(values))
    missing = [k for k in REQUIRED[section] if k not in values]
    if missing:
        raise ConfigError(f"{section}: missing {missing}")
    return section_options(section, values)


@dataclass(frozen=True)
class TrainingOptions:
    """The checked sections of one training run.

    Attributes
    ----------
    network : dict
        ``network`` section (:func:`gravsep.network.unet.build_unet`), checked.
    training : dict
        ``training`` section with the schema's defaults filled in, checked.
    given : dict
        ``{"network": ..., "training": ...}`` as the caller gave them (plain Python): what
        ``parameters.yaml`` records.
    """

    network: dict
    training: dict
    given: dict

    @classmethod
    def from_config(cls, network, training):
        """Check ``network`` and ``training`` against the schema and fill in its defaults.

        Raises
        ------
        gravsep.config.ConfigError
            A key that is missing (every key of :data:`gravsep.config.REQUIRED`) or a value
            the schema does not allow; the message names the key.
        """
        return cls(
            network=_section("network", network),
            training=_section("training", training),
            given={"network": plain(dict(network)), "training": plain(dict(training))},
        )

    @property
    def seed(self):
        return int(self.training["seed"])

    @property
    def epochs(self):
        return int(self.training["epochs"])

    @property
    def min_epochs(self):
        return int(self.training["min_epochs"])

    @property
    def curve_every(self):
        """Epochs between evaluations of the training and test splits (``training.curve_every``)."""
        return int(self.training["curve_every"])

    @property
    def patience(self):
        return int(self.training["patience"])

    @property
    def batch_size(self):
        return int(self.training["batch_size"])

    @property
    def early_stopping(self):
        """``validation_year`` or ``random_sample``."""
        return self.training["early_stopping"]

    @property
    def target_scaling(self):
        """``max_abs`` or ``none`` (:func:`gravsep.network.training.data.compute_scales`)."""
        return self.training["target_scaling"]

    @property
    def features(self):
        """The input channels (:class:`gravsep.network.features.InputFeatures`)."""
        from gravsep.network.features import InputFeatures

        return InputFeatures.from_training(self.training)


def check_dataset(options, samples):
    """Checks of the options that need the dataset; the augmentation specs per channel.

    Parameters
    ----------
    options : TrainingOptions
    samples : gravsep.formats.samples.Samples
        The open dataset.

    Returns
    -------
    list of dict
        One augmentation settings dict per component, in channel order
        (:func:`gravsep.network.augment.specs_for`).

    Raises
    ------
    ValueError
        Split years missing from the file, ``component_weights`` that do not match the
        dataset's components, no training or no validation years, augmentation of a component
        the dataset does not have; ``network.padding: periodic`` on a regional extent, input
        channels the samples cannot give (:meth:`InputFeatures.check_dataset
        <gravsep.network.features.InputFeatures.check_dataset>`), an area-weighted loss
        without the dataset's latitudes, ``network.linear_head`` on samples other than
        unmixed ``lat_lon`` ones.
    """
    import json

    from gravsep.network import augment, sphere

    samples.check_splits()
    try:
        sphere.check_extent(options.network["padding"], json.loads(samples.attrs.get(
            "extent", '{"type": "global"}')))  # fmt: skip
    except ValueError as err:
        raise ConfigError(str(err)) from None
    options.features.check_dataset(samples.sampling, bool(samples.attrs.get("random_samples")))
    if options.network["linear_head"] and (samples.sampling != "lat_lon"
                                           or samples.attrs.get("random_samples")):  # fmt: skip
        raise ConfigError(
            f"network.linear_head needs lat_lon samples without random mixing; "
            f"{samples.path} has {samples.sampling} samples"
            f"{' randomly mixed' if samples.attrs.get('random_samples') else ''}"
        )
    if options.training["area_weighted_loss"] and samples.lat is None:
        raise ConfigError(f"training.area_weighted_loss: {samples.path} has no latitudes")
    weights = options.training["component_weights"]
    if len(weights) != len(samples.components):
        raise ConfigError(
            f"training.component_weights: {weights} do not match the dataset's components "
            f"{samples.components}"
        )
    if not samples.split_years("train"):
        raise ValueError(f"{samples.path}: the dataset names no training years")
    if not samples.split_years("validation"):
        raise ValueError(
            f"{samples.path}: the dataset names no validation years (early stopping needs them)"
        )
    return augment.specs_for(samples.components, options.training["augmentation"])


def resolve_switch(value, key):
    """A ``training`` switch as a boolean.

    Parameters
    ----------
    value : {"auto", "on", "off"} or bool or None
        ``auto`` (also None): on when TensorFlow sees a GPU; ``on``/``off`` or booleans as
        given. The allowed values are the schema's (``training.<key>``).
    key : str
        ``mixed_precision`` or ``xla``.

    Raises
    ------
    ValueError
        A value the schema does not allow, naming ``training.<key>``.
    """
    if isinstance(value, bool):
        return value
    value = "auto" if value is None else str(value)
    allowed = [v for v in allowed_values("training", key) if isinstance(v, str)]
    if value not in allowed:
        raise ConfigError(f"training.{key} must be one of {allowed}, got {value!r}")
    if value == "auto":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return value == "on"
