"""The architecture presets: which one a task gets, and that the user's settings win."""

from __future__ import annotations

import pytest

from lstmkit import LSTMModel, Spec, Split, Target
from lstmkit.errors import ConfigError
from lstmkit.presets import batch_size, default_segment, preset_name, resolve, stratified

COLUMNS = ["a", "b", "c"]


def forecast(targets=("a", "b"), lookback=96, horizon=24) -> Spec:
    return Spec(inputs=COLUMNS, targets=list(targets), lookback=lookback, horizon=horizon)


def test_forecasts_of_their_own_inputs_are_channel_independent_segment_lstms():
    arch = resolve(forecast(), {})
    assert preset_name(forecast(), {}) == "channel_independent"
    assert arch["channel_independent"] and arch["instance_norm"]
    assert (arch["decoder"], arch["segment"]) == ("parallel", 24)


def test_a_target_that_is_not_an_input_gets_the_general_preset():
    spec = Spec(inputs=COLUMNS, targets=["a", "other"], lookback=48, horizon=12,
                past_targets=False)
    arch = resolve(spec, {})
    assert preset_name(spec, {}) == "general"
    assert not arch["channel_independent"] and arch["segment"] is None
    assert (arch["decoder"], arch["hidden"], arch["instance_norm"]) == ("direct", 64, True)


def test_a_target_whose_past_is_read_continues_its_input_channel():
    spec = Spec(inputs=COLUMNS, targets=["a", "other"], lookback=48, horizon=12)
    assert "other" in spec.input_names
    assert preset_name(spec, {}) == "channel_independent"


def test_sequence_classification_gets_a_bidirectional_lstm_beside_convolutions():
    spec = Spec(task="sequence", sequence="id", inputs=COLUMNS,
                targets=[Target("label", kind="classification")])
    arch = resolve(spec, {})
    assert preset_name(spec, {}) == "classification"
    assert arch["conv"] and arch["bidirectional"] and not arch["instance_norm"]
    assert arch["dropout"] == 0.6                   # chosen on validation loss (BENCHMARKS)


def test_settings_the_user_gives_win_and_can_rule_a_preset_out():
    assert resolve(forecast(), {"hidden": 8, "segment": 12})["hidden"] == 8
    assert resolve(forecast(), {"hidden": 8, "segment": 12})["segment"] == 12
    for given in ({"channel_independent": False}, {"decoder": "autoregressive"},
                  {"heads": "separate"}):
        assert preset_name(forecast(), given) == "general"


def test_seq2seq_decoder_defaults_follow_the_shape():
    encoder_decoder = Spec(task="seq2seq", sequence="id", inputs=COLUMNS, targets=["x"],
                           horizon=5)
    same_steps = Spec(task="seq2seq", sequence="id", inputs=COLUMNS, targets=["x"])
    assert resolve(encoder_decoder, {})["decoder"] == "repeat"
    assert resolve(same_steps, {})["decoder"] == "aligned"


@pytest.mark.parametrize(("lookback", "segment"), [(96, 24), (720, 24), (28, 14), (7, None),
                                                    (97, None)])
def test_default_segment_divides_the_lookback(lookback, segment):
    assert default_segment(lookback) == segment


def test_contradictory_settings_are_refused_with_the_fix():
    with pytest.raises(ConfigError, match="channel_independent=False"):
        LSTMModel(forecast(), channel_independent=True, heads="separate").check_params()
    with pytest.raises(ConfigError, match="conv=True"):
        LSTMModel(forecast(), conv=True, decoder="parallel").check_params()


def test_sequence_classification_batches_a_tenth_of_its_training_sequences():
    spec = Spec(task="sequence", sequence="id", inputs=COLUMNS,
                targets=[Target("label", kind="classification")])
    assert [batch_size(spec, n) for n in (10, 25, 275, 5000)] == [4, 4, 27, 64]
    assert batch_size(forecast(), 25) == 64            # other tasks: 64, whatever the size
    assert LSTMModel(spec, batch_size=128).get_params()["batch_size"] == 128   # yours wins


def test_an_unset_stratify_stratifies_sequence_classification_only():
    classify = Spec(task="sequence", sequence="id", inputs=COLUMNS,
                    targets=[Target("label", kind="binary")])
    regress = Spec(task="sequence", sequence="id", inputs=COLUMNS, targets=["a"])
    assert Split().stratify is None
    assert stratified(classify) and not stratified(regress) and not stratified(forecast())
