"""How the network is trained: the seed, the learning-rate schedule, gradient clipping."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from lstmkit import LSTMModel, Spec, Split
from lstmkit.training.loop import clip_gradients, plain_backward


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 12, 3)).astype(np.float32)
    return X, X[:, -1, :2] @ np.array([[1.0], [-2.0]], np.float32)[:, 0] + 0.1


def fit(arrays, callbacks=(), **params) -> LSTMModel:
    options = {"hidden": 8, "batch_size": 32, "max_epochs": 3, "progress": False,
               "split": Split(val_start=0.8, test_start=None), **params}
    return LSTMModel(**options).fit(*arrays, callbacks=callbacks)


def weights(model: LSTMModel) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.network_.parameters()])


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not(arrays):
    assert torch.equal(weights(fit(arrays, seed=3)), weights(fit(arrays, seed=3)))
    assert not torch.equal(weights(fit(arrays, seed=3)), weights(fit(arrays, seed=4)))


def test_lr_decay_multiplies_the_learning_rate_after_every_epoch(arrays):
    history = fit(arrays, lr=1e-2, lr_decay=0.5).history_
    assert [e["lr"] for e in history["epochs"]] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert [e["lr"] for e in fit(arrays, lr=1e-2).history_["epochs"]] == [1e-2] * 3


def test_gradient_clipping_bounds_every_step(arrays):
    torch.manual_seed(0)
    start = weights(fit(arrays, max_epochs=1, lr=1e-12))       # the initial weights, in effect
    free = weights(fit(arrays, grad_clip=None, lr=1e-2))
    clipped = weights(fit(arrays, grad_clip=1e-12, lr=1e-2))    # gradients far below Adam's eps
    assert (free - start).abs().max() > 1e-2
    assert (clipped - start).abs().max() < (free - start).abs().max() / 10


class BackwardCounter(L.Callback):
    """Listens to Lightning's backward hooks, which the plain backward skips."""

    def __init__(self) -> None:
        self.before = self.after = 0

    def on_before_backward(self, trainer, module, loss) -> None:
        self.before += 1

    def on_after_backward(self, trainer, module) -> None:
        self.after += 1


def test_backward_hooks_run_for_a_listening_callback_with_the_same_result(arrays):
    counter = BackwardCounter()
    listened = fit(arrays, callbacks=[counter])
    assert counter.before == counter.after == 3 * 8            # 240 windows in batches of 32
    assert torch.equal(weights(listened), weights(fit(arrays)))


def test_plain_backward_only_for_one_process_in_full_precision_without_listeners():
    def trainer(**options) -> L.Trainer:
        return L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_checkpointing=False, enable_model_summary=False, **options)

    assert plain_backward(trainer())
    assert plain_backward(trainer(callbacks=[L.pytorch.callbacks.EarlyStopping("val_loss")]))
    assert not plain_backward(trainer(callbacks=[BackwardCounter()]))
    assert not plain_backward(trainer(precision="bf16-mixed"))
    assert not plain_backward(trainer(strategy="ddp_spawn", devices=2))


@pytest.mark.parametrize("max_norm", [1e-3, 1.0, 1e6])
def test_clip_gradients_matches_torch_clip_grad_norm(max_norm):
    generator = torch.Generator().manual_seed(0)
    shapes = [(256, 7), (256, 64), (256,), (3, 64)]
    grads = [torch.randn(s, generator=generator) for s in shapes]
    params = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    ours = [g.clone() for g in grads]
    clip_gradients(ours, max_norm)
    for p, g in zip(params, ours, strict=True):
        assert torch.allclose(p.grad, g, rtol=1e-5, atol=0)
    assert (max_norm < 1e6) == (not torch.equal(ours[0], grads[0]))


def test_clip_gradients_spreads_a_nan_norm_like_torch_clip_grad_norm():
    grads = [torch.tensor([1.0, float("nan")]), torch.tensor([0.5])]
    params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    clip_gradients(grads, 1.0)
    assert torch.isnan(params[1].grad).all() and torch.isnan(grads[1]).all()


def test_bf16_mixed_precision_trains_on_cpu(etth1):
    spec = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=24)
    model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False, precision="bf16-mixed")
    model.fit(etth1.iloc[:1500])
    losses = [e["train_loss"] for e in model.history_["epochs"]]
    assert all(np.isfinite(losses)) and losses[1] < losses[0]
    assert model.network_.state_dict()["encoder.lstm.weight_ih_l0"].dtype == torch.float32
    assert np.isfinite(model.predict(etth1.iloc[:200])["OT"]).all()
