"""The training loop on its own: a plain configuration, arrays and a score callback."""

import ast

import numpy as np
import pytest

from sksgr._bptt_fast import accept_candidate
from sksgr._init import init_coef
from sksgr._training import (
    TrainingConfig,
    TrainingData,
    should_stop,
    train_network,
)
from sksgr.network import HEAD_SOFTMAX, Network, Optimizer, SGRSettings, settings_fields

from conftest import PACKAGE_DIR as PACKAGE
from conftest import ROOT

NET = Network(n_features=2, n_hidden=6, n_outputs=2, head=HEAD_SOFTMAX)


def _data(n=60, T=8, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    labels = (X[:, 1, 0] > 0).astype(int)
    return TrainingData(X=X, lengths=np.full(n, T, dtype=np.int32), Y=np.eye(2)[labels],
                        train_idx=np.arange(n, dtype=np.intp))


def _start(F=2, H=6, O=2, seed=0):
    coef = init_coef(F, H, O, sigma=0.3, spectral_radius=None, recurrent_nonzeros=None,
                     rng=np.random.RandomState(seed), dtype=np.float64)
    return coef, np.zeros_like(coef)


def test_loop_with_a_plain_config_and_a_score_callback():
    data = _data()
    config = TrainingConfig(NET, Optimizer(learning_rate=0.05),
                            batch_size=10, max_candidates=23, validation_interval=5)
    seen = []

    def score(coef):  # any function of the parameters: here, a made-up one
        seen.append(coef.copy())
        return -abs(len(seen) - 3)  # best at the third validation

    result = train_network(config, data, _start(), seed=0, score=score, max_epochs=10)
    assert result.n_candidates == result.n_updates == 23
    assert len(seen) == len(result.validation_scores) == 5  # 5, 10, 15, 20, then 23
    np.testing.assert_array_equal(result.coef, seen[2])  # the best validated network
    assert result.best_validation_score == 0
    assert not np.any(result.velocity)  # an earlier state: its momentum is unknown
    assert result.n_iter == 4 and len(result.loss_curve) == 4  # 6 minibatches per epoch


def test_loop_without_validation_keeps_the_last_state_and_stops_on_the_loss():
    data = _data()
    config = TrainingConfig(NET, Optimizer(learning_rate=0.0),
                            tol=1e-4, n_iter_no_change=2)
    result = train_network(config, data, _start(), seed=0, max_epochs=50)
    # learning_rate 0: the loss never improves, so training stops after 1 + 3 epochs
    assert result.converged and result.n_iter == 4
    np.testing.assert_array_equal(result.coef, _start()[0])


def test_loop_without_validation_keeps_training_while_the_loss_falls():
    """The loss criterion looks at -loss: a falling loss is an improvement."""
    config = TrainingConfig(NET, Optimizer(learning_rate=0.05), tol=1e-4, n_iter_no_change=2)
    result = train_network(config, _data(), _start(), seed=0, max_epochs=6)
    # one epoch of 6 without an improvement above tol: fewer than n_iter_no_change + 1
    assert np.count_nonzero(np.diff(result.loss_curve) > -1e-4) == 1
    assert not result.converged and result.n_iter == 6


def test_loop_with_gradient_regularization_records_every_candidate():
    """A safe range above every Q: the rule skips, the guard applies every third."""
    data = _data()
    q_min, q_max = 2.0, 3.0
    config = TrainingConfig(NET, Optimizer(learning_rate=0.05), max_candidates=12,
                            sgr=SGRSettings(q_min=q_min, q_max=q_max, max_skips=3))
    result = train_network(config, data, _start(), seed=0, max_epochs=5)
    assert sum(len(q) for q in result.q_history) == result.n_candidates == 12
    used = np.concatenate(result.used_history)
    q, ds = np.concatenate(result.q_history), np.concatenate(result.ds_history)
    assert 0 < result.n_updates == np.count_nonzero(used) < 12
    by_rule = np.array([accept_candidate(a, 1.0, b, q_min, q_max) for a, b in zip(q, ds)])
    np.testing.assert_array_equal(used == 1, by_rule)  # 1: applied by the rule
    guarded = np.flatnonzero(used == 2)  # 2: by the guard, after 3 skips in a row
    assert guarded.size > 0
    for k in guarded:
        assert k >= 2 and not used[k - 2:k].any()


def test_stop_flag_ends_training_after_the_first_chunk():
    class Set:
        def is_set(self):
            return True

    config = TrainingConfig(NET)
    result = train_network(config, _data(n=600), _start(), seed=0, max_epochs=5,
                           stop_flag=Set())
    assert result.interrupted and result.n_iter == 1 and result.n_candidates == 60


@pytest.mark.parametrize("values, stop", [
    ([], False),
    ([1, 2, 3, 4, 5], False),
    ([5, 5, 5], False),            # 2 checks without improvement: not more than 2
    ([5, 5, 5, 5], True),          # 3 > n_iter_no_change = 2
    ([5, 5, 5, 6, 6, 6], False),   # an improvement resets the count
    ([5, 5.00001, 5.00002, 5.00003], True),  # improvements below tol do not count
    ([5, np.nan, np.nan, np.nan], True),     # NaN is no improvement
])
def test_should_stop_is_mlps_criterion(values, stop):
    assert should_stop(values, tol=1e-4, n_iter_no_change=2) is stop
    assert should_stop(values, tol=None, n_iter_no_change=2) is False


# the estimators, and their input validation (which records the input form, as
# scikit-learn's validate_data records n_features_in_)
ESTIMATOR_MODULES = {"_base.py", "_estimators.py", "_sequences.py"}
# the one module whose job is scikit-learn's private names (BaseEstimator._validate_params)
SKLEARN_COMPAT = {"_compat.py"}
# private names that are modules, or members of other modules, not of estimators
ALLOWED = {"_bptt_fast", "_numpy_reference", "_init", "_training", "_sequences", "_event",
           "_check_build",
           # scikit-learn's callback API: the method its CallbackSupportMixin gives estimators
           "_init_callback_context"}


def test_no_module_outside_the_estimators_touches_private_estimator_members():
    offending = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ESTIMATOR_MODULES | SKLEARN_COMPAT:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and node.attr not in ALLOWED
                    and not (isinstance(node.value, ast.Name) and node.value.id == "self")):
                offending.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert not offending, offending


