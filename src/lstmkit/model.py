"""``LSTMModel``: the estimator users hold (fit / predict / evaluate / save / load).

Like a scikit-learn estimator, the constructor only stores parameters; ``fit``
validates them, splits the data chronologically, fits the scalers on the
training part, trains the network and keeps what it learned in a ``FittedPipeline``
(``pipeline_``, shown as the ``*_`` attributes), which predicts, evaluates and saves:
the estimator's methods for those delegate to it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from . import hyperparams, presets
from .analysis.backtest import Backtest, backtest
from .checks import check_choice, check_int, check_number, check_positive_int, closest, quote
from .conformal import check_bands, check_coverage
from .data.groups import require_sequence_column
from .data.sources import Source, from_arrays, read_table
from .data.validate import (
    check_number_targets,
    check_schema,
    require_columns,
    warn_sentinels,
    warn_time_index,
)
from .deploy.export import export_onnx
from .errors import ConfigError, NotFittedError
from .fitting import fit_pipeline, train_config_of
from .hyperparams import KNOWN_AS, Architecture, ResolvedArchitecture
from .metrics import Evaluation
from .nn import NetworkConfig, Output, size
from .nn.decoders import DECODERS
from .nn.heads import HEADS
from .nn.norm import MODES as NORM_MODES
from .nn.norm import norm_mode
from .pipeline import (
    FittedPipeline,
    fitted,
    inference_device,
)
from .spec import Spec, Split
from .storage.artifact import load_model, save_model

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback

def _class_weight(value: Any, spec: Any, data: Any) -> str:
    """Where ``class_weight`` goes: on the spec's classification target, or, fitting arrays
    without a spec, in the spec arrays imply (features ``x0``, ``x1``, ..., target ``y``)."""
    weight = f"class_weight={quote(value)}"
    if isinstance(spec, Spec):
        name = next((t.name for t in spec.targets if t.categorical), spec.targets[0].name)
        return ("class weights are set on the classification target, in the spec: "
                f"Spec(..., targets=[..., Target({name!r}, kind='classification', {weight})])")
    first = data[0] if isinstance(data, list | tuple) and len(data) else data
    shape = np.shape(first) if isinstance(first, np.ndarray) else ()
    inputs = f"[f'x{{i}}' for i in range({shape[-1]})]" if len(shape) >= 2 else "['x0', ...]"
    return ("class weights are set on the classification target, in the spec that arrays "
            f"imply (features x0, x1, ..., a 1-D y named 'y'): LSTMModel(Spec(inputs={inputs}, "
            f"targets=[Target('y', kind='classification', {weight})], task='sequence'))"
            "; class_weight='balanced' weighs by inverse class frequency")


# Keras (and scikit-learn) arguments that lstmkit takes elsewhere: where, given the value
# and, for a fix written with the user's names, the model's spec and fit's data (or None).
ELSEWHERE: dict[str, Callable[[Any, Any, Any], str]] = {
    "class_weight": _class_weight,
    "sample_weight": lambda value, spec, data: (
        "weights per sample are a column of a table that the spec names: "
        "LSTMModel(Spec(..., weight='w')).fit(table), a long table with a row per step and "
        "the weight constant within a sequence; array fits take none"),
    "validation_split": lambda value, spec, data: (
        "the split is an LSTMModel parameter: LSTMModel(split=Split(val_start="
        f"{_complement(value)}, test_start=None, shuffle=False)) validates on the last "
        f"{quote(value)} of the samples, as Keras does (without shuffle=False, on a random "
        "share of them); or fit(X, y, validation_data=(X_val, y_val))"),
    "shuffle": lambda value, spec, data: (
        "training batches are always shuffled, in a new seeded order each epoch; the "
        "samples are shuffled before the split unless LSTMModel(split=Split(shuffle=False))"),
}


def _spec_sketch(data: Any) -> str:
    """A spec call for a table fitted without one, written with its columns where it is a
    pandas DataFrame: its time column and numeric inputs, the first of them the target."""
    numeric = [str(c) for c in getattr(data, "columns", ()) if isinstance(data, pd.DataFrame)
               and pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(
                   data[c])]
    if not numeric:
        return "LSTMModel(Spec(inputs=..., targets=..., lookback=...))"
    times = [str(c) for c in data.columns if pd.api.types.is_datetime64_any_dtype(data[c])
             or str(c).lower() in ("date", "time", "ds", "datetime", "timestamp")]
    time = f"time={times[0]!r}, " if times else ""
    return (f"LSTMModel(Spec({time}inputs={numeric!r}, targets=[{numeric[0]!r}], lookback=24)) "
            f"forecasts {numeric[0]!r} one row ahead from the last 24 rows of its numeric "
            "columns: name your targets, inputs (Feature(name, kind='categorical') for labels) "
            "and lookback")


def _complement(share: Any) -> str:
    """``1 - share`` written for a message, where ``share`` is a fraction."""
    if isinstance(share, int | float) and 0 < share < 1:
        return format(1 - share, ".6g")
    return "1 - validation_split"


def _checked_keywords(method: Callable) -> Callable:
    """``method``, refusing an unknown keyword argument with a ``ConfigError`` that names
    the closest parameter, instead of Python's ``TypeError``; ``inspect.signature``
    still shows ``method``'s own parameters (it follows ``__wrapped__``)."""
    names = [p.name for p in inspect.signature(method).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)][1:]     # without self

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in names:
                fitting = method.__name__ == "fit"
                spec = getattr(self, "spec", None) if fitting else (
                    args[0] if args else kwargs.get("spec"))
                data = (args[0] if args else kwargs.get("data")) if fitting else None
                raise ConfigError(_unknown_keyword(name, kwargs[name], method.__name__, names,
                                                   spec, data))
        return method(self, *args, **kwargs)

    return checked


