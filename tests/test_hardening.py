"""Temporaries of killed writers, resuming past damaged checkpoints, output checks, plain-text
errors and help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from neurogeom._files import check_output, replace_dir_atomic, write_atomic
from neurogeom.cli import app
from tests._specs import TINY_SPEC, spec_toml

FILES = Path(__file__).resolve().parents[1] / "neurogeom" / "_files.py"

# A writer that stops inside its write (the temporary exists) until it is killed.
# neurogeom/_files.py is loaded on its own (not the package) so that the writer starts fast.
_STUCK_WRITER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("files", sys.argv[3])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
replace_atomic, replace_dir_atomic = files.replace_atomic, files.replace_dir_atomic
target, kind = sys.argv[1], sys.argv[2]
def write(tmp):
    if kind == "dir":
        tmp.mkdir()
        (tmp / "part").write_bytes(b"x" * 4096)
    else:
        tmp.write_bytes(b"x" * 4096)
    print("writing", flush=True)
    time.sleep(600)
(replace_dir_atomic if kind == "dir" else replace_atomic)(target, write)
"""


def _stuck_writer(target: Path, kind: str = "file") -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _STUCK_WRITER, str(target), kind, str(FILES)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".tmp.nc")))


def test_next_write_removes_the_temporaries_of_killed_writers_only(tmp_path):
    target, other = tmp_path / "result.nc", tmp_path / "other.nc"
    killed = [_stuck_writer(target) for _ in range(2)]
    live = _stuck_writer(target)
    foreign = _stuck_writer(other)
    try:
        for proc in killed + [foreign]:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        left = _temporaries(tmp_path)
        assert len(left) == 4  # two killed writers of target, one live, one of another target
        write_atomic(target, b"new")
        after = _temporaries(tmp_path)
        assert target.read_bytes() == b"new"
        # the live writer's temporary and the other target's stay; the killed ones are gone
        assert len(after) == 2
        assert any(f".{live.pid}." in n for n in after)
        assert any(n.startswith(".other.nc.") for n in after)
    finally:
        live.kill()
        live.wait()


def test_next_store_write_removes_a_killed_writers_folder(tmp_path):
    target = tmp_path / "sweep.zarr"
    proc = _stuck_writer(target, "dir")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(_temporaries(tmp_path)) == 1
    replace_dir_atomic(target, lambda tmp: tmp.mkdir())
    assert _temporaries(tmp_path) == [] and target.is_dir()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from neurogeom.models.train import train

    return train(TINY_SPEC, tmp_path_factory.mktemp("ref") / "run")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["last_truncated", "last_zeroed", "checkpoint_truncated"])
