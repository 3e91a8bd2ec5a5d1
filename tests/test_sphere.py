"""Periodic longitude and the continuation across the poles (gravsep.network.sphere)."""

import keras
import numpy as np
import pytest
from gravsep.network import sphere
from gravsep.network.unet import build_unet

RNG = np.random.default_rng(7)


def _images(h=8, w=8, c=3, b=2):
    return RNG.normal(size=(b, h, w, c)).astype(np.float32)


def test_periodic_columns_are_numpy_wrap():
    x = _images()
    for left, right in ((1, 1), (2, 3), (0, 5), (11, 9)):  # also wider than the image
        got = sphere.SpherePad((0, 0, left, right), "zeros", "periodic")(x).numpy()
        want = np.pad(x, [(0, 0), (0, 0), (left, right), (0, 0)], mode="wrap")
        np.testing.assert_array_equal(got, want)


def test_zero_padding_is_numpy_constant():
    x = _images()
    got = sphere.SpherePad((1, 2, 3, 1))(x).numpy()
    np.testing.assert_array_equal(got, np.pad(x, [(0, 0), (1, 2), (3, 1), (0, 0)]))
    got = sphere.SpherePad((2, 1, 1, 2), "zeros", "periodic")(x).numpy()
    want = np.pad(np.pad(x, [(0, 0), (0, 0), (1, 2), (0, 0)], mode="wrap"),
                  [(0, 0), (2, 1), (0, 0), (0, 0)])  # fmt: skip
    np.testing.assert_array_equal(got, want)


