"""SequenceScaler: statistics over real steps, the input's form kept, estimator checks."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksgr import SequenceScaler, SRNClassifier, SRNRegressor

from conftest import nan_padded as _pad


def _ragged(seed=0, n=12, n_features=3):
    """A list of sequences of different lengths, features on different scales."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(1, 9, size=n)
    centre = np.array([5.0, -100.0, 0.0])[:n_features]
    spread = np.array([0.1, 30.0, 1.0])[:n_features]
    return [centre + spread * rng.normal(size=(t, n_features)) for t in lengths]


# copy=False is left out: it scales the caller's array in place, so checks
# that call transform twice on one array (sample order invariance) see the
# scaled data the second time; StandardScaler(copy=False) behaves the same.
# It has its own test below.
@parametrize_with_checks([SequenceScaler(), SequenceScaler(with_mean=False),
                          SequenceScaler(with_std=False)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_standardises_each_feature_over_real_steps_of_padded_input():
    seqs = _ragged()
    X = _pad(seqs)
    Xt = SequenceScaler().fit_transform(X)
    assert Xt.shape == X.shape
    assert_array_equal(np.isnan(Xt), np.isnan(X))  # padding kept, nothing else NaN
    valid = Xt[~np.isnan(Xt).all(axis=2)]
    assert valid.shape == (sum(len(s) for s in seqs), 3)
    assert_allclose(valid.mean(axis=0), 0, atol=1e-12)
    assert_allclose(valid.std(axis=0), 1, rtol=1e-12)


def test_matches_standard_scaler_on_stacked_steps():
    seqs = _ragged(1)
    stacked = np.vstack(seqs)
    ref = StandardScaler().fit(stacked)
    for X in (seqs, _pad(seqs)):
        scaler = SequenceScaler().fit(X)
        assert_allclose(scaler.mean_, ref.mean_)
        assert_allclose(scaler.var_, ref.var_)
        assert_allclose(scaler.scale_, ref.scale_)
        assert scaler.n_steps_seen_ == len(stacked)
        assert scaler.n_features_in_ == 3
    Xt = SequenceScaler().fit_transform(seqs)
    assert_allclose(np.vstack(Xt), ref.transform(stacked))


def test_list_of_unequal_lengths_in_list_out():
    seqs = _ragged(2, n_features=1)
    univariate = [s.ravel() for s in seqs]  # (n_timesteps_i,) items
    for X in (seqs, univariate, tuple(seqs)):
        Xt = SequenceScaler().fit_transform(X)
        assert isinstance(Xt, list)
        assert [x.shape for x in Xt] == [np.shape(s) for s in X]
        assert_allclose(np.concatenate([x.ravel() for x in Xt]).std(), 1)


def test_list_of_equal_shapes_is_the_array_it_makes():
    X = np.random.RandomState(0).normal(size=(6, 5, 2))
    scaler = SequenceScaler().fit(X)
    assert_allclose(scaler.transform(list(X)), scaler.transform(X))
    univariate = SequenceScaler().fit(X[:, :, :1])
    assert_allclose(univariate.transform(X[:, :, 0].tolist()),
                    univariate.transform(X[:, :, :1])[:, :, 0])


def test_two_d_is_univariate_sequences_with_one_statistic():
    rng = np.random.RandomState(0)
    X = 3 + 2 * rng.normal(size=(40, 7))
    X[:5, 5:] = np.nan  # trailing padding
    scaler = SequenceScaler().fit(X)
    assert scaler.n_features_in_ == 7  # columns, as the estimators record it
    assert scaler.mean_.shape == scaler.scale_.shape == (1,)
    Xt = scaler.transform(X)
    assert Xt.shape == X.shape
    assert_array_equal(np.isnan(Xt), np.isnan(X))
    assert_allclose(np.nanmean(Xt), 0, atol=1e-12)
    assert_allclose(np.nanstd(Xt), 1)
    with pytest.raises(ValueError, match="7 features"):
        scaler.transform(X[:, :6])


@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_inverse_round_trip(with_mean, with_std):
    seqs = _ragged(3)
    X = _pad(seqs)
    scaler = SequenceScaler(with_mean=with_mean, with_std=with_std).fit(X)
    assert_allclose(scaler.inverse_transform(scaler.transform(X)), X)
    back = scaler.inverse_transform(scaler.transform(seqs))
    for a, b in zip(back, seqs):
        assert_allclose(a, b)
    Xt = scaler.transform(X)
    valid = Xt[~np.isnan(Xt).all(axis=2)]
    if with_mean:
        assert_allclose(valid.mean(axis=0), 0, atol=1e-12)
    else:
        assert np.abs(valid.mean(axis=0)).max() > 1  # the centre of feature 1 is -100
    if with_std:
        assert_allclose(valid.std(axis=0), 1)
    else:
        assert_allclose(valid.std(axis=0), np.vstack(seqs).std(axis=0))
    assert (scaler.scale_ is None) == (not with_std)
    assert (scaler.mean_ is None) == (not with_mean and not with_std)


def test_constant_feature_gets_scale_one():
    X = np.ones((5, 4, 2))
    X[:, :, 1] = np.arange(4)
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    assert_allclose(scaler.transform(X)[:, :, 0], 0)


def test_float32_kept_and_copy_false_in_place():
    X = _pad(_ragged(4)).astype(np.float32)
    Xt = SequenceScaler().fit_transform(X)
    assert Xt.dtype == np.float32
    X2 = X.copy()
    out = SequenceScaler(copy=False).fit(X2).transform(X2)
    assert out is X2
    assert_allclose(out, Xt, rtol=1e-5, atol=1e-5, equal_nan=True)
    X3 = X.copy()
    SequenceScaler().fit(X3).transform(X3)
    assert_array_equal(X3, X)  # copy=True leaves the input alone


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[[1.0, np.nan], [2.0, 3.0]]] * 3), "NaN in some but not all features"),
        (np.array([[[np.nan], [2.0], [3.0]]] * 3), "NaN inside sample 0 at step 0"),
        (np.array([[[np.inf], [2.0]]] * 3), "infinity"),
        ([np.ones((2, 2)), np.ones((3, 1))], "different numbers of features"),
        (np.ones((2, 2, 2, 2)), "ndim=4"),
    ],
)
def test_invalid_input_errors(X, match):
    with pytest.raises(ValueError, match=match):
        SequenceScaler().fit(X)


