"""Tests of the target augmentations."""

import numpy as np
import pytest
import tensorflow as tf
from gravsep.network import augment

RNG = np.random.default_rng(7)
IMG = RNG.normal(size=(16, 16)).astype(np.float32)


def _seeds(n):
    return [tf.constant([11, i], tf.int64) for i in range(n)]


def test_flips_are_flips_and_happen_about_half_the_time():
    for axis, flipped in ((1, IMG[:, ::-1]), (0, IMG[::-1, :])):
        outcomes = []
        for s in _seeds(40):
            out = augment.random_flip(IMG, axis, s).numpy()
            same, flip = np.array_equal(out, IMG), np.array_equal(out, flipped)
            assert same or flip
            outcomes.append(flip)
        assert 5 < sum(outcomes) < 35


def test_sign_flip():
    outcomes = []
    for s in _seeds(40):
        out = augment.random_sign(IMG, s).numpy()
        assert np.array_equal(out, IMG) or np.array_equal(out, -IMG)
        outcomes.append(np.array_equal(out, -IMG))
    assert 5 < sum(outcomes) < 35


def test_offset_is_constant_within_range():
    offsets = []
    for s in _seeds(50):
        diff = augment.random_offset(IMG, 0.3, s).numpy() - IMG
        assert np.ptp(diff) < 1e-6
        offsets.append(diff.mean())
    offsets = np.array(offsets)
    assert np.all(np.abs(offsets) <= 0.3 + 1e-6)
    assert offsets.min() < -0.1 and offsets.max() > 0.1


def test_contrast_about_the_mean():
    mean = IMG.mean()
    factors = []
    for s in _seeds(30):
        out = augment.random_contrast(IMG, 0.5, 2.0, s).numpy()
        np.testing.assert_allclose(out.mean(), mean, atol=1e-5)
        factor = (out - mean) / (IMG - mean)
        np.testing.assert_allclose(factor, factor.flat[0], rtol=1e-3)
        factors.append(factor.flat[0])
    assert 0.5 <= min(factors) and max(factors) <= 2.0 and np.ptp(factors) > 0.5


def test_grow_and_crop_keeps_shape_and_values():
    img = np.arange(64, dtype=np.float32).reshape(8, 8)
    crops = set()
    for s in _seeds(20):
        out = augment.grow_crop(img, 4, s).numpy()
        assert out.shape == img.shape
        # Nearest-neighbour growth only repeats pixels: no new values, order kept.
        assert set(np.unique(out)) <= set(img.ravel())
        assert np.all(np.diff(out, axis=0) >= 0) and np.all(np.diff(out, axis=1) >= 0)
        crops.add(out.tobytes())
    assert len(crops) > 1
    assert np.array_equal(augment.grow_crop(img, 0, _seeds(1)[0]).numpy(), img)


def test_same_seed_same_result_in_graph():
    specs = augment.specs_for(
        ["A", "B"],
        {
            "A": {"grow": 2, "flip_lr": True, "flip_ud": True, "offset": 0.1},
            "B": {"sign_flip": True, "contrast": [0.5, 2.0]},
        },
    )
    target = RNG.normal(size=(16, 16, 2)).astype(np.float32)
    fn = tf.function(lambda t, s: augment.augment_pair(t, specs, s))
    x1, y1 = fn(target, tf.constant([3, 4], tf.int64))
    x2, y2 = fn(target, tf.constant([3, 4], tf.int64))
    assert np.array_equal(y1.numpy(), y2.numpy()) and np.array_equal(x1.numpy(), x2.numpy())
    others = [fn(target, s)[1].numpy() for s in _seeds(5)]
    assert any(not np.array_equal(o, y1.numpy()) for o in others)
    # Works in tf.data.Dataset.map as well.
    ds = tf.data.Dataset.from_tensors((target, tf.constant([3, 4], tf.int64)))
    (x3, y3), *_ = list(ds.map(lambda t, s: augment.augment_pair(t, specs, s)))
    assert np.array_equal(y3.numpy(), y1.numpy())


