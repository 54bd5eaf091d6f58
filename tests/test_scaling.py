"""Scalers are affine maps fitted on training rows; labels keep the user's values."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit import DataError
from lstmkit.data.scaling import AffineScaler, Labels

VALUES = np.array([1.0, 2.0, 4.0, 8.0, 16.0, np.nan])


@pytest.mark.parametrize(("kind", "center", "scale"), [
    ("standard", np.mean([1, 2, 4, 8, 16]), np.std([1, 2, 4, 8, 16])),
    ("minmax", 1.0, 15.0),
    ("robust", 4.0, 6.0),
    ("none", 0.0, 1.0),
])
def test_scalers_fit_on_finite_values(kind, center, scale):
    scaler = AffineScaler.fit(kind, VALUES, "x")
    assert scaler.center == pytest.approx(center) and scaler.scale == pytest.approx(scale)
    finite = VALUES[:-1]
    assert np.allclose(scaler.inverse(scaler.transform(finite)), finite)


@pytest.mark.parametrize("kind", ["standard", "minmax", "robust"])
def test_constant_columns_scale_by_one_instead_of_dividing_by_zero(kind):
    scaler = AffineScaler.fit(kind, np.full(50, 3.5), "flat")
    assert scaler.scale == 1.0
    assert np.all(np.isfinite(scaler.transform(np.array([3.5, 4.0]))))


def test_a_column_without_training_values_is_an_error():
    with pytest.raises(DataError, match="column 'x' has no values in the training part"):
        AffineScaler.fit("standard", np.array([np.nan, np.nan]), "x")


def test_labels_keep_user_values_and_reject_unknown_ones():
    labels = Labels.fit(np.array(["sun", "rain", "fog", "rain", None], dtype=object), "weather")
    assert labels.classes == ("fog", "rain", "sun")
    codes = labels.codes(np.array(["rain", None, "sun"], dtype=object), "weather")
    assert codes[0] == 1 and np.isnan(codes[1]) and codes[2] == 2
    assert list(labels.decode(np.array([2, 0]))) == ["sun", "fog"]
    with pytest.raises(DataError, match=r"label 'snow' at row 7.*known labels"):
        labels.codes(np.array(["snow"], dtype=object), "weather", rows=np.array([7]))


def test_integer_labels_stay_integers():
    labels = Labels.fit(np.array([3, 1, 2, 1]), "k")
    assert labels.classes == (1, 2, 3) and all(type(c) is int for c in labels.classes)


@pytest.mark.parametrize("values", [
    np.array([2.0, np.nan, 0.0, 1.0, 2.0]),
    np.array([True, False, True]),
    np.array([7, 3, 7, 5], dtype=np.int32),
])
def test_numeric_labels_equal_the_object_path(values):
    as_objects = np.array([None if v != v else v.item() for v in values], dtype=object)
    assert Labels.fit(values, "k") == Labels.fit(as_objects, "k")
    assert [type(c) for c in Labels.fit(values, "k").classes] == \
        [type(c) for c in Labels.fit(as_objects, "k").classes]
