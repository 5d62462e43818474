"""The reference study's pneumonia CNN."""

from __future__ import annotations

from classifiers.runtime import keras

#: Filters of the five 3x3 convolutions, each followed by 2x2 max pooling.
CONV_FILTERS = (16, 32, 64, 128, 128)
#: Units of the two hidden dense layers, in order.
DENSE_UNITS = (256, 512)
#: Side of the reference model's square input.
REFERENCE_INPUT_SIZE = 300


def minimum_input_size() -> int:
    """Smallest square input the five unpadded conv + pool blocks accept (94 pixels).

    Each block maps a side ``s`` to ``(s - 2) // 2``; the last block must leave at least 1 pixel.
    """
    size = 1
    for _ in CONV_FILTERS:  # invert (s - 2) // 2 >= size, i.e. s >= 2 * size + 2
        size = 2 * size + 2
    return size


def build_reference_cnn(input_size: int = REFERENCE_INPUT_SIZE, channels: int = 3) -> keras.Model:
    """Build the reference CNN (untrained, uncompiled).

    ``Input(input_size, input_size, channels)`` -> [Conv2D(f, 3x3, relu, padding 'valid') ->
    MaxPooling2D(2)] for f in 16, 32, 64, 128, 128 -> Flatten (7 x 7 x 128 = 6272 at 300 px) ->
    Dense(256, relu) -> Dense(512, relu) -> Dense(1, sigmoid); no dropout, no batch normalisation.
    At 300 x 300 x 3 this is the public "Pneumonia detection using CNN" Keras model: 1,983,009
    parameters. A smaller ``input_size`` keeps the layers (fewer dense weights) for fast tests.

    Parameters
    ----------
    input_size
        Side of the square input, >= ``minimum_input_size()`` (94).
    channels
        1 or 3; grayscale X-rays are replicated to 3 channels by ``classifiers.preprocessing``.

    Returns
    -------
    keras.Model
        Takes float32 (N, input_size, input_size, channels) in [0, 1] (the reference's
        ``rescale=1/255`` is done by the caller); returns (N, 1) P(pneumonia).
    """
    if input_size < minimum_input_size():
        raise ValueError(
            f"Expected input_size >= {minimum_input_size()} (five unpadded conv + pool blocks), "
            f"got {input_size}."
        )
    if channels not in (1, 3):
        raise ValueError(f"Expected channels 1 or 3, got {channels}.")

    inputs = keras.Input(shape=(input_size, input_size, channels), name="image")
    x = inputs
    for i, filters in enumerate(CONV_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, (3, 3), activation="relu", padding="valid", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D((2, 2), name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE_UNITS, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name="reference_pneumonia_cnn")
