"""A new user's labelled sequences, from the files such users have: what broke or misled.

Each test is one finding of the sequence trial (UEA sets, long tables of sequences, wide
UCR-style tables), and fails on the code before its fix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import ConfigError, DataError, LSTMModel, datasets


def _z_resampled(X: np.ndarray, length: int) -> np.ndarray:
    """The archives' 1-NN preprocessing, written out: each NaN-padded sequence cut to its
    steps, z-normalised per channel, linearly resampled to ``length``, flattened."""
    rows = []
    for x in X:
        x = x[~np.isnan(x).all(axis=1)]
        std = x.std(axis=0)
        z = np.divide(x - x.mean(axis=0), std, out=np.zeros_like(x), where=std > 0)
        at = np.linspace(0, len(x) - 1, length)
        rows.append(np.stack([np.interp(at, np.arange(len(x)), c) for c in z.T], 1).ravel())
    return np.array(rows)


def test_neighbour_baseline_reads_all_the_training_sequences_it_was_given(shared_data):
    # JapaneseVowels scored on its TEST file: the report's 1-NN read only the 70 % training
    # part of TRAIN (0.565) where the network answers alone, not all of TRAIN as the
    # archives' 1-NN does (0.589), so the model looked further ahead of it than it is.
    X, y = datasets.load_uea("JapaneseVowels", "train", data_dir=shared_data)
    X_test, y_test = datasets.load_uea("JapaneseVowels", "test", data_dir=shared_data)
    model = LSTMModel(max_epochs=6, progress=False).fit(X, y)
    assert model.neighbour_vote_ == {}           # the network answers alone here
    length = int((~np.isnan(X).all(axis=2)).sum(axis=1).max())
    train, test = _z_resampled(X, length), _z_resampled(X_test, length)
    nearest = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    by_hand = float(np.mean(y[nearest] == y_test))
    evaluation = model.evaluate(X_test, y_test)
    assert evaluation.metric("y", "accuracy", of="neighbour") == pytest.approx(by_hand)
    # a part of the split is scored against the others, never its own neighbour
    part = model.evaluate(X, y, part="test").metric("y", "accuracy", of="neighbour")
    assert part < 1.0


def _long(n: int = 24, steps: int = 6) -> pd.DataFrame:
    """A long table of ``n`` sequences: id, step, two features and a string label per row."""
    rng = np.random.default_rng(0)
    labels = np.array(["calm", "storm"])[np.arange(n) % 2]
    frame = pd.DataFrame({"recording": np.repeat([f"r{i:02d}" for i in range(n)], steps),
                          "step": np.tile(np.arange(steps), n),
                          "a": rng.standard_normal(n * steps), "b": rng.standard_normal(n * steps)})
    frame["label"] = np.repeat(labels, steps)
    return frame


SPEC = {"task": "sequence", "sequence": "recording", "inputs": ["a", "b"],
        "targets": [{"name": "label", "kind": "classification"}]}


@pytest.mark.parametrize("kept", ["first", "last"])
def test_a_label_written_once_per_sequence_names_the_fill_that_works(kept):
    # The label on each sequence's first (or last) row only, as exports often write it,
    # was refused as a label that "changes within the sequence" with "use task 'seq2seq'"
    # (first), or as a target with no labels at all (last).
    from lstmkit import Spec

    frame = _long()
    head = frame.recording != frame.recording.shift(1 if kept == "first" else -1)
    frame["label"] = frame.label.where(head)
    spec = Spec.from_dict(SPEC)
    with pytest.raises(DataError, match="written on some rows of sequence 'r00' only") as error:
        LSTMModel(spec, max_epochs=1, progress=False).fit(frame)
    fix = "df['label'] = df.groupby('recording')['label'].transform('first')"
    assert fix in str(error.value) and "seq2seq" not in str(error.value)
    df = frame
    exec(fix)                                     # the fix, applied as written
    model = LSTMModel(spec, max_epochs=1, progress=False).fit(df)
    assert set(model.predict(df).label) <= {"calm", "storm"}


def test_a_wide_table_is_told_how_to_become_sequences():
    # One row per sequence, a column per step (the UCR archive's files): the error asked for
    # a sequence id column (or, from the CLI, named the first missing input) and said
    # nothing of the wide table; the fixes it now names work as written.
    from lstmkit import Spec

    wide = _long(steps=8).pivot(index="recording", columns="step", values="a")
    wide.insert(0, "label", _long(steps=8).groupby("recording").label.first())
    df = wide.reset_index(drop=True)
    df.columns = df.columns.astype(str)
    spec = Spec.from_dict({"task": "sequence", "inputs": ["value"], "targets": SPEC["targets"]})
    with pytest.raises(DataError, match="needs a sequence id column") as error:
        LSTMModel(spec, max_epochs=1, progress=False).fit(df)
    message = str(error.value)
    array_fix = "df.drop(columns='label').to_numpy()[..., None], df['label']"
    melt_fix = ("df.rename_axis('sequence').reset_index().melt(['sequence', 'label'], "
                "var_name='step').sort_values('sequence', kind='stable')")
    assert array_fix in message and melt_fix in message
    X, y = eval(array_fix)
    assert LSTMModel(max_epochs=1, progress=False).fit(X, y).predict(X).shape[0] == len(df)
    long = eval(melt_fix)
    melted = Spec.from_dict({**SPEC, "sequence": "sequence", "inputs": ["value"]})
    predicted = LSTMModel(melted, max_epochs=1, progress=False).fit(long).predict(long)
    assert len(predicted) == len(df)
    assert np.array_equal(long[long.sequence == 3].value, df.iloc[3, 1:].to_numpy(float))


def test_a_two_dimensional_frame_is_told_a_fix_that_works_on_frames():
    # fit(DataFrame of steps, labels) named X[..., None], which a DataFrame refuses.
    df = _long(steps=8).pivot(index="recording", columns="step", values="a")
    y = np.arange(len(df)) % 2
    with pytest.raises(ConfigError, match=r"np\.asarray\(X\)\[\.\.\., None\]"):
        LSTMModel(max_epochs=1, progress=False).fit(df, y)
    X = df
    model = LSTMModel(max_epochs=1, progress=False).fit(np.asarray(X)[..., None], y)
    assert model.spec_.task == "sequence"


def test_a_class_only_in_the_scored_sequences_names_a_fix_for_sequences():
    # evaluate on sequences with a class the training data lacked said "fit with a split
    # whose val_start comes after row N", which means nothing for whole sequences.
    frame = _long()
    from lstmkit import Spec

    model = LSTMModel(Spec.from_dict(SPEC), max_epochs=1, progress=False).fit(frame)
    new = frame.copy()
    new.loc[new.recording == "r03", "label"] = "fog"
    with pytest.raises(DataError, match="label 'fog'") as error:
        model.evaluate(new)
    message = str(error.value)
    assert "val_start" not in message and "df[df['label'].isin(known labels)]" in message
    known = model.classes_
    df = new
    scored = model.evaluate(df[df['label'].isin(known)])    # the fix, applied
    assert scored.confusion["label"].to_numpy().sum() == frame.recording.nunique() - 1


@pytest.mark.parametrize("spec", [None, {"task": "sequence"}])
def test_a_config_of_a_ts_file_says_what_spec_its_arrays_need(tmp_path, shared_data, spec):
    # A config reading a .ts file without a spec was sent to the forecast example, and
    # spec: {task: sequence} got Python's "Spec.__init__() missing 2 required positional
    # arguments"; the error now says what to name, and the config it shows fits.
    import yaml

    from lstmkit.cli.config import RunConfig, fit_arguments

    path = shared_data / "classification/UEA/BasicMotions/BasicMotions_TRAIN.ts"
    raw = {"data": {"path": str(path)}, "training": {"max_epochs": 1, "progress": False}}
    file = tmp_path / "bm.yaml"
    file.write_text(yaml.safe_dump(raw | ({"spec": spec} if spec else {})))
    with pytest.raises(ConfigError, match="holds sequences as arrays") as error:
        RunConfig.read(file)
    shown = str(error.value).split("and the label: spec: ")[1]
    fixed = yaml.safe_load(shown.replace("[c0, c1, c2]", str([f"c{i}" for i in range(6)])))
    file.write_text(yaml.safe_dump(raw | {"spec": fixed}))
    config = RunConfig.read(file)
    model = config.build_model().fit(*fit_arguments(config.data.load(config.spec)))
    assert set(model.predict(config.data.load()[0]).label) <= {"Badminton", "Running",
                                                               "Standing", "Walking"}


def test_a_test_file_with_a_class_the_training_data_lacks_is_refused_before_training(tmp_path):
    # `lstmkit fit` with such a `test:` file trained to the end, then failed scoring it,
    # leaving the trained model in checkpoints; now it stops first, in one line.
    import subprocess
    import sys

    import yaml

    _long().to_csv(tmp_path / "train.csv", index=False)
    test = _long(8)
    test.loc[test.recording == "r03", "label"] = "fog"
    test.to_csv(tmp_path / "test.csv", index=False)
    config = {"data": {"path": "train.csv"}, "test": {"path": "test.csv"}, "spec": SPEC,
              "training": {"max_epochs": 1}, "run_dir": "run"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))

    def fit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lstmkit", "fit", "c.yaml", "--no-progress"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=600)

    result = fit()
    assert result.returncode == 3 and len(result.stderr.strip().splitlines()) == 1
    assert "section 'test'" in result.stderr and "label 'fog' at row 18" in result.stderr
    assert not (tmp_path / "run").exists()                       # nothing trained
    df = pd.read_csv(tmp_path / "test.csv")
    df[df["label"].isin(["calm", "storm"])].to_csv(tmp_path / "test.csv", index=False)
    assert fit().returncode == 0


@pytest.mark.parametrize(("written", "read"), [
    (["007", "7", "010", "08"], ["007", "010", "08", "7"]),     # numbers would merge 007 and 7
    (["3", "7", "10", "12"], [3, 7, 10, 12]),                   # numbers: kept numbers
    (["True", "False", "True", "False"], [False, True]),        # booleans: kept booleans
])
def test_labels_in_a_csv_file_stay_apart_as_written(tmp_path, written, read):
    # A label column of 007 and 7 (grades, codes) was read by pandas as the number 7 twice:
    # two classes merged silently, and predictions came back as 7.
    from lstmkit import Spec

    frame = _long(steps=5)
    frame["label"] = np.repeat(np.array(written)[np.arange(24) % 4], 5)
    frame.to_csv(tmp_path / "t.csv", index=False)
    model = LSTMModel(Spec.from_dict(SPEC), max_epochs=1, progress=False).fit(tmp_path / "t.csv")
    classes = model.classes_.tolist()
    assert classes == read and list(map(type, classes)) == list(map(type, read))
    predicted = model.predict(tmp_path / "t.csv")
    assert set(predicted.label) <= set(read)


def test_integer_labels_are_ordered_as_numbers_as_scikit_learn_orders_them():
    # classes_ (and so predict_proba's columns) put the int64 labels 3, 7, 10, 12 in the
    # order of their text, 10, 12, 3, 7, where README promises scikit-learn's order (which
    # log_loss and roc_auc_score assume for the columns): a wrong score without an error.
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 5, 2)).astype(np.float32)
    y = np.array([3, 7, 10, 12])[np.arange(48) % 4]
    X[:, :, 0] += y[:, None] / 4                              # learnable: the level
    model = LSTMModel(max_epochs=30, patience=30, progress=False).fit(X, y)
    assert model.classes_.tolist() == sorted(set(y.tolist()))
    proba = model.predict_proba(X)
    assert log_loss(y, proba) == pytest.approx(log_loss(y, proba, labels=model.classes_))


def test_per_step_labels_come_back_with_each_steps_time_to_join_on():
    # Per-step labelling (seq2seq, an output per input step) gave only 'step' (1, 2, ...),
    # not the rows' own time column (0, 1, ... or timestamps): joining the labels back onto
    # the user's rows by time was off by one.
    from lstmkit import Spec

    frame = _long(steps=7)
    frame["step"] = frame["step"] * 10 + 5                      # the user's own times
    frame["label"] = np.where(frame.a > 0, "up", "down")
    spec = Spec.from_dict({**SPEC, "task": "seq2seq", "time": "step"})
    model = LSTMModel(spec, max_epochs=1, progress=False).fit(frame)
    predicted = model.predict(frame[frame.recording.isin(["r01", "r02"])])
    assert predicted.time.tolist() == frame.step.tolist()[7:21]
    joined = frame.merge(predicted.rename(columns={"time": "step", "step": "position",
                                                   "label": "predicted"}),
                         on=["recording", "step"])
    assert len(joined) == 14 and joined.position.tolist() == [*range(1, 8)] * 2


def test_evaluate_refuses_a_json_output_of_the_users_before_scoring(tmp_path):
    # `lstmkit evaluate MODEL DATA --json mine.json --overwrite` scored the data and printed
    # the whole table, then refused to write over the user's file: the refusal now comes
    # first, alone, and lstmkit's own metrics file is still replaced.
    import subprocess
    import sys

    from lstmkit import Spec

    _long().to_csv(tmp_path / "t.csv", index=False)
    LSTMModel(Spec.from_dict(SPEC), max_epochs=1, progress=False).fit(
        tmp_path / "t.csv").save(tmp_path / "model")
    (tmp_path / "mine.json").write_text('{"my": "notes"}\n')

    def evaluate(output: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lstmkit", "evaluate", "model", "t.csv",
                               "--json", output, "--overwrite"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)

    refused = evaluate("mine.json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "not an lstmkit metrics file" in refused.stderr
    assert (tmp_path / "mine.json").read_text() == '{"my": "notes"}\n'
    assert evaluate("m.json").returncode == 0 and evaluate("m.json").returncode == 0