def _unknown_keyword(name: str, value: Any, where: str, names: list[str], spec: Any = None,
                     data: Any = None) -> str:
    """The message for keyword ``name`` that ``where`` (``__init__``, ``set_params`` or
    ``fit``) lacks; ``spec`` and ``data`` (fit's) write a ``class_weight`` fix for them."""
    params = list(LSTMModel.PARAMS)
    if where == "fit" and name in params:
        return (f"fit() takes no {name!r}: it is an LSTMModel parameter, set once on the "
                f"model: LSTMModel(..., {name}={quote(value)})")
    if name in ELSEWHERE:
        method = "LSTMModel" if where == "__init__" else where
        return f"{method}() takes no {name!r}: {ELSEWHERE[name](value, spec, data)}"
    choices = names + params if where == "fit" else names
    hint = f" (did you mean {KNOWN_AS[name]!r}?)" if name in KNOWN_AS else closest(name, choices)
    if where != "fit":
        return f"unknown parameter {name!r}{hint}; LSTMModel's parameters: {', '.join(names)}"
    return (f"unknown fit() argument {name!r}{hint}; fit takes {', '.join(names)}, and training "
            "settings are LSTMModel parameters: LSTMModel(..., max_epochs=..., batch_size=...)")


def _view(name: str) -> property:
    """A read-only attribute ``<name>_`` of a fitted ``LSTMModel``: its pipeline's ``name``
    (an ``AttributeError`` before ``fit``, as for any attribute not set)."""

    def read(model: LSTMModel) -> Any:
        pipeline = vars(model).get("pipeline_")
        if pipeline is None:
            raise AttributeError(f"{name}_ is set by fit: this LSTMModel is not fitted yet; call "
                                 "fit(data) first, or LSTMModel.load(path)")
        return getattr(pipeline, name)

    return property(read, doc=f"The fitted pipeline's ``{name}`` (read-only).")


