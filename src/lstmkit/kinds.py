"""Target kinds: what a kind of target owns, one object per kind, and their registry.

``Target.kind`` is the kind's name, the string that specs, YAML files and saved models
hold; ``KINDS`` maps it to a ``TargetKind``, which owns all that differs between kinds:
the head's width, the output activation (where logits become probabilities, in numpy and
in the exported graph), the losses and the loss function, decoding outputs to values,
labels and table columns, the metrics, the naive baseline, the ONNX outputs and the
band conformal intervals widen (``band``). The rest
of lstmkit asks the kind (``target.target_kind``) instead of testing its name.

Adding a kind:

1. Subclass ``TargetKind`` (or a built-in kind, to change one part of it): set ``name``,
   ``losses`` (the first is the default) and ``score_metric``, say whether its targets
   hold labels (``labelled``) and how its outputs are laid out (``value_channel``,
   ``norm_maps``, ``constrains``, ``shares_head``, ``stacks``), and implement the methods
   that raise ``NotImplementedError`` here (``Quantile`` overrides ``target_loss``
   instead of ``loss_function``: its loss needs the target's levels).
2. Register an instance: ``register_kind(MyKind())``. ``Target("y", kind="my_kind")``
   then fits, predicts, evaluates, saves, loads and exports; a saved model of the kind
   loads where the kind is registered.

This module imports no torch at import time (``OnnxModel`` predicts without torch): the
methods that build torch operations import it inside.

Example:
    >>> class MAERegression(Regression):
    ...     name, losses = "mae_regression", ("mae",)
    >>> register_kind(MAERegression())
    >>> Target("load", kind="mae_regression").loss
    'mae'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .checks import quote
from .decision import labels as decided_labels
from .errors import ConfigError
from .metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    brier_terms,
    classification_metrics,
    confusion_matrix,
    percent,
    probability_metrics,
    quantile_metric_names,
    quantile_metrics,
    regression_metrics,
    reliability_bins,
)

if TYPE_CHECKING:
    from torch import Tensor

    from .data.encoding import Encoding
    from .data.scaling import AffineScaler
    from .spec import Target

TINY = 1e-300              # the least probability logits_of gives a log of
SURE_LOGIT = 50.0          # a class logit the others (0) lose to with probability ~2e-22


@dataclass(frozen=True)
class Decoded:
    """One target's predictions in original units, laid out later as columns or arrays.

    Attributes:
        values: (N, S) numbers (regression) or the user's labels (categorical).
        proba: (N, S, K) class probabilities (binary: K = 2), None for regression.
        classes: the labels the K probabilities belong to, in order.
        quantiles: (N, S, Q) values at each level of ``levels``, for quantile targets.
        levels: the quantile levels, in (0, 1), increasing.
        params: (N, S, P) a distribution's parameters in original units
            (``lstmkit.distributions``), which samples are drawn from.
        intervals: calibrated conformal intervals (``lstmkit.conformal``), one
            (coverage, lower (N, S), upper (N, S)) each, in increasing coverage.
    """

    values: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple[Any, ...] = ()
    quantiles: np.ndarray | None = None
    levels: tuple[float, ...] = ()
    params: np.ndarray | None = None
    intervals: tuple[tuple[float, np.ndarray, np.ndarray], ...] = ()

    def take(self, index: np.ndarray) -> Decoded:
        """These predictions of the windows at ``index`` (an integer array) only."""
        pick = lambda a: None if a is None else a[index]   # noqa: E731
        return replace(
            self, values=self.values[index], proba=pick(self.proba),
            quantiles=pick(self.quantiles), params=pick(self.params),
            intervals=tuple((c, lo[index], hi[index]) for c, lo, hi in self.intervals))

    @property
    def graph_values(self) -> np.ndarray:
        """The values in the form of the kind's graph output (``graph_output``, original
        units): a distribution's parameters (N, S, P), the quantiles (N, S, Q) of a
        quantile target, else the values (N, S)."""
        if self.params is not None:
            return self.params
        return self.values if self.quantiles is None else self.quantiles


@dataclass(frozen=True)
class Scored:
    """One target's truth and predictions in the units its metrics read, and the metrics.

    Attributes:
        true: (N, S) true values (NaN where missing).
        predictions: the model's (N, S), then each baseline's (None where it has none).
        names: the metrics ``score`` gives.
        score: ``score(true, prediction, weights=None)`` -> {metric: value}; ``weights``
            (shaped like ``true``) make every mean a weighted one
            (``evaluate(weighted=True)``; a kind whose ``score`` takes no weights refuses it).
        confusion: the labelled confusion matrix of the model, for labelled kinds.
        reliability: the model's ``reliability_bins``, for labelled kinds.
    """

    true: np.ndarray
    predictions: list[np.ndarray | None]
    names: tuple[str, ...]
    score: Callable[[np.ndarray, np.ndarray], dict[str, float]]
    confusion: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None


class TargetKind:
    """What one kind of target owns. Subclass it (see the module's docstring) to add a kind.

    Attributes:
        name: the ``Target.kind`` that selects it.
        losses: the losses a target of this kind may set; the first is the default.
        labelled: its targets hold labels (the set seen in training, coded 0..K-1),
            else numbers scaled by the target's scaler.
        value_channel: the head's one output channel is the target's value in scaled
            units, so instance norm, channel independence and naive forecasts read from
            the inputs may apply to it.
        norm_maps: its outputs are values in the target's scaled units, every channel
            mapped back through the instance norm with the target's statistics where the
            target is an input (as ``value_channel``'s one channel is), but with no naive
            forecast to fall back on and not read per channel.
        constrains: the heads shape its outputs with ``constrain`` (inside the network,
            so before the instance norm maps them back, and in the exported graph).
        shares_head: ``heads="shared"`` gives its targets one dense layer together.
        stacks: targets of this kind with the same loss are computed together, one
            channel each (their outputs and truth are (B, S, k)).
        conformal: its targets take conformal intervals (``band``; ``lstmkit.conformal``).
        graph_band: the ONNX graph computes ``band`` in torch ops; else ``OnnxModel``
            computes the intervals from the graph's output with numpy, as ``predict`` does.
        series_scaled: with ``Spec(scale_by="series")`` its numbers are scaled per series,
            its outputs mapped back by ``roles`` (``lstmkit.data.series_scaling``); False
            keeps the target's one scaler (labels are never scaled).
        score_metric: the metric (of ``scored``'s, higher better) that ``LSTMModel.score``
            reads, as scikit-learn's scoring does.
        error_metric: the metric (of ``scored``'s, lower better) whose per-prediction
            terms ``error`` gives: what permutation importance reads (empty: none).
    """

    name: str = ""
    losses: tuple[str, ...] = ()
    labelled: bool = False
    value_channel: bool = False
    norm_maps: bool = False
    constrains: bool = False
    shares_head: bool = False
    stacks: bool = True
    conformal: bool = True
    graph_band: bool = True
    series_scaled: bool = True
    score_metric: str = ""
    error_metric: str = ""

    @property
    def default_loss(self) -> str:
        return self.losses[0]

    def width(self, labels: int, target: Target | None = None) -> int:
        """Output channels of a target's head, given the labels it was fitted with (and the
        target, for kinds whose width it sets)."""
        return 1

    def roles(self, width: int) -> tuple[str, ...]:
        """How the instance norm maps each of the target's ``width`` columns back, where it
        maps them (``norm_maps``, ``value_channel``), and which take the direct effect of
        inputs known in advance (``value`` ones): ``lstmkit.nn.norm.ROLES``."""
        return ("value",) * width

    def spread_levels(self, target: Target) -> tuple[float, ...] | None:
        """The levels at which the naive probabilistic baseline's error quantiles are kept
        (``FittedPipeline.naive_spread``) for ``target``; None: the kind has none."""
        return None

    def levels(self, target: Target) -> tuple[float, ...]:
        """The quantile levels of ``target``'s prediction columns (``<target>_q<pct>``),
        which forecast plots shade between; () for kinds without quantiles."""
        return ()

    # -- torch: the network and its training ---------------------------------------------
    def activate(self, logits: Tensor) -> Tensor:
        """Outputs (..., width) as predictions the network reads back (values, probabilities)."""
        return logits

    def constrain(self, outputs: Tensor) -> Tensor:
        """The heads' linear outputs (..., width) as the network gives them (``constrains``)."""
        return outputs

    def teacher(self, values: Tensor, known: Tensor, width: int) -> Tensor:
        """True targets (..., 1) in the form of ``activate``'s output; missing (not ``known``)
        -> 0."""
        import torch

        return torch.where(known, values, 0.0)

    def loss_function(self, loss: str) -> Callable[..., Tensor]:
        """``loss`` as ``f(outputs, truth, reduction="mean" | "none")``: the mean (a scalar)
        or per element, shaped like ``truth`` (no NaN there)."""
        raise NotImplementedError

    def target_loss(self, target: Target, scaler: AffineScaler | None = None
                    ) -> Callable[..., Tensor]:
        """``target``'s loss function (``loss_function`` of its loss, unless the kind needs
        more of the target, such as its quantile levels, or its fitted ``scaler``)."""
        return self.loss_function(target.loss)

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        """The exported graph's output of one target, from its outputs (B, S, width)."""
        raise NotImplementedError

    def tempered(self, outputs: Any, temperature: float) -> Any:
        """Outputs (numpy or torch, (..., width)) with a calibration temperature applied
        before the activation: unchanged here (kinds without probabilities have none)."""
        return outputs

    # -- numpy: decoding, table columns, metrics, baselines --------------------------------
    def check_values(self, target: Target, values: np.ndarray, rows: np.ndarray) -> None:
        """Raise DataError, naming a value and its row (``rows``: positions in the user's
        table), where ``target``'s numeric ``values`` do not fit the kind (counts that are
        not non-negative integers); NaN is missing, not checked."""
    def decode(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> Decoded:
        """Network outputs (N, S, width) as values or labels in the user's units."""
        raise NotImplementedError

    def decode_values(self, target: Target, encoding: Encoding, outputs: np.ndarray
                      ) -> Decoded:
        """``decode`` without what only the prediction table shows (class probabilities):
        what ``predict(output="array")`` reads."""
        return self.decode(target, encoding, outputs)

    def decode_graph(self, target: Target, encoding: Encoding, values: np.ndarray) -> Decoded:
        """The exported graph's output (``graph_output``) as ``decode`` gives it."""
        raise NotImplementedError

    def columns(self, name: str, decoded: Decoded) -> dict[str, np.ndarray]:
        """The prediction table's columns of target ``name``, flattened to (N * S,)."""
        return {name: decoded.values.reshape(-1)}

    def onnx_output(self, target: Target, encoding: Encoding, steps: int | str
                    ) -> dict[str, Any]:
        """The metadata's entry for the graph's output of ``target`` (``steps`` per window)."""
        raise NotImplementedError

    def scored(self, target: Target, encoding: Encoding, truth: np.ndarray,
               outputs: np.ndarray, baselines: list[np.ndarray | None]) -> Scored:
        """Encoded ``truth`` (N, S), network ``outputs`` (N, S, width) and encoded baseline
        predictions (N, S) as the metrics read them."""
        raise NotImplementedError

    def naive(self, values: np.ndarray, mean: float) -> float:
        """The encoded prediction of a naive model from a target's training ``values`` (NaN
        where missing; the known ones' ``mean`` given): what sequence tasks are compared
        with."""
        raise NotImplementedError

    def error(self, truth: np.ndarray, decoded: Decoded) -> np.ndarray:
        """The terms (N, S) of ``error_metric`` (their mean over the known ones is it) of
        ``decoded`` predictions against ``truth`` (N, S) in original units (labelled kinds:
        class codes); NaN where the truth is missing."""
        raise NotImplementedError

    def band(self, target: Target, values: Any, coverage: float) -> tuple[Any, Any]:
        """The interval a conformal calibration at ``coverage`` widens (``lstmkit.conformal``):
        its lower and upper bounds (N, S) from ``values`` in the form of ``graph_output``
        (numpy or torch, original units). A point prediction is both bounds, so that the
        conformal score is the absolute residual."""
        return values, values

    def spread(self, values: Any) -> Any:
        """The unit (N, S) a conformal margin is measured in for each prediction, from
        ``values`` in the form of ``graph_output`` (numpy, or torch where ``graph_band``),
        or None: margins in the target's original units (``lstmkit.conformal``)."""
        return None


class Regression(TargetKind):
    """A number: linear output, scaled by the target's scaler, scored by MAE, RMSE, sMAPE, R2."""

    name = "regression"
    losses = ("mse", "mae", "huber")
    value_channel = True
    shares_head = True
    score_metric = "R2"
    error_metric = "MAE"

    def loss_function(self, loss: str) -> Callable[..., Tensor]:
        from torch.nn import functional as F

        return {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[loss]

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        return outputs[..., 0] * scaler.scale + scaler.center                 # (B, S)

    def decode(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> Decoded:
        return Decoded(encoding.decode_regression(target, outputs[..., 0]))

    def decode_graph(self, target: Target, encoding: Encoding, values: np.ndarray) -> Decoded:
        return Decoded(values.astype(np.float64))

    def onnx_output(self, target: Target, encoding: Encoding, steps: int | str
                    ) -> dict[str, Any]:
        return {"name": target.name, "target": target.name, "kind": target.kind,
                "dtype": "float32", "shape": ["batch", steps]}

    def scored(self, target: Target, encoding: Encoding, truth: np.ndarray,
               outputs: np.ndarray, baselines: list[np.ndarray | None]) -> Scored:
        decoded = _decoder(target, encoding)
        return Scored(decoded(truth), [decoded(outputs[..., 0]), *map(decoded, baselines)],
                      REGRESSION_METRICS, regression_metrics)

    def naive(self, values: np.ndarray, mean: float) -> float:
        return mean

    def error(self, truth: np.ndarray, decoded: Decoded) -> np.ndarray:
        return np.abs(decoded.values - truth)


class Labelled(TargetKind):
    """What classification and binary targets share: labels, class probabilities,
    ``<target>_proba_<label>`` columns, accuracy and macro-F1, the majority class.

    Attributes:
        rule: how many labels a target needs, in words; ``allows`` checks it.
        shown: the first class whose probability the prediction table shows.
    """

    labelled = True
    conformal = False
    score_metric = "accuracy"
    error_metric = "Brier"
    rule = "at least two"
    shown = 0

    def allows(self, labels: int) -> bool:
        """Whether a target of this kind may have ``labels`` labels."""
        return labels >= 2

    def tempered(self, outputs: Any, temperature: float) -> Any:
        """Logits divided by the temperature (temperature scaling: T > 1 softens the
        probabilities, labels stay); T = 1 returns them as they are."""
        return outputs if temperature == 1 else outputs / temperature

    def probabilities(self, logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """Class probabilities (..., K), float64, from outputs (..., width) at
        ``temperature``."""
        raise NotImplementedError

    def log_likelihood(self, logits: np.ndarray, codes: np.ndarray,
                       temperature: float = 1.0) -> float:
        """The mean log-probability of class ``codes`` (N,) under outputs (N, width) at
        ``temperature``, computed stably in float64 (what calibration maximises)."""
        raise NotImplementedError

    def labels(self, outputs: np.ndarray) -> np.ndarray:
        """Class codes (...) of outputs (..., width): the most probable class, at any
        temperature (T > 0 keeps the order)."""
        return self.probabilities(outputs).argmax(-1)

    def decode(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> Decoded:
        return Decoded(encoding.decode_labels(target, self.labels(outputs)),
                       self.probabilities(outputs), encoding.target_labels[target.name].classes)

    def decode_values(self, target: Target, encoding: Encoding, outputs: np.ndarray
                      ) -> Decoded:
        return Decoded(encoding.decode_labels(target, self.labels(outputs)), None,
                       encoding.target_labels[target.name].classes)

    def decode_graph(self, target: Target, encoding: Encoding, values: np.ndarray) -> Decoded:
        return Decoded(encoding.decode_labels(target, values.argmax(-1)), values,
                       encoding.target_labels[target.name].classes)

    def columns(self, name: str, decoded: Decoded) -> dict[str, np.ndarray]:
        columns = {name: decoded.values.reshape(-1)}
        for k in range(self.shown, len(decoded.classes)):
            columns[f"{name}_proba_{decoded.classes[k]}"] = \
                decoded.proba[..., k].astype(np.float64).reshape(-1)
        return columns

    def onnx_output(self, target: Target, encoding: Encoding, steps: int | str
                    ) -> dict[str, Any]:
        classes = list(encoding.target_labels[target.name].classes)
        return {"name": f"{target.name}_proba", "target": target.name, "kind": target.kind,
                "dtype": "float32", "shape": ["batch", steps, len(classes)], "classes": classes}

    def scored(self, target: Target, encoding: Encoding, truth: np.ndarray,
               outputs: np.ndarray, baselines: list[np.ndarray | None],
               offsets: list[float] | None = None) -> Scored:
        """As the kind's, the model's labels chosen by ``offsets`` (``lstmkit.decision``;
        None: the most probable), the probabilities' metrics and the baselines unchanged."""
        k = len(encoding.target_labels[target.name])
        proba = self.probabilities(outputs)                          # (N, S, K)
        pred = np.where(np.isnan(truth), np.nan, decided_labels(proba, offsets).astype(
            np.float64))

        def score(true: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None
                  ) -> dict[str, float]:
            """Of probabilities (..., K) or, for a baseline, codes (one-hot probabilities)."""
            if predicted.ndim == true.ndim:
                predicted = np.where(np.isnan(predicted)[..., None], np.nan,
                                     np.eye(k)[np.nan_to_num(predicted).astype(np.int64)])
            mine = offsets if np.may_share_memory(predicted, proba) else None   # not baselines'
            codes = np.where(np.isnan(predicted).any(-1), np.nan,
                             decided_labels(np.nan_to_num(predicted), mine))
            return {**classification_metrics(confusion_matrix(true, codes, k, weights)),
                    **probability_metrics(true, predicted, weights)}
        labels = [str(c) for c in encoding.target_labels[target.name].classes]
        confusion = pd.DataFrame(confusion_matrix(truth, pred, k), index=labels,
                                 columns=labels).rename_axis(index="true", columns="predicted")
        known = np.isfinite(truth)
        return Scored(truth, [proba, *baselines], CLASSIFICATION_METRICS, score, confusion,
                      reliability_bins(truth[known], proba[known]))

    def naive(self, values: np.ndarray, mean: float) -> float:
        codes = values[~np.isnan(values)].astype(np.int64)
        return float(np.bincount(codes).argmax())                    # the majority class

    def error(self, truth: np.ndarray, decoded: Decoded) -> np.ndarray:
        return brier_terms(truth, decoded.proba)

    def sure_logits(self, codes: np.ndarray, width: int, dtype: Any) -> np.ndarray:
        """Outputs (len(codes), width) whose probability is ~1 on class ``codes``."""
        raise NotImplementedError

    def logits_of(self, probabilities: np.ndarray) -> np.ndarray:
        """Outputs (..., width), float64, whose ``probabilities`` are ``probabilities``
        (..., K) (each at least ``TINY``)."""
        raise NotImplementedError


class Classification(Labelled):
    """One of K labels: softmax over K outputs, cross-entropy."""

    name = "classification"
    losses = ("cross_entropy",)
    stacks = False

    def width(self, labels: int, target: Target | None = None) -> int:
        return labels

    def activate(self, logits: Tensor) -> Tensor:
        return logits.softmax(-1)

    def teacher(self, values: Tensor, known: Tensor, width: int) -> Tensor:
        import torch

        codes = torch.where(known, values, 0).long().squeeze(-1)
        return torch.nn.functional.one_hot(codes, width).to(values.dtype) * known

    def loss_function(self, loss: str) -> Callable[..., Tensor]:
        return _cross_entropy

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        return outputs.softmax(dim=-1)                                        # (B, S, K)

    def labels(self, outputs: np.ndarray) -> np.ndarray:
        return outputs.argmax(-1)             # the softmax keeps the logits' order

    def probabilities(self, logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        logits = self.tempered(logits, temperature)
        z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def log_likelihood(self, logits: np.ndarray, codes: np.ndarray,
                       temperature: float = 1.0) -> float:
        z = logits.astype(np.float64) / temperature
        z = z - z.max(axis=-1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return float(log_p[np.arange(len(codes)), codes].mean())

    def sure_logits(self, codes: np.ndarray, width: int, dtype: Any) -> np.ndarray:
        logits = np.zeros((len(codes), width), dtype)
        logits[np.arange(len(codes)), codes] = SURE_LOGIT
        return logits

    def logits_of(self, probabilities: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(probabilities.astype(np.float64), TINY))


class Binary(Labelled):
    """One of two labels: one output, the positive label's logit; sigmoid, binary
    cross-entropy. Its probabilities are (1 - p, p); the table shows p."""

    name = "binary"
    losses = ("bce",)
    rule = "exactly two"
    shown = 1

    def allows(self, labels: int) -> bool:
        return labels == 2

    def activate(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()

    def loss_function(self, loss: str) -> Callable[..., Tensor]:
        from torch.nn import functional as F

        return F.binary_cross_entropy_with_logits

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        import torch

        positive = outputs.sigmoid()
        return torch.cat([1 - positive, positive], dim=-1)                    # (B, S, 2)

    def labels(self, outputs: np.ndarray) -> np.ndarray:
        return (outputs[..., 0] > 0).astype(np.int64)      # p > 1/2: the positive label

    def probabilities(self, logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.tempered(logits[..., 0], temperature).astype(np.float64)))
        return np.stack([1 - p, p], axis=-1)

    def log_likelihood(self, logits: np.ndarray, codes: np.ndarray,
                       temperature: float = 1.0) -> float:
        z = logits[..., 0].astype(np.float64) / temperature
        sign = np.where(codes == 1, 1.0, -1.0)
        return float(-np.logaddexp(0.0, -sign * z).mean())      # log sigmoid(+-z)

    def sure_logits(self, codes: np.ndarray, width: int, dtype: Any) -> np.ndarray:
        return np.where(codes == 1, SURE_LOGIT, -SURE_LOGIT).astype(dtype)[:, None]

    def logits_of(self, probabilities: np.ndarray) -> np.ndarray:
        p = np.maximum(probabilities.astype(np.float64), TINY)
        return (np.log(p[..., 1]) - np.log(p[..., 0]))[..., None]


class Quantile(Regression):
    """Chosen quantiles of a number (``Target(quantiles=[...])``): one output per level,
    scaled by the target's scaler, trained with the pinball loss averaged over the levels.

    The outputs never cross, by construction: the heads' first output is the lowest
    quantile and each next one adds a positive increment (softplus) to the one below
    (``constrain``, inside the network). Where the target is also an input, the instance
    norm maps every quantile back with the target's statistics (an increasing map, the
    same for all of them, so they stay in order), inputs known in advance add the same
    effect to all of them, and the naive fallback leaves them alone (moving them towards
    one naive value would narrow the interval); ``channel_independent`` refuses them.

    The point value (the column ``<target>`` and ``predict(output="array")``) is the
    median: the 0.5 quantile if asked for, else linearly interpolated between the levels
    around 0.5 (the nearest level where 0.5 lies outside them). Metrics: the regression
    metrics of the median and ``lstmkit.metrics.quantile_metrics`` (pinball per level,
    CRPS from the quantiles, coverage, width and MSIS per central interval).
    """

    name = "quantile"
    losses = ("pinball",)
    value_channel = shares_head = stacks = False
    norm_maps = constrains = True

    def width(self, labels: int, target: Target | None = None) -> int:
        return len(target.quantiles)

    def constrain(self, outputs: Tensor) -> Tensor:
        return _non_crossing(outputs)

    def band(self, target: Target, values: Any, coverage: float) -> tuple[Any, Any]:
        """The quantiles at (1 - coverage) / 2 and (1 + coverage) / 2: conformalised
        quantile regression (CQR) widens or narrows them by one margin."""
        levels = np.asarray(target.quantiles)
        ends = [(1 - coverage) / 2, (1 + coverage) / 2]
        found = [np.flatnonzero(np.isclose(levels, end, atol=1e-9)) for end in ends]
        if not all(len(f) for f in found):
            raise ConfigError(
                f"a {percent(coverage)} % conformal interval of quantile target "
                f"{target.name!r} calibrates its quantiles at {ends[0]:g} and {ends[1]:g} "
                f"(CQR), and it has {quote(list(target.quantiles))}; add those levels to "
                f"Target({target.name!r}, quantiles=[...]) and refit, or calibrate a coverage "
                "its outermost quantiles form")
        return values[..., int(found[0][0])], values[..., int(found[1][0])]

    def teacher(self, values: Tensor, known: Tensor, width: int) -> Tensor:
        return super().teacher(values, known, width).expand(*values.shape[:-1], width)

    def target_loss(self, target: Target, scaler: AffineScaler | None = None
                    ) -> Callable[..., Tensor]:
        return functools.partial(_pinball, levels=target.quantiles)

    def spread_levels(self, target: Target) -> tuple[float, ...] | None:
        return target.quantiles

    def levels(self, target: Target) -> tuple[float, ...]:
        return target.quantiles

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        return outputs * scaler.scale + scaler.center                        # (B, S, Q)

    def decode(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> Decoded:
        return self.decode_graph(target, encoding, encoding.decode_regression(target, outputs))

    def decode_graph(self, target: Target, encoding: Encoding, values: np.ndarray) -> Decoded:
        values = values.astype(np.float64)
        return Decoded(median(values, target.quantiles), quantiles=values,
                       levels=target.quantiles)

    def columns(self, name: str, decoded: Decoded) -> dict[str, np.ndarray]:
        columns = {name: decoded.values.reshape(-1)}
        for q, level in enumerate(decoded.levels):
            columns[quantile_column(name, level)] = decoded.quantiles[..., q].reshape(-1)
        return columns

    def onnx_output(self, target: Target, encoding: Encoding, steps: int | str
                    ) -> dict[str, Any]:
        return {"name": f"{target.name}_quantiles", "target": target.name, "kind": target.kind,
                "dtype": "float32", "shape": ["batch", steps, len(target.quantiles)],
                "quantiles": list(target.quantiles)}

    def in_units(self, target: Target, encoding: Encoding, truth: np.ndarray,
                 baselines: list[np.ndarray | None], levels: Sequence[float]
                 ) -> tuple[Callable[[np.ndarray | None], np.ndarray | None], np.ndarray,
                            float]:
        """What ``scored`` reads in original units: the decoder of encoded values, the
        decoded ``truth``, and MSIS's scale (the naive baseline's mean absolute error on the
        same windows; of its median at ``levels`` where it is probabilistic)."""
        decoded = _decoder(target, encoding)
        true = decoded(truth)
        naive = decoded(baselines[0]) if baselines else None
        if naive is not None and naive.ndim > true.ndim:   # the probabilistic naive baseline
            naive = median(naive, levels)
        scale = np.nan if naive is None else float(np.nanmean(np.abs(true - naive)))
        return decoded, true, scale

    def scored(self, target: Target, encoding: Encoding, truth: np.ndarray,
               outputs: np.ndarray, baselines: list[np.ndarray | None]) -> Scored:
        levels = target.quantiles
        decoded, true, scale = self.in_units(target, encoding, truth, baselines, levels)

        def score(true: np.ndarray, predicted: np.ndarray, weights: np.ndarray | None = None
                  ) -> dict[str, float]:
            if predicted.ndim == true.ndim:                  # a point forecast (a baseline)
                return {**dict.fromkeys(quantile_metric_names(levels), np.nan),
                        **regression_metrics(true, predicted, weights)}
            return {**regression_metrics(true, median(predicted, levels), weights),
                    **quantile_metrics(true, predicted, levels, scale, weights)}
        return Scored(true, [decoded(outputs), *map(decoded, baselines)],
                      REGRESSION_METRICS + quantile_metric_names(levels), score)


def _decoder(target: Target, encoding: Encoding
             ) -> Callable[[np.ndarray | None], np.ndarray | None]:
    """Encoded values of a numeric ``target`` (None stays None) in original units."""
    def decoded(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else encoding.decode_regression(target, values)
    return decoded


def _non_crossing(outputs: Tensor) -> Tensor:
    """Linear outputs (..., Q) as increasing quantiles: the first, then each adds the
    softplus of its own output to the one below (``Quantile.constrain``)."""
    import torch
    from torch.nn import functional as F

    lowest = outputs[..., :1]
    return torch.cat([lowest, lowest + F.softplus(outputs[..., 1:]).cumsum(-1)], dim=-1)


def _pinball(outputs: Tensor, truth: Tensor, reduction: str = "mean",
             levels: tuple[float, ...] = (0.5,)) -> Tensor:
    """Pinball loss of quantiles (B, S, Q) against truth (B, S), averaged over the Q
    levels: the mean, or (B, S). At module level, so that it pickles."""
    import torch

    quantiles = outputs
    tau = torch.tensor(levels, dtype=quantiles.dtype, device=quantiles.device)
    miss = truth.unsqueeze(-1).to(quantiles.dtype) - quantiles                 # (B, S, Q)
    value = torch.maximum(tau * miss, (tau - 1) * miss).mean(-1)
    return value.mean() if reduction == "mean" else value


def median(quantiles: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """The 0.5 quantile (..., ) from quantiles (..., Q) at increasing ``levels``: linearly
    interpolated between the levels around 0.5; the nearest level where 0.5 lies outside."""
    levels = np.asarray(levels, np.float64)
    upper = int(np.clip(np.searchsorted(levels, 0.5), 1, max(len(levels) - 1, 1)))
    if len(levels) == 1:
        return quantiles[..., 0]
    lo, hi = levels[upper - 1], levels[upper]
    weight = float(np.clip((0.5 - lo) / (hi - lo), 0.0, 1.0))
    return quantiles[..., upper - 1] * (1 - weight) + quantiles[..., upper] * weight


def quantile_column(name: str, level: float) -> str:
    """The prediction table's column of ``name``'s quantile at ``level``: ``OT_q10``,
    ``OT_q2.5``."""
    return f"{name}_q{format(level * 100, 'g')}"


def _cross_entropy(outputs: Tensor, truth: Tensor, reduction: str = "mean") -> Tensor:
    """Cross-entropy of outputs (B, S, K) against class indices (B, S): the mean, or (B, S).
    At module level, so that a loss holding it pickles (``strategy="ddp_spawn"``)."""
    from torch.nn import functional as F

    value = F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), truth.reshape(-1).long(),
                            reduction=reduction)
    return value if reduction == "mean" else value.view(truth.shape)


KINDS: dict[str, TargetKind] = {}


def register_kind(kind: TargetKind) -> TargetKind:
    """Make ``kind`` a choice of ``Target.kind``, under ``kind.name``.

    Args:
        kind: an instance of a ``TargetKind`` subclass (see the module's docstring).

    Returns:
        ``kind``.

    Raises:
        ConfigError: the name is not a non-empty string, it is taken by another kind, or
            the kind lists no loss or no score metric.

    Example:
        >>> register_kind(MAERegression())
    """
    if not isinstance(kind, TargetKind):
        raise ConfigError(f"register_kind takes a TargetKind instance, got "
                          f"{type(kind).__name__}; subclass lstmkit.kinds.TargetKind")
    name = kind.name
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a target kind needs a name (a non-empty string), got {name!r}; "
                          f"set name on {type(kind).__name__}")
    if name in KINDS and KINDS[name] is not kind:
        raise ConfigError(f"target kind {name!r} is registered already "
                          f"({type(KINDS[name]).__name__}); give {type(kind).__name__} "
                          "another name")
    if not kind.losses or not all(isinstance(loss, str) for loss in kind.losses):
        raise ConfigError(f"target kind {name!r} lists no losses; set losses to the names "
                          "its loss_function takes, the default first")
    if not isinstance(kind.score_metric, str) or not kind.score_metric:
        raise ConfigError(f"target kind {name!r} has no score_metric; set it to the metric "
                          "of its scored() that LSTMModel.score reads (such as 'R2')")
    KINDS[name] = kind
    return kind


def prediction_columns(targets: Sequence[Target], decoded: dict[str, Decoded]
                       ) -> dict[str, np.ndarray]:
    """Every target's columns of the prediction table (its values, then what its kind adds,
    such as ``<target>_proba_<label>``), flattened to (N * S,), in the targets' order."""
    columns: dict[str, np.ndarray] = {}
    for target in targets:
        columns.update(target.target_kind.columns(target.name, decoded[target.name]))
        for coverage, lower, upper in decoded[target.name].intervals:
            columns[interval_column(target.name, "lo", coverage)] = lower.reshape(-1)
            columns[interval_column(target.name, "hi", coverage)] = upper.reshape(-1)
    return columns


def interval_column(name: str, end: str, coverage: float) -> str:
    """The prediction table's column of an end (``lo``, ``hi``) of ``name``'s conformal
    interval at ``coverage``: ``OT_lo_80``, ``OT_hi_97.5``."""
    return f"{name}_{end}_{percent(coverage)}"


for _kind in (Regression(), Classification(), Binary(), Quantile()):
    register_kind(_kind)
