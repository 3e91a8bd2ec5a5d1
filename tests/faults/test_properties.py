"""Property-based tests of the sampling transforms (gravsep.dataset.sampling).

The ICGEM writer/reader round trip has its property test in tests/test_icgem.py.
"""

import numpy as np
import pytest
from gravsep.dataset.sampling import ORDER, cube_to_samples, resample_time, samples_to_cube
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytestmark = pytest.mark.faults

SAMPLINGS = sorted(ORDER)
dims = st.integers(1, 7)
dtypes = st.sampled_from([np.float32, np.float64, np.int16])
#: The sample axis of each sampling, as an axis of the (lat, lon, t) cube.
SAMPLE_AXIS = {"lat_lon": 2, "lat_t": 1, "t_lon": 0}


@st.composite
def cubes(draw, ncomp=None):
    shape = tuple(draw(dims) for _ in range(3))
    if ncomp is not None:
        shape = (draw(ncomp),) + shape
    dtype = draw(dtypes)
    elements = (
        st.floats(-1e6, 1e6, allow_nan=False, width=32)
        if np.issubdtype(dtype, np.floating)
        else st.integers(-1000, 1000)
    )
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=60, deadline=None)
@given(cube=st.one_of(cubes(), cubes(ncomp=st.integers(1, 5))), sampling=st.sampled_from(SAMPLINGS))
def test_cube_samples_round_trip(cube, sampling):
    samples = cube_to_samples(cube, sampling)
    back = samples_to_cube(samples, sampling)
    assert back.dtype == cube.dtype and back.shape == cube.shape
    assert np.array_equal(back, cube)
    assert samples.flags.c_contiguous and back.flags.c_contiguous
    assert sorted(samples.shape) == sorted(cube.shape)


@settings(max_examples=60, deadline=None)
@given(cube=cubes(), sampling=st.sampled_from(SAMPLINGS), data=st.data())
def test_each_sample_is_one_slice_of_the_cube(cube, sampling, data):
    """Sample k of a sampling is the cube's slice k along that sampling's sample axis, with
    rows and columns in (lat, lon, t) order (lat_t: lat by t; t_lon: t by lon)."""
    samples = cube_to_samples(cube, sampling)
    axis = SAMPLE_AXIS[sampling]
    k = data.draw(st.integers(0, cube.shape[axis] - 1))
    image = np.take(cube, k, axis=axis)  # the two remaining axes in cube order
    expected = image.T if sampling == "t_lon" else image
    assert np.array_equal(samples[k], expected)


@settings(max_examples=40, deadline=None)
@given(cube=cubes(ncomp=st.integers(1, 4)), sampling=st.sampled_from(SAMPLINGS))
def test_components_go_last_and_match_single_component(cube, sampling):
    samples = cube_to_samples(cube, sampling)
    assert samples.shape[-1] == cube.shape[0]
    for c in range(cube.shape[0]):
        assert np.array_equal(samples[..., c], cube_to_samples(cube[c], sampling))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_bad_shapes_and_samplings_are_refused(sampling):
    with pytest.raises(ValueError, match="3 or 4 axes"):
        cube_to_samples(np.zeros((2, 2)), sampling)
    with pytest.raises(ValueError, match="3 or 4 axes"):
        samples_to_cube(np.zeros((2, 2, 2, 2, 2)), sampling)
    with pytest.raises(ValueError, match="unknown sampling"):
        cube_to_samples(np.zeros((2, 2, 2)), sampling + "_x")


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    n_in=st.integers(2, 40),
    n_out=st.integers(1, 60),
    a=finite,
    b=finite,
    axis_pos=st.integers(0, 2),
)
def test_resample_time_of_a_linear_function_is_exact(lead, n_in, n_out, a, b, axis_pos):
    """A linear function of the time step is reproduced exactly (to rounding) at the new steps,
    ``linspace(0, n_in - 1, n_out)``, whatever the axis; the end points are kept bit for bit."""
    t = np.arange(n_in, dtype=np.float64)
    x = np.broadcast_to(a + b * t, (*lead, n_in)).copy()
    axis = min(axis_pos, len(lead))
    x = np.moveaxis(x, -1, axis)
    out = resample_time(x, n_out, axis=axis)
    shape = list(x.shape)
    shape[axis] = n_out
    assert list(out.shape) == shape
    pos = np.linspace(0.0, n_in - 1.0, n_out)
    expected = np.moveaxis(np.broadcast_to(a + b * pos, (*lead, n_out)), -1, axis)
    scale = abs(a) + abs(b) * n_in + 1e-300
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * scale)
    first = np.take(out, 0, axis=axis)
    assert np.array_equal(first, np.take(x, 0, axis=axis))
    if n_out > 1:
        assert np.array_equal(np.take(out, -1, axis=axis), np.take(x, -1, axis=axis))


@settings(max_examples=40, deadline=None)
@given(cube=cubes(), n_out=st.integers(1, 12))
def test_resample_time_same_length_is_a_copy_and_constant_stays(cube, n_out):
    same = resample_time(cube, cube.shape[-1])
    assert np.array_equal(same, cube) and same is not cube
    const = np.full(cube.shape[:-1] + (cube.shape[-1],), 2.5)
    np.testing.assert_allclose(resample_time(const, n_out), 2.5, rtol=1e-15, atol=0)