def test_resume_past_a_damaged_state_file_ends_with_identical_weights(
    tmp_path, uninterrupted, damage
):
    from neurogeom.models.train import load_checkpoint, train

    run = tmp_path / "run"
    train(TINY_SPEC, run, max_steps=20)
    if damage.startswith("last"):
        bad = run / "last.safetensors"
        assert load_checkpoint(bad)[1]["step"] == 20
        data = bad.read_bytes()
        bad.write_bytes(data[: len(data) // 2] if damage == "last_truncated" else bytes(len(data)))
        resumed_from = "step 16"  # the newest scheduled checkpoint
    else:
        bad = run / "checkpoints" / "step_0000016.safetensors"
        bad.write_bytes(bad.read_bytes()[:100])
        resumed_from = "step 13"  # the newest state before the damaged checkpoint
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = train(TINY_SPEC, run)
    notes = [str(w.message) for w in caught if "truncated or damaged" in str(w.message)]
    assert len(notes) == 1 and bad.name in notes[0] and resumed_from in notes[0], notes
    assert res.step == 40 and _same_weights(res.network, uninterrupted.network)
    assert load_checkpoint(bad)[1]["step"] in (16, 40)  # written again, whole


def test_train_command_says_which_state_it_resumed_from(tmp_path):
    import json

    spec = tmp_path / "tiny.toml"
    spec.write_text(spec_toml(TINY_SPEC))
    run = tmp_path / "run"
    args = ["train", str(spec), "-o", str(run), "--no-progress"]
    assert CliRunner().invoke(app, [*args, "--max-steps", "20"]).exit_code == 0
    (run / "last.safetensors").write_bytes(b"\0" * 64)
    res = CliRunner().invoke(app, args)
    text = " ".join(res.output.split())
    assert res.exit_code == 0, res.output
    assert "warning:" in text and "last.safetensors is truncated or damaged" in text
    assert "resuming from step 16" in text and "step 40" in text
    assert json.loads((run / "spec.json").read_text())["training"]["n_steps"] == 40


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch here can use CUDA")
def test_cuda_device_on_a_cpu_only_torch(tmp_path):
    from neurogeom.models.train import train

    spec = {**TINY_SPEC, "training": {**TINY_SPEC["training"], "device": "cuda:7"}}
    with pytest.raises(ValueError, match=r"'cuda:7', but CUDA is not available.*\"cpu\""):
        train(spec, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_negative_max_steps_is_refused(tmp_path):
    from neurogeom.models.train import train

    with pytest.raises(ValueError, match="max_steps must be a non-negative integer; got -5"):
        train(TINY_SPEC, tmp_path / "run", max_steps=-5)
    assert not (tmp_path / "run").exists()


def test_output_checks(tmp_path):
    inp = tmp_path / "pop.nc"
    inp.write_bytes(b"x")
    with pytest.raises(ValueError, match="is the input"):
        check_output(tmp_path / "." / "pop.nc", inputs=[inp])
    os.link(inp, tmp_path / "alias.nc")
    with pytest.raises(ValueError, match="is the input"):
        check_output(tmp_path / "alias.nc", inputs=[inp])
    with pytest.raises(IsADirectoryError, match="is a folder; give a file path"):
        check_output(tmp_path)
    with pytest.raises(NotADirectoryError, match="is a file, but a folder"):
        check_output(inp, folder=True)
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        check_output(inp / "deeper" / "out.nc")
    (tmp_path / "notes.zarr").mkdir()
    (tmp_path / "notes.zarr" / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="not a zarr store"):
        check_output(tmp_path / "notes.zarr")
    assert check_output(tmp_path / "new" / "deeper" / "out.nc").name == "out.nc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.nc", "notes.zarr", "pop.nc"]


def _cannot_write(folder: Path) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(probe)
    return False


def test_output_in_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if not _cannot_write(folder):  # root writes in read-only folders: take one it cannot
            folder = Path("/sys")
            if not folder.is_dir() or not _cannot_write(folder):
                pytest.skip("no folder this user cannot write in")
        before = sorted(folder.iterdir())
        with pytest.raises(PermissionError, match=r"-o '.*out\.nc': cannot write in '.*'"):
            check_output(folder / "out.nc")
        assert sorted(folder.iterdir()) == before
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_errors_and_help_keep_words_in_brackets(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('[task]\nname = "ContextDecisionMaking-v0"\n[training]\nn_step = 3\n')
    res = CliRunner().invoke(app, ["train", str(spec), "-o", str(tmp_path / "run")])
    text = " ".join(res.output.split())
    assert res.exit_code == 1
    assert "unknown key(s) ['n_step'] in [training] (did you mean 'n_steps'?)" in text
    help_text = " ".join(CliRunner().invoke(app, ["train", "--help"]).output.split())
    assert "a grid ([sweep]) spec runs with `neurogeom sweep`" in help_text
    run_help = " ".join(CliRunner().invoke(app, ["run", "--help"]).output.split())
    assert "[sweep] rank = [...]" in run_help


def test_stale_check_leaves_a_slow_live_writer_alone(tmp_path):
    target = tmp_path / "a.nc"
    proc = _stuck_writer(target)
    try:
        time.sleep(0.05)
        write_atomic(target, b"one")
        write_atomic(target, b"two")
        assert len(_temporaries(tmp_path)) == 1 and proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
