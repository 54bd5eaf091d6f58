"""How large a network would be, estimated from its config without building it.

``LSTMModel`` refuses an architecture before allocating anything when its parameters
or one training batch's activations exceed what any machine could hold, or when it
stacks more than ``MAX_LAYERS`` layers: torch builds those one by one, so a typo
such as ``layers: 1000000`` would otherwise hang.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from .channels import CHANNEL_OUTPUT
from .decoders import DECODERS
from .encoder import lstm_parameters
from .network import NetworkConfig, decoder_parts
from .static import InitialState

MAX_LAYERS = 1000                  # stacked layers are built one by one: 10,000 take 30 s
MAX_PARAMETERS = 2**31             # 8 GiB of float32 weights, 32 GiB with gradients and Adam
MAX_ACTIVATION_BYTES = 2**40       # 1 TiB kept for the backward pass of one training batch
FLOAT_BYTES = 4
LSTM_FLOATS = 6                    # kept per unit and step for backward: 4 gates, cell, output


@dataclass(frozen=True)
class NetworkSize:
    """Parameters and training activations (bytes) of one batch, estimated.

    The parameters are counted exactly, but for the few that read inputs known in
    advance (so the count is a lower bound). The activations count, per window, its
    inputs and ``LSTM_FLOATS`` floats per unit and recurrent step of every layer.
    """

    parameters: int
    activation_bytes: int


def estimate(c: NetworkConfig, batch_size: int, input_steps: int) -> NetworkSize:
    """The size of the network ``c`` training on batches of ``batch_size`` windows of
    ``input_steps`` steps.

    Example:
        >>> estimate(NetworkConfig(n_inputs=7, outputs=(Output("OT", "regression", 1),),
        ...                        hidden=64), 64, 96).parameters
        18753
    """
    directions = 2 if c.bidirectional else 1
    parameters = sum((k + 1) * d for _, k, d in c.embedded)
    if c.static_columns:
        parameters += InitialState.parameters_of(c.n_static, c.layers, directions, c.hidden)
        c = c.per_step()
    width = c.n_inputs - c.n_future + sum(d - 1 for _, _, d in c.embedded)  # per step, embedded
    channels = width if c.channel_independent else 0       # each through the shared network
    per_series = 1 if channels else width
    batch = batch_size * max(channels, 1)                 # windows x channels
    outputs = (CHANNEL_OUTPUT,) if channels else c.outputs
    encoded = c.hidden * directions
    steps = input_steps
    encoder_inputs = per_series
    if c.segment:
        parameters += (c.segment * per_series + 1) * c.hidden
        encoder_inputs, steps = c.hidden, math.ceil(input_steps / c.segment)
    parameters += lstm_parameters(encoder_inputs, c.hidden, c.layers, directions)
    if c.checkpoint_steps and directions == 1:
        steps = min(steps, c.checkpoint_steps)
    decoder = DECODERS[c.decoder].size(decoder_parts(c, encoded, per_series, outputs, channels,
                                                     0))
    parameters += decoder.parameters
    floats = (input_steps * per_series
              + LSTM_FLOATS * c.layers * (steps * encoded + decoder.steps * decoder.width))
    return NetworkSize(parameters, FLOAT_BYTES * batch * floats)


def check(c: NetworkConfig, batch_size: int, input_steps: int) -> None:
    """Raise ``ConfigError`` if ``estimate`` exceeds ``MAX_PARAMETERS`` or
    ``MAX_ACTIVATION_BYTES``, saying the size, the rule and what to lower."""
    size = estimate(c, batch_size, input_steps)
    shape = (f"hidden={c.hidden}, layers={c.layers}, bidirectional={c.bidirectional}, "
             f"decoder={c.decoder!r}, {c.n_inputs} input columns, {c.steps} output steps")
    if size.parameters > MAX_PARAMETERS:
        raise ConfigError(
            f"the network would have at least {size.parameters:,} parameters ({shape}), more "
            f"than the limit of {MAX_PARAMETERS:,} (2**31: 8 GiB of float32 weights, 32 GiB "
            "with gradients and optimiser moments); lower hidden or layers (or the horizon, "
            "or the categories of one-hot inputs)")
    if size.activation_bytes > MAX_ACTIVATION_BYTES:
        raise ConfigError(
            f"a training batch of {batch_size:,} windows of {input_steps:,} steps would keep "
            f"about {size.activation_bytes / 2**30:,.0f} GiB of activations ({shape}), "
            f"more than the limit of {MAX_ACTIVATION_BYTES // 2**30:,} GiB (1 TiB); lower "
            "batch_size, lookback, horizon, hidden or layers, or set checkpoint_steps")

