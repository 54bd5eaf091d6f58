"""Per-series scaling (``Spec(scale_by="series")``, a panel's default): each series scaled by
its own statistics.

With one scaler per column fitted over all series, a panel whose series differ 100x in
level reaches the network with its small series squashed to near-constant values, and the
loss is the large series'. Scaled per series, every series has spread ~1 in the network's
units and weighs alike in the loss. The rules:

* Each series' numeric inputs and targets are scaled by its own training rows, with the
  column's scaler kind (``Feature.scaler``, ``Target.scaler``).
* A series whose training rows hold fewer than two distinct known values of a column
  takes the column's global scaler (fitted on all series, as ``scale_by="global"`` does):
  an empty or constant part has no spread to scale by.
* Targets whose kind keeps one scaler (``TargetKind.series_scaled`` False: counts, whose
  likelihood reads it) are scaled globally.
* A column that is both an input and a target is scaled as an input by the target's
  statistics, through the global scalers' map from input to target units: the instance
  norm and channel independence map outputs back with one map for every series.
* A series the model was not fitted on (a cold start: a new store, a new sensor) gets its
  own statistics where the model meets it. A prediction or evaluation fits them by these
  rules on all of that series' rows in the data it is given (``covering``, with one
  ``LSTMKitWarning`` naming the series), so the network sees it in its own units, as it
  saw every series in training, and its forecasts are mapped back by them; they are used
  for that call only. A warm start (``fit(warm_start=True)``) fits them on that data's
  training part and keeps them (``extended``); the statistics the model has and the global
  scalers stay as they are. An exported ONNX graph holds the statistics of the series it
  was exported with only: ``codes`` raises a ``DataError`` naming any other.

The network works in each series' units. Everything downstream (decoding, metrics,
baselines, intervals) reads the encoding's global units, the *reference*: ``output_maps``
and ``target_maps`` give, per series, the affine map ``z * factor + shift`` from a series'
units to the reference, column by column as each kind's ``roles`` say (a value affinely,
a distribution's scale by the factor only, a shape parameter not at all).

Example:
    >>> scalers = SeriesScalers.fit(spec, encoding, groups, parts.bounds[:, 1])
    >>> scalers.to_dict()["keys"]
    ['0', '1', '2']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import quote
from ..errors import ConfigError, DataError, warn
from ..storage.saved_files import check_fields, is_finite_number
from .scaling import AffineScaler
from .series_ids import id_text, positions

if TYPE_CHECKING:
    from ..spec import Spec
    from .encoding import Encoding
    from .groups import Groups

Stats = tuple[np.ndarray, np.ndarray]        # (center (G,), scale (G,)), one per series


@dataclass(frozen=True)
class SeriesScalers:
    """Per series, the center and scale of every numeric input and scaled target.

    Attributes:
        keys: the series ids as text (JSON keeps no other type faithfully), in the fit's
            order; a series' code is its position here.
        inputs: numeric input column -> (center, scale), one value per series each.
        targets: scaled (numeric) target -> (center, scale), one value per series each.
    """

    keys: tuple[str, ...]
    inputs: dict[str, Stats]
    targets: dict[str, Stats]

    @classmethod
    def fit(cls, spec: Spec, encoding: Encoding, groups: Groups, ends: np.ndarray,
            chosen: np.ndarray | None = None) -> SeriesScalers:
        """The statistics of ``groups``' series (only those at positions ``chosen``, in that
        order, where given) from their first ``ends[g]`` rows (the training part), by the
        module's rules; ``encoding``: the global one, fitted on the same rows."""
        chosen = np.arange(len(groups)) if chosen is None else np.asarray(chosen)
        starts, ends = groups.offsets[:-1][chosen], np.asarray(ends)[chosen]

        def per_series(frame: Any, name: str, kind: str, fallback: AffineScaler) -> Stats:
            values = (frame[name].to_numpy(dtype=np.float64) if name in frame.columns
                      else np.full(len(frame), np.nan))     # a target a prediction lacks
            fitted = [_fit(kind, values[lo : lo + end], name, fallback)
                      for lo, end in zip(starts, ends, strict=True)]
            return (np.array([s.center for s in fitted], dtype=np.float64),
                    np.array([s.scale for s in fitted], dtype=np.float64))

        targets = {}
        for t in spec.targets:
            if t.name not in encoding.target_scalers:
                continue
            own = encoding.target_scalers[t.name]
            targets[t.name] = (per_series(groups.target_frame, t.name, t.scaler, own)
                               if t.target_kind.series_scaled else _repeat(own, len(chosen)))
        inputs = {}
        for f in spec.inputs:
            if f.name not in encoding.input_scalers:
                continue
            own = encoding.input_scalers[f.name]
            if f.name in targets:          # one statistic per column and series: the target's
                scale, shift = own.map_to(encoding.target_scalers[f.name])
                center, spread = targets[f.name]
                inputs[f.name] = (center + shift * spread, scale * spread)
            else:
                inputs[f.name] = per_series(groups.frame, f.name, f.scaler, own)
        return cls(tuple(id_text(groups.keys[g]) for g in chosen), inputs, targets)

    def extended(self, spec: Spec, encoding: Encoding, groups: Groups, ends: np.ndarray
                 ) -> SeriesScalers:
        """These statistics, and after them those of ``groups``' series that have none,
        fitted as ``fit`` fits them (on their first ``ends[g]`` rows, ``encoding``'s global
        scalers the fallback): what a warm start on new series scales them by, and
        (``covering``) what a prediction scales an unseen series by. The series these
        statistics hold keep theirs, and their codes, whatever ``groups`` holds of them."""
        new = self.unseen(groups.keys)
        if not new.size:
            return self
        fitted = SeriesScalers.fit(spec, encoding, groups, ends, new)

        def joined(own: dict[str, Stats], more: dict[str, Stats]) -> dict[str, Stats]:
            return {name: (np.concatenate([center, more[name][0]]),
                           np.concatenate([scale, more[name][1]]))
                    for name, (center, scale) in own.items()}
        return SeriesScalers(self.keys + fitted.keys, joined(self.inputs, fitted.inputs),
                             joined(self.targets, fitted.targets))

    def covering(self, spec: Spec, encoding: Encoding, groups: Groups) -> SeriesScalers:
        """What a prediction (or evaluation) on ``groups`` scales by: these statistics, and
        for each series the model was not fitted on its own, fitted by ``fit``'s rules on
        all its rows in ``groups`` (the data given; a column constant or empty there takes
        the global scaler), with one ``LSTMKitWarning`` naming those series. An id that is
        a known one without its leading zeros is a ``DataError`` (``_check_leading_zeros``).
        """
        _check_leading_zeros(self.keys, groups.keys, spec.series)
        covered = self.extended(spec, encoding, groups, groups.lengths)
        if covered is not self:
            new = list(covered.keys[len(self.keys):])
            shown = new[:10] + (["..."] if len(new) > 10 else [])
            warn(f"series {quote(shown)} {'was' if len(new) == 1 else 'were'} not among the "
                 f"{len(self.keys)} series the model was fitted on; scaled per series (spec "
                 "scale_by 'series', a panel's default), each is scaled by statistics fitted "
                 "on its own rows in the data given (with the training's scaler kinds; a "
                 "column constant there takes the global scaler), and its forecasts are "
                 "mapped back to its units by them. To fit them on a training part instead, "
                 "continue the model on data that holds them (fit(data, warm_start=True))"
                 + _lacking(self, groups))
        return covered

    def unseen(self, keys: list[Any]) -> np.ndarray:
        """The positions (int64) in ``keys`` of the series these statistics do not hold."""
        return np.flatnonzero(positions(self.keys, keys) < 0)

    def codes(self, keys: list[Any]) -> np.ndarray:
        """Each of ``keys``' position in ``self.keys`` (int64).

        Raises:
            DataError: naming the first series without statistics here (only an exported
                graph's keys meet one: ``encode`` covers unseen series first, ``covering``).
        """
        unseen = self.unseen(keys)
        if unseen.size:
            shown = list(self.keys[:10]) + (["..."] if len(self.keys) > 10 else [])
            raise DataError(f"series {quote(keys[unseen[0]])} was not among the {len(self.keys)} "
                            f"series the model was exported with ({quote(shown)}); scaled per "
                            "series (spec scale_by 'series', a panel's default), the ONNX graph "
                            "holds the statistics of those series only: predict it with the "
                            "lstmkit model (LSTMModel.predict scales a series it has not seen "
                            "by that series' own rows, with a warning), or continue the model "
                            "on data that holds it (fit(data, warm_start=True)) and export it "
                            "again")
        return positions(self.keys, keys)

    def row_codes(self, groups: Groups) -> np.ndarray:
        """The code (int64) of each arranged row's series; unseen series raise (``codes``)."""
        return np.repeat(self.codes(groups.keys), groups.lengths)

    def at_rows(self, encoding: Encoding, codes: np.ndarray) -> Encoding:
        """``encoding`` with each scaler giving one center and scale per row (rows of series
        ``codes``), so that ``encode_inputs`` and ``encode_targets`` scale every row by
        its series' statistics."""
        def rows(stats: dict[str, Stats]) -> dict[str, AffineScaler]:
            return {name: AffineScaler(center[codes], scale[codes])
                    for name, (center, scale) in stats.items()}
        return dataclasses.replace(encoding, input_scalers=rows(self.inputs),
                                   target_scalers=rows(self.targets))

    def target_maps(self, spec: Spec, encoding: Encoding) -> tuple[np.ndarray, np.ndarray]:
        """Per series and target, ``(factor, shift)`` (G, T) each: encoded targets in a
        series' units times ``factor`` plus ``shift`` are in the reference units
        (``encoding``'s global scalers); 1 and 0 for targets not scaled per series."""
        factor, shift = np.ones((len(self.keys), len(spec.targets))), np.zeros(
            (len(self.keys), len(spec.targets)))
        for j, t in enumerate(spec.targets):
            if t.name in self.targets:
                factor[:, j], shift[:, j] = self._map(t.name, encoding)
        return factor, shift

    def output_maps(self, spec: Spec, encoding: Encoding, original: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Per series and network output column, ``(factor, shift)`` (G, C) each, as
        ``target_maps`` gives them for targets: each column mapped as its kind's ``roles``
        say (``value``: both, ``spread``: the factor only, others not at all). ``original``:
        straight to original units instead (the exported graph's float32 keeps more digits
        of series far below the global level so)."""
        columns = [(t, role) for t in spec.targets
                   for role in t.target_kind.roles(encoding.n_classes(t))]
        factor, shift = np.ones((len(self.keys), len(columns))), np.zeros(
            (len(self.keys), len(columns)))
        for c, (t, role) in enumerate(columns):
            if t.name in self.targets and t.target_kind.series_scaled and role in (
                    "value", "spread"):
                if original:
                    move, scale = self.targets[t.name]          # center, scale
                else:
                    scale, move = self._map(t.name, encoding)
                factor[:, c] = scale
                shift[:, c] = move if role == "value" else 0.0
        return factor, shift

    def _map(self, name: str, encoding: Encoding) -> Stats:
        """(factor, shift) (G,) each from target ``name``'s series units to the reference."""
        center, scale = self.targets[name]
        reference = encoding.target_scalers[name]
        return scale / reference.scale, (center - reference.center) / reference.scale

    # -- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``{"keys": [...], "inputs": {column: {"center": [...], "scale":
        [...]}}, "targets": {...}}``, one value per series in the keys' order."""
        def plain(stats: dict[str, Stats]) -> dict[str, dict[str, list[float]]]:
            return {name: {"center": center.tolist(), "scale": scale.tolist()}
                    for name, (center, scale) in stats.items()}
        return {"keys": list(self.keys), "inputs": plain(self.inputs),
                "targets": plain(self.targets)}

    @classmethod
    def from_dict(cls, data: Any, encoding: Encoding, where: str = "encoding.series_scalers"
                  ) -> SeriesScalers:
        """Saved statistics, checked: distinct text keys, and for each of ``encoding``'s
        numeric inputs and scaled targets one finite center and one scale above 0 per key.

        Raises:
            ConfigError: naming the entry and its value.
        """
        check_fields(data, {"keys": list, "inputs": dict, "targets": dict}, where=f"{where}.")
        keys = data["keys"]
        if not keys or not all(isinstance(k, str) for k in keys) or len(set(keys)) < len(keys):
            raise ConfigError(f"{where}.keys is {quote(keys)}; it must list distinct series "
                              "ids as text, at least one")

        def read(role: str, names: list[str]) -> dict[str, Stats]:
            if sorted(data[role]) != sorted(names):
                raise ConfigError(f"{where}.{role} has {quote(sorted(data[role]))}, but the "
                                  f"encoding's are {quote(sorted(names))}")
            stats = {}
            for name, entry in data[role].items():
                at = f"{where}.{role}[{quote(name)}]"
                check_fields(entry, {"center": list, "scale": list}, where=f"{at}.")
                for key in ("center", "scale"):
                    values = entry[key]
                    bad = [v for v in values if not is_finite_number(v)
                           or (key == "scale" and not v > 0)]
                    if len(values) != len(keys) or bad:
                        rule = "finite numbers" + (" above 0" if key == "scale" else "")
                        raise ConfigError(f"{at}.{key} must hold {len(keys)} {rule}, one per "
                                          f"series; it holds {quote(bad[0] if bad else values)}")
                stats[name] = (np.array(entry["center"], dtype=np.float64),
                               np.array(entry["scale"], dtype=np.float64))
            return stats
        return cls(tuple(keys), read("inputs", list(encoding.input_scalers)),
                   read("targets", list(encoding.target_scalers)))


