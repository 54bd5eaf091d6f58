"""Regression, classification and binary targets in one model (Seattle weather)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lstmkit import Feature, LSTMModel, Spec, Target
from lstmkit.training.losses import MultiTargetLoss

INPUTS = ["precipitation", "temp_max", "temp_min", "wind", Feature("weather", kind="categorical")]


@pytest.fixture(scope="module")
def weather(seattle):
    return seattle.assign(wet=np.where(seattle.precipitation > 0, "wet", "dry"))


@pytest.fixture(scope="module")
def mixed_model(weather):
    spec = Spec(time="date", inputs=INPUTS, lookback=28, horizon=2,
                targets=[Target("temp_max"), Target("precipitation", scaler="robust", loss="huber"),
                         Target("weather", kind="classification", weight=0.5),
                         Target("wet", kind="binary")])
    return LSTMModel(spec, hidden=32, lr=3e-3, batch_size=32, max_epochs=25,
                     progress=False).fit(weather)


def test_every_kind_of_target_is_learned_and_scored_in_its_own_terms(weather, mixed_model):
    evaluation = mixed_model.evaluate(weather, part="test")
    assert set(evaluation.table.metric[evaluation.table.target == "temp_max"]) == {
        "MAE", "RMSE", "sMAPE", "R2", "MASE", "RMSSE"}    # scale-free: a numeric forecast
    assert set(evaluation.table.metric[evaluation.table.target == "wet"]) == {
        "accuracy", "macro_F1", "ECE", "Brier"}
    assert evaluation.metric("temp_max", "RMSE") < evaluation.metric("temp_max", "RMSE", of="naive")
    assert evaluation.metric("wet", "accuracy") > evaluation.metric("wet", "accuracy", of="naive")
    assert evaluation.metric("weather", "accuracy") > 0.5
    assert list(evaluation.confusion["wet"].columns) == ["dry", "wet"]


def test_predictions_carry_labels_and_probabilities(weather, mixed_model):
    predicted = mixed_model.predict(weather)
    assert len(predicted) == 2
    assert set(predicted.weather) <= set(weather.weather)
    assert set(predicted.wet) <= {"dry", "wet"}
    weather_probs = predicted.filter(like="weather_proba_")
    assert sorted(c.removeprefix("weather_proba_") for c in weather_probs) == sorted(
        weather.weather.unique())
    assert np.allclose(weather_probs.sum(axis=1), 1)
    assert "wet_proba_wet" in predicted and "wet_proba_dry" not in predicted
    assert ((predicted.wet_proba_wet > 0.5) == (predicted.wet == "wet")).all()


def test_the_loss_is_the_weighted_sum_of_per_target_losses_over_known_values():
    targets = [Target("a"), Target("k", kind="classification", weight=0.5),
               Target("b", kind="binary", weight=2.0)]
    loss = MultiTargetLoss(targets, [slice(0, 1), slice(1, 4), slice(4, 5)])
    outputs = torch.randn(6, 3, 5)
    y = torch.stack([torch.randn(6, 3), torch.randint(0, 3, (6, 3)).float(),
                     torch.randint(0, 2, (6, 3)).float()], dim=-1)
    y[0, 0, 0] = float("nan")                                   # a gap in target a
    total, per_target = loss(outputs, y), loss.per_target(outputs, y)
    known = ~torch.isnan(y[..., 0])
    mse = ((outputs[..., 0] - y[..., 0])[known] ** 2).mean()
    ce = torch.nn.functional.cross_entropy(outputs[..., 1:4].reshape(-1, 3),
                                           y[..., 1].reshape(-1).long())
    bce = torch.nn.functional.binary_cross_entropy_with_logits(outputs[..., 4], y[..., 2])
    assert torch.allclose(per_target, torch.stack([mse, ce, bce]))
    assert torch.allclose(total, mse + 0.5 * ce + 2.0 * bce)


def test_grouped_targets_keep_their_own_losses_and_order():
    targets = [Target("a"), Target("k", kind="classification"), Target("c", loss="mae"),
               Target("d", weight=3.0), Target("e", loss="huber")]
    slices = [slice(0, 1), slice(1, 4), slice(4, 5), slice(5, 6), slice(6, 7)]
    outputs, y = torch.randn(4, 2, 7), torch.randn(4, 2, 5)
    y[..., 1] = torch.randint(0, 3, (4, 2)).float()
    y[1, 1, 3] = float("nan")
    loss = MultiTargetLoss(targets, slices)
    total, per_target = loss(outputs, y), loss.per_target(outputs, y)
    d_known = ~torch.isnan(y[..., 3])
    expected = torch.stack([
        ((outputs[..., 0] - y[..., 0]) ** 2).mean(),
        torch.nn.functional.cross_entropy(outputs[..., 1:4].reshape(-1, 3),
                                          y[..., 1].reshape(-1).long()),
        (outputs[..., 4] - y[..., 2]).abs().mean(),
        ((outputs[..., 5] - y[..., 3])[d_known] ** 2).mean(),
        torch.nn.functional.huber_loss(outputs[..., 6], y[..., 4])])
    assert torch.allclose(per_target, expected)
    assert torch.allclose(total, expected.sum() + 2.0 * expected[3])


@pytest.mark.parametrize("case", ["mixed", "one class target", "two regression targets",
                                  "two unequal regression targets", "unequal weights"])
def test_without_gaps_the_unmasked_loss_equals_the_masked_one_in_value_and_gradient(case):
    targets = {
        "mixed": [Target("a"), Target("k", kind="classification"), Target("c", loss="mae"),
                  Target("d", weight=3.0), Target("b", kind="binary"), Target("e", weight=3.0),
                  Target("h", loss="huber", weight=0.5)],
        "one class target": [Target("k", kind="classification", weight=2.0)],
        "two regression targets": [Target("a"), Target("b")],
        "two unequal regression targets": [Target("a"), Target("b", weight=2.0)],
        "unequal weights": [Target("a"), Target("b", weight=2.0), Target("c", loss="mae")],
    }[case]
    widths = [3 if t.kind == "classification" else 1 for t in targets]
    edges = np.cumsum([0, *widths])
    slices = [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]
    y = torch.randn(4, 2, len(targets))
    for j, t in enumerate(targets):
        if t.kind != "regression":
            y[..., j] = torch.randint(0, widths[j] if widths[j] > 1 else 2, (4, 2)).float()
    values = torch.randn(4, 2, int(edges[-1]))
    results = []
    for masked in (True, False):
        outputs = values.clone().requires_grad_()
        total = MultiTargetLoss(targets, slices, masked=masked)(outputs, y)
        total.backward()
        results.append((total, outputs.grad))
    (total, grad), (fast_total, fast_grad) = results
    assert torch.allclose(fast_total, total) and torch.allclose(fast_grad, grad)
    per_target = MultiTargetLoss(targets, slices).per_target(values, y)
    weights = torch.tensor([t.weight for t in targets])
    assert torch.isclose(fast_total, (weights * per_target).sum())
