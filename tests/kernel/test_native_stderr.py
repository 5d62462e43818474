"""Native libraries' start-up lines are kept out of stderr; everything else written there still shows."""

import os
import subprocess
import sys

from benchmark.pipeline.config import PROJECT_DIR
from cxr_kernel.native_stderr import without_startup_noise


def test_absl_startup_lines_are_dropped_and_other_lines_kept(capfd):
    with without_startup_noise():
        os.write(
            2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        )
        os.write(2, b"I0000 00:00:1796370518.349223   12911 port.cc:153] oneDNN custom operations are on.\n")
        os.write(
            2, b"W0000 00:00:1796370518.349223   12911 cpu_feature_guard.cc:227] This TensorFlow binary\n"
        )
        os.write(2, b"E0000 00:00:1796370518.349223   12911 cuda_dnn.cc:8310] Unable to register cuDNN\n")
        os.write(2, b"a real problem\n")
    err = capfd.readouterr().err
    error_line = "E0000 00:00:1796370518.349223   12911 cuda_dnn.cc:8310] Unable to register cuDNN\n"
    assert err == error_line + "a real problem\n"


def test_importing_the_classifier_runtime_prints_nothing_to_stderr():
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "KERAS_BACKEND": "tensorflow"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run(
        [sys.executable, "-c", "import classifiers.runtime, tensorflow; print('imported')"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "imported\n" and done.stderr == ""
