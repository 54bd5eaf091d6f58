"""The network's shapes for every decoder, and the memory-saving encoder's exactness."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTMNetwork, NetworkConfig, Output
from lstmkit.nn.encoder import LSTMEncoder
from lstmkit.nn.norm import InstanceNorm

OUTPUTS = (Output("a", "regression", 1), Output("k", "classification", 3),
           Output("b", "regression", 1), Output("z", "binary", 1))


@pytest.mark.parametrize("decoder", ["direct", "repeat", "autoregressive", "aligned"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("heads", ["shared", "separate"])
def test_output_shapes(decoder, bidirectional, heads):
    config = NetworkConfig(n_inputs=5, outputs=OUTPUTS, steps=4, hidden=8, layers=2,
                           bidirectional=bidirectional, decoder=decoder, heads=heads)
    network = LSTMNetwork(config)
    x, lengths = torch.randn(3, 10, 5), torch.tensor([10, 7, 3])
    steps = 10 if decoder == "aligned" else 4
    assert network(x).shape == (3, steps, 6)
    assert network(x, lengths).shape == (3, steps, 6)
    if decoder == "autoregressive":
        teacher = torch.stack([torch.randn(3, 4), torch.randint(0, 3, (3, 4)).float(),
                               torch.randn(3, 4), torch.randint(0, 2, (3, 4)).float()], -1)
        assert network(x, teacher=teacher).shape == (3, 4, 6)


def test_chunked_encoder_matches_the_plain_one_in_values_and_gradients():
    torch.manual_seed(0)
    chunked, plain = LSTMEncoder(3, 8, 2, checkpoint_steps=7), LSTMEncoder(3, 8, 2)
    plain.load_state_dict(chunked.state_dict())
    x = torch.randn(4, 30, 3)
    (out_a, (h_a, _)), (out_b, (h_b, _)) = chunked(x), plain(x)
    assert torch.allclose(out_a, out_b, atol=1e-6) and torch.allclose(h_a, h_b, atol=1e-6)
    (out_a.sum() + h_a.sum()).backward()
    (out_b.sum() + h_b.sum()).backward()
    for p, q in zip(chunked.parameters(), plain.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-5)


def test_instance_norm_round_trip_and_one_hot_channels_untouched():
    norm = InstanceNorm([True, False], target_channels=[0], output_columns=[0])
    x = torch.randn(5, 20, 2) * 3 + 10
    x[..., 1] = (x[..., 1] > 10).float()
    normed, stats = norm.normalize(x)
    assert torch.allclose(normed[..., 0].mean(1), torch.zeros(5), atol=1e-5)
    assert torch.equal(normed[..., 1], x[..., 1])
    restored = norm.denormalize(normed[..., :1], stats)         # identity map of channel 0
    assert torch.allclose(restored, x[..., :1], atol=1e-4)
    teacher = norm.normalize_targets(x[..., :1], stats)
    assert torch.allclose(teacher, normed[..., :1], atol=1e-5)
