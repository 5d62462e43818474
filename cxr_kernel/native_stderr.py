"""Start-up noise of native libraries kept out of a run's log.

TensorFlow's shared libraries log from C++ while they load, before ``absl::InitializeLog()``, so
``TF_CPP_MIN_LOG_LEVEL`` does not reach them: every process that imports Keras printed

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796370518.349223   12911 port.cc:153] oneDNN custom operations are on. ...

twice. ``without_startup_noise`` captures file descriptor 2 while such an import runs and writes back
every line that is not absl's INFO/WARNING start-up chatter: errors and anything else still show.
The message is only hidden; oneDNN stays on (``TF_ENABLE_ONEDNN_OPTS=0`` would change the numbers).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

#: Lines dropped: absl's note about logging before initialisation, absl INFO/WARNING lines
#: (``I0000 00:00:...`` / ``W0000 ...``), and the continuation of TensorFlow's CPU-feature INFO line.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] "
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow)"
)


@contextlib.contextmanager
def without_startup_noise(noise: re.Pattern = NOISE) -> Iterator[None]:
    """Run the block with file descriptor 2 captured; afterwards write the captured lines that do not
    match ``noise`` to ``sys.stderr``. Without a usable descriptor 2 the block runs as is."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.match(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