def to_reference(values: np.ndarray, codes: np.ndarray,
                 maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``values`` (N, S, C) of windows of series ``codes`` (N,) in the reference units:
    times ``factor`` plus ``shift`` of ``maps`` (G, C) each, in float64."""
    factor, shift = maps
    return values * factor[codes][:, None, :] + shift[codes][:, None, :]


def _fit(kind: str, values: np.ndarray, column: str, fallback: AffineScaler) -> AffineScaler:
    """A ``kind`` scaler of one series' training ``values``; ``fallback`` (the global one)
    where they hold fewer than two distinct known values."""
    known = values[np.isfinite(values)]
    if known.size < 2 or (known == known[0]).all():
        return fallback
    return AffineScaler.fit(kind, known, column)


def _check_leading_zeros(known: tuple[str, ...], keys: list[Any], column: str | None) -> None:
    """Raise ``DataError`` where a series id in ``keys`` is a ``known`` one with its leading
    zeros lost ('001' read as the number 1) or the reverse (a model fitted on the numbers)."""
    def padded(key: str) -> bool:
        return key.isdigit() and key[0] == "0" and len(key) > 1
    for key in map(id_text, keys):
        if key in known:
            continue
        meant = next((k for k in known if padded(k) and str(int(k)) == key), None)
        if meant is not None:
            raise DataError(
                f"series {quote(key)} is not among the series the model was fitted on, but "
                f"{quote(meant)} is: ids with leading zeros lose them when a table is read as "
                "numbers (pandas.read_csv; lstmkit reads a CSV file's series column as text "
                f"itself). Read the column as text, pandas.read_csv(path, dtype={{{column!r}: "
                "str}), pass the file's path instead of the DataFrame, or store the table as "
                "Parquet, which keeps text as text")
        if padded(key) and str(int(key)) in known:
            raise DataError(
                f"series {quote(key)} is not among the series the model was fitted on, but "
                f"{quote(str(int(key)))} is: the model was fitted on these ids read as numbers "
                f"(leading zeros lost, as lstmkit's CSV reader did before it read series ids "
                f"as text); fit the model again on the ids as text (a CSV file's path, or a "
                f"table with column {column!r} as text), or read the column as numbers too "
                "(pandas.read_csv without dtype=str)")


def _lacking(scalers: SeriesScalers, groups: Groups) -> str:
    """The warning's note on targets scaled per series that the data lack: their unseen
    series' forecasts are mapped back by the global scalers."""
    names = [name for name in scalers.targets if name not in groups.target_frame.columns]
    if not names:
        return ""
    return (f". The data lack target {quote(names)}, so those series' forecasts of it are "
            "mapped back by the global scaler (not in their own units): pass its history "
            "for them to scale them by their own")


def _repeat(scaler: AffineScaler, n: int) -> Stats:
    return np.full(n, scaler.center), np.full(n, scaler.scale)
