"""SRNFeatures: the reservoir's draw, its features against NumPy, pipelines, errors."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeClassifierCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksgr import SRNFeatures
from sksgr.datasets import make_temporal_order
from sksgr.reservoir import readout_feature_names

from conftest import nan_padded as _pad


def _ragged(seed=0, n=9, n_features=2, max_length=8):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(t, n_features)) for t in rng.randint(1, max_length + 1, size=n)]


def _numpy_features(reservoir, seqs, readout):
    """The reservoir's features by a plain NumPy loop over each sequence's steps."""
    W_in, W_rec, b = (np.asarray(a, dtype=np.float64) for a in (
        reservoir.input_weights_, reservoir.recurrent_weights_, reservoir.hidden_bias_))
    rows = []
    for s in seqs:
        z, states = np.zeros(len(b)), []
        for u in s:
            z = np.tanh(u @ W_in + z @ W_rec + b)
            states.append(z)
        states = np.array(states)
        pools = {"last": states[-1], "mean": states.mean(axis=0), "max": states.max(axis=0)}
        rows.append(np.concatenate([pools[p] for p in readout]))
    return np.array(rows)


@parametrize_with_checks([SRNFeatures(n_hidden=8), SRNFeatures(n_hidden=8, readout="last")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("readout", [("last", "mean", "max"), ("max", "last"), ("mean",)])
def test_features_match_numpy_on_a_ragged_batch(readout):
    seqs = _ragged()
    reservoir = SRNFeatures(n_hidden=6, readout=readout, random_state=0).fit(seqs)
    feats = reservoir.transform(seqs)
    assert feats.shape == (len(seqs), 6 * len(readout)) and feats.dtype == np.float64
    assert_allclose(feats, _numpy_features(reservoir, seqs, readout), rtol=1e-12, atol=1e-14)


def test_ragged_list_and_padded_array_give_identical_features():
    seqs = _ragged(1)
    reservoir = SRNFeatures(n_hidden=7, random_state=0).fit(seqs)
    from_list = reservoir.transform(seqs)
    assert_array_equal(from_list, reservoir.transform(_pad(seqs)))
    # each sequence alone (padded to its own length, not the batch's): the same features
    assert_array_equal(from_list[2:3], reservoir.transform(seqs[2:3]))
    assert_array_equal(reservoir.transform(_pad(seqs)[::-1]), from_list[::-1])


def test_univariate_table_is_one_feature_per_step():
    X = np.random.RandomState(0).normal(size=(5, 4))
    reservoir = SRNFeatures(n_hidden=3, random_state=0).fit(X)
    assert reservoir.n_features_in_ == 4 and reservoir.input_weights_.shape == (1, 3)
    assert_array_equal(reservoir.transform(X), reservoir.transform(X[:, :, None]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    seqs = _ragged(2)
    reservoir = SRNFeatures(n_hidden=10, random_state=0).fit([s.astype(dtype) for s in seqs])
    for name in ("input_weights_", "recurrent_weights_", "hidden_bias_"):
        assert getattr(reservoir, name).dtype == dtype
    feats = reservoir.transform([s.astype(dtype) for s in seqs])
    assert feats.dtype == dtype
    # drawn in float64 either way: float32 only rounds the same reservoir
    ref = SRNFeatures(n_hidden=10, random_state=0).fit(seqs)
    assert_allclose(reservoir.recurrent_weights_, ref.recurrent_weights_, rtol=1e-6)
    assert_allclose(feats, ref.transform(seqs), atol=1e-5)
    # other input is cast to the weights' dtype
    assert reservoir.transform(_pad(seqs).astype(np.float64 if dtype == np.float32 else np.float32)
                               ).dtype == dtype


@pytest.mark.parametrize("radius", [0.5, 0.95, 1.3])
@pytest.mark.parametrize("density", [1.0, 0.25, 0.01])
def test_spectral_radius_and_density_of_the_draw(radius, density):
    H = 40
    reservoir = SRNFeatures(n_hidden=H, spectral_radius=radius, recurrent_density=density,
                            random_state=0).fit(np.zeros((2, 3, 2)))
    W = reservoir.recurrent_weights_
    assert_allclose(np.max(np.abs(np.linalg.eigvals(W))), radius, rtol=1e-10)
    per_row = (W != 0).sum(axis=1)
    assert_array_equal(per_row, max(1, round(density * H)))  # at least one per row
    assert (W != 0).mean() == pytest.approx(max(1, round(density * H)) / H)
    if density < 1:  # the places differ from row to row
        assert len({tuple(np.flatnonzero(row)) for row in W}) > 1


def test_input_and_bias_scaling():
    reservoir = SRNFeatures(n_hidden=300, input_scaling=0.3, bias_scaling=0.05,
                            random_state=0).fit(np.zeros((2, 3, 4)))
    W_in, b = reservoir.input_weights_, reservoir.hidden_bias_
    assert W_in.shape == (4, 300) and b.shape == (300,)
    assert np.abs(W_in).max() <= 0.3 and np.abs(W_in).max() > 0.29
    assert np.abs(b).max() <= 0.05 and np.abs(b).max() > 0.049
    assert W_in.min() < 0 < W_in.max() and b.min() < 0 < b.max()


def test_zero_spectral_radius_has_no_memory():
    seqs = _ragged(3)
    reservoir = SRNFeatures(n_hidden=5, spectral_radius=0.0, readout="last",
                            random_state=0).fit(seqs)
    assert not reservoir.recurrent_weights_.any()
    last = np.array([s[-1] for s in seqs])
    assert_allclose(reservoir.transform(seqs),
                    np.tanh(last @ reservoir.input_weights_ + reservoir.hidden_bias_))


def test_random_state_fixes_the_reservoir():
    X = _ragged(4)
    a = SRNFeatures(n_hidden=6, random_state=3).fit(X)
    b = SRNFeatures(n_hidden=6, random_state=3).fit(_ragged(5))  # other data, same F
    c = SRNFeatures(n_hidden=6, random_state=4).fit(X)
    assert_array_equal(a.recurrent_weights_, b.recurrent_weights_)
    assert_array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.recurrent_weights_, c.recurrent_weights_)
    assert_array_equal(pickle.loads(pickle.dumps(a)).transform(X), a.transform(X))


def test_fitted_attributes_and_feature_names():
    reservoir = SRNFeatures(n_hidden=3, readout=["mean", "last"], random_state=0).fit(_ragged())
    assert reservoir.n_readout_features_ == 6
    assert reservoir.get_feature_names_out().tolist() == [
        "srnfeatures_mean0", "srnfeatures_mean1", "srnfeatures_mean2",
        "srnfeatures_last0", "srnfeatures_last1", "srnfeatures_last2"]
    # the fitted readout, not a parameter changed since
    reservoir.set_params(readout="max", n_hidden=10)
    assert len(reservoir.get_feature_names_out()) == reservoir.transform(_ragged()).shape[1] == 6
    assert readout_feature_names("max", 2, "srnclassifier").tolist() == [
        "srnclassifier_max0", "srnclassifier_max1"]
    with pytest.raises(ValueError, match="readout"):
        readout_feature_names(("last", "sum"), 2, "x")


def test_feature_names_of_a_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(np.random.RandomState(0).normal(size=(6, 4)), columns=list("abcd"))
    reservoir = SRNFeatures(n_hidden=2, readout="last", random_state=0).fit(df)
    assert_array_equal(reservoir.feature_names_in_, list("abcd"))
    assert reservoir.get_feature_names_out(list("abcd")).tolist() == [
        "srnfeatures_last0", "srnfeatures_last1"]
    with pytest.raises(ValueError, match="feature_names_in_"):
        reservoir.get_feature_names_out(list("abce"))
    out = reservoir.set_output(transform="pandas").transform(df)
    assert list(out.columns) == ["srnfeatures_last0", "srnfeatures_last1"]


def test_echo_state_network_learns_temporal_order():
    X, y = make_temporal_order(400, 20, random_state=0)
    esn = Pipeline([("srnfeatures", SRNFeatures(random_state=0)), ("scale", StandardScaler()),
                    ("ridge", RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)))])
    # measured: 0.82 (seed 0); other seeds 0.67 and 0.72; chance 0.25
    assert esn.fit(X[:300], y[:300]).score(X[300:], y[300:]) > 0.6


def test_grid_search_over_the_reservoir():
    X, y = make_temporal_order(120, 20, random_state=1)
    esn = Pipeline([("srnfeatures", SRNFeatures(random_state=0)), ("scale", StandardScaler()),
                    ("ridge", RidgeClassifierCV())])
    search = GridSearchCV(esn, {"srnfeatures__spectral_radius": [0.5, 0.95],
                                "srnfeatures__n_hidden": [10, 30]}, cv=3).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_.named_steps["srnfeatures"]
    assert best.recurrent_weights_.shape[0] == search.best_params_["srnfeatures__n_hidden"]
    scores = search.cv_results_["mean_test_score"]
    assert search.best_index_ == int(np.argmax(scores))
    radius = np.max(np.abs(np.linalg.eigvals(best.recurrent_weights_)))
    assert radius == pytest.approx(search.best_params_["srnfeatures__spectral_radius"])


def test_clone_gives_an_unfitted_copy():
    reservoir = SRNFeatures(n_hidden=4, random_state=0).fit(_ragged())
    with pytest.raises(NotFittedError):
        clone(reservoir).transform(_ragged())


def test_bad_input_raises_clear_errors():
    seqs = _ragged()
    with pytest.raises(NotFittedError, match="not fitted"):
        SRNFeatures().transform(seqs)
    reservoir = SRNFeatures(n_hidden=4, random_state=0).fit(seqs)
    X = _pad(seqs)
    X[0, 0, :] = np.nan
    with pytest.raises(ValueError, match="NaN inside sample 0 at step 0"):
        reservoir.transform(X)
    X = _pad(seqs)
    X[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN in some but not all features of sample 1"):
        reservoir.fit(X)
    with pytest.raises(ValueError, match="X has 3 features per step, but SRNFeatures is expecting 2"):
        reservoir.transform(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="infinity"):
        reservoir.transform([np.array([[0.0, np.inf]])])


@pytest.mark.parametrize("params, match", [
    ({"readout": "sum"}, "readout must be one of"),
    ({"readout": ("last", "last")}, "readout must be one of"),
    ({"recurrent_density": 0.0}, "recurrent_density"),
    ({"spectral_radius": -1.0}, "spectral_radius"),
    ({"n_hidden": 0}, "n_hidden"),
])
def test_bad_parameters_raise_at_fit(params, match):
    with pytest.raises(ValueError, match=match):
        SRNFeatures(**params).fit(_ragged())
