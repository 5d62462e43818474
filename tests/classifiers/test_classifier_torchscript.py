"""The `torchscript` classifier type: a `torch.jit` file with the input the suite declares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classifiers.backends.torchscript_files import TorchScriptClassifier


class _Mean(torch.nn.Module):
    """Logit = 4 * (mean pixel - 0.5) of a (N, 1, 16, 16) batch; refuses any other shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (1, 16, 16), "expected (N, 1, 16, 16)"
        return 4 * (x.mean(dim=(1, 2, 3)) - 0.5)


def test_a_scripted_model_predicts_on_the_declared_input_and_refuses_another(tmp_path):
    path = tmp_path / "mean.pt"
    torch.jit.save(torch.jit.script(_Mean()), str(path))
    classifier = TorchScriptClassifier(path, {"size": 16, "output": "logit"})
    images = np.stack([np.full((32, 32), v, np.float32) for v in (0.2, 0.5, 0.9)])
    expected = 1 / (1 + np.exp(-4 * (np.array([0.2, 0.5, 0.9]) - 0.5)))
    np.testing.assert_allclose(classifier.predict(images), expected, atol=1e-6)
    assert classifier.nonfinite_weights() == []
    with pytest.raises(ValueError, match="does not take the input classifier.preprocessing declares"):
        TorchScriptClassifier(path, {"size": 24})
