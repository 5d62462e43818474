"""The checkout and the shared folder beside it, wherever a test file sits under tests/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"  # real X-rays and weights (../shared), never copied into the repo