class LSTMModel:
    """An LSTM for many input features and many targets, in any of three task shapes.

    Architecture parameters left unset (None) come from the preset for the task
    (``lstmkit.presets``, chosen on validation data): a channel-independent
    segment LSTM for forecasts whose targets are all inputs, a bidirectional
    LSTM with a convolutional branch for sequence classification, a plain
    64-unit LSTM otherwise. Whatever is set explicitly wins.

    Args:
        spec: the task (inputs, targets, task shape, lookback, horizon). May be
            omitted when fitting on arrays: names and kinds are then inferred.
        hidden ... strategy: the fields of ``lstmkit.hyperparams``' ``Architecture`` (the
            network's shape), ``Training`` (how to train: ``seed``, ``split``, ...) and
            ``Hardware`` (where: ``devices=2`` trains data-parallel), which describe each.

    The parameters are declared once, by those three dataclasses (``PARAMS``): the keyword
    signature is written out for IDEs and ``help``, and a test checks that it equals their
    fields and defaults.

    An unknown keyword (``epochs=10``) is a ``ConfigError`` naming the closest
    parameter (``max_epochs``).

    Like a scikit-learn estimator (``get_params``, ``set_params``, ``score``; ``clone`` and
    ``GridSearchCV`` work), what ``fit`` learned or chose is one ``FittedPipeline``
    (``pipeline_``; ``lstmkit.pipeline``), shown as read-only attributes ending in ``_``
    (``spec_``, ``architecture_``, ``split_``, ``seed_``, ...), which parameters set after
    ``fit`` do not change (``accelerator`` and ``devices`` still say where ``predict`` runs).

    Example:
        >>> model = LSTMModel(spec, hidden=64, max_epochs=20).fit(df)
        >>> print(model.evaluate(df, part="test"))
        >>> model.predict(df.tail(96))
    """

    @_checked_keywords
    def __init__(self, spec: Spec | None = None, *, hidden: int | None = None, layers: int = 1,
                 bidirectional: bool | None = None, dropout: float | None = None,
                 decoder: str | None = None, heads: str = "shared",
                 instance_norm: bool | str | None = None, segment: int | None = None,
                 channel_independent: bool | None = None, conv: bool | None = None,
                 checkpoint_steps: int | None = None, optimizer: str = "adam",
                 lr: float | None = None, lr_decay: float = 1.0, weight_decay: float = 0.0,
                 batch_size: int | None = None, max_epochs: int = 100, patience: int = 10,
                 grad_clip: float | None = 1.0, seed: int = 0, split: Split | None = None,
                 precision: str = "32-true", calibrate: bool = True,
                 coverage: float | list[float] | None = None, progress: bool = True,
                 accelerator: str = "auto",
                 devices: int | str | list = 1, num_nodes: int = 1,
                 strategy: str = "auto") -> None:
        params = dict(locals())
        del params["self"]
        vars(self).update(params)     # stored as given: fit checks them (scikit-learn's rule)

    PARAMS = hyperparams.PARAMS

    # What fit learned: read-only views of ``pipeline_`` (``lstmkit.pipeline``).
    spec_ = _view("spec")
    encoding_ = _view("encoding")
    network_ = _view("network")
    schema_ = _view("schema")
    time_step_ = _view("time_step")
    baseline_ = _view("baseline")
    history_ = _view("history")
    architecture_ = _view("architecture")
    split_ = _view("split")
    seed_ = _view("seed")
    data_sha256_ = _view("data_sha256")
    validation_ = _view("validation")
    neighbours_ = _view("neighbours")
    neighbour_targets_ = _view("neighbour_targets")
    neighbour_vote_ = _view("neighbour_vote")
    calibration_ = _view("calibration")
    conformal_ = _view("conformal")
    classes_ = _view("classes")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters as it stored them, ``spec`` and ``split`` included
        (the objects given, or None): scikit-learn's ``clone`` and ``GridSearchCV`` read them.

        Args:
            deep: scikit-learn's flag for parameters that are estimators themselves; none
                of LSTMModel's is, so both values give the same.

        Example:
            >>> LSTMModel(spec, hidden=32).get_params()["hidden"]
            32
        """
        return {"spec": self.spec, **{name: getattr(self, name) for name in self.PARAMS}}

    def set_params(self, **params: Any) -> LSTMModel:
        """Set constructor parameters by name, as scikit-learn does; returns ``self``.

        Values are checked by ``fit``, as the constructor's are; a fitted model keeps what
        it learned (``architecture_``, ``split_``, ...) until it is fitted again.

        Raises:
            ConfigError: for a name that is not a parameter, naming the closest.

        Example:
            >>> model.set_params(hidden=32, split=Split.train_only())
        """
        names = ["spec", *self.PARAMS]
        for name, value in params.items():
            if name not in names:
                raise ConfigError(_unknown_keyword(name, value, "set_params", names,
                                                   params.get("spec", self.spec)))
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def params_json(self) -> dict[str, Any]:
        """The constructor's parameters except ``spec`` as plain JSON data, ``split`` as a dict
        (unset: the default ``Split()``'s): the form saved in ``config.json``, given to
        loggers and held by checkpoint fingerprints."""
        params = {name: getattr(self, name) for name in self.PARAMS}
        params["split"] = (self.split or Split()).to_dict()
        return params

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (imported here: only scikit-learn calls this): a
        supervised estimator, neither classifier nor regressor as a whole, since its targets
        may be either (pass ``cv=StratifiedKFold(...)`` to stratify)."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=True))

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.get_params().items() if k not in ("spec", "split")}
        return f"LSTMModel(spec={self.spec!r}, " + ", ".join(
            f"{k}={v!r}" for k, v in changed.items()) + ")"

    # -- fit -----------------------------------------------------------------------------
    @_checked_keywords
    def fit(self, data: Source | np.ndarray | list, y: np.ndarray | None = None, *,
            validation_data: Source | tuple[Any, Any] | None = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False,
            loggers: list[Any] | None = None,
            callbacks: Sequence[Callback] = (), warm_start: bool = False) -> LSTMModel:
        """Split, scale (training part only), train with early stopping; returns ``self``.

        From arrays ``fit(X, y)`` holds out samples as the split says (``Split()``: 15 %
        for validation, 15 % for test); ``split=Split.train_only()`` trains on every
        sample without early stopping, and ``validation_data`` trains on every sample
        and stops early on the given one. Training settings (``max_epochs``,
        ``batch_size``) are constructor parameters; ``fit(epochs=...)`` says so.

        Args:
            data: a DataFrame, a CSV/Parquet path, or an array ``X`` of shape
                (samples, steps, features) (or a list of (steps, features) arrays).
            y: targets when ``data`` is an array: (samples,) / (samples, targets) for a
                sequence task, (samples, out_steps, targets) for seq2seq. A one-hot ``y``
                (``to_categorical``) is one classification target whose labels are the
                column indices (a DataFrame's column names); a multi-hot ``y`` is a
                binary target per column; ``spec_`` shows what was read.
            validation_data: ``(X_val, y_val)`` (or a table like ``data``) to validate
                on (the validation loss, early stopping), as Keras' ``fit`` takes it. The
                split then has no validation part: unless ``split`` is set, every sample
                of ``data`` trains (``Split.train_only()``).
            checkpoint_dir: save the training state here at the start of every epoch
                (and when done), so that a killed run can continue.
            resume: continue from the checkpoint in ``checkpoint_dir`` (same data and
                parameters); the result equals an uninterrupted run's (on CPU in one
                thread). Without a checkpoint there, training starts from the beginning.
            loggers: Lightning loggers (e.g. ``TensorBoardLogger``, ``MLFlowLogger``)
                that receive the hyperparameters and the losses of every epoch.
            callbacks: extra Lightning callbacks for the Trainer, e.g. one that reports
                the validation loss of every epoch (``lstmkit.tuning.tune`` prunes with it).
            warm_start: continue training this fitted (or loaded) model on ``data``
                instead of building a new network: the fitted encoding stays (scalers and
                labels frozen; a label it has not seen is a ``DataError``; scaled per
                series, a series it has no statistics for gets its own from ``data``'s
                training part), as do the spec,
                the time step and the architecture (an architecture parameter set to
                another value is a ``ConfigError``); training starts from the current
                weights, on ``data``'s training part with early stopping on its validation
                part, with the training parameters as they are now (``lr``, unset: the
                fitted one). The naive fallback, the validation check, calibration and the
                baselines are redone on ``data``; ``history_["phases"]`` lists every phase.
                A fit argument, not a parameter: ``clone`` and searches always fit afresh.

        Example:
            >>> model = LSTMModel.load("etth1_model")
            >>> model.set_params(lr=3e-4).fit(new_rows, warm_start=True)
        """
        start = self._warm_start() if warm_start else None
        spec, frame = self._table(data, y, self.spec if start is None else start.spec)
        self.check_params(spec)
        require_sequence_column(spec)                  # before naming its columns missing
        for role, names in (("target", spec.target_names), ("input", spec.input_names)):
            require_columns(frame, names, role)
        check_number_targets(frame, spec.targets)
        warn_sentinels(frame, spec.input_names + spec.target_names)
        if spec.shape.sliding:
            warn_time_index(frame, spec.time)
        architecture = (self._architecture(spec) if start is None
                        else self._continued_architecture(start, frame))
        self.pipeline_ = fit_pipeline(
            self, spec, frame, architecture, validation_data, checkpoint_dir, resume, loggers,
            callbacks, start, self._device())
        # y (samples, 1): predict(output="array") keeps the axis (a table: as the start's)
        self.pipeline_.target_axis = (np.ndim(y) == 2 and np.shape(y)[1] == 1 if y is not None
                                      else start is not None and start.target_axis)
        return self

    def _warm_start(self) -> FittedPipeline:
        """The fitted pipeline ``fit(warm_start=True)`` continues from."""
        pipeline = vars(self).get("pipeline_")
        if pipeline is None:
            raise NotFittedError("fit(warm_start=True) continues training a fitted model, and "
                                 "this LSTMModel is not fitted yet; fit(data) first, or "
                                 "LSTMModel.load(path) a saved one")
        if self.spec is not None and (change := self.spec.difference(pipeline.spec)):
            raise ConfigError("fit(warm_start=True) keeps the fitted spec (spec_), and the "
                              f"model's spec parameter differs from it in {change}; "
                              "set_params(spec=model.spec_) (a config with init_from: give it "
                              "that model's spec), or fit without warm_start to train a new "
                              "network")
        return pipeline

    def _continued_architecture(self, start: FittedPipeline, frame: pd.DataFrame
                                ) -> ResolvedArchitecture:
        """``start``'s architecture, ``lr`` as now set (unset: the fitted one), once ``frame``
        has the fitted columns and every architecture parameter that is set resolves to
        the fitted value (``ConfigError`` naming the first that does not)."""
        check_schema(frame, start.schema)
        given = hyperparams.of(Architecture, self)
        resolved, fitted = presets.resolve(start.spec, dict(given)), start.architecture
        for name, value in given.items():
            now, was = resolved[name], fitted[name]
            if name == "instance_norm":
                now, was = norm_mode(now), norm_mode(was)
            if value is not None and now != was:
                raise ConfigError(
                    f"fit(warm_start=True) continues the fitted network, built with {name}="
                    f"{quote(fitted[name])}, but the model's {name} is now {quote(value)}; set "
                    f"{name} back to {quote(fitted[name])} (or None), or fit without "
                    "warm_start to train a new network")
        return fitted if self.lr is None else dataclasses.replace(fitted, lr=self.lr)

    # -- predict -------------------------------------------------------------------------
    def predict(self, data: Source | np.ndarray | list, origins: str = "last",
                output: str = "frame", samples: int | None = None,
                seed: int | None = None, coverage: float | list[float] | None = None,
                adapt: bool | float = False) -> pd.DataFrame | np.ndarray:
        """Predictions in original units, as a tidy DataFrame or as an array.

        Forecasts have one row per (series, origin, step): ``origin`` is the time
        (or row number) of the last input row, ``time`` the predicted step's time, on
        the calendar of the model's time step and in the input's time zone. Rows of
        another time step, numbers for dates or times without the model's zone are
        refused (``SchemaError``).
        Sequence tasks have one row per sequence (seq2seq: per sequence and step).
        Classification targets come back as the user's labels, plus one
        ``<target>_proba_<label>`` column per class (binary: the positive label).

        Args:
            data: the inputs, as for ``fit`` (targets are not needed; for seq2seq
                with a horizon, pass only the input steps). With future inputs
                (``Feature(future=True)``) each series ends in ``horizon`` rows that
                give them: the steps to forecast (their other columns are not read).
            origins: forecasts only: ``last`` forecasts from the end of each series,
                ``all`` from every row with a full lookback behind it.
            output: ``frame`` (the tidy DataFrame) or ``array``: the values and labels
                shaped like ``y``: (samples,) for a sequence task with one target
                ((samples, 1) where fit's ``y`` was so), (samples, targets) with several,
                (samples, steps, targets) for seq2seq
                (one output per step: NaN past a shorter sequence's end) and
                (windows, horizon, targets) for forecasts, windows in the frame's order.
                Several targets of different types share an object array. A quantile
                target gives its median there; its quantiles are the frame's
                ``<target>_q<percent>`` columns (``OT_q10``), e.g.
                ``frame[["OT_q10", "OT_q90"]].to_numpy().reshape(windows, horizon, 2)``.
                A distribution target gives its mean there (and in the frame's
                ``<target>`` column), its quantiles in the frame's ``<target>_q<percent>``.
            samples: draws per prediction from each distribution target's predicted
                distribution (``Target(distribution=...)``): a frame of the id columns, a
                ``sample`` column (0 .. samples - 1) and one row per sample, the other
                targets' predictions repeated. Draws are independent across the steps of
                a window (each step's distribution is predicted from the window, not from
                sampled earlier steps): not joint paths over the horizon.
            seed: seeds the draws (None: fresh ones each call).
            coverage: which calibrated conformal intervals (``calibrate_intervals``) the
                frame gives, as ``<target>_lo_<p>`` and ``<target>_hi_<p>`` columns
                (``OT_lo_80``): None for all of them, a number or a list for those (each
                must be calibrated), ``[]`` for none.
            adapt: forecasts only: ``True`` adapts each calibrated interval to the misses
                of the table's earlier windows, as their truth arrives (an online quantile
                tracker, ``lstmkit.conformal_online``; a float sets its rate, default
                0.01): the table must hold the targets, and its history beyond the
                lookback is what the intervals learn from. With ``origins="all"`` each
                window's interval uses only the truths known at its origin.

        Example:
            >>> model = LSTMModel(hidden=32).fit(X, y)        # X: (samples, steps, features)
            >>> model.predict(X_new, output="array")         # shaped like y
            >>> model.predict(df, samples=100, seed=0)       # 100 draws per step
        """
        return self._fitted().predict(data, origins, output, self._device(), samples, seed,
                                      coverage, adapt)

    def predict_proba(self, data: Source | np.ndarray | list, origins: str = "last"
                      ) -> np.ndarray | dict[str, np.ndarray]:
        """Class probabilities of the categorical targets, as arrays.

        Columns follow the target's labels in sorted order (the order of the
        ``<target>_proba_<label>`` columns of ``predict``); a binary target has two,
        (1 - p, p). Rows sum to 1 and their argmax is ``predict``'s label (with
        ``Target(decision="macro_F1")``: the largest log p + offset, ``lstmkit.decision``).

        Args:
            data, origins: as for ``predict``.

        Returns:
            (samples, classes) for a sequence task, (samples or windows, steps,
            classes) for seq2seq and forecasts; with several categorical targets a dict
            of such arrays by target name.

        Example:
            >>> model.predict_proba(X_test).argmax(axis=1)    # class indices
        """
        return self._fitted().predict_proba(data, origins, self._device())

    def check_inputs(self, data: Source | np.ndarray | list) -> None:
        """Raise what ``predict`` would raise for bad rows (columns, values, time order).

        Unlike ``predict`` it needs no full window: it checks a piece of a series
        (with future inputs, its last ``horizon`` rows as the steps to forecast).
        """
        self._fitted().check_inputs(data)

    # -- evaluate ------------------------------------------------------------------------
    def evaluate(self, data: Source | np.ndarray | list, y: np.ndarray | None = None,
                 part: str = "all", weighted: bool = False, adapt: bool | float = False
                 ) -> Evaluation:
        """Metrics per target in original units, beside a naive baseline.

        Args:
            data: a table with inputs and targets, or arrays ``X`` (with ``y``).
            y: targets when ``data`` is an array.
            part: ``all`` windows of ``data``, or the ``train`` / ``val`` / ``test``
                part of the split the model was fitted with (``split_``, shuffled with
                ``seed_``), applied to ``data``.
            weighted: weigh each window by the spec's weight column (``Spec.weight``),
                which ``data`` must then hold: weighted means (``lstmkit.metrics``).
            adapt: score the calibrated intervals adapted as ``predict(adapt=...)`` adapts
                them, each window learning from the scored windows before it.

        Example:
            >>> model.evaluate(df, part="test", weighted=True).metric("sales", "MAE")
        """
        return self._fitted().evaluate(data, y, part, self._device(), weighted, adapt)

    def calibrate_intervals(self, data: Source | np.ndarray | list,
                            y: np.ndarray | None = None, part: str = "val",
                            coverage: float | list[float] = (0.8, 0.95)) -> LSTMModel:
        """Calibrate split-conformal intervals for the number targets on
        windows the network did not train on (``lstmkit.conformal``); returns ``self``.

        Per target, coverage and output step, the margin is the ``ceil((n + 1) c)``-th
        smallest score of the ``n`` calibration windows: the absolute residual of a
        regression target; of a quantile target (CQR), how far the truth lies outside its
        quantiles at ``(1 - c) / 2`` and ``(1 + c) / 2``, which it must have (a
        distribution target: its fitted distribution's quantiles there). ``predict``
        then gives ``<target>_lo_<p>`` / ``<target>_hi_<p>`` columns (``OT_lo_80``) and
        ``evaluate`` their coverage, width and MSIS (``coverage_80_conformal``, ...).
        Classification and binary targets take none. Calibrating again replaces the
        intervals; ``conformal_`` holds them. (``calibrate`` is the parameter of temperature
        scaling, hence this name.)

        Args:
            data, y: as for ``evaluate``.
            part: ``val`` or ``test``: that part of the fit's split of ``data``; ``all``:
                every window of ``data``, a table held out from training.
            coverage: the nominal coverages, each strictly between 0 and 1.

        Example:
            >>> model.calibrate_intervals(df, part="val", coverage=[0.8, 0.95])
            >>> model.predict(df.tail(96))[["OT_lo_80", "OT", "OT_hi_80"]]
        """
        self._fitted().calibrate_intervals(data, y, part, coverage, self._device())
        return self

    def score(self, data: Source | np.ndarray | list, y: np.ndarray | None = None) -> float:
        """One number, higher better, for scikit-learn's default scoring (``GridSearchCV``,
        ``cross_val_score``): the accuracy of a classification or binary target, the R2 of a
        regression target, over every window and step of ``data``; with several targets,
        the mean of their scores (each target counts once).

        Args:
            data, y: as for ``evaluate``.

        Example:
            >>> cross_val_score(LSTMModel(max_epochs=20), X, y, cv=3)
        """
        return self._fitted().score(data, y, self._device())

    def backtest(self, data: Source, folds: int = 3, step: int | None = None,
                 refit: bool | str = True, coverage: float | list[float] | None = None
                 ) -> Backtest:
        """Rolling-origin evaluation of these parameters; see ``lstmkit.backtest.backtest``.

        Each fold fits on rows up to its origin only and is scored on the ``step``
        forecasts after it (``refit="warm"``: fine-tuned from the previous fold's model;
        with ``coverage``: conformal intervals calibrated on each fold's validation part);
        ``self`` is not fitted or changed.
        """
        return backtest(self, data, folds=folds, step=step, refit=refit, coverage=coverage)

    def importance(self, data: Source | np.ndarray | list, y: np.ndarray | None = None,
                   part: str = "test", repeats: int = 5, per_step: bool = False,
                   seed: int = 0) -> pd.DataFrame:
        """Permutation importance per input x target (``per_step``: x step) on ``part`` of
        ``data`` (as for ``evaluate``): see ``lstmkit.analysis.importance.importance``.

        Example:
            >>> model.importance(df, part="test", repeats=5).head()
        """
        from .analysis.importance import importance

        return importance(self, data, y, part=part, repeats=repeats, per_step=per_step,
                          seed=seed, device=self._device())

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model directory (``config.json`` + ``weights.safetensors``); no pickle."""
        self._fitted()
        return save_model(self, Path(path), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> LSTMModel:
        """Load a model directory written by ``save``; nothing is unpickled."""
        return load_model(Path(path), cls)

    def export_onnx(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the whole inference pipeline (scaling, network, inverse scaling) as ONNX.

        Inputs are the raw input columns of one window, outputs the targets in
        original units (class probabilities for categorical targets); the schema
        is in the file's metadata. See ``lstmkit.deploy.export`` for the graph's layout.

        Example:
            >>> model.export_onnx("etth1.onnx")
            >>> from lstmkit.deploy.onnx_model import OnnxModel
            >>> OnnxModel("etth1.onnx").predict(df.tail(96))
        """
        return export_onnx(self._fitted(), path, overwrite=overwrite)

    # -- internals -----------------------------------------------------------------------
    def _fitted(self) -> FittedPipeline:
        """What ``fit`` (or ``load``) made; ``NotFittedError`` before."""
        return fitted(self)

    def _device(self) -> torch.device:
        """Where ``predict`` and ``evaluate`` run (``accelerator`` and ``devices`` now)."""
        return inference_device(self.accelerator, self.devices)

    @staticmethod
    def _table(data: Any, y: Any, spec: Spec | None) -> tuple[Spec, pd.DataFrame]:
        if isinstance(data, np.ndarray | list | tuple) or y is not None:
            frame, spec = from_arrays(data, y, spec)
            return spec, frame
        if spec is None:
            raise ConfigError(f"LSTMModel needs a Spec to read a table: {_spec_sketch(data)}")
        if not isinstance(spec, Spec):
            raise ConfigError(f"spec must be a lstmkit.Spec, got {type(spec).__name__}")
        return spec, read_table(data, spec=spec)

    def check_params(self, spec: Spec | None = None) -> None:
        """Raise ``ConfigError`` for any invalid hyperparameter; ``fit`` calls this first."""
        train_config_of(self, 1e-3 if self.lr is None else self.lr,
                           presets.BATCH_SIZE if self.batch_size is None else self.batch_size)
        check_int("layers", self.layers, 1, size.MAX_LAYERS, why="torch builds stacked layers "
                  "one by one, 10,000 take half a minute; 1 to 4 are usual")
        for name in hyperparams.typed(Architecture, int | None):
            check_positive_int(name, getattr(self, name), allow_none=True)
        for name in hyperparams.typed(Architecture, bool | None):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{name} must be true, false or unset (None), got {value!r}")
        if not (self.instance_norm is None or isinstance(self.instance_norm, bool)
                or self.instance_norm in NORM_MODES):
            hint = closest(self.instance_norm, NORM_MODES)
            raise ConfigError("instance_norm must be true (the same as 'revin'), 'last', "
                              f"'anchored', false or unset (None), got "
                              f"{quote(self.instance_norm)}{hint}")
        check_number("dropout", self.dropout, 0, 1, open_high=True, allow_none=True)
        if self.decoder is not None:
            check_choice("decoder", self.decoder, tuple(DECODERS))
        check_choice("heads", self.heads, HEADS)
        if self.split is not None and not isinstance(self.split, Split):
            raise ConfigError(f"split must be a lstmkit.Split, got {type(self.split).__name__}")
        spec = spec or self.spec
        if spec is not None and self.coverage not in (None, []):
            check_bands(spec, check_coverage(self.coverage))
        if spec is not None:
            network = _smallest_network(spec, self._architecture(spec), self.layers, self.heads)
            size.check(network, self.batch_size or presets.BATCH_SIZE, spec.lookback or 1)

    def _architecture(self, spec: Spec) -> ResolvedArchitecture:
        """The architecture for ``spec``: the user's settings, else the preset's; checked."""
        given = {**hyperparams.of(Architecture, self), "lr": self.lr}
        a = presets.resolve(spec, given)
        decoder, decoder_type = a["decoder"], DECODERS[a["decoder"]]
        if spec.shape.per_step and not decoder_type.aligned:
            raise ConfigError(f"decoder {decoder!r} does not apply to seq2seq with one output per "
                              "input step (horizon unset); set a horizon for an encoder-decoder, "
                              "or leave decoder unset")
        if decoder_type.aligned and not spec.shape.per_step:
            raise ConfigError(f"decoder {decoder!r} gives one output per input step: it applies "
                              "to seq2seq without a horizon only; leave decoder unset")
        if spec.shape.per_sequence and not decoder_type.sequence:
            raise ConfigError(f"decoder {decoder!r} makes output sequences; a sequence task has "
                              "one output per sequence: leave decoder unset (direct)")
        if a["conv"] and (not decoder_type.takes_conv or a["channel_independent"]):
            raise ConfigError("conv=True adds a branch beside the encoder's summary: it needs the "
                              f"direct decoder without channel independence (decoder is "
                              f"{decoder!r})")
        if a["segment"] is not None and decoder_type.aligned:
            raise ConfigError("segment does not apply to seq2seq with one output per input step; "
                              "unset segment")
        if self.checkpoint_steps is not None and a["bidirectional"]:
            raise ConfigError("checkpoint_steps needs a unidirectional encoder (a bidirectional "
                              "LSTM reads each sequence from its end); set bidirectional=False")
        if a["channel_independent"]:
            if self.heads == "separate":
                raise ConfigError("heads='separate' does not apply with channel_independent=True "
                                  "(every target channel goes through the same head); set "
                                  "channel_independent=False for a head per target")
            _check_channel_independent(spec, decoder)
        return a



def _smallest_network(spec: Spec, a: dict[str, Any], layers: int, heads: str) -> NetworkConfig:
    """The network of ``spec`` with the fewest columns the data could give it (one per
    input, two classes per categorical target): what a size check knows before any data."""
    outputs = tuple(Output(t.name, t.kind, t.target_kind.width(2, t)) for t in spec.targets)
    return NetworkConfig(
        n_inputs=len(spec.inputs), outputs=outputs, steps=spec.shape.output_steps,
        hidden=a["hidden"], layers=layers, bidirectional=a["bidirectional"],
        decoder=a["decoder"], heads=heads, checkpoint_steps=a["checkpoint_steps"],
        segment=a["segment"], channel_independent=a["channel_independent"], conv=a["conv"],
        future_columns=tuple(j for j, f in enumerate(spec.inputs) if f.future),
        embedded=tuple((j, 2, f.embed) for j, f in enumerate(spec.inputs) if f.embed),
        static_columns=tuple(j for j, f in enumerate(spec.inputs) if f.static))


def _check_channel_independent(spec: Spec, decoder: str) -> None:
    if spec.shape.per_sequence or not DECODERS[decoder].per_channel:
        per_channel = ", ".join(name for name, d in DECODERS.items() if d.per_channel)
        raise ConfigError("channel_independent=True forecasts each channel's own future: it needs "
                          "a forecast or seq2seq with a horizon, and a decoder that runs per "
                          f"channel ({per_channel}; decoder is {decoder!r}), or "
                          "channel_independent=False")
    for f in spec.inputs:
        if f.embed and not f.static:     # a static input is no channel
            raise ConfigError(f"channel_independent=True makes every input column a channel of "
                              f"its own, which an embedded input {f.name!r} cannot be; drop its "
                              "embed (one-hot) or turn channel independence off")
    inputs = {f.name for f in spec.inputs if f.kind == "numeric"}
    for t in spec.targets:
        if not t.target_kind.value_channel or t.name not in inputs:
            raise ConfigError(f"channel_independent=True reads every target from its own input "
                              f"channel, but target {t.name!r} is not a numeric regression input "
                              f"(it is {t.kind}); add it to the inputs, or turn channel "
                              "independence off")


