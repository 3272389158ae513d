"""scikit-learn's callback API (``sklearn.callback``) in the fits of the SRN estimators.

With scikit-learn >= 1.9, ``est.set_callbacks(ProgressBar())`` (or the same on
a ``Pipeline`` or ``GridSearchCV`` around it) reports the epochs of ``fit``
and ``partial_fit``. The task tree of one fit is::

    fit                          the root (merged into a meta-estimator's task)
    |-- epoch, epoch, ...        one network: n_restarts=1, warm_start, partial_fit
    or
    |-- restart #0 ... #n-1      n_restarts > 1 networks, trained in parallel
        |-- epoch, epoch, ...

Restarts train in parallel threads (``n_jobs``), so their tasks are siblings
with fixed ids (``task_id`` = the restart's index, ``sequential_subtasks=False``
for the root), created in the calling thread before the networks start, as
``GridSearchCV`` creates one task per candidate and split; each network then
adds its own epochs in its own thread. A restart's task begins with its first
epoch and ends when that network is done.

The hooks receive ``X, y, metadata`` lazily: ``X`` is the sequences the
networks train on (NaN-padded; without the ``early_stopping`` validation
split), ``y`` their targets, ``metadata`` their ``sample_weight`` (if given);
``fitted_estimator`` is a copy of the estimator carrying the weights at the
start or end of the task, ready to predict. So ``ScoringMonitor`` records a
score per epoch on the training sequences (scikit-learn's convention); the
estimator's own validation scores are in ``validation_scores_``. An epoch's
``on_fit_task_end`` returning True stops that network after the epoch, as
early stopping would. Without the callback API (``sksgr._compat``) every hook
does nothing.
"""

from ._compat import CallbackSupportMixin
from ._init import WEIGHT_ATTRIBUTES
from ._steps import take_sequences

__all__ = ["NO_CALLBACKS", "CallbackSupportMixin", "EpochHooks", "FitCallbacks"]


class _TrainingSet:
    """``X, y, metadata`` for the hooks: the training part of the fit's data.

    ``X`` is built (NaN-padded) at its first use only, from the training
    data the loop hands over, and is not pickled (restarts on another
    process build it there again).
    """

    def __init__(self, y, sample_weight):
        self.y = y
        self.metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self._X = None

    def X(self, data):
        if self._X is None:
            from ._base import _nan_padded  # (_base imports this module)

            idx = data.train_idx
            self._X = _nan_padded(data.X[idx], data.lengths[idx])
        return self._X

    def __getstate__(self):
        return {**self.__dict__, "_X": None}

    def hook_args(self, data):
        return dict(X=lambda: self.X(data), y=self.y, metadata=self.metadata)


class FitCallbacks:
    """The callback tasks of one ``fit`` or ``partial_fit`` of an SRN estimator.

    Creating it starts the root task (``_init_callback_context`` sets the
    callbacks up; ``_fit_context`` tears them down after the fit); give each
    network its hooks (:meth:`network`) and call :meth:`end` once the
    estimator is fitted.

    Parameters
    ----------
    estimator : BaseSRN
        The estimator being fitted.
    net : Network
        The network it trains (sizes, readout), to unpack parameter vectors.
    data : TrainingData
        The fit's training data.
    y : ndarray or list
        The validated targets of all sequences of ``data``.
    sample_weight : ndarray or None
        The validated ``sample_weight`` of ``fit``, or None.
    n_networks : int
        Networks trained (``n_restarts`` of a cold fit, else 1).
    max_epochs : int
        Epochs at most per network.
    """

    def __init__(self, estimator, net, data, y, sample_weight, *, n_networks, max_epochs):
        idx = data.train_idx
        self.estimator = estimator
        self.net = net
        self._data = data
        self._train = _TrainingSet(take_sequences(y, idx),
                                   None if sample_weight is None else sample_weight[idx])
        many = n_networks > 1
        self.root = estimator._init_callback_context(
            max_subtasks=n_networks if many else max_epochs, sequential_subtasks=not many)
        self.root.call_on_fit_task_begin(estimator=estimator, **self._train.hook_args(data))
        # the restarts' tasks now, in this thread: the networks train in other threads
        self._tasks = ([self.root.subcontext(task_name="restart", task_id=i,
                                             max_subtasks=max_epochs)
                        for i in range(n_networks)] if many else [self.root])

    def network(self, i):
        """The :class:`EpochHooks` of network ``i`` (its restart)."""
        return EpochHooks(self.estimator, self.net, self._tasks[i], self._train,
                          own_task=len(self._tasks) > 1)

    def end(self):
        """End the root task: the estimator is fitted."""
        self.root.call_on_fit_task_end(estimator=self.estimator, reconstruction_attributes={},
                                       **self._train.hook_args(self._data))


class _NoCallbacks:
    """What a run without callback tasks passes (``BaseSRN._continue``)."""

    def network(self, i):
        return None

    def end(self):
        pass


NO_CALLBACKS = _NoCallbacks()


class EpochHooks:
    """The hooks the training loop of one network calls.

    ``begin(coef, data)`` at the start of each epoch, ``end(coef, data)`` at
    its end (``coef=None`` for an epoch that trained nothing), returning
    whether a callback asks to stop; ``close(coef, data)`` once the network
    is trained. ``coef`` is the network's flat parameter vector.
    """

    def __init__(self, estimator, net, task, train, *, own_task):
        self.estimator = estimator
        self.net = net
        self.task = task
        self.train = train
        self._begun = not own_task  # a restart's task begins with its first epoch
        self._closes_task = own_task
        self._epoch = None

    def _weights(self, coef):
        """The fitted attributes of the network with parameters ``coef``, for
        ``fitted_estimator`` (evaluated only if a callback asks for it)."""
        net = self.net
        return lambda: dict(zip(WEIGHT_ATTRIBUTES, net.unpack(coef.copy())))

    def _begin_task(self, coef, data):
        if not self._begun:
            self._begun = True
            self.task.call_on_fit_task_begin(estimator=self.estimator,
                                             reconstruction_attributes=self._weights(coef),
                                             **self.train.hook_args(data))

    def begin(self, coef, data):
        self._begin_task(coef, data)
        self._epoch = self.task.subcontext(task_name="epoch")
        self._epoch.call_on_fit_task_begin(estimator=self.estimator,
                                           reconstruction_attributes=self._weights(coef),
                                           **self.train.hook_args(data))

    def end(self, coef, data):
        epoch, self._epoch = self._epoch, None
        if coef is None:  # nothing trained: an empty task
            return bool(epoch.call_on_fit_task_end(estimator=self.estimator))
        return bool(epoch.call_on_fit_task_end(estimator=self.estimator,
                                               reconstruction_attributes=self._weights(coef),
                                               **self.train.hook_args(data)))

    def close(self, coef, data):
        if self._closes_task:
            self._begin_task(coef, data)
            self.task.call_on_fit_task_end(estimator=self.estimator,
                                           reconstruction_attributes=self._weights(coef),
                                           **self.train.hook_args(data))
