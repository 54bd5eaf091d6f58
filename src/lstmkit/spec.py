"""What the user declares: input features, targets, the task shape and the split.

Everything here is a frozen dataclass that validates itself on construction and
round-trips through plain dicts (``to_dict`` / ``from_dict``), so the same
declaration works from Python, from YAML and inside a saved model.

Example:
    >>> spec = Spec(inputs=["temp", "wind", Feature("weather", kind="categorical")],
    ...             targets=[Target("temp"), Target("weather", kind="classification")],
    ...             lookback=28, horizon=1, time="date")
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .checks import check_choice, check_number, check_positive_int, closest, quote
from .data.shared_time import joined_id
from .data.timestep import canonical, check_zone
from .decision import DECISIONS
from .distributions import DISTRIBUTIONS
from .errors import ConfigError, warn
from .kinds import KINDS, TargetKind
from .tasks import TaskShape, task_shape

UNNAMED = "Unnamed: "     # pandas' name for a column whose header cell is empty (an index)

SCALERS = ("standard", "minmax", "robust", "mean", "none")
MISSING = ("error", "ffill", "mask")
FEATURE_KINDS = ("numeric", "categorical")
TARGET_KINDS = KINDS.keys()   # live: a kind registered later (lstmkit.kinds) is a choice too
TASKS = ("forecast", "sequence", "seq2seq")
SCALE_BY = ("global", "series")


def _from_dict(cls: type, data: Any, what: str) -> Any:
    """Build dataclass ``cls`` from a dict, rejecting unknown keys with a suggestion."""
    if isinstance(data, str):
        return cls(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a name or a mapping, got {type(data).__name__}: "
                          f"{data!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key {key!r} in {what}{closest(key, names)}; "
                              f"allowed keys: {', '.join(names)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Feature:
    """One input column.

    Args:
        name: column name in the data.
        kind: ``"numeric"`` (scaled) or ``"categorical"`` (one-hot encoded over the
            categories seen in the training part, or embedded: ``embed``).
        scaler: ``"standard"``, ``"minmax"``, ``"robust"``, ``"mean"`` (divided by the
            mean absolute value, not centred: for counts) or ``"none"``; numeric only
            (another choice on a categorical feature is an error).
        missing: what a missing value (NaN, None) in this column means:
            ``"error"`` refuses it, naming the row; ``"ffill"`` carries the series'
            last observed value forward (before the first observation: 0 in scaled
            units, i.e. the training mean for the standard scaler; categorical: no
            category); ``"mask"`` sets it to 0 in scaled units (categorical: no
            category) and adds a ``<name>:missing`` 0/1 input channel so the network
            knows. None (default) takes the spec's ``missing``.
        future: known in advance (a calendar feature, a planned price, a weather
            forecast): a forecast reads it over the ``horizon`` steps it predicts as
            well as over the ``lookback``. Prediction tables then end each series
            with ``horizon`` rows that give this column (the other columns there
            are not read and may be empty).
        embed: categorical only: a learned vector of this size per category instead
            of a one-hot column per category. The data then holds one column for the
            feature (the category's index) whatever the number of categories: for
            ids of many series or products.
        static: one value per series (forecast) or sequence (sequence tasks): a store's
            size, a sensor's type. It is scaled (numeric) or one-hot or embedded
            (categorical) as other inputs, but read once per window, not as a channel
            of every step: it sets the encoder's initial state (``lstmkit.nn.static``).
            A value that changes within a series is an error naming the series.

    Example:
        >>> Feature("hour", future=True)           # numeric, standard-scaled, known ahead
        >>> Feature("store", kind="categorical", embed=8)    # 8 learned numbers per store
        >>> Feature("transformer", kind="categorical", static=True)   # once per window
    """

    name: str
    kind: Literal["numeric", "categorical"] = "numeric"
    scaler: Literal["standard", "minmax", "robust", "mean", "none"] = "standard"
    missing: Literal["error", "ffill", "mask"] | None = None
    future: bool = False
    embed: int | None = None
    static: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a feature name must be a non-empty string, got {self.name!r}")
        if isinstance(self.kind, str) and self.kind in TARGET_KINDS:
            kind = "categorical" if KINDS[self.kind].labelled else "numeric"
            raise ConfigError(f"kind of feature {self.name!r} must be 'numeric' or 'categorical', "
                              f"got {self.kind!r}, a target's kind: as an input it is "
                              f"Feature({self.name!r}, kind={kind!r}) (YAML: {{name: "
                              f"{self.name}, kind: {kind}}})")
        check_choice(f"kind of feature {self.name!r}", self.kind, FEATURE_KINDS)
        check_choice(f"scaler of feature {self.name!r}", self.scaler, SCALERS)
        if self.missing is not None:
            check_choice(f"missing of feature {self.name!r}", self.missing, MISSING)
        if not isinstance(self.future, bool):
            raise ConfigError(f"future of feature {self.name!r} must be true or false, got "
                              f"{self.future!r}")
        if not isinstance(self.static, bool):
            raise ConfigError(f"static of feature {self.name!r} must be true or false, got "
                              f"{self.static!r}")
        if self.static and self.future:
            raise ConfigError(f"feature {self.name!r} is static (one value per series, known at "
                              "every step): future=True adds nothing; drop one of them")
        check_positive_int(f"embed of feature {self.name!r}", self.embed, allow_none=True)
        if self.embed is not None and self.kind != "categorical":
            raise ConfigError(f"embed applies to categorical features, but {self.name!r} is "
                              f"{self.kind}; set kind='categorical' or drop embed")
        if self.kind == "categorical" and self.scaler != "standard":
            raise ConfigError(f"scaler applies to numeric features, but {self.name!r} is "
                              f"categorical (one-hot or embedded, never scaled); drop scaler "
                              f"or set kind='numeric'")

    @classmethod
    def from_dict(cls, data: Any) -> Feature:
        return _from_dict(cls, data, "an input feature")


@dataclass(frozen=True)
class Target:
    """One output of the model.

    Args:
        name: column name in the data.
        kind: ``"regression"`` (linear output), ``"classification"`` (softmax over
            the labels seen in training; labels may be strings or ints),
            ``"binary"`` (sigmoid; exactly two labels), or a kind registered with
            ``lstmkit.kinds.register_kind``.
        scaler: scaler of a regression target (``"standard"`` by default; another
            choice on a classification or binary target is an error).
        loss: ``"mse"`` (default), ``"mae"`` or ``"huber"`` for regression;
            ``"cross_entropy"`` for classification; ``"bce"`` for binary (the kind's
            ``losses``; None: the first).
        weight: weight of this target's loss in the weighted sum.
        quantiles: levels in (0, 1), sorted and unique, such as ``[0.1, 0.5, 0.9]``: the
            target becomes kind ``"quantile"`` (a regression target given quantiles does),
            one output per level trained with the pinball loss, never crossing. Its
            prediction columns are ``<name>`` (the median, see ``lstmkit.kinds.Quantile``)
            and ``<name>_q<percent>`` (``OT_q10``, ``OT_q2.5``). With ``distribution``
            they are the levels of its quantile columns instead (default 0.1, 0.5, 0.9).
        distribution: ``"normal"``, ``"student_t"``, ``"poisson"`` or
            ``"negative_binomial"``: the target becomes that kind, a head giving the
            distribution's parameters trained by negative log-likelihood
            (``lstmkit.distributions``). Its prediction columns are ``<name>`` (the mean)
            and ``<name>_q<percent>``. Counts (poisson, negative_binomial) need
            non-negative integers and are scaled without centring (scaler ``mean``, or
            ``none``; the default ``standard`` becomes ``mean``).
        class_weight: classification and binary targets: each window's loss at a step
            weighted by the weight of its true class: ``"balanced"`` (n / (classes x
            the class's count) over the training windows, as scikit-learn's) or
            ``{label: weight}`` keyed by the user's labels (unlisted labels: 1). The
            loss is then the weighted mean (``lstmkit.data.weights``).
        decision: classification and binary targets: how the label is chosen from the
            probabilities. None (default): the most probable one. ``"macro_F1"``: after
            fitting, one offset per label (logit adjustment, undoing ``class_weight``)
            chosen on the validation part to maximise its macro-F1; the probabilities stay
            as they are (``lstmkit.decision``).

    Example:
        >>> Target("OT", quantiles=[0.1, 0.5, 0.9]).kind
        'quantile'
        >>> Target("OT", distribution="student_t").kind
        'student_t'
        >>> Target("weather", kind="classification", class_weight="balanced")
    """

    name: str
    kind: str = "regression"
    scaler: Literal["standard", "minmax", "robust", "mean", "none"] = "standard"
    loss: str | None = None
    weight: float = 1.0
    quantiles: tuple[float, ...] | None = None
    distribution: str | None = None
    class_weight: str | dict[Any, float] | None = dataclasses.field(default=None, hash=False)
    decision: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a target name must be a non-empty string, got {self.name!r}")
        if self.kind == "categorical":
            raise ConfigError(f"kind of target {self.name!r} is 'categorical', an input's kind; a "
                              f"target of labels is Target({self.name!r}, kind='classification') "
                              f"(YAML: {{name: {self.name}, kind: classification}}), or "
                              "kind='binary' for exactly two labels")
        if not isinstance(self.kind, str) or self.kind not in TARGET_KINDS:
            raise ConfigError(f"kind of target {self.name!r} must be one of "
                              f"{', '.join(map(repr, TARGET_KINDS))}, got {quote(self.kind)}"
                              f"{closest(str(self.kind), TARGET_KINDS)}; a kind of your own "
                              "is registered first (lstmkit.kinds.register_kind)")
        if self.distribution is not None or self.kind in DISTRIBUTIONS:
            object.__setattr__(self, "distribution", _distribution(self))
            object.__setattr__(self, "kind", self.distribution)
        if self.quantiles is not None or self.kind == "quantile":
            object.__setattr__(self, "quantiles", _quantile_levels(self))
            if self.kind == "regression":
                object.__setattr__(self, "kind", "quantile")
        check_choice(f"scaler of target {self.name!r}", self.scaler, SCALERS)
        if self.distribution and DISTRIBUTIONS[self.distribution].counts:
            object.__setattr__(self, "scaler", _count_scaler(self))
        if self.loss is None:
            object.__setattr__(self, "loss", self.target_kind.default_loss)
        check_choice(f"loss of {self.kind} target {self.name!r}", self.loss,
                     self.target_kind.losses)
        if self.categorical and self.scaler != "standard":
            raise ConfigError(f"scaler applies to regression targets, but {self.name!r} is "
                              f"{self.kind} (its labels are never scaled); drop scaler or "
                              f"set kind='regression'")
        check_number(f"weight of target {self.name!r}", self.weight, 0)
        object.__setattr__(self, "weight", float(self.weight))
        if self.class_weight is not None:
            object.__setattr__(self, "class_weight", _class_weight(self))
        if self.decision is not None:
            _check_decision(self)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("quantiles", "distribution", "class_weight", "decision"):   # when set:
            if data[key] is None:                                   # earlier dicts stay
                del data[key]
        if self.quantiles is not None:
            data["quantiles"] = list(self.quantiles)
        return data

    @property
    def target_kind(self) -> TargetKind:
        """What the kind owns (``lstmkit.kinds``): head width, activation, loss, decoding,
        metrics, naive baseline, ONNX outputs."""
        return KINDS[self.kind]

    @property
    def categorical(self) -> bool:
        """Whether the target holds labels (classification, binary), not scaled numbers."""
        return self.target_kind.labelled

    @classmethod
    def from_dict(cls, data: Any) -> Target:
        return _from_dict(cls, data, "a target")


def _distribution(target: Target) -> str:
    """``target.distribution`` checked (a distribution's name, on a regression target or
    one of that distribution's kind), or the distribution its kind names."""
    name, wanted = quote(target.name), target.distribution or target.kind
    if not isinstance(wanted, str) or wanted not in DISTRIBUTIONS:
        raise ConfigError(f"distribution of target {name} must be one of "
                          f"{', '.join(map(repr, DISTRIBUTIONS))}, got {quote(wanted)}"
                          f"{closest(str(wanted), DISTRIBUTIONS)}")
    if target.kind not in ("regression", wanted):
        raise ConfigError(f"distribution applies to numeric targets, but {name} is "
                          f"{target.kind}; drop distribution or leave kind at its default")
    return wanted


def _count_scaler(target: Target) -> str:
    """A count target's scaler: ``mean`` or ``none`` (``standard``, the default, becomes
    ``mean``): counts are not centred."""
    if target.scaler == "standard":
        return "mean"
    if target.scaler not in ("mean", "none"):
        raise ConfigError(f"target {quote(target.name)} is a {target.distribution} count, "
                          f"scaled without centring: its scaler must be 'mean' (the default) "
                          f"or 'none', got {quote(target.scaler)}")
    return target.scaler


def _class_weight(target: Target) -> str | dict[Any, float]:
    """``target.class_weight`` checked: ``"balanced"`` or a mapping of labels to weights
    (numbers >= 0), on a classification or binary target. Its labels are checked against
    the training labels when fitting (``lstmkit.data.weights.class_weights``)."""
    name, given = quote(target.name), target.class_weight
    if not target.categorical:
        raise ConfigError(f"class_weight applies to classification and binary targets, but "
                          f"{name} is {target.kind}; drop class_weight, or weight windows with "
                          "spec weight (a column)")
    if given == "balanced":
        return given
    if not isinstance(given, dict) or not given:
        raise ConfigError(f"class_weight of target {name} must be 'balanced' or a mapping of "
                          f"labels to weights, such as {{'snow': 5, 'sun': 1}}, got "
                          f"{quote(given)}")
    for label, weight in given.items():
        check_number(f"class_weight of label {quote(label)} of target {name}", weight, 0)
    return {label: float(weight) for label, weight in given.items()}


def _check_decision(target: Target) -> None:
    """Raise ConfigError unless ``target.decision`` is one of ``DECISIONS`` on a
    classification or binary target."""
    name = quote(target.name)
    if not target.categorical:
        raise ConfigError(f"decision applies to classification and binary targets, but "
                          f"{name} is {target.kind}; drop decision")
    check_choice(f"decision of target {name}", target.decision, DECISIONS)


def _quantile_levels(target: Target) -> tuple[float, ...]:
    """``target.quantiles`` checked (numbers in (0, 1), sorted, unique, on a regression,
    quantile or distribution target) as a tuple of floats."""
    name, levels = quote(target.name), target.quantiles
    if target.kind not in ("regression", "quantile") and target.distribution is None:
        raise ConfigError(f"quantiles apply to numeric targets, but {name} is {target.kind}; "
                          "drop quantiles or leave kind at its default")
    if levels is None:
        raise ConfigError(f"quantile target {name} needs quantiles, such as "
                          "quantiles=[0.1, 0.5, 0.9]")
    if isinstance(levels, str | bytes) or not hasattr(levels, "__len__") or not levels:
        raise ConfigError(f"quantiles of target {name} must be a non-empty list of numbers "
                          f"in (0, 1), got {quote(levels)}; such as [0.1, 0.5, 0.9]")
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 1:
            raise ConfigError(f"quantile {quote(level)} of target {name} must be a number "
                              "between 0 and 1 (exclusive), such as 0.9 for the 90th "
                              "percentile")
    if any(b <= a for a, b in itertools.pairwise(levels)):
        raise ConfigError(f"quantiles of target {name} must be sorted and unique, got "
                          f"{quote(list(levels))}; write them as "
                          f"{quote(sorted(set(levels)))}")
    return tuple(float(level) for level in levels)


@dataclass(frozen=True)
class Spec:
    """The task: which columns go in, which come out, and the shape that links them.

    Args:
        inputs: input columns, as names (numeric, standard-scaled) or ``Feature``s.
        targets: outputs, as names (regression) or ``Target``s.
        task: ``"forecast"`` (the last ``lookback`` rows predict the next
            ``horizon`` rows of each target), ``"sequence"`` (one value or label per
            target for each whole sequence) or ``"seq2seq"`` (a sequence in, a
            sequence out: ``horizon`` output steps after the input sequence, or,
            with ``horizon=None``, one output per input step).
        lookback: input window length (forecast only).
        horizon: output steps. Forecasts default to 1, the classic many-to-one;
            seq2seq without a horizon has one output per input step.
        time: optional time column; must be sorted and unique within each series.
        series: optional series id column (forecast): windows never cross series.
        sequence: sequence id column for long-format data (sequence, seq2seq).
        missing: the missing-value policy of inputs that set none (``Feature.missing``):
            ``"error"`` (default), ``"ffill"`` or ``"mask"``. Missing target values
            need no policy: they are left out of the loss and the metrics.
        regular: forecasts with a ``time`` column need one time step between
            consecutive rows of a series (a jump is an error naming the row); set False
            for rows with gaps, such as business days without the holidays.
        freq: the time step as a pandas offset alias (``"h"``, ``"D"``, ``"B"``,
            ``"W-SUN"``, ``"MS"``, ``"QS"``, ``"YS"``, ...), for a forecast's datetime
            ``time`` column; by default it is inferred from the data.
        units: the unit of inputs and targets, as text (``{"temp_max": "°C"}``), for the
            plots' axes, the metrics (``MAE (°C)``) and the model card.
        past_targets: forecasts read each target's past values too: a target missing
            from ``inputs`` is added to them (numeric, or categorical for a class
            target; gaps forward-filled unless ``missing`` says ``mask``), as the naive
            forecast it is compared with reads them. False keeps to ``inputs``; data
            to predict from then needs no target column.
        weight: a column of window weights (numbers >= 0, not all 0): each window's loss
            is weighted by its value at the window's origin (forecasts: the last input
            row) or by the sequence's value (sequence tasks: constant within each
            sequence), in training and validation (a weighted mean over windows), and in
            the metrics with ``evaluate(..., weighted=True)``. It is no input unless listed
            in ``inputs``; predicting needs no such column (``lstmkit.data.weights``).
        scale_by: ``"global"``: one scaler per column, fitted on the training rows of all
            series; ``"series"``: each series' numeric inputs and targets scaled by
            statistics of that series' own training part, so series of very different
            levels all reach the network with spread ~1 and weigh alike in the loss (a
            forecast with a ``series`` column; a series the model was not fitted on is
            scaled by its own rows in the data predicted, with a warning:
            ``lstmkit.data.series_scaling``); None
            (default): ``fit`` decides (``scaled_for``): per series for a panel (a
            forecast whose data holds more than one series), global otherwise. The fitted
            model's ``spec_`` holds the choice made.
        zone: the time zone (an IANA name such as ``"America/Los_Angeles"``) of the
            ``time`` column's wall-clock times: naive times are read as local times there
            when a table is read (an hour that comes twice as daylight saving ends is told
            apart by the rows' order; the hour skipped as it begins is simply absent, so
            hourly rows stay one step apart), zone-aware times are converted to it, and
            forecasts' times come back in it. None (default): times are read as given.
    """

    inputs: tuple[Feature, ...]
    targets: tuple[Target, ...]
    task: Literal["forecast", "sequence", "seq2seq"] = "forecast"
    lookback: int | None = None
    horizon: int | None = None
    time: str | None = None
    series: str | None = None
    sequence: str | None = None
    missing: Literal["error", "ffill", "mask"] = "error"
    regular: bool = True
    freq: str | None = None
    units: dict[str, str] = dataclasses.field(default_factory=dict, hash=False)
    past_targets: bool = dataclasses.field(default=True, compare=False)
    weight: str | None = None
    scale_by: Literal["global", "series"] | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        check_choice("task", self.task, TASKS)
        if self.scale_by is not None:
            check_choice("spec scale_by", self.scale_by, SCALE_BY)
        if self.scale_by == "series" and (self.task != "forecast" or self.series is None):
            raise ConfigError("spec scale_by 'series' fits scalers per series of a forecast: "
                              "set task 'forecast' and series (the series id column), or "
                              "set scale_by 'global' (or leave it unset)")
        check_choice("spec missing", self.missing, MISSING)
        if not isinstance(self.regular, bool):
            raise ConfigError(f"spec regular must be true or false, got {self.regular!r}")
        if self.freq is not None:
            canonical(self.freq)
            if self.task != "forecast" or self.time is None:
                raise ConfigError(f"spec freq {quote(self.freq)} is the time step of a "
                                  "forecast's time column: set task 'forecast' and time, or "
                                  "drop freq")
        if self.zone is not None:
            check_zone(self.zone)
            if self.time is None:
                raise ConfigError(f"spec zone {quote(self.zone)} is the time zone of the time "
                                  "column: set time (the column), or drop zone")
        for name in ("time", "series", "sequence", "weight"):
            value = getattr(self, name)
            if not isinstance(value, str | None):
                several = (name in ("series", "sequence") and isinstance(value, list | tuple)
                           and len(value) > 1 and all(isinstance(c, str) for c in value))
                raise ConfigError(f"spec {name} must be a column name (a string), got "
                                  f"{quote(value)}" + (
                                      f"; make one id column of them, "
                                      f"{joined_id(list(value), name)}, and name it "
                                      f"({name}={name!r})" if several else ""))
        inputs = tuple(_as(Feature, f, "inputs") for f in _as_list(self.inputs, "inputs"))
        inputs = tuple(f if f.missing is not None else dataclasses.replace(f, missing=self.missing)
                       for f in inputs)
        targets = tuple(_as(Target, t, "targets") for t in _as_list(self.targets, "targets"))
        if not isinstance(self.past_targets, bool):
            raise ConfigError(f"spec past_targets must be true or false, got "
                              f"{quote(self.past_targets)}")
        if self.task == "forecast" and self.past_targets:
            declared = {f.name for f in inputs}
            inputs += tuple(_past_of(t, self.missing) for t in targets if t.name not in declared)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "targets", targets)
        if not inputs:
            raise ConfigError("spec needs at least one input column in 'inputs'")
        if not targets:
            raise ConfigError("spec needs at least one target in 'targets'")
        for what, names in (("input", [f.name for f in inputs]), ("target", self.target_names)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ConfigError(f"{what} column {dupes[0]!r} is listed twice; list it once")
        if self.task == "forecast":
            if self.horizon is None:
                object.__setattr__(self, "horizon", 1)
            if self.lookback is None:
                raise ConfigError("lookback (forecast) must be a positive integer, got None: the "
                                  "default task 'forecast' reads the last lookback rows of a "
                                  "table; for one sequence per sample (arrays X of shape "
                                  "(samples, steps, features)) set task='sequence' (one output "
                                  "per sample) or task='seq2seq'")
            check_positive_int("lookback (forecast)", self.lookback)
            check_positive_int("horizon (forecast)", self.horizon)
            if self.sequence is not None:
                raise ConfigError("'sequence' is for task 'sequence' or 'seq2seq'; a forecast "
                                  "uses 'series' to separate several time series")
        else:
            if self.series is not None:
                raise ConfigError(f"'series' is for forecasts; task {self.task!r} uses "
                                  "'sequence' to name the sequence id column")
            if self.lookback is not None:
                raise ConfigError(f"'lookback' is for forecasts; task {self.task!r} reads "
                                  "whole sequences, so leave lookback unset")
        if self.task == "sequence" and self.horizon not in (None, 1):
            raise ConfigError("task 'sequence' predicts one value per sequence; "
                              f"remove horizon={self.horizon!r}")
        if self.task == "sequence":
            object.__setattr__(self, "horizon", None)
        if self.task == "seq2seq":
            check_positive_int("horizon (seq2seq)", self.horizon, allow_none=True)
        future = [f.name for f in inputs if f.future]
        if future and self.task != "forecast":
            raise ConfigError(f"input {future[0]!r} is marked future=True, which is for task "
                              f"'forecast'; task {self.task!r} reads whole sequences: remove "
                              "future")
        _check_static(inputs, self.target_names)
        leaked = [name for name in future if name in self.target_names]
        if leaked:
            raise ConfigError(f"column {leaked[0]!r} is a target and a future input: its future "
                              "values are what the model predicts; remove future=True from "
                              "that input")
        id_columns = [c for c in (self.time, self.series, self.sequence) if c is not None]
        kinds = {f.name: f.kind for f in inputs}
        for column in id_columns:
            # The series id may be a categorical input: what a series is, for a global model.
            if column == self.series and kinds.get(column) == "categorical":
                continue
            if column in self.input_names or column in self.target_names:
                raise ConfigError(f"column {column!r} is an id/time column and cannot also be "
                                  "an input or target (a series column may be a categorical "
                                  "input)")
        if self.weight is not None and self.weight in id_columns:
            raise ConfigError(f"spec weight {self.weight!r} is an id/time column; name a column "
                              "of window weights (numbers >= 0)")
        object.__setattr__(self, "units", _checked_units(self.units,
                                                         [*self.input_names, *self.target_names]))

    @property
    def input_names(self) -> list[str]:
        return [f.name for f in self.inputs]

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def future_names(self) -> list[str]:
        """The inputs known in advance (``Feature.future``)."""
        return [f.name for f in self.inputs if f.future]

    @property
    def static_names(self) -> list[str]:
        """The inputs with one value per series or sequence (``Feature.static``)."""
        return [f.name for f in self.inputs if f.static]

    @property
    def span(self) -> int | None:
        """Rows one forecast reads: the lookback, plus the horizon with future inputs."""
        if self.task != "forecast":
            return None
        return self.lookback + (self.horizon if self.future_names else 0)

    @property
    def group(self) -> str | None:
        """The column that separates independent series or sequences, if any."""
        return self.series if self.task == "forecast" else self.sequence

    @property
    def shape(self) -> TaskShape:
        """The task's shape (``lstmkit.tasks``): window rows, the prediction table's and the
        arrays' layout, the naive baseline's description, the ONNX graph's steps."""
        return task_shape(self)

    @property
    def aligned(self) -> bool:
        """True for seq2seq with one output per input step (X(t) -> Y(t))."""
        return self.task == "seq2seq" and self.horizon is None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key in ("freq", "zone", "units", "weight", "scale_by"):   # as for features:
            if not data[key]:                                   # earlier dicts stay
                del data[key]
        if not (self.task == "forecast" and set(self.target_names) - set(self.input_names)):
            del data["past_targets"]   # the inputs as listed say it all
        data["targets"] = [t.to_dict() for t in self.targets]
        for feature in data["inputs"]:   # written only when set: earlier specs' dicts (saved
            for key in ("future", "embed", "static"):   # models, fingerprints) stay the same
                if not feature[key]:
                    del feature[key]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Spec:
        if not isinstance(data, dict):
            raise ConfigError(f"spec must be a mapping, got {type(data).__name__}")
        return _from_dict(cls, data, "spec")

    @classmethod
    def from_long(cls, data: Any, lookback: int, horizon: int = 1, *,
                  inputs: Sequence[str | Feature] | None = None, future: Sequence[str] = (),
                  id_col: str = "unique_id", time_col: str = "ds", target_col: str = "y",
                  **options: Any) -> Spec:
        """The forecast of a table in NeuralForecast's long format: one row per series and
        time, ``unique_id`` (the series), ``ds`` (the time), ``y`` (the target) and
        exogenous columns; the table is used unchanged.

        Args:
            data: the table (a pandas or polars DataFrame), or its column names.
            lookback, horizon: the input window and the steps forecast (``Spec``).
            inputs: the exogenous inputs, as names or ``Feature``s; None (default): every
                column but the series, time and target, numeric. ``y``'s past values are
                read too (``Spec.past_targets``).
            future: the inputs known in advance (NeuralForecast's ``futr_exog_list``;
                ``Feature.future``); the others are read over the lookback only
                (``hist_exog_list``).
            id_col, time_col, target_col: the column names, as NeuralForecast's
                ``fit(df, id_col=..., time_col=..., target_col=...)`` takes them.
            options: any other ``Spec`` argument (``freq``, ``missing``, ``units``, ...).

        Returns:
            ``Spec(inputs, [target_col], series=id_col, time=time_col, lookback=...,
            horizon=...)``; predictions keep the ``unique_id`` column, and give the
            predicted step's time as ``time`` (the last input ``ds`` as ``origin``).

        Example:
            >>> spec = Spec.from_long(df, lookback=28, horizon=7, future=["price"])
            >>> LSTMModel(spec).fit(df).predict(df)
        """
        fixed = {"inputs", "targets", "task", "series", "time", "sequence"}.intersection(options)
        if fixed:
            raise ConfigError(f"Spec.from_long sets {quote(sorted(fixed))} itself: the long "
                              "format's columns say them; name the columns with id_col, "
                              "time_col and target_col, the exogenous inputs with inputs")
        columns = list(data.columns if hasattr(data, "columns") else data)
        ids = (id_col, time_col, target_col)
        absent = [c for c in ids if c not in columns]
        if absent:
            raise ConfigError(f"the long-format table has no column {quote(absent[0])} (its "
                              f"columns: {quote(columns)}); it needs {quote(list(ids))}: the "
                              "series, the time and the target. Rename them, or name them with "
                              "id_col, time_col and target_col")
        if inputs is None:
            inputs = [c for c in columns if c not in ids]
            index = [c for c in inputs if isinstance(c, str) and c.startswith(UNNAMED)]
            if index:
                warn(f"column {quote(index[0])} of the long-format table has no name in its "
                     "file: it is the index pandas' to_csv writes unless told index=False (row "
                     "numbers), not an exogenous input, so it is left out of the inputs; list "
                     "the inputs (inputs=[...]) to read it, or write the file with index=False")
                inputs = [c for c in inputs if c not in index]
        features = [_as(Feature, f, "inputs") for f in inputs]
        names = [f.name for f in features]
        future = [future] if isinstance(future, str) else list(future)
        unknown = [name for name in future if name not in names]
        if unknown:
            raise ConfigError(f"future input {quote(unknown[0])} is not an input of the "
                              f"long-format table (inputs: {quote(names)}); list only its "
                              "exogenous columns")
        features = [dataclasses.replace(f, future=True) if f.name in future else f
                    for f in features]
        return cls(features, [target_col], lookback=lookback, horizon=horizon, time=time_col,
                   series=id_col, **options)

    @classmethod
    def saved(cls, data: Any) -> Spec:
        """A spec as a saved model or export wrote it (``to_dict``): its inputs are the ones
        it read, so no target is added to them (lstmkit 0.2.0 read none), and it was
        fitted with the ``scale_by`` it names, ``"global"`` where it names none (as every
        version before ``scale_by``'s default became the fit's choice wrote it).

        Raises:
            ConfigError: for a saved ``scale_by`` of None (a fit always resolves it).
        """
        if not isinstance(data, dict):
            return cls.from_dict(data)
        if "scale_by" in data and data["scale_by"] is None:
            raise ConfigError("the saved spec's scale_by is null; a fitted model was scaled "
                              "'global' or 'series', and its spec says which: re-save the "
                              "model, or re-train it")
        return cls.from_dict({"past_targets": False, "scale_by": "global", **data})

    def scaled_for(self, series: int) -> Spec:
        """This spec as ``fit`` trains it on data holding ``series`` series: an unset
        ``scale_by`` becomes ``"series"`` for a forecast with a ``series`` column and more
        than one series (measured better there: BENCHMARKS.md, "Per-series scaling"), else
        ``"global"``; a set one stays.

        Example:
            >>> Spec(series="id", inputs=["y"], targets=["y"], lookback=8).scaled_for(3).scale_by
            'series'
        """
        if self.scale_by is not None:
            return self
        panel = self.task == "forecast" and self.series is not None and series > 1
        return dataclasses.replace(self, scale_by="series" if panel else "global")

    def difference(self, fitted: Spec) -> str | None:
        """The first setting in which this spec is not ``fitted`` (an unset ``scale_by``
        taking ``fitted``'s choice), as ``name (this, fitted: that)``; None where none is."""
        for field in dataclasses.fields(self):
            mine, theirs = getattr(self, field.name), getattr(fitted, field.name)
            if field.compare and mine != theirs and not (field.name == "scale_by" and mine is None):
                return f"{field.name} ({quote(mine)}, fitted: {quote(theirs)})"
        return None


def _past_of(target: Target, missing: str) -> Feature:
    """The input that gives a forecast target's past values (``Spec.past_targets``)."""
    policy = "ffill" if missing == "error" else missing
    if target.categorical:
        return Feature(target.name, kind="categorical", missing=policy)
    return Feature(target.name, scaler=target.scaler, missing=policy)


def _check_static(inputs: tuple[Feature, ...], targets: list[str]) -> None:
    """Raise ConfigError if a target is a static input, or if every input is static (the
    encoder reads the others step by step)."""
    static = [f.name for f in inputs if f.static]
    changing = [name for name in static if name in targets]
    if changing:
        raise ConfigError(f"column {changing[0]!r} is a target and a static input: a target "
                          "changes over time; remove static=True from that input")
    if static and len(static) == len(inputs):
        raise ConfigError(f"every input is static ({quote(static)}): the encoder needs at least "
                          "one input that changes step by step; add one, or keep the target's "
                          "past values as inputs (past_targets)")


def _checked_units(units: Any, columns: list[str]) -> dict[str, str]:
    """``units`` as a dict of input or target column -> non-empty unit text, else ConfigError."""
    if not isinstance(units, dict):
        raise ConfigError(f"spec units must be a mapping of column to unit, such as "
                          f"{{'temp_max': '°C'}}, got {quote(units)}")
    for column, unit in units.items():
        if column not in columns:
            raise ConfigError(f"spec units names {quote(column)}, which is neither an input nor "
                              f"a target{closest(str(column), columns)}; give units of inputs "
                              "and targets only")
        if not isinstance(unit, str) or not unit.strip():
            raise ConfigError(f"the unit of {column!r} in spec units must be a non-empty text "
                              f"such as '°C', got {quote(unit)}")
    return dict(units)


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str | Feature | Target | dict):
        return [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{what} must be a list of column names, got {value!r}")
    return list(value)


def _as(cls: type, value: Any, what: str) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, Feature | Target):
        raise ConfigError(f"{what} takes {cls.__name__} entries, got {type(value).__name__} "
                          f"{value.name!r}")
    return cls.from_dict(value)


Boundary = float | int | str | None


@dataclass(frozen=True)
class Split:
    """Chronological train / validation / test split, applied before anything is fitted.

    Each boundary is a position within every series: a fraction of its rows
    (float in (0, 1)), a row number (int) or a timestamp (str, for data with a
    ``time`` column). Rows before ``val_start`` train, rows from ``val_start``
    validate, rows from ``test_start`` test, rows from ``end`` are not used.
    ``val_start=None`` trains without validation (no early stopping); ``test_start=None``
    holds nothing back for testing; ``Split.train_only()`` does both. For sequence tasks
    the positions count sequences, which are shuffled (seeded) first unless ``shuffle=False``; with
    ``stratify=True`` (sequence classification) every part keeps the classes in
    the proportion of the whole, as scikit-learn's ``train_test_split(stratify=y)``;
    unset (None), the task's preset decides (``lstmkit.presets.stratified``: yes for
    sequence classification).

    Example:
        >>> Split(val_start=8640, test_start=11520, end=14400)   # the ETTh protocol
    """

    val_start: Boundary = 0.7
    test_start: Boundary = 0.85
    end: Boundary = None
    shuffle: bool = True
    stratify: bool | None = None

    def __post_init__(self) -> None:
        for name in ("val_start", "test_start", "end"):
            value = getattr(self, name)
            if value is None or isinstance(value, str):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"split {name} must be a fraction, a row number or a "
                                  f"timestamp string, got {value!r}")
            if isinstance(value, float) and not 0.0 < value <= 1.0:
                raise ConfigError(f"split {name}={value!r}: a fraction must lie in (0, 1]; "
                                  "use an int for a row number")
            if isinstance(value, int) and value < 1:
                raise ConfigError(f"split {name}={value!r}: a row number must be >= 1")
        for name in ("shuffle", "stratify"):
            value = getattr(self, name)
            if not isinstance(value, bool) and not (name == "stratify" and value is None):
                unset = ", or unset (null)" if name == "stratify" else ""
                raise ConfigError(f"split {name} must be true or false{unset}, got {value!r}")

    @classmethod
    def train_only(cls) -> Split:
        """Every sample (row) trains: no validation part (so no early stopping) and no test
        part; ``fit(X, y, validation_data=...)`` uses it unless a split is set."""
        return cls(val_start=None, test_start=None)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Split:
        return _from_dict(cls, data, "split")


PARTS = ("train", "val", "test", "all")
