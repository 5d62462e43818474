"""The reference study's pneumonia CNN."""

from __future__ import annotations

from classifiers.runtime import keras

#: Filters of the five 3x3 convolutions, each followed by 2x2 max pooling.
CONV_FILTERS = (16, 32, 64, 128, 128)


def minimum_input_size() -> int:
    """Smallest square input the five unpadded conv + pool blocks accept (94 pixels).

    Each block maps a side ``s`` to ``(s - 2) // 2``; the last block must leave at least 1 pixel.
    """
    size = 1
    for _ in CONV_FILTERS:  # invert (s - 2) // 2 >= size, i.e. s >= 2 * size + 2
        size = 2 * size + 2
    return size


def build_reference_cnn(
    input_size: int = 300,
    channels: int = 3,
    dense_units: tuple[int, int] = (512, 128),
    dropout: float = 0.3,
) -> keras.Model:
    """Build the reference CNN (untrained, uncompiled).

    ``Input(input_size, input_size, channels)`` -> [Conv2D(f, 3x3, relu, no padding) ->
    MaxPooling2D(2)] for f in 16, 32, 64, 128, 128 -> Flatten -> Dense(dense_units[0], relu) ->
    Dropout -> Dense(dense_units[1], relu) -> Dropout -> Dense(1, sigmoid).

    The convolutional part, the 300x300x3 input and the sigmoid output are the reference study's.
    Its dense sizes and dropout were not found; (512, 128) and 0.3 are our choice (512 follows the
    "horse-or-human" tutorial the architecture is adapted from). ``dropout=0`` omits the Dropout
    layers.

    Parameters
    ----------
    input_size
        Side of the square input, >= ``minimum_input_size()`` (94).
    channels
        1 or 3; grayscale X-rays are replicated to 3 channels by ``classifiers.preprocessing``.
    dense_units
        Units of the two hidden dense layers.
    dropout
        Dropout rate in [0, 1) after each hidden dense layer.

    Returns
    -------
    keras.Model
        Takes float32 (N, input_size, input_size, channels) in [0, 1] (no rescaling inside the
        model: the caller's images are already in [0, 1]); returns (N, 1) P(pneumonia).
    """
    if input_size < minimum_input_size():
        raise ValueError(
            f"Expected input_size >= {minimum_input_size()} (five unpadded conv + pool blocks), "
            f"got {input_size}."
        )
    if channels not in (1, 3):
        raise ValueError(f"Expected channels 1 or 3, got {channels}.")
    if len(dense_units) != 2 or min(dense_units) < 1:
        raise ValueError(f"Expected two positive dense sizes, got {dense_units}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"Expected dropout in [0, 1), got {dropout}.")

    inputs = keras.Input(shape=(input_size, input_size, channels), name="image")
    x = inputs
    for i, filters in enumerate(CONV_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, (3, 3), activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D((2, 2), name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name="reference_pneumonia_cnn")
