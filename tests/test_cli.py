import numpy as np
from PIL import Image

from benchmark.cli import main


def test_list_shows_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for expected in ("suites:", "demo", "degradations:", "realesrgan", "SR models:", "esrgan", "psnr", "auroc"):
        assert expected in out


def test_user_error_is_one_line_and_exit_status_2(capsys):
    assert main(["run", "--suite", "no-such-suite", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown suite 'no-such-suite'") and "\n" not in err


def test_degrade_writes_the_lr_image(tmp_path, capsys):
    source = tmp_path / "hr.png"
    Image.fromarray(np.full((64, 66), 128, np.uint8)).save(source)
    assert main(["degrade", "--scenario", "bicubic-noise", "--scale", "4", "--param", "sigma=0.02",
                 str(source), str(tmp_path / "lr.png")]) == 0
    with Image.open(tmp_path / "lr.png") as lr:
        assert lr.size == (16, 16)


def test_degrade_with_unknown_param_names_the_valid_ones(tmp_path, capsys):
    source = tmp_path / "hr.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(source)
    assert main(["degrade", "--scenario", "bicubic-noise", "--param", "sgma=1", str(source), str(tmp_path / "o.png")]) == 2
    assert "sigma" in capsys.readouterr().err


def test_manifest_build_then_verify(tmp_path, capsys):
    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            folder = tmp_path / "data" / split / label
            folder.mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / f"{label}-1.jpeg")
    out = tmp_path / "m.csv"
    assert main(["manifest", "build", str(tmp_path / "data"), "--out", str(out), "--quiet"]) == 0
    assert main(["manifest", "verify", str(out), "--data-root", str(tmp_path / "data"), "--quiet"]) == 0
    assert "OK: 4 files" in capsys.readouterr().out
