"""The window index: batches gathered by indexing equal the windows sliced by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lstmkit import Spec, Split
from lstmkit.data import prepare
from lstmkit.data.groups import arrange
from lstmkit.data.windows import Batches, EpochOrder, ForecastWindows, SequenceWindows


def _two_series(n_a: int = 50, n_b: int = 30) -> pd.DataFrame:
    rows = []
    for key, n in (("a", n_a), ("b", n_b)):
        for t in range(n):
            rows.append({"id": key, "t": t, "x": t + (1000 if key == "b" else 0), "y": -t})
    return pd.DataFrame(rows)


def _prepared(frame: pd.DataFrame, spec: Spec, split: Split):
    groups = arrange(frame, spec)
    parts = prepare.assign_parts(groups, spec, split, seed=0)
    encoding = prepare.fit_encoding(groups, spec, parts)
    return groups, parts, prepare.encode(groups, spec, encoding, with_targets=True), encoding


def test_forecast_batch_equals_hand_sliced_windows():
    inputs = torch.arange(40, dtype=torch.float32).view(20, 2)
    targets = -torch.arange(20, dtype=torch.float32).view(20, 1)
    windows = ForecastWindows(inputs, targets, torch.tensor([0, 3, 11]), lookback=4, horizon=2)
    batch = windows.batch(torch.tensor([2, 0]))
    assert batch["x"].shape == (2, 4, 2) and batch["y"].shape == (2, 2, 1)
    assert torch.equal(batch["x"][0], inputs[11:15]) and torch.equal(batch["y"][0], targets[15:17])
    assert torch.equal(batch["x"][1], inputs[0:4]) and torch.equal(batch["y"][1], targets[4:6])


def test_windows_never_cross_series_boundaries():
    spec = Spec(inputs=["x"], targets=["y"], lookback=5, horizon=3, time="t", series="id")
    groups, parts, data, _ = _prepared(_two_series(), spec, Split(val_start=None, test_start=None))
    windows = prepare.part_windows(data, spec, parts, "train")
    assert len(windows) == (50 - 8 + 1) + (30 - 8 + 1)
    series = np.searchsorted(groups.offsets, windows.starts.numpy(), side="right") - 1
    last_row = windows.starts.numpy() + 5 + 3 - 1
    assert (last_row < groups.offsets[series + 1]).all()


def test_part_windows_targets_stay_inside_their_part():
    spec = Spec(inputs=["x"], targets=["y"], lookback=4, horizon=2, time="t", series="id")
    groups, parts, data, _ = _prepared(_two_series(), spec, Split(0.6, 0.8))
    for code, part in enumerate(("train", "val", "test")):
        windows = prepare.part_windows(data, spec, parts, part)
        assert len(windows) > 0
        starts = windows.starts.numpy()
        g = np.searchsorted(groups.offsets, starts, side="right") - 1
        local = starts - groups.offsets[g]
        first_target, last_target = local + 4, local + 4 + 2 - 1
        assert (first_target >= parts.bounds[g, code]).all()
        assert (last_target < parts.bounds[g, code + 1]).all()
        assert (local >= 0).all()
        if part != "train":   # validation/test windows reach back into the previous part
            assert (local < parts.bounds[g, code]).any()


def test_sequence_batches_pad_and_report_lengths():
    inputs = torch.arange(10, dtype=torch.float32).view(10, 1)
    offsets = torch.tensor([0, 3, 4, 10])
    targets = torch.tensor([[[0.0]], [[1.0]], [[2.0]]])
    windows = SequenceWindows(inputs, offsets, torch.arange(3), targets, aligned=False)
    batch = windows.batch(torch.tensor([0, 1, 2]))
    assert batch["x"].shape == (3, 6, 1)
    assert batch["lengths"].tolist() == [3, 1, 6]
    assert batch["x"][0, :3, 0].tolist() == [0, 1, 2] and batch["x"][0, 3:, 0].abs().sum() == 0
    assert batch["x"][2, :, 0].tolist() == [4, 5, 6, 7, 8, 9]
    assert batch["y"][:, 0, 0].tolist() == [0, 1, 2]


def test_aligned_sequence_targets_are_nan_past_the_end():
    inputs = torch.arange(5, dtype=torch.float32).view(5, 1)
    windows = SequenceWindows(inputs, torch.tensor([0, 2, 5]), torch.arange(2), inputs * 10,
                              aligned=True)
    y = windows.batch(torch.tensor([0, 1]))["y"]
    assert y.shape == (2, 3, 1)
    assert torch.isnan(y[0, 2, 0]) and y[1, :, 0].tolist() == [20, 30, 40]


def test_epoch_order_is_a_seeded_permutation_per_epoch():
    order = EpochOrder(100, shuffle=True, seed=7)
    first = order.indices()
    assert sorted(first.tolist()) == list(range(100))
    assert torch.equal(first, order.indices())           # same epoch, same order
    order.set_epoch(1)
    assert not torch.equal(first, order.indices())


def test_batches_visit_every_window_once_per_epoch():
    inputs = torch.arange(300, dtype=torch.float32).view(100, 3)
    windows = ForecastWindows(inputs, None, torch.arange(90), lookback=8, horizon=1)
    loader = Batches(windows, batch_size=16, shuffle=True, seed=1)
    starts = torch.cat([b["x"][:, 0, 0] / 3 for b in loader]).long()
    assert len(loader) == 6
    assert sorted(starts.tolist()) == list(range(90))


def test_window_storage_does_not_grow_with_lookback():
    frame = pd.DataFrame({"x": np.arange(2000.0), "y": np.arange(2000.0)})
    sizes = []
    for lookback in (16, 512):
        spec = Spec(inputs=["x", "y"], targets=["y"], lookback=lookback, horizon=1)
        _, _, data, _ = _prepared(frame, spec, Split(None, None))
        sizes.append(data.inputs.numel() + data.targets.numel())
        windows = prepare.part_windows(data, spec, None, "all")
        assert windows.inputs.data_ptr() == data.inputs.data_ptr()   # shared, not copied
    assert sizes[0] == sizes[1] == 3 * 2000       # two input columns, one target


def test_target_gaps_are_known_before_training():
    inputs = torch.zeros(9, 1)
    targets = torch.arange(9, dtype=torch.float32).view(9, 1)
    forecast = ForecastWindows(inputs, targets, torch.tensor([0, 2]), lookback=3, horizon=2)
    assert not forecast.has_target_gaps()
    targets[7] = float("nan")
    assert forecast.has_target_gaps()
    equal = SequenceWindows(inputs, torch.tensor([0, 3, 6, 9]), torch.arange(3),
                            torch.zeros(9, 1), aligned=True)
    unequal = SequenceWindows(inputs, torch.tensor([0, 2, 9]), torch.arange(2),
                              torch.zeros(9, 1), aligned=True)
    assert not equal.has_target_gaps()
    assert unequal.has_target_gaps()                # per-step targets are NaN past an end
    assert torch.isnan(unequal.batch(torch.arange(2))["y"]).any()


def test_gather_rows_equals_advanced_indexing():
    from lstmkit.data.windows import gather_rows

    table = torch.randn(50, 3)
    rows = torch.randint(0, 50, (4, 7))
    assert torch.equal(gather_rows(table, rows), table[rows])


def test_arrange_keeps_a_table_already_in_blocks_and_groups_an_interleaved_one():
    frame = _two_series(5, 3)
    blocks = pd.concat([frame[frame["id"] == "b"], frame[frame["id"] == "a"]])   # b first
    interleaved = blocks.sort_values("t", kind="stable")       # b0 a0 b1 a1 ...
    spec = Spec(time="t", series="id", inputs=["x"], targets=["y"], lookback=2, horizon=1)
    kept, grouped = arrange(blocks, spec), arrange(interleaved, spec)
    for groups, table in ((kept, blocks), (grouped, interleaved)):
        assert groups.keys == ["b", "a"] and groups.offsets.tolist() == [0, 3, 8]
        pd.testing.assert_frame_equal(groups.frame, blocks.reset_index(drop=True))
        pd.testing.assert_frame_equal(table.iloc[groups.rows].reset_index(drop=True),
                                      groups.frame)                 # rows: where each came from
    assert kept.rows.tolist() == list(range(8))
    split_again = pd.concat([blocks, blocks.iloc[:1].assign(t=3)])  # b again after a
    assert arrange(split_again, spec).keys == ["b", "a"]
    assert arrange(split_again, spec).offsets.tolist() == [0, 4, 9]


def test_a_permuted_forecast_column_comes_from_the_donor_window_with_its_future_rows():
    inputs = torch.arange(60, dtype=torch.float32).view(20, 3)
    targets = -torch.arange(20, dtype=torch.float32).view(20, 1)
    windows = ForecastWindows(inputs, targets, torch.tensor([0, 3, 11]), lookback=4, horizon=2,
                              future_columns=(1, 2))
    permuted = windows.permuted([1], torch.tensor([2, 0, 1]))
    batch, plain = permuted.batch(torch.tensor([0, 1])), windows.batch(torch.tensor([0, 1]))
    assert torch.equal(batch["x"][0, :, 1], inputs[11:15, 1])         # window 0 reads window 2
    assert torch.equal(batch["x"][1, :, 1], inputs[0:4, 1])           # window 1 reads window 0
    assert torch.equal(batch["future"][0, :, 0], inputs[15:17, 1])    # and its known-ahead rows
    assert torch.equal(batch["y"], plain["y"])                        # targets stay their own
    assert torch.equal(batch["x"][..., [0, 2]], plain["x"][..., [0, 2]])
    assert torch.equal(batch["future"][..., 1], plain["future"][..., 1])
    assert windows.permutation is None                                 # the original is intact


def test_a_permuted_sequence_column_repeats_a_shorter_donor_last_step():
    inputs = torch.arange(20, dtype=torch.float32).view(10, 2)
    windows = SequenceWindows(inputs, torch.tensor([0, 2, 6, 10]), torch.arange(3),
                              torch.zeros(3, 1, 1), aligned=False)
    batch = windows.permuted([0], torch.tensor([0, 0, 1])).batch(torch.tensor([1, 2]))
    assert batch["lengths"].tolist() == [4, 4]
    assert batch["x"][0, :, 0].tolist() == [0, 2, 2, 2]               # sequence 0 has 2 rows
    assert batch["x"][0, :, 1].tolist() == inputs[2:6, 1].tolist()
    assert batch["x"][1, :, 0].tolist() == inputs[2:6, 0].tolist()    # sequence 2 reads 1


def _equal_sequences(index: torch.Tensor, scaling=None) -> SequenceWindows:
    """Five sequences of 4 rows x 2 columns back to back, per-row targets (aligned)."""
    inputs = torch.arange(40, dtype=torch.float32).view(20, 2)
    return SequenceWindows(inputs, torch.arange(6) * 4, index, inputs[:, :1] * 10,
                           aligned=True, scaling=scaling)


def test_equal_sequences_batch_whole_sequences_and_a_range_equals_its_indices():
    every = _equal_sequences(torch.arange(5))
    rows = torch.arange(20, dtype=torch.float32).view(20, 1)
    by_range, by_index = every.batch(slice(1, 4)), every.batch(torch.tensor([1, 2, 3]))
    for batch in (by_range, by_index):
        assert torch.equal(batch["x"], every.inputs[4:16].view(3, 4, 2))
        assert torch.equal(batch["y"], rows[4:16].view(3, 4, 1) * 20)
    some = _equal_sequences(torch.tensor([4, 0, 2]))      # a part: its own sequences
    assert torch.equal(some.batch(slice(0, 2))["x"][0], some.inputs[16:20])
    assert torch.equal(some.batch(torch.tensor([2]))["x"][0], some.inputs[8:12])


def test_a_batch_of_a_range_is_a_copy_the_network_may_change():
    windows = _equal_sequences(torch.arange(5))
    before = windows.inputs.clone()
    windows.batch(slice(0, 5))["x"].add_(1.0)
    scaled = _equal_sequences(torch.arange(5), (torch.tensor([1.0, 2.0], dtype=torch.float64),
                                                torch.tensor([4.0, 8.0], dtype=torch.float64)))
    scaled.batch(slice(0, 5))["x"].add_(1.0)
    assert torch.equal(windows.inputs, before) and torch.equal(scaled.inputs, before)


def test_raw_float32_inputs_are_scaled_in_float32_within_rounding_of_the_scalers():
    """Float32 inputs: ``(x - center) / scale`` in float32 (the center and scale rounded
    to float32), within a few float32 units in the last place of the scalers' float64
    arithmetic; float64 inputs: that float64 arithmetic bit for bit."""
    center = torch.tensor([0.1, -3.7], dtype=torch.float64)
    scale = torch.tensor([0.3, 7.1], dtype=torch.float64)
    windows = _equal_sequences(torch.arange(5), (center, scale))
    x = windows.inputs.view(5, 4, 2)[1:3]
    expected = (x - center.float()) / scale.float()
    for batch in (windows.batch(slice(1, 3)), windows.batch(torch.tensor([1, 2])),
                  next(iter(Batches(windows, batch_size=2, reuse=True)))):
        assert batch["x"].dtype == torch.float32
    assert torch.equal(windows.batch(slice(1, 3))["x"], expected)
    assert torch.equal(windows.batch(torch.tensor([1, 2]))["x"], expected)
    exact = ((x.double() - center) / scale).float()
    assert not torch.equal(expected, exact)                # the two do differ here ...
    torch.testing.assert_close(expected, exact, rtol=4 * 2**-24, atol=0)   # ... by rounding
    wide = SequenceWindows(windows.inputs.double(), windows.offsets, windows.index, None,
                           aligned=False, scaling=(center, scale))
    for batch in (wide.batch(slice(1, 3)), next(iter(Batches(wide, 2, reuse=True)))):
        assert batch["x"].dtype == torch.float32
    assert torch.equal(wide.batch(slice(1, 3))["x"], exact)
    assert torch.equal(wide.batch(torch.tensor([1, 2]))["x"], exact)


def test_batches_in_order_give_the_same_batches_as_an_index():
    windows = _equal_sequences(torch.arange(5))
    ranges = [b["x"] for b in Batches(windows, batch_size=2)]
    indexed = [windows.batch(torch.arange(lo, min(lo + 2, 5)))["x"] for lo in range(0, 5, 2)]
    assert len(ranges) == 3
    assert all(torch.equal(a, b) for a, b in zip(ranges, indexed, strict=True))


def test_reused_batches_equal_fresh_ones_written_into_one_buffer():
    """``Batches(reuse=True)`` (inference) writes each batch over the last one's buffers:
    the same numbers as fresh batches, a smaller last batch included, raw or scaled."""
    for scaling in (None, (torch.tensor([0.1, -3.7], dtype=torch.float64),
                           torch.tensor([0.3, 7.1], dtype=torch.float64))):
        windows = _equal_sequences(torch.arange(5), scaling)
        fresh = [b["x"] for b in Batches(windows, batch_size=2)]
        pointers = set()
        for batch, expected in zip(Batches(windows, batch_size=2, reuse=True), fresh,
                                   strict=True):
            assert torch.equal(batch["x"], expected)
            pointers.add(batch["x"].data_ptr())
        assert len(pointers) == 1
        assert len({x.data_ptr() for x in fresh}) == 3