def _imports(path):
    """(module, name) of every import in a file; name None for ``import module``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            found += [(module, alias.name) for alias in node.names]
    return found


def test_only_the_front_door_imports_the_compiled_kernel():
    importers = sorted(
        path.name for path in PACKAGE.glob("*.py")
        if any("_bptt_fast" in module or name == "_bptt_fast" for module, name in _imports(path))
    )
    assert importers == ["network.py"]


def test_benchmarks_use_only_public_names_and_write_no_fitted_attribute():
    offending = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for module, name in _imports(path):
            parts = module.split(".")
            if parts[0] == "sksgr" and (any(p.startswith("_") for p in parts)
                                        or (name or "").startswith("_")):
                offending.append(f"{path.name}: imports {module} {name or ''}")
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
            for t in targets:
                for sub in ast.walk(t):
                    if (isinstance(sub, ast.Attribute) and sub.attr.endswith("_")
                            and not sub.attr.endswith("__")):
                        offending.append(f"{path.name}:{sub.lineno}: writes .{sub.attr}")
    assert not offending, offending


def test_settings_dataclasses_mirror_the_kernel_structs():
    import dataclasses

    fields = settings_fields()
    assert [f.name for f in dataclasses.fields(Optimizer)] == fields["Optimizer"]
    assert [f.name for f in dataclasses.fields(SGRSettings)] == fields["SGRSettings"]
