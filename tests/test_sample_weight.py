"""sample_weight and class_weight: scikit-learn's semantics, down to the kernel."""

import copy

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_sample_weight

from sksgr import SRNClassifier, SRNRegressor

from conftest import FAST, sign_task, train_minibatches

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*maximum iterations:sklearn.exceptions.ConvergenceWarning")

# a safe range above most candidates' Q (median 0.1-0.3 here), so that the rule skips
# candidates and the comparisons cover its decisions, not only applied steps
SGR = {
    "off": {},
    "sgr-linear": dict(gradient_regularization=True, q_range=(0.5, 1.0)),
    "sgr-exact-dQ": dict(gradient_regularization=True, q_range=(0.5, 1.0), ds_mode="exact",
                         steer="dQ"),
}


def _data(n=30, T=6, F=2, seed=0):
    """Sequences of different lengths (NaN-padded), class labels and real targets."""
    X, y = sign_task(n, T, F, seed)
    lengths = np.random.RandomState(seed).randint(2, T + 1, size=n)
    lengths[0] = T
    X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan
    return X, y, np.nanmean(X[:, :, 0], axis=1)


def _estimators(**kw):
    return [(SRNClassifier(**FAST, **kw), 1), (SRNRegressor(**FAST, **kw), 2)]


@pytest.mark.parametrize("sgr", SGR)
@pytest.mark.parametrize("which", ["classifier", "regressor"])
def test_integer_weights_equal_repeated_sequences_in_full_batches(which, sgr):
    """With one minibatch per epoch, weight k is the sequence k times (and 0 removes it)."""
    X, yc, yr = _data()
    y = yc if which == "classifier" else yr
    Est = SRNClassifier if which == "classifier" else SRNRegressor
    w = np.random.RandomState(1).randint(0, 4, size=len(X))
    w[0] = 2
    rep = np.repeat(np.arange(len(X)), w)
    kw = dict(FAST, batch_size=200, shuffle=False, tol=None, **SGR[sgr])
    weighted = Est(**kw).fit(X, y, sample_weight=w)
    repeated = Est(**kw).fit(X[rep], y[rep])
    assert weighted.n_iter_ == repeated.n_iter_ == 20
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
    for name in ("input_weights_", "recurrent_weights_", "output_weights_", "output_bias_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-9, atol=1e-12)
    if sgr != "off":
        assert weighted.n_skipped_ > 0  # the rule decided something
        np.testing.assert_array_equal(weighted.used_history_, repeated.used_history_)
        np.testing.assert_allclose(weighted.q_history_, repeated.q_history_, rtol=1e-8)
        # dS is measured on the kernel's weights (mean 1 over the sequences trained on,
        # those of non-zero weight; the loss divided by the minibatch's count): the
        # repeated fit's dS times sum(w) / count_nonzero(w), which no decision depends on
        factor = w.sum() / np.count_nonzero(w)
        np.testing.assert_allclose(weighted.ds_history_, factor * repeated.ds_history_,
                                   rtol=1e-7, atol=1e-15)


@pytest.mark.parametrize("sgr", ["off", "sgr-exact-dQ"])
@pytest.mark.parametrize("which", ["classifier", "regressor"])
def test_zero_weights_remove_their_sequences_exactly(which, sgr):
    """Even with shuffled minibatches: the sequences of zero weight are left out of
    training, the others keep their weights, so the fit is that of the data without them."""
    X, yc, yr = _data(n=40)
    y = yc if which == "classifier" else yr
    Est = SRNClassifier if which == "classifier" else SRNRegressor
    rng = np.random.RandomState(2)
    keep = rng.rand(len(X)) > 0.3
    keep[0] = True
    for w in (keep.astype(float), np.where(keep, rng.uniform(0.5, 3, len(X)), 0.0)):
        kw = dict(FAST, batch_size=7, **SGR[sgr])
        weighted = Est(**kw).fit(X, y, sample_weight=w)
        removed = Est(**kw).fit(X[keep], y[keep], sample_weight=w[keep])
        np.testing.assert_array_equal(weighted.recurrent_weights_, removed.recurrent_weights_)
        np.testing.assert_array_equal(weighted.loss_curve_, removed.loss_curve_)
        if sgr != "off":
            assert weighted.n_skipped_ > 0
            np.testing.assert_array_equal(weighted.used_history_, removed.used_history_)
    # and with weights 0 and 1, it is the unweighted fit of the rest
    plain = Est(**kw).fit(X[keep], y[keep])
    ones = Est(**kw).fit(X, y, sample_weight=keep.astype(float))
    np.testing.assert_array_equal(ones.recurrent_weights_, plain.recurrent_weights_)


@pytest.mark.parametrize("extra", [
    {},
    dict(gradient_regularization=True, ds_mode="exact", selection="example", alpha=1e-3,
         clip_norm=1.0, nesterov=True),
])
def test_weights_of_one_give_the_results_of_none_bit_for_bit(extra):
    """Equal weights go through the weighted kernel path and change no bit."""
    X, yc, yr = _data(n=40)
    for Est, y in ((SRNClassifier, yc), (SRNRegressor, yr)):
        kw = dict(FAST, batch_size=7, **extra)
        plain = Est(**kw).fit(X, y)
        ones = Est(**kw).fit(X, y, sample_weight=np.ones(len(X)))
        for name in ("input_weights_", "recurrent_weights_", "hidden_bias_", "output_weights_",
                     "output_bias_", "loss_curve_", "q_history_", "ds_history_"):
            np.testing.assert_array_equal(getattr(plain, name), getattr(ones, name))
        part = Est(**kw).partial_fit(X, y, *([[0, 1]] if Est is SRNClassifier else []))
        part_ones = Est(**kw).partial_fit(X, y, *([[0, 1]] if Est is SRNClassifier else []),
                                          sample_weight=np.ones(len(X)))
        np.testing.assert_array_equal(part.recurrent_weights_, part_ones.recurrent_weights_)


def test_class_weight_balanced_favours_the_minority_class():
    """On a 10 % minority with overlapping classes, "balanced" predicts it more often
    (the decision threshold moves toward the majority), and a dict does likewise."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 4, 1))
    score = X[:, 1, 0] + rng.normal(scale=1.0, size=400)
    y = (score > np.quantile(score, 0.9)).astype(int)
    kw = dict(FAST, max_iter=30)
    none = SRNClassifier(**kw).fit(X, y)
    balanced = SRNClassifier(**kw, class_weight="balanced").fit(X, y)
    favoured = SRNClassifier(**kw, class_weight={1: 9.0}).fit(X, y)
    share = {name: np.mean(est.predict(X) == 1)
             for name, est in (("none", none), ("balanced", balanced), ("dict", favoured))}
    # measured: 0.0675 without class weights, 0.2225 with either
    assert share["none"] < 0.1 < 0.15 < share["balanced"], share
    # "balanced" weighs class 1 nine times class 0 here: the same loss as the dict
    assert share["dict"] == pytest.approx(share["balanced"], abs=0.01), share
    recall = {name: np.mean(est.predict(X[y == 1]) == 1)
              for name, est in (("none", none), ("balanced", balanced))}
    assert recall["balanced"] > recall["none"] + 0.3, recall


def test_class_weight_is_multiplied_into_sample_weight():
    X, y, _ = _data(n=40)
    w = np.random.RandomState(3).uniform(0.5, 2.0, len(X))
    a = SRNClassifier(**FAST, class_weight="balanced").fit(X, y, sample_weight=w)
    b = SRNClassifier(**FAST).fit(X, y, sample_weight=w * compute_sample_weight("balanced", y))
    np.testing.assert_array_equal(a.recurrent_weights_, b.recurrent_weights_)
    c = SRNClassifier(**FAST, class_weight={0: 2.0}).fit(X, y)
    d = SRNClassifier(**FAST).fit(X, y, sample_weight=np.where(y == 0, 2.0, 1.0))
    np.testing.assert_array_equal(c.recurrent_weights_, d.recurrent_weights_)


@pytest.mark.parametrize("bad, match", [
    (-1.0, "Negative values in data passed to `sample_weight`"),
    (np.nan, "Input sample_weight contains NaN"),
    (np.inf, "Input sample_weight contains infinity"),
])
@pytest.mark.parametrize("Est", [SRNClassifier, SRNRegressor])
def test_bad_sample_weights_are_errors(Est, bad, match):
    X, y, _ = _data(n=12)
    w = np.ones(len(X))
    w[3] = bad
    with pytest.raises(ValueError, match=match):
        Est(**FAST).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=match):
        Est(**FAST).partial_fit(X, y, *([[0, 1]] if Est is SRNClassifier else []),
                                sample_weight=w)


@pytest.mark.parametrize("Est", [SRNClassifier, SRNRegressor])
def test_sample_weights_of_the_wrong_shape_or_all_zero_are_errors(Est):
    X, y, _ = _data(n=12)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(11,\), expected \(12,\)"):
        Est(**FAST).fit(X, y, sample_weight=np.ones(11))
    with pytest.raises(ValueError, match="Sample weights must be 1D"):
        Est(**FAST).fit(X, y, sample_weight=np.ones((12, 1)))
    with pytest.raises(ValueError, match="at least one non-zero"):
        Est(**FAST).fit(X, y, sample_weight=np.zeros(12))


def test_classifier_needs_two_classes_of_non_zero_weight():
    X, y, _ = _data(n=12)
    with pytest.raises(ValueError, match="at least 2 classes with a non-zero weight"):
        SRNClassifier(**FAST).fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="at least 2 classes with a non-zero weight.*only "
                                         "class 1 has any"):
        SRNClassifier(**FAST, class_weight={0: 0.0}).fit(X, y)
    with pytest.raises(ValueError, match="no class has any"):
        SRNClassifier(**FAST, class_weight={0: 0.0, 1: 0.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight must give finite non-negative"):
        SRNClassifier(**FAST, class_weight={0: -1.0}).fit(X, y)


def test_partial_fit_takes_weights_and_a_dict_class_weight_but_not_balanced():
    X, y, _ = _data(n=20)
    clf = SRNClassifier(**FAST, class_weight={1: 2.0})
    clf.partial_fit(X, y, classes=[0, 1], sample_weight=np.full(len(X), 0.5))
    ref = SRNClassifier(**FAST).partial_fit(X, y, classes=[0, 1],
                                            sample_weight=np.where(y == 1, 1.0, 0.5))
    np.testing.assert_array_equal(clf.recurrent_weights_, ref.recurrent_weights_)
    # a partial_fit batch may hold weight for one class only: weights 0 and 1 are the
    # batch of the weighted sequences, from the same state
    subset = copy.deepcopy(clf).partial_fit(X[y == 0], y[y == 0])
    clf.partial_fit(X, y, sample_weight=(y == 0).astype(float))
    np.testing.assert_array_equal(clf.recurrent_weights_, subset.recurrent_weights_)
    assert not np.array_equal(clf.recurrent_weights_, ref.recurrent_weights_)  # it trained
    # and lack classes that class_weight names
    three = SRNClassifier(**FAST, class_weight={0: 2.0, 2: 3.0})
    three.partial_fit(X, y, classes=[0, 1, 2])
    ref = SRNClassifier(**FAST).partial_fit(X, y, classes=[0, 1, 2],
                                            sample_weight=np.where(y == 0, 2.0, 1.0))
    np.testing.assert_array_equal(three.recurrent_weights_, ref.recurrent_weights_)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        SRNClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_early_stopping_split_carries_the_weights():
    """The held-out sequences are scored with their own weights."""
    X, y = sign_task(n=60)
    w = np.arange(1.0, 61.0)
    seen = []

    def scoring(est, X_val, y_val, sample_weight=None):
        seen.append((X_val[:, 0, 0].copy(), sample_weight))
        return -np.average(est.predict(X_val) != y_val, weights=sample_weight)

    SRNClassifier(**FAST, early_stopping=True, scoring=scoring).fit(X, y, sample_weight=w)
    first_steps, weights = seen[0]
    rows = [np.flatnonzero(X[:, 0, 0] == v)[0] for v in first_steps]
    np.testing.assert_array_equal(weights, w[rows])
    assert len(rows) == 6
    # without weights, the score is called as before
    seen.clear()
    SRNClassifier(**FAST, early_stopping=True, scoring=scoring).fit(X, y)
    assert seen[0][1] is None


def test_kernel_batch_mean_divides_by_the_minibatch_size():
    """batch_mean=True (what the estimators use): a minibatch's loss is sum w l / B."""
    from sksgr import _bptt_fast
    from sksgr._bptt_fast import HEAD_IDENTITY

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 5, 2))
    Y = rng.normal(size=(6, 1))
    lengths = np.full(6, 5, dtype=np.int32)
    coef = rng.normal(scale=0.3, size=_bptt_fast.n_params(2, 4, 1))
    w = np.array([0.5, 0.5, 0.5, 0.5, 4.0, 0.0])
    per_seq = np.array([_bptt_fast.forward_backward(
        X[i:i + 1], Y[i:i + 1], lengths[i:i + 1], coef, np.empty_like(coef), 4, HEAD_IDENTITY,
        0, 0.0) for i in range(6)])

    def loss(batch_mean):
        losses = np.empty(1)
        train_minibatches(
            X, Y, lengths, np.arange(6, dtype=np.intp), np.array([0, 6], dtype=np.intp),
            coef.copy(), np.zeros_like(coef), np.empty(_bptt_fast.workspace_size(6, 5, 2, 4, 1)),
            losses, 4, HEAD_IDENTITY, 0, 0.0, 0.0, False, 0.0, sample_weight=w,
            batch_mean=batch_mean)
        return losses[0]

    assert loss(True) == pytest.approx(w @ per_seq / 6, rel=1e-12)
    assert loss(False) == pytest.approx(w @ per_seq / w.sum(), rel=1e-12)


def test_estimators_scale_the_weights_to_mean_one_over_the_training_sequences():
    from sksgr._training import TrainingData

    data = TrainingData(X=np.zeros((4, 2, 1)), lengths=np.full(4, 2, np.int32),
                        Y=np.zeros((4, 1)), train_idx=np.array([0, 1, 2]),
                        sample_weight=np.array([1.0, 2.0, 3.0, 100.0]))
    np.testing.assert_allclose(data.kernel_weights(), [0.5, 1.0, 1.5, 50.0])
    ones = TrainingData(X=np.zeros((3, 2, 1)), lengths=np.full(3, 2, np.int32),
                        Y=np.zeros((3, 1)), train_idx=np.arange(3), sample_weight=np.ones(3))
    np.testing.assert_array_equal(ones.kernel_weights(), 1.0)  # exactly: bit-for-bit as None
