"""Decoders behind one interface, channel independence as a wrapper, and the saved names
of the network's weights (the same whatever modules group them)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from lstmkit import ConfigError, LSTMModel, Spec
from lstmkit.nn import LSTMNetwork, NetworkConfig, Output
from lstmkit.nn.channels import CHANNEL_OUTPUT, ChannelIndependent
from lstmkit.nn.decoders import DECODERS, Decoder
from lstmkit.nn.network import EncoderDecoder

TWO = (Output("a", "regression", 1), Output("b", "regression", 1))


def _config(decoder: str, **kwargs) -> NetworkConfig:
    return NetworkConfig(n_inputs=4, outputs=TWO, steps=6, hidden=8, decoder=decoder,
                         numeric_inputs=(True,) * 4, target_channels=(0, 2), **kwargs)


@pytest.mark.parametrize("name", DECODERS)
def test_every_registered_decoder_is_a_decoder_with_heads_its_config_accepts(name):
    saved = json.loads(json.dumps(_config(name).to_dict()))     # as config.json holds it
    network = LSTMNetwork(NetworkConfig.from_dict(saved))
    assert isinstance(network.decoder, Decoder) and type(network.decoder) is DECODERS[name]
    assert network.output_slices == network.decoder.heads.slices


@pytest.mark.parametrize("name", [n for n, d in DECODERS.items() if d.per_channel])
def test_channel_independent_runs_the_inner_network_on_each_channel_alone(name):
    torch.manual_seed(0)
    config = _config(name, channel_independent=True, future_columns=(3,))
    inner = EncoderDecoder(config, 1, (CHANNEL_OUTPUT,), channels=3, n_future=1)
    wrapped = ChannelIndependent(inner, 4, (3,), target_columns=(0, 2)).eval()
    x, future = torch.randn(5, 12, 4), torch.randn(5, 6, 1)
    out = wrapped(x, future=future)
    assert out.shape == (5, 6, 2)
    for target, column in enumerate((0, 2)):   # channel 2 is the third channel: column 3 is known
        alone = inner(x[..., column : column + 1], None, None, future,
                      torch.full((5,), column))                        # (5, 6, 1)
        assert torch.allclose(out[..., target], alone[..., 0], atol=1e-6)


@pytest.mark.parametrize(("name", "extra"), [("parallel", {"channel_independent": True}),
                                             ("direct", {"conv": True}),
                                             ("autoregressive", {"layers": 2})])
def test_weights_keep_their_saved_names_and_load_back_under_a_parent(name, extra):
    config = _config(name, instance_norm=True, **extra)
    torch.manual_seed(0)
    network = LSTMNetwork(config).eval()
    keys = list(network.state_dict())
    assert not [k for k in keys if k.startswith(("core.", "inner.", "decoder.heads"))]
    assert "heads.layers.0.weight" in keys and "encoder.lstm.weight_ih_l0" in keys
    assert ("channels" in keys) == config.channel_independent
    assert ("conv.blocks.0.0.weight" in keys) == config.conv
    torch.manual_seed(1)
    parent = nn.ModuleDict({"network": LSTMNetwork(config).eval()})
    parent.load_state_dict({f"network.{k}": v for k, v in network.state_dict().items()})
    assert list(parent.state_dict()) == [f"network.{k}" for k in keys]
    x = torch.randn(3, 12, 4)
    assert torch.equal(parent["network"](x), network(x))


def test_a_network_refuses_a_decoder_that_cannot_run_as_configured():
    with pytest.raises(ValueError, match="per channel"):
        LSTMNetwork(_config("autoregressive", channel_independent=True))
    with pytest.raises(ValueError, match="conv adds a branch"):
        LSTMNetwork(_config("repeat", conv=True))


def test_the_model_takes_a_decoder_only_where_its_class_says_it_applies():
    aligned = Spec(inputs=["a"], targets=["b"], task="seq2seq")
    LSTMModel(aligned, decoder="aligned").check_params()
    forecast = Spec(inputs=["a"], targets=["a"], lookback=8, horizon=2)
    with pytest.raises(ConfigError, match="'aligned' gives one output per input step"):
        LSTMModel(forecast, decoder="aligned").check_params()
    with pytest.raises(ConfigError, match=r"runs per channel .*decoder is 'autoregressive'"):
        LSTMModel(forecast, decoder="autoregressive", channel_independent=True).check_params()
