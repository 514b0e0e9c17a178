"""`doctor` says what this machine can run; options are validated before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeinpaint.cli import app
from edgeinpaint.core.device import cuda_probe

runner = CliRunner()


def test_doctor_reports_every_backend_and_the_gpu_state() -> None:
    result = runner.invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for backend in ("tensorrt", "onnxruntime-cuda", "onnxruntime", "torch-cuda", "auto would pick"):
        assert backend in text
    if not cuda_probe().devices:
        assert "no GPU present" in text
    assert "CPUExecutionProvider │ loads" in text or "CPUExecutionProvider loads" in text


@pytest.mark.slow
def test_selftest_checks_every_available_backend_and_precision(tmp_path: Path) -> None:
    result = runner.invoke(app, ["doctor", "--selftest", "--keep", str(tmp_path / "art")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for precision in ("fp32", "fp16", "int8"):
        assert f"onnxruntime │ {precision}" in text
    assert text.count("│ ok ") >= 4 and "FAILED" not in text


def test_bad_export_options_fail_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "art"
    result = runner.invoke(app, ["export", "--precision", "int8", "-o", str(out)])
    assert result.exit_code == 1 and "needs --calibration DIR" in result.output and not out.exists()
    result = runner.invoke(
        app, ["export", "--precision", "int8", "--calibration", str(tmp_path / "nope"), "-o", str(out)]
    )
    assert result.exit_code == 1 and "not found" in result.output and not out.exists()
    result = runner.invoke(app, ["export", "--calibration-method", "percentil", "-o", str(out)])
    assert result.exit_code == 2 and "'percentile', 'entropy', 'minmax'" in " ".join(result.output.split())
    result = runner.invoke(app, ["bench", "--precision", "fp32,int4"])
    assert result.exit_code == 1 and "expected a comma list of fp32, fp16, int8" in result.output


def test_small_jobs_run_in_process_and_say_so(tiny_artifacts: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from tests.conftest import hole_mask, photo

    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    for n in ("coffee", "rocket"):
        Image.fromarray(photo(n, 48)).save(tmp_path / "i" / f"{n}.png")
        Image.fromarray((hole_mask(48, 48) * 255).astype(np.uint8)).save(tmp_path / "m" / f"{n}.png")
    args = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "m"), "--artifacts", str(tiny_artifacts)]
    result = runner.invoke(app, [*args, "-o", str(tmp_path / "o")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "in-process (a small job)" in result.output
    again = runner.invoke(app, [*args, "-o", str(tmp_path / "o"), "--skip-existing"], env={"COLUMNS": "200"})
    assert again.exit_code == 0 and "done 0, skipped 2, failed 0" in again.output


def test_misspelled_values_list_the_choices() -> None:
    result = runner.invoke(app, ["run", "-i", ".", "-m", ".", "--hd-strategy", "cropp"], env={"COLUMNS": "200"})
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "'cropp' is not one of 'original', 'crop', 'resize'" in text
    result = runner.invoke(app, ["train", "--set", "sise=64", "--stage", "edge", "--data", "."])
    assert "did you mean 'size'" in result.output


def test_readme_quick_start_runs_as_written(
    official_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's official-weights quick start, with an official-format checkpoint the tests build."""
    import re
    import shlex

    import numpy as np
    from PIL import Image

    from tests.conftest import hole_mask, photo

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = (
        readme.split("For real results use the official EdgeConnect", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    )
    commands = [ln for ln in block.splitlines() if ln.startswith(".venv/bin/edgeinpaint ")]
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDGEINPAINT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "places2").symlink_to(official_folder, target_is_directory=True)
    for d in ("photos", "masks"):
        (tmp_path / d).mkdir()
    Image.fromarray(photo("chelsea", 64)).save(tmp_path / "photos" / "cat.png")
    Image.fromarray((hole_mask(64, 64) * 255).astype(np.uint8)).save(tmp_path / "masks" / "cat.png")
    for command in commands:
        args = shlex.split(re.sub(r"^\.venv/bin/edgeinpaint ", "", command))
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (command, result.output)
    assert (tmp_path / "painted" / "cat.png").is_file()


def test_the_int8_hint_is_a_command_that_works(
    tiny_weights: Path, calib: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import shlex

    import numpy as np
    from PIL import Image

    from edgeinpaint.core import tolerances
    from tests.conftest import hole_mask, photo

    (tmp_path / "i").mkdir()
    Image.fromarray(photo("coffee", 48)).save(tmp_path / "i" / "c.png")
    Image.fromarray((hole_mask(48, 48) * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    run = ["run", "-i", str(tmp_path / "i"), "-m", str(tmp_path / "mask.png"), "--precision", "int8"]
    env = {"EDGEINPAINT_CACHE": str(tmp_path / "cache"), "COLUMNS": "400"}
    first = runner.invoke(app, [*run, "-o", str(tmp_path / "o1"), "--weights", str(tiny_weights)], env=env)
    assert first.exit_code == 1
    hint = re.search(r"`(edgeinpaint export [^`]+)`, then pass `--artifacts DIR`", " ".join(first.output.split()))
    assert hint, first.output
    command = hint.group(1).replace("IMAGES_DIR", str(calib)).replace(" DIR ", f" {tmp_path / 'art'} ")
    monkeypatch.setitem(tolerances.FLOORS_DB, "int8", 20.0)  # tiny random nets (see the ladder fixture)
    exported = runner.invoke(app, shlex.split(command)[1:], env=env)
    assert exported.exit_code == 0, exported.output
    second = runner.invoke(app, [*run, "-o", str(tmp_path / "o2"), "--artifacts", str(tmp_path / "art")], env=env)
    assert second.exit_code == 0, second.output


def test_missing_extras_hints_keep_their_brackets(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "no_torch.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from edgeinpaint.cli import main\n"
        "sys.argv = ['edgeinpaint', 'export', '-o', sys.argv[1]]\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, str(script), str(tmp_path / "a")], capture_output=True, text=True)
    assert result.returncode == 1
    text = " ".join((result.stdout + result.stderr).split())
    assert "pip install 'edgeinpaint[torch]'" in text and "pip install -e '.[torch]'" in text
