"""The network's shapes for every decoder, and the memory-saving encoder's exactness."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTMNetwork, NetworkConfig, Output
from lstmkit.nn.decoders import DECODERS
from lstmkit.nn.encoder import LSTMEncoder
from lstmkit.nn.norm import InstanceNorm
from lstmkit.nn.segments import SegmentEmbedding

OUTPUTS = (Output("a", "regression", 1), Output("k", "classification", 3),
           Output("b", "regression", 1), Output("z", "binary", 1))


@pytest.mark.parametrize("decoder", DECODERS)
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


def test_chunked_encoder_recomputes_the_segment_embedding_exactly():
    torch.manual_seed(0)
    embed = SegmentEmbedding(n_inputs=2, segment=5, dim=8)
    chunked, plain = LSTMEncoder(8, 8, checkpoint_steps=7), LSTMEncoder(8, 8)
    plain.load_state_dict(chunked.state_dict())
    x = torch.randn(4, 33, 2)                  # 7 segments after front padding; chunks of 10 steps
    (out_a, (h_a, _)), (out_b, (h_b, _)) = chunked(x, embed=embed), plain(x, embed=embed)
    assert out_a.shape == out_b.shape == (4, 7, 8)
    assert torch.allclose(out_a, out_b, atol=1e-6) and torch.allclose(h_a, h_b, atol=1e-6)
    h_a.sum().backward()
    grads = [p.grad.clone() for p in (*chunked.parameters(), *embed.parameters())]
    embed.zero_grad()
    h_b.sum().backward()
    for g, q in zip(grads, (*plain.parameters(), *embed.parameters()), strict=True):
        assert torch.allclose(g, q.grad, atol=1e-5)


def test_inference_reads_long_sequences_in_chunks_when_only_the_state_is_needed():
    torch.manual_seed(0)
    embed = SegmentEmbedding(n_inputs=2, segment=5, dim=8)
    chunked, plain = LSTMEncoder(8, 8, 2, checkpoint_steps=7).eval(), LSTMEncoder(8, 8, 2).eval()
    plain.load_state_dict(chunked.state_dict())
    x = torch.randn(4, 33, 2)
    with torch.inference_mode():
        out_a, (h_a, c_a) = chunked(x, embed=embed, keep_outputs=False)
        out_b, (h_b, c_b) = plain(x, embed=embed, keep_outputs=False)
        kept, _ = chunked(x, embed=embed)              # outputs asked for: one pass, all kept
    assert out_a is None and out_b.shape == kept.shape == (4, 7, 8)
    assert torch.allclose(h_a, h_b, atol=1e-6) and torch.allclose(c_a, c_b, atol=1e-6)


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


def test_last_value_norm_subtracts_each_windows_last_true_step_and_reverses():
    norm = InstanceNorm([True, False], target_channels=[0], output_columns=[0], mode="last")
    x = torch.randn(3, 8, 2) * 3 + 10
    x[..., 1] = (x[..., 1] > 10).float()
    normed, stats = norm.normalize(x)
    assert torch.allclose(normed[..., 0], x[..., 0] - x[:, -1:, 0])    # nothing rescaled
    assert torch.equal(normed[..., 1], x[..., 1])
    assert torch.allclose(norm.denormalize(normed[..., :1], stats), x[..., :1], atol=1e-5)
    lengths = torch.tensor([8, 5, 2])                                   # right-padded
    padded, _ = norm.normalize(x, lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.allclose(padded[b, :n, 0], x[b, :n, 0] - x[b, n - 1, 0])
        assert not padded[b, n:].any()


def test_anchored_norm_forecasts_the_naive_value_when_the_network_says_no_change():
    x = torch.randn(4, 12, 2) * 3 + 10                                 # (B, T, F)
    norm = InstanceNorm([True, True], target_channels=[0, 1], output_columns=[0, 1],
                        mode="anchored", steps=7, lags=[1, 4])
    normed, stats = norm.normalize(x)
    assert torch.allclose(normed.mean(1), torch.zeros(4, 2), atol=1e-5)   # inputs as RevIN
    naive = norm.denormalize(torch.zeros(4, 7, 2), stats)               # (B, S, T)
    assert torch.equal(naive[..., 0], x[:, -1:, 0].expand(-1, 7))      # the last value
    for k in range(7):                                                  # a season of 4 back
        assert torch.equal(naive[:, k, 1], x[:, 12 - 4 + k % 4, 1])
    change = torch.randn(4, 7, 2)
    teacher = norm.normalize_targets(norm.denormalize(change, stats), stats)
    assert torch.allclose(teacher, change, atol=1e-5)
    lengths = torch.tensor([12, 9, 6, 5])                               # right-padded
    _, padded = norm.normalize(x, lengths)
    last = norm.denormalize(torch.zeros(4, 7, 2), padded)[:, 0, 0]
    assert torch.equal(last, x[torch.arange(4), lengths - 1, 0])


@pytest.mark.parametrize("decoder", ["direct", "parallel", "repeat"])
@pytest.mark.parametrize("segment", [None, 24, 40])
def test_channel_independent_segment_networks_forecast_every_target(decoder, segment):
    outputs = tuple(Output(n, "regression", 1) for n in "abc")
    config = NetworkConfig(n_inputs=5, outputs=outputs, steps=96, hidden=16, decoder=decoder,
                           segment=segment, channel_independent=True, instance_norm=True,
                           numeric_inputs=(True,) * 5, target_channels=(0, 2, 4))
    network = LSTMNetwork(config)
    assert network(torch.randn(3, 96, 5)).shape == (3, 96, 3)
    assert network.output_slices == [slice(0, 1), slice(1, 2), slice(2, 3)]


def test_channel_independence_means_channels_do_not_mix():
    outputs = tuple(Output(n, "regression", 1) for n in "ab")
    config = NetworkConfig(n_inputs=2, outputs=outputs, steps=8, hidden=8, segment=4,
                           decoder="parallel", channel_independent=True, instance_norm=True,
                           numeric_inputs=(True, True), target_channels=(0, 1))
    network = LSTMNetwork(config).eval()
    x = torch.randn(4, 16, 2)
    changed = x.clone()
    changed[..., 1] = torch.randn(4, 16) * 5
    before, after = network(x), network(changed)
    assert torch.allclose(before[..., 0], after[..., 0], atol=1e-5)     # channel a untouched
    assert not torch.allclose(before[..., 1], after[..., 1])


def test_segments_cut_the_recurrence_and_pad_the_oldest_end():
    from lstmkit.nn.segments import SegmentEmbedding

    embed = SegmentEmbedding(n_inputs=2, segment=24, dim=8)
    out, lengths = embed(torch.randn(5, 100, 2))
    assert out.shape == (5, 5, 8) and lengths is None                  # ceil(100 / 24) = 5
    _, lengths = embed(torch.randn(5, 100, 2), torch.tensor([100, 24, 25, 1, 48]))
    assert lengths.tolist() == [5, 1, 2, 1, 2]


def test_conv_branch_ignores_padding():
    from lstmkit.nn.conv import ConvBranch

    branch = ConvBranch(3).eval()
    x = torch.randn(2, 30, 3)
    padded = torch.cat([x, torch.zeros(2, 20, 3)], dim=1)
    full = branch(x)
    masked = branch(padded, torch.tensor([30, 30]))
    assert full.shape == (2, 128)
    assert torch.allclose(full, masked, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_parallel_decoder_equals_one_lstm_step_per_segment(layers):
    from lstmkit.nn.decoders import DecoderParts, ParallelDecoder

    torch.manual_seed(0)
    decoder = ParallelDecoder(DecoderParts(16, (Output("y", "regression", 1),), layers=layers,
                                           steps=5, segment=1, channels=3))
    h0, c0 = torch.randn(layers, 6, 16), torch.randn(layers, 6, 16)
    channel = torch.arange(3).repeat(2)
    reference = torch.nn.LSTM(16, 16, layers, batch_first=True)
    for layer, cell in enumerate(decoder.cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(reference, f"{name}_l{layer}").data.copy_(getattr(cell, name).data)
    inputs = torch.cat([decoder.position[None].expand(6, 5, 8),
                        decoder.channel[channel][:, None].expand(6, 5, 8)], dim=-1)
    expected, _ = reference(inputs.reshape(30, 1, 16),
                            (h0.repeat_interleave(5, 1), c0.repeat_interleave(5, 1)))
    assert torch.allclose(decoder.features((h0, c0), channel), expected.view(6, 5, 16),
                          atol=1e-6)


@pytest.mark.parametrize("block", [1, 40, 2**16])   # elements per block: many blocks to one
def test_broadcast_step_gradients_pass_gradcheck_whatever_the_blocks(monkeypatch, block):
    from lstmkit.nn import broadcast_step
    from lstmkit.nn.broadcast_step import plain_lstm_step

    monkeypatch.setattr(broadcast_step, "BLOCK_ELEMENTS", block)
    torch.manual_seed(0)
    inputs = (torch.randn(7, 32, dtype=torch.float64, requires_grad=True),
              torch.randn(5, 32, dtype=torch.float64, requires_grad=True),
              torch.randn(7, 8, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradcheck(broadcast_step.broadcast_lstm_step, inputs)
    with torch.no_grad():                                 # the inference path, same values
        assert torch.allclose(broadcast_step.broadcast_lstm_step(*inputs),
                              plain_lstm_step(*inputs), atol=1e-7)


def test_broadcast_step_equals_the_lstm_cell_in_float32_and_runs_in_bfloat16(monkeypatch):
    from lstmkit.nn import broadcast_step
    from lstmkit.nn.broadcast_step import plain_lstm_step

    monkeypatch.setattr(broadcast_step, "BLOCK_ELEMENTS", 100)
    torch.manual_seed(1)
    inputs = [torch.randn(9, 64, requires_grad=True), torch.randn(3, 64, requires_grad=True),
              torch.randn(9, 16, requires_grad=True)]
    got, want = broadcast_step.broadcast_lstm_step(*inputs), plain_lstm_step(*inputs)
    assert torch.allclose(got, want, atol=1e-6)
    weight = torch.randn_like(want)
    for a, b in zip(torch.autograd.grad((got * weight).sum(), inputs),
                    torch.autograd.grad((want * weight).sum(), inputs), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    low = [t.detach().bfloat16().requires_grad_() for t in inputs[:2]] + [inputs[2]]
    h = broadcast_step.broadcast_lstm_step(*low)           # float32 state: promoted
    h.sum().backward()
    assert h.dtype == torch.float32 and low[0].grad.dtype == torch.bfloat16
    assert torch.allclose(h, want, atol=0.05)


def test_repeat_decoder_computing_the_input_once_equals_nn_lstm_in_values_and_gradients():
    from lstmkit.nn.decoders import ONCE_MIN_HIDDEN, DecoderParts, RepeatDecoder

    torch.manual_seed(0)
    decoder = RepeatDecoder(DecoderParts(12, (Output("y", "regression", 1),),
                                         hidden=ONCE_MIN_HIDDEN))
    context = torch.randn(5, 12, requires_grad=True)
    once = decoder.features(context, steps=7)                  # the hand-written recurrence
    reference = decoder.lstm(context[:, None].expand(-1, 7, -1))[0]
    assert once.shape == (5, 7, ONCE_MIN_HIDDEN)
    assert torch.allclose(once, reference, atol=1e-6)
    weights = list(decoder.lstm.parameters())
    grads = torch.autograd.grad(once.square().sum(), [context, *weights])
    expected = torch.autograd.grad(reference.square().sum(), [context, *weights])
    for got, want in zip(grads, expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.6])
def test_dropout_zeroes_a_share_p_scales_the_rest_and_passes_the_mask_to_gradients(p):
    from lstmkit.nn.dropout import Dropout

    drop = Dropout(p).train()
    x = (torch.rand(1000, 999) + 0.5).requires_grad_()    # odd size: half a draw left over
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - p) < 0.003   # 6 sigma at 10^6 draws
    assert torch.allclose(y[kept], x[kept] / (1 - p))
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / (1 - p))
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)                          # the seed fixes the mask
    assert drop.eval()(x) is x
