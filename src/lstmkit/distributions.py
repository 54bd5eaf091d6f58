"""Distribution targets: a head that gives a distribution's parameters, trained by its
negative log-likelihood (``Target(name, distribution="normal")``).

Each distribution is a target kind (``lstmkit.kinds``) registered under its name, so
``Target.kind`` is ``"normal"``, ``"student_t"``, ``"poisson"`` or ``"negative_binomial"``.
They share ``Distribution``: one head column per parameter, made valid inside the network
(``constrain``), the NLL as the loss, and predictions decoded to the mean (the column
``<target>``), quantiles at chosen levels (``<target>_q<pct>``: ``Target.quantiles`` if
given, else ``DEFAULT_LEVELS``) and, on request, samples.

Parameters and units:

* ``normal`` (loc, scale) and ``student_t`` (loc, scale, df) are in the target's scaled
  units: the location maps back through the target's scaler (affine), the scale only
  multiplicatively; df = 2 + softplus(raw) > 2, so the variance is finite. Where the target
  is also an input, the instance norm maps the location with the window's statistics and
  the scale with the window's standard deviation only; df is left alone.
* ``poisson`` (mean) and ``negative_binomial`` (mean, dispersion: variance = mean +
  dispersion * mean^2) read non-negative integer targets (anything else is a
  ``DataError``). Counts are not centred: their scaler is ``mean`` (each count divided by
  the training mean; ``none`` keeps counts), the default ``standard`` becomes ``mean``, and
  the likelihood is computed in counts (the loss reads the scaler). Where the count is an
  input, the instance norm multiplies the mean by 1 + the window's level (its mean, in
  units of the training mean), as DeepAR scales counts: the mean stays positive and a
  window of zeros still predicts from a scale of 1.

Inputs known in advance add their direct effect to a location only (never to a scale,
a shape or a count's mean, which would leave their valid range); they reach every
parameter through the decoder. ``channel_independent`` refuses distribution targets (as it
does quantile targets).

Samples (``predict(samples=N, seed=...)``) are drawn per output step, independently across
steps given the window: the decoders give each step's distribution from the window, not
from sampled earlier steps, so the paths are not joint draws of the whole horizon.

Metrics (``Distribution.scored``, original units): the regression metrics of the mean,
``NLL`` (the mean negative log-likelihood, per value), ``CRPS`` exactly (closed forms for
normal and Student's t; for counts the sum over the support up to the larger of the truth
and the ``COUNT_TAIL`` quantile), pinball per reported level and coverage, width and MSIS
of the 80 % and 95 % central intervals (and any other the reported levels form).

Conformal intervals (``lstmkit.conformal``) widen the fitted distribution's own central
interval (``band``: its quantiles at (1 - c) / 2 and (1 + c) / 2), as CQR does for
quantile targets; a fit with a validation part calibrates them by default at the central
intervals of the reported levels (``conformal.fit_coverage``). The quantile columns and
samples stay the fitted distribution's own (uncalibrated); the intervals are the calibrated
ones. The ONNX graph computes them for ``normal`` targets (loc + z scale, ``graph_band``);
for the others (quantiles without a closed form in torch ops) the graph gives the
parameters and ``OnnxModel`` computes the intervals from them with the margins its metadata
records, as it computes their quantile columns (``graph_band`` False).

This module imports no torch at import time; scipy is imported where quantiles,
samples and metrics are computed.

Example:
    >>> Target("sales", distribution="negative_binomial").kind
    'negative_binomial'
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError
from .kinds import Decoded, Quantile, Scored, median, register_kind
from .metrics import (
    REGRESSION_METRICS,
    quantile_metric_names,
    quantile_metrics,
    regression_metrics,
)

if TYPE_CHECKING:
    from torch import Tensor

    from .data.encoding import Encoding
    from .data.scaling import AffineScaler
    from .spec import Target

DEFAULT_LEVELS = (0.1, 0.5, 0.9)
INTERVAL_LEVELS = (0.025, 0.1, 0.9, 0.975)      # the 95 % and 80 % central intervals
# the naive probabilistic baseline's error quantiles: every 5 %, and the intervals' ends
SPREAD_GRID = (0.025, *(np.arange(1, 20) / 20).round(2).tolist(), 0.975)
FLOOR = 1e-4                 # added to a scale, a count's mean and a dispersion (scaled units)
COUNT_TAIL = 1 - 1e-6        # counts' CRPS sums the support up to this quantile (or the truth)
COUNT_MAX = 10**6            # ... but at most this count
COUNT_CELLS = 2**22          # values x support points per block of that sum


class Distribution(Quantile):
    """What the distributions share: one head column per parameter (``parameters``, the
    mean's or location's first), each with its role for the instance norm (``roles``);
    the NLL as the loss; the mean, quantiles and samples decoded with scipy.

    Attributes:
        parameters: the parameters' names, in the head's order.
        parameter_roles: per parameter, ``lstmkit.nn.norm.ROLES``: ``value`` (a location),
            ``spread`` (a scale), ``rate`` (a count's mean), ``free`` (a shape).
        counts: its targets are non-negative integers, scaled without centring.
    """

    losses = ("nll",)
    parameters: tuple[str, ...] = ()
    parameter_roles: tuple[str, ...] = ()
    counts = False
    graph_band = False     # scipy's quantiles: OnnxModel computes the intervals (Normal: True)

    @property
    def series_scaled(self) -> bool:  # counts keep their one scaler: the likelihood reads it
        return not self.counts

    def width(self, labels: int, target: Target | None = None) -> int:
        return len(self.parameters)

    def roles(self, width: int) -> tuple[str, ...]:
        return self.parameter_roles

    def spread_levels(self, target: Target) -> tuple[float, ...] | None:
        return tuple(sorted({*SPREAD_GRID, *self.metric_levels(target)}))

    def levels(self, target: Target) -> tuple[float, ...]:
        return target.quantiles or DEFAULT_LEVELS

    def metric_levels(self, target: Target) -> tuple[float, ...]:
        """The reported levels and the ends of the 80 % and 95 % intervals, sorted."""
        return tuple(sorted({*self.levels(target), *INTERVAL_LEVELS}))

    # -- torch ------------------------------------------------------------------------
    def constrain(self, outputs: Tensor) -> Tensor:
        import torch
        from torch.nn import functional as F

        parts = [outputs[..., k : k + 1] if role == "value" else _positive(
            outputs[..., k : k + 1], F) for k, role in enumerate(self.parameter_roles)]
        return torch.cat(parts, dim=-1)

    def activate(self, logits: Tensor) -> Tensor:
        """Every column as the mean (the first parameter): what an autoregressive decoder
        feeds back, in the form of ``teacher``'s truth."""
        return logits[..., :1].expand(logits.shape)

    def target_loss(self, target: Target, scaler: AffineScaler | None = None
                    ) -> Callable[..., Tensor]:
        unit = scaler.scale if self.counts and scaler is not None else 1.0
        return functools.partial(_nll, distribution=self.name, unit=unit)

    def log_prob(self, params: Tensor, y: Tensor) -> Tensor:
        """Log-density (or mass) of ``y`` (B, S) under ``params`` (B, S, P), in torch."""
        raise NotImplementedError

    def graph_output(self, outputs: Tensor, scaler: AffineScaler | None) -> Tensor:
        import torch

        scale, shift = self._units(scaler)
        return outputs * torch.tensor(scale, dtype=outputs.dtype) + torch.tensor(
            shift, dtype=outputs.dtype)                                  # (B, S, P)

    def _units(self, scaler: AffineScaler) -> tuple[list[float], list[float]]:
        """Per parameter, the (scale, shift) taking it from scaled to original units."""
        scale = [1.0 if role == "free" else scaler.scale for role in self.parameter_roles]
        shift = [scaler.center if role in ("value", "rate") else 0.0
                 for role in self.parameter_roles]
        return scale, shift

    # -- numpy --------------------------------------------------------------------------
    def check_values(self, target: Target, values: np.ndarray, rows: np.ndarray) -> None:
        if not self.counts:
            return
        known = np.isfinite(values)
        bad = known & ((values < 0) | (values != np.round(values)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"target {target.name!r} is a {self.name} count and needs "
                            f"non-negative integers, but holds {values[i]:g} at row {rows[i]}; "
                            "round or drop the value, or choose distribution 'normal' or "
                            "'student_t' for a continuous target")

    def original(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> np.ndarray:
        """Network outputs (N, S, P) as parameters in original units, float64."""
        scale, shift = self._units(encoding.target_scalers[target.name])
        return outputs.astype(np.float64) * scale + shift

    def decode(self, target: Target, encoding: Encoding, outputs: np.ndarray) -> Decoded:
        return self.decode_graph(target, encoding, self.original(target, encoding, outputs))

    def decode_values(self, target: Target, encoding: Encoding, outputs: np.ndarray
                      ) -> Decoded:
        return Decoded(self.original(target, encoding, outputs)[..., 0])

    def decode_graph(self, target: Target, encoding: Encoding, values: np.ndarray) -> Decoded:
        params = values.astype(np.float64)
        levels = self.levels(target)
        return Decoded(params[..., 0], quantiles=self.quantiles(params, levels),
                       levels=levels, params=params)

    def onnx_output(self, target: Target, encoding: Encoding, steps: int | str
                    ) -> dict[str, Any]:
        return {"name": f"{target.name}_params", "target": target.name, "kind": target.kind,
                "dtype": "float32", "shape": ["batch", steps, len(self.parameters)],
                "distribution": self.name, "parameters": list(self.parameters),
                "quantiles": list(self.levels(target))}

    def scipy(self, params: np.ndarray) -> Any:
        """The scipy distribution of parameters (..., P) in original units, broadcast."""
        raise NotImplementedError

    def band(self, target: Target, values: Any, coverage: float) -> tuple[Any, Any]:
        """The fitted distribution's own quantiles at (1 - coverage) / 2 and
        (1 + coverage) / 2 of parameters ``values`` (..., P), which a conformal calibration
        widens or narrows by one margin (CQR, as for quantile targets); in torch (the ONNX
        graph) as ``torch_band`` gives them."""
        ends = ((1 - coverage) / 2, (1 + coverage) / 2)
        if isinstance(values, np.ndarray):
            bounds = self.quantiles(values, ends)                             # (..., 2)
            return bounds[..., 0], bounds[..., 1]
        return self.torch_band(params=values, ends=ends)

    def torch_band(self, params: Tensor, ends: tuple[float, float]) -> tuple[Tensor, Tensor]:
        """The quantiles at ``ends`` of parameters (B, S, P) in torch ops, for the ONNX
        graph's conformal intervals (kinds with ``graph_band`` only)."""
        raise NotImplementedError(f"{self.name} has no quantiles in torch ops")

    def spread(self, values: Any) -> Any:
        """Each prediction's spread (..., ), the unit its conformal margins are in: the
        scale of a location-scale distribution, a count's standard deviation."""
        return values[..., 1]

    def quantiles(self, params: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
        """Quantiles (..., Q) at ``levels`` of parameters (..., P)."""
        return self.scipy(params[..., None, :]).ppf(np.asarray(levels))

    def sample(self, params: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws (..., n) of each distribution of parameters (..., P)."""
        frozen = self.scipy(params[..., None, :])
        return frozen.rvs(size=(*params.shape[:-1], n), random_state=rng).astype(np.float64)

    def nll(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        """The negative log-likelihood (...) of ``y`` (...) under parameters (..., P)."""
        frozen = self.scipy(params)
        return -(frozen.logpmf(y) if self.counts else frozen.logpdf(y))

    def crps(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        """The exact CRPS (...) of ``y`` (...) under parameters (..., P)."""
        raise NotImplementedError

    def scored(self, target: Target, encoding: Encoding, truth: np.ndarray,
               outputs: np.ndarray, baselines: list[np.ndarray | None]) -> Scored:
        levels, spread = self.metric_levels(target), self.spread_levels(target)
        reported = set(self.levels(target))
        names = tuple(n for n in quantile_metric_names(levels) if not n.startswith(
            "pinball_q") or any(n == f"pinball_q{format(round(q * 100, 10), 'g')}"
                                for q in reported))
        names = (*REGRESSION_METRICS, "NLL", *names)
        picks = [spread.index(q) for q in levels]       # the metric levels among the naive's
        decoded, true, scale = self.in_units(target, encoding, truth, baselines, spread)
        width = len(self.parameters)

        def score(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
            out = dict.fromkeys(names, np.nan)
            if predicted.ndim == true.ndim:                  # a point forecast (a baseline)
                return {**out, **regression_metrics(true, predicted)}
            if predicted.shape[-1] != width:                 # the naive baseline's quantiles
                return {**out, **regression_metrics(true, median(predicted, spread)),
                        **_only(quantile_metrics(true, predicted[..., picks], levels, scale),
                                names),
                        "CRPS": quantile_metrics(true, predicted, spread, scale)["CRPS"]}
            y, params = true.reshape(-1), predicted.reshape(-1, width)
            known = np.isfinite(y) & np.isfinite(params).all(-1)
            y, params = y[known], params[known]
            if y.size == 0:
                return out
            return {**out, **regression_metrics(y, params[:, 0]),
                    **_only(quantile_metrics(y, self.quantiles(params, levels), levels, scale),
                            names),
                    "NLL": float(self.nll(y, params).mean()),
                    "CRPS": float(self.crps(y, params).mean())}
        return Scored(true, [self.original(target, encoding, outputs),
                             *map(decoded, baselines)], names, score)


def _only(metrics: dict[str, float], names: tuple[str, ...]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k in names and k != "CRPS"}


def _positive(raw: Tensor, F: Any) -> Tensor:
    return F.softplus(raw) + FLOOR


def _nll(outputs: Tensor, truth: Tensor, reduction: str = "mean", distribution: str = "",
         unit: float = 1.0) -> Tensor:
    """The negative log-likelihood of truth (B, S) under parameters (B, S, P) of
    ``distribution``, counts' means and truth times ``unit`` (their scaler's scale): the
    mean, or (B, S). At module level, so that it pickles."""
    from .kinds import KINDS

    kind = KINDS[distribution]
    params, y = outputs, truth.to(outputs.dtype)
    if unit != 1.0:
        params = params.clone()
        params[..., 0] = params[..., 0] * unit
        y = y * unit
    value = -kind.log_prob(params, y)
    return value.mean() if reduction == "mean" else value


class Normal(Distribution):
    """Normal(loc, scale)."""

    name = "normal"
    parameters = ("loc", "scale")
    parameter_roles = ("value", "spread")

    def log_prob(self, params: Tensor, y: Tensor) -> Tensor:
        loc, scale = params[..., 0], params[..., 1]
        return -0.5 * ((y - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)

    def scipy(self, params: np.ndarray) -> Any:
        from scipy import stats

        return stats.norm(params[..., 0], params[..., 1])

    graph_band = True

    def torch_band(self, params: Tensor, ends: tuple[float, float]) -> tuple[Tensor, Tensor]:
        from scipy import stats

        low, high = stats.norm.ppf(ends)                   # loc + z * scale, z constants
        return (params[..., 0] + float(low) * params[..., 1],
                params[..., 0] + float(high) * params[..., 1])

    def crps(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        from scipy import stats

        loc, scale = params[..., 0], params[..., 1]
        z = (y - loc) / scale
        return scale * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z)
                        - 1 / math.sqrt(math.pi))


class StudentT(Distribution):
    """Student's t(df, loc, scale), df = 2 + softplus > 2 (heavy tails, finite variance)."""

    name = "student_t"
    parameters = ("loc", "scale", "df")
    parameter_roles = ("value", "spread", "free")

    def constrain(self, outputs: Tensor) -> Tensor:
        import torch

        out = super().constrain(outputs)
        return torch.cat([out[..., :2], out[..., 2:] + 2], dim=-1)

    def log_prob(self, params: Tensor, y: Tensor) -> Tensor:
        import torch

        loc, scale, df = params[..., 0], params[..., 1], params[..., 2]
        z = (y - loc) / scale
        return (torch.lgamma((df + 1) / 2) - torch.lgamma(df / 2)
                - 0.5 * (df * math.pi).log() - scale.log()
                - (df + 1) / 2 * torch.log1p(z**2 / df))

    def scipy(self, params: np.ndarray) -> Any:
        from scipy import stats

        return stats.t(params[..., 2], params[..., 0], params[..., 1])

    def crps(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        from scipy import special, stats

        loc, scale, df = params[..., 0], params[..., 1], params[..., 2]
        z = (y - loc) / scale
        beta = special.beta(0.5, df - 0.5) / special.beta(0.5, df / 2) ** 2
        return scale * (z * (2 * stats.t.cdf(z, df) - 1)
                        + 2 * stats.t.pdf(z, df) * (df + z**2) / (df - 1)
                        - 2 * np.sqrt(df) * beta / (df - 1))


class Count(Distribution):
    """What the count distributions share: non-negative integer targets, a positive mean
    mapped by the window's level, the CRPS summed over the support."""

    counts = True

    def spread(self, values: Any) -> Any:
        return np.sqrt(self.scipy(values).var())

    def nll(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        return super().nll(np.round(y), params)    # counts back from scaled units: rounded

    def cdf_grid(self, params: np.ndarray, support: np.ndarray) -> np.ndarray:
        """P(Y <= k) (N, K) for parameters (N, P) at ``support`` (K,)."""
        return self.scipy(params[:, None, :]).cdf(support[None, :])

    def crps(self, y: np.ndarray, params: np.ndarray) -> np.ndarray:
        """sum over k >= 0 of (P(Y <= k) - 1{y <= k})^2, up to the larger of the truth and
        the ``COUNT_TAIL`` quantile (each term left out is below (1 - COUNT_TAIL)^2), at most
        ``COUNT_MAX``."""
        shape, width = np.shape(y), params.shape[-1]
        y, params = np.round(np.ravel(y).astype(np.float64)), params.reshape(-1, width)
        top = np.minimum(np.maximum(self.scipy(params).ppf(COUNT_TAIL), y), COUNT_MAX)
        order = np.argsort(top, kind="stable")             # similar supports per block
        top = top[order].astype(np.int64)
        out, start = np.empty(len(y)), 0
        while start < len(y):
            block = max(1, COUNT_CELLS // (top[start] + 1))
            while block > 1 and (top[min(len(y), start + block) - 1] + 1) * block > COUNT_CELLS:
                block //= 2
            rows = order[start : start + block]
            support = np.arange(top[min(len(y), start + block) - 1] + 1, dtype=np.float64)
            cdf = self.cdf_grid(params[rows], support)                         # (n, K)
            step = (y[rows, None] <= support[None, :]).astype(np.float64)
            out[rows] = ((cdf - step) ** 2).sum(-1)
            start += block
        return out.reshape(shape)


class Poisson(Count):
    """Poisson(mean)."""

    name = "poisson"
    parameters = ("mean",)
    parameter_roles = ("rate",)

    def log_prob(self, params: Tensor, y: Tensor) -> Tensor:
        import torch

        rate = params[..., 0]
        return y * rate.log() - rate - torch.lgamma(y + 1)

    def scipy(self, params: np.ndarray) -> Any:
        from scipy import stats

        return stats.poisson(params[..., 0])


class NegativeBinomial(Count):
    """Negative binomial(mean, dispersion): variance = mean + dispersion * mean^2
    (dispersion -> 0: Poisson)."""

    name = "negative_binomial"
    parameters = ("mean", "dispersion")
    parameter_roles = ("rate", "free")

    def log_prob(self, params: Tensor, y: Tensor) -> Tensor:
        import torch

        mean, dispersion = params[..., 0], params[..., 1]
        r = 1 / dispersion
        return (torch.lgamma(y + r) - torch.lgamma(r) - torch.lgamma(y + 1)
                + r * torch.log(r / (r + mean)) + y * torch.log(mean / (r + mean)))

    def scipy(self, params: np.ndarray) -> Any:
        from scipy import stats

        r = 1 / params[..., 1]
        return stats.nbinom(r, r / (r + params[..., 0]))


DISTRIBUTIONS: dict[str, Distribution] = {
    kind.name: kind for kind in (Normal(), StudentT(), Poisson(), NegativeBinomial())}
for _kind in DISTRIBUTIONS.values():
    register_kind(_kind)
