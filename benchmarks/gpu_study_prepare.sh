#!/usr/bin/env bash
# Prepare the GPU study's device call. Run HERE (not on the GPU machine), from anywhere in the checkout:
#
#     bash benchmarks/gpu_study_prepare.sh [SHARED]      # SHARED defaults to ../shared beside the checkout
#
# It fills .gpu/ (ignored through .git/info/exclude), which the device tool's `run` then carries:
#   .gpu/kermany-224.tar.xz        the official train/test split (224-px copies): 38.2 MB of JPEGs, 33.8 MB
#                                  as one solid xz archive (their identical JPEG headers compress; the files
#                                  come back byte for byte); the device script unpacks it
#   .gpu/shared/weights/*.pth      the two pretrained generators the kermany-test-hr suite names
#   .gpu/wheels/*.whl              what the GPU machine lacks: Keras 3 (+ namex, optree) and pydantic
#                                  (+ pydantic-core, annotated-types, typing-inspection, and the
#                                  typing-extensions it was installed with here), for its Python
#                                  3.12; optional: basicsr, realesrgan and lmdb for the RealESRGANer
#                                  comparison (recorded as skipped when they cannot be had or imported)
# and checks that the tree plus .gpu stays under the tool's 64 MiB. Then make ONE device call:
#     run(command="bash benchmarks/gpu_study_device.sh", carry=[".gpu"], timeout_s=570)
# (docs/performance.md#the-gpu-study-gpu-study).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
shared=$(cd "${1:-../shared}" && pwd)
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"

rm -rf .gpu
mkdir -p .gpu/shared/weights .gpu/wheels
"$python" - "$shared" <<'EOF'
import lzma, sys, tarfile
with tarfile.open(".gpu/kermany-224.tar.xz", "w:xz", preset=9 | lzma.PRESET_EXTREME) as archive:
    archive.add(f"{sys.argv[1]}/data/kermany-224", arcname="kermany-224")
EOF
# The generators the study's cells suite names (benchmark/suites/kermany-test-hr.yaml).
"$python" - "$shared" <<'EOF'
import shutil, sys
from pathlib import Path
import yaml
suite = yaml.safe_load(Path("benchmark/suites/kermany-test-hr.yaml").read_text())
for entry in suite["sr_models"]:
    if entry.get("weights"):
        shutil.copy(Path(sys.argv[1]) / "weights" / Path(entry["weights"]).name, ".gpu/shared/weights/")
EOF

version() { "$python" -c "import importlib.metadata as m; print(m.version('$1'))"; }
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
download() {
    "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d .gpu/wheels "$@"
}
download "keras==$(version keras)" "namex==$(version namex)" "optree==$(version optree)" \
    "pydantic==$(version pydantic)" "pydantic-core==$(version pydantic_core)" \
    "annotated-types==$(version annotated-types)" "typing-inspection==$(version typing-inspection)" \
    "typing-extensions==$(version typing-extensions)"
# Optional: the official Real-ESRGAN package and its basicsr (an sdist, built here into a pure-Python wheel).
if ! { download realesrgan==0.3.0 lmdb &&
    "$python" -m pip wheel -q --no-deps --no-build-isolation basicsr==1.4.2 -w .gpu/wheels; }; then
    rm -f .gpu/wheels/realesrgan-* .gpu/wheels/lmdb-* .gpu/wheels/basicsr-*
    echo "note: no RealESRGANer wheels; gpu-study will record that comparison as skipped"
fi

# What the device call sends: tracked and untracked-not-ignored files, shared/ and the carried .gpu.
"$python" - <<'EOF'
import os, subprocess
listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                        capture_output=True, check=True).stdout.split(b"\0")
tree = sum(os.path.getsize(p) for p in listed if p and os.path.isfile(p))
carried = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(".gpu") for f in fs)
total = tree + carried
print(f"working tree {tree / 2**20:.1f} MiB + .gpu {carried / 2**20:.1f} MiB = {total / 2**20:.1f} MiB "
      f"(the device tool's limit: 64 MiB)")
if total > 64 * 2**20:
    raise SystemExit("too large for one device call: drop the optional wheels or untracked files")
EOF
echo 'Now: run(command="bash benchmarks/gpu_study_device.sh", carry=[".gpu"], timeout_s=570)'