def test_per_component_and_input_resummed():
    target = RNG.normal(size=(16, 16, 3)).astype(np.float32)
    specs = augment.specs_for(["A", "B", "C"], {"B": {"sign_flip": True, "offset": 0.5}})
    changed = False
    for s in _seeds(10):
        x, y = (t.numpy() for t in augment.augment_pair(target, specs, s))
        np.testing.assert_array_equal(y[..., 0], target[..., 0])
        np.testing.assert_array_equal(y[..., 2], target[..., 2])
        np.testing.assert_allclose(x, y.sum(-1), rtol=1e-6)
        changed |= not np.array_equal(y[..., 1], target[..., 1])
    assert changed


def test_specs_validation():
    assert augment.specs_for(["A", "B"], None) == [{}, {}]
    assert not augment.is_active(augment.specs_for(["A"], {"A": {"flip_lr": False}}))
    assert augment.is_active(augment.specs_for(["A"], {"A": {"contrast": [1, 1.5]}}))
    with pytest.raises(ValueError, match="unknown component"):
        augment.specs_for(["A"], {"B": {"flip_lr": True}})
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.specs_for(["A"], {"A": {"rotate": True}})
    with pytest.raises(ValueError, match="contrast"):
        augment.specs_for(["A"], {"A": {"contrast": [2.0, 1.0]}})
    with pytest.raises(ValueError, match="offset"):
        augment.specs_for(["A"], {"A": {"offset": -1}})


ALL_SIX = {
    "grow": 3,
    "flip_lr": True,
    "flip_ud": True,
    "offset": 0.2,
    "sign_flip": True,
    "contrast": [0.5, 2.0],
}


@pytest.mark.parametrize("key", augment.AUGMENTATIONS)
def test_each_setting_acts_through_the_spec(key):
    """Each of the six settings alone changes a component (for some seed) and only it."""
    img = np.arange(256, dtype=np.float32).reshape(16, 16) / 256 + RNG.normal(size=(16, 16)) * 0.01
    img = img.astype(np.float32)
    spec = {key: ALL_SIX[key]}
    outs = [augment.augment_component(img, spec, s).numpy() for s in _seeds(16)]
    assert any(not np.allclose(o, img) for o in outs)
    for o in outs:
        assert o.shape == img.shape
        if key in ("flip_lr", "flip_ud"):
            assert np.array_equal(o, img) or np.array_equal(o, img[:, ::-1] if key == "flip_lr"
                                                            else img[::-1])  # fmt: skip
        elif key == "sign_flip":
            assert np.array_equal(o, img) or np.array_equal(o, -img)
        elif key == "offset":
            assert np.ptp(o - img) < 1e-5 and abs((o - img).mean()) <= 0.2 + 1e-6
        elif key == "contrast":
            np.testing.assert_allclose(o.mean(), img.mean(), atol=1e-5)
        else:  # grow: nearest-neighbour, so only existing values
            assert set(np.unique(o)) <= set(np.unique(img))
    # Off settings leave the image as it is.
    off = {"grow": 0, "offset": 0.0}.get(key, False)
    if key != "contrast":
        same = augment.augment_component(img, {key: off}, _seeds(1)[0]).numpy()
        assert np.array_equal(same, img)


def test_all_six_together_input_is_resummed():
    target = RNG.normal(size=(16, 16, 2)).astype(np.float32)
    specs = augment.specs_for(["A", "B"], {"A": ALL_SIX, "B": ALL_SIX})
    assert augment.is_active(specs)
    fn = tf.function(lambda t, s: augment.augment_pair(t, specs, s))
    for s in _seeds(6):
        x, y = (v.numpy() for v in fn(target, s))
        assert y.shape == target.shape and x.shape == target.shape[:2]
        np.testing.assert_allclose(x, y.sum(-1), rtol=1e-5, atol=1e-6)
        assert not np.allclose(y, target)
        # The two channels draw independently: not the same transformation of equal inputs.
    same = np.repeat(target[..., :1], 2, axis=-1)
    _, y = fn(same, _seeds(1)[0])
    assert not np.array_equal(y.numpy()[..., 0], y.numpy()[..., 1])