def test_rows_across_the_poles_are_mirrored_and_shifted_by_180_degrees():
    x = _images(h=6, w=8)
    top, bottom, left, right = 2, 3, 1, 2
    got = sphere.SpherePad((top, bottom, left, right), "pole", "periodic")(x).numpy()
    h, w = 6, 8
    assert got.shape == (2, h + top + bottom, w + left + right, 3)
    for r in range(-top, h + bottom):
        for j in range(-left, w + right):
            if r < 0:  # across the north pole: row -k is row k - 1 at the opposite longitude
                src = x[:, -r - 1, (j + w // 2) % w]
            elif r >= h:  # across the south pole: row h - 1 + k is row h - k, opposite
                src = x[:, 2 * h - 1 - r, (j + w // 2) % w]
            else:
                src = x[:, r, j % w]
            np.testing.assert_array_equal(got[:, r + top, j + left], src)


def test_pole_rows_of_a_one_row_image():
    x = _images(h=1, w=4, c=1, b=1)
    got = sphere.SpherePad((2, 2, 0, 0), "pole", "periodic")(x).numpy()[0, :, :, 0]
    row, opposite = x[0, 0, :, 0], np.roll(x[0, 0, :, 0], -2)
    np.testing.assert_array_equal(got, np.stack([row, opposite, row, opposite, row]))


def test_bad_modes():
    with pytest.raises(ValueError, match="periodic"):
        sphere.SpherePad((1, 1, 1, 1), "pole", "zeros")
    with pytest.raises(ValueError):
        sphere.SpherePad((1, 1, 1), "zeros", "zeros")
    with pytest.raises(ValueError):
        sphere.edge_modes("mirror", "lat_lon")


def test_edge_modes_per_sampling_and_regional_extent():
    assert sphere.edge_modes("zeros", "lat_lon") == ("zeros", "zeros")
    assert sphere.edge_modes("periodic", "lat_lon") == ("pole", "periodic")
    assert sphere.edge_modes("periodic", "t_lon") == ("zeros", "periodic")
    assert sphere.edge_modes("periodic", "lat_t") == ("zeros", "zeros")
    sphere.check_extent("periodic", {"type": "global"})
    sphere.check_extent("zeros", {"type": "regional"})
    with pytest.raises(ValueError, match="global extent"):
        sphere.check_extent("periodic", {"type": "regional", "lat": [0, 1], "lon": [0, 1]})


def _numpy_conv(xp, kernel, stride=2):
    """Valid stride-s correlation of padded images ``(b, H, W, c)`` with ``(k, k, c, f)``."""
    k = kernel.shape[0]
    oh, ow = (xp.shape[1] - k) // stride + 1, (xp.shape[2] - k) // stride + 1
    out = np.zeros((xp.shape[0], oh, ow, kernel.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, i, j] = np.einsum("bijc,ijcf->bf", patch, kernel)
    return out


def _pad_sphere(x, top, bottom, left, right):
    """The sphere's continuation built directly: wrap in longitude, mirror + shift at poles."""
    h, w = x.shape[1:3]
    xw = np.pad(x, [(0, 0), (0, 0), (left, right), (0, 0)], mode="wrap")
    xr = np.pad(np.roll(x, -(w // 2), axis=2), [(0, 0), (0, 0), (left, right), (0, 0)],
                mode="wrap")  # fmt: skip
    north = xr[:, :top][:, ::-1]
    south = xr[:, h - bottom :][:, ::-1]
    return np.concatenate([north, xw, south], axis=1)


@pytest.mark.parametrize("k", [3, 4, 5])
def test_periodic_convolution_against_numpy(k):
    x = _images(h=8, w=8, c=2, b=1)
    inputs = keras.Input((8, 8, 2))
    model = keras.Model(inputs, sphere.conv(inputs, 3, k, rows="pole", cols="periodic",
                                            use_bias=False, name="c"))  # fmt: skip
    kernel = model.get_layer("c").kernel.numpy()
    top, bottom = sphere.same_pads(8, k)
    want = _numpy_conv(_pad_sphere(x.astype(np.float64), top, bottom, top, bottom), kernel)
    np.testing.assert_allclose(model(x).numpy(), want, rtol=1e-5, atol=1e-5)


def _numpy_conv_transpose(x, kernel, wrap_cols, first_row=0, n_rows=None, stride=2):
    """Transposed stride-s convolution, TensorFlow's ``same`` alignment, by scattering.

    Input pixel ``(i, j)`` adds ``x[i, j] @ kernel[ti, tj].T`` to output ``(s i + ti - b,
    s j + tj - b)`` (``b`` the same-padding offset); columns wrap around the circle when
    ``wrap_cols``, rows outside the output are dropped. ``first_row``: row number of the
    first input row (negative for rows padded on above the image), ``n_rows`` of the output.
    """
    nb, h, w, _ = x.shape
    k = kernel.shape[0]
    b = sphere.same_pads(2 * stride, k, stride)[0]
    n_rows = stride * h if n_rows is None else n_rows
    out = np.zeros((nb, n_rows, stride * w, kernel.shape[2]))
    for i in range(h):
        for j in range(w):
            for ti in range(k):
                for tj in range(k):
                    oi, oj = stride * (i + first_row) + ti - b, stride * j + tj - b
                    if wrap_cols:
                        oj %= stride * w
                    if 0 <= oi < n_rows and 0 <= oj < stride * w:
                        # Keras Conv2DTranspose kernels are (k, k, filters, in_channels)
                        out[:, oi, oj] += x[:, i, j] @ kernel[ti, tj].T
    return out


def _transposed(x, k, rows, cols):
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, sphere.conv_transpose(inputs, 3, k, rows=rows, cols=cols,
                                                      use_bias=False, name="t"))  # fmt: skip
    return model(x).numpy(), model.get_layer("t").kernel.numpy()


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_transposed_convolution_against_numpy(k):
    x = _images(h=4, w=4, c=2, b=1)
    # zeros: Keras's own same layer, and the scatter without wrapping (the alignment)
    got, kernel = _transposed(x, k, "zeros", "zeros")
    np.testing.assert_allclose(got, _numpy_conv_transpose(x, kernel, False), atol=1e-5)
    # periodic longitude: the scatter wraps around the circle
    got, kernel = _transposed(x, k, "zeros", "periodic")
    assert got.shape == (1, 8, 8, 3)
    np.testing.assert_allclose(got, _numpy_conv_transpose(x, kernel, True), atol=1e-5)
    # across the poles: what the rows beyond each pole (mirrored, 180 degrees on) scatter
    got, kernel = _transposed(x, k, "pole", "periodic")
    before, after, _ = sphere.transpose_pads(k)
    rows = _pad_sphere(x.astype(np.float64), before, after, 0, 0)
    want = _numpy_conv_transpose(rows, kernel, True, first_row=-before, n_rows=8)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_zero_padded_path_is_keras_same():
    # the pad-same-crop construction with zero pads is exactly Keras's same layer
    x = _images(h=8, w=8, c=2, b=1)
    for k in (2, 3, 4, 5):
        conv = keras.layers.Conv2DTranspose(3, k, strides=2, padding="same", use_bias=False)
        want = conv(x).numpy()
        before, after, start = sphere.transpose_pads(k)
        xp = sphere.SpherePad((before, after, before, after))(x)
        got = sphere.Crop((start, start), (16, 16))(conv(xp)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


NETWORK = {"num_filters_min": 4, "num_filters_max": 16, "filter_size": 4, "dropout": 0.5,
           "dropout_blocks": 2}  # fmt: skip


def test_periodic_unet_builds_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(3)
    model = build_unet(16, 2, NETWORK | {"padding": "periodic"}, in_channels=3)
    assert model.input_shape == (None, 16, 16, 3)
    assert model.output_shape == (None, 16, 16, 2)
    names = {layer.name for layer in model.layers}
    wanted = {"enc1_conv_pad", "enc1_conv", "dec1_conv_pad", "dec1_conv_crop", "output",
              "output_crop"}  # fmt: skip
    assert wanted <= names
    x = _images(h=16, w=16, c=3, b=2)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    np.testing.assert_array_equal(model(x, training=False).numpy(),
                                  again(x, training=False).numpy())  # fmt: skip


def test_zero_padding_unet_is_the_papers():
    keras.utils.set_random_seed(3)
    a = build_unet(16, 2, NETWORK)
    keras.utils.set_random_seed(3)
    b = build_unet(16, 2, NETWORK | {"padding": "zeros"})
    assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True))
    assert not any(layer.name.endswith("_pad") for layer in a.layers)