def test_wrong_number_of_features_at_transform():
    scaler = SequenceScaler().fit(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="X has 3 features per step, but SequenceScaler is expecting 2"):
        scaler.transform(np.ones((3, 4, 3)))


def test_invalid_parameter():
    with pytest.raises(ValueError, match="with_mean"):
        SequenceScaler(with_mean="yes").fit(np.ones((3, 4, 1)))


def test_clone_and_pickle():
    seqs = _ragged(5)
    scaler = SequenceScaler(with_mean=False)
    assert clone(scaler).get_params() == scaler.get_params()
    scaler.fit(seqs)
    restored = pickle.loads(pickle.dumps(scaler))
    for a, b in zip(restored.transform(seqs), scaler.transform(seqs)):
        assert_array_equal(a, b)
    assert not hasattr(clone(scaler), "mean_")


def test_dataframe_input_left_alone():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["a", "b", "c"])
    before = X.to_numpy().copy()
    scaler = SequenceScaler().fit(X)
    Xt = pd.DataFrame(scaler.transform(X), columns=X.columns)
    assert_allclose(scaler.inverse_transform(Xt), before)
    assert_array_equal(X.to_numpy(), before)
    assert_array_equal(scaler.get_feature_names_out(), ["a", "b", "c"])


def test_feature_names_out():
    assert_array_equal(SequenceScaler().fit(np.ones((3, 4, 2))).get_feature_names_out(), ["x0", "x1"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_in_pipeline_with_estimators():
    seqs = _ragged(6, n=40)
    y = np.array([s[-1, 1] > -100 for s in seqs]).astype(int)
    clf = make_pipeline(SequenceScaler(), SRNClassifier(max_iter=2, random_state=0))
    assert clf.fit(seqs, y).predict(seqs).shape == (40,)
    # the pipeline is the estimator fitted on the scaled sequences
    scaled = SequenceScaler().fit(seqs)
    alone = SRNClassifier(max_iter=2, random_state=0).fit(scaled.transform(seqs), y)
    np.testing.assert_array_equal(clf.predict_proba(_pad(seqs)),
                                  alone.predict_proba(scaled.transform(_pad(seqs))))
    reg = make_pipeline(SequenceScaler(), SRNRegressor(max_iter=2, random_state=0))
    assert reg.fit(_pad(seqs), y.astype(float)).predict(seqs).shape == (40,)
