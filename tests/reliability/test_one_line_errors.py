"""Items 11-14, 17, 18, 20: bad paths, a full disk, a binary concepts file, a missing GPU give one line, exit != 0.

We run as root, so chmod cannot make a folder read-only: the read-only filesystem is simulated by making
os.mkdir/os.open fail with EROFS under one folder (what the kernel answers there), and the full disk by a
file handle whose write fails with ENOSPC. The translation of each errno is also tested directly.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from faults import FullDisk, cli, fill_disk, no_space_line, one_line_error, write_run_config

from synthmphn.captions.concepts import load_bank
from synthmphn.io import atomic_write_bytes, os_error_message
from synthmphn.models import checkpoint as checkpoint_module
from synthmphn.models.checkpoint import load_checkpoint
from synthmphn.models.factory import create_clip
from synthmphn.train.preflight import check_device

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Makes a folder behave like a read-only mount: creating or writing anything below it is EROFS."""

    def install(root: Path) -> None:
        real_mkdir, real_open = os.mkdir, os.open
        inside = str(root.resolve())

        def below(path: Any) -> bool:
            return os.path.abspath(os.fspath(path)).startswith(inside)

        def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            if below(path):
                if os.path.isdir(path):
                    raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
            real_mkdir(path, *args, **kwargs)

        def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if below(path) and flags & WRITE_FLAGS:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", mkdir)
        monkeypatch.setattr(os, "open", open_)

    return install


# ----------------------------------------------------------------------------- the translation, errno by errno


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOSPC, "no space left writing /r/x.pt"),
        (errno.EROFS, "/r/x.pt: not writable (Read-only file system)"),
        (errno.EACCES, "/r/x.pt: not writable (Permission denied)"),
        (errno.ENOTDIR, "/r/x.pt: a part of this path is a file, not a folder"),
        (errno.EEXIST, "/r/x.pt: exists and is not a folder"),
        (errno.EIO, "/r/x.pt: Input/output error"),
    ],
)
def test_os_error_message_names_the_path(code: int, expected: str) -> None:
    assert os_error_message(OSError(code, os.strerror(code), "/r/x.pt")).startswith(expected)


def test_an_error_built_from_a_message_keeps_it() -> None:
    assert (
        os_error_message(FileNotFoundError("x.yaml: config file not found"))
        == "x.yaml: config file not found"
    )


def test_an_atomic_write_on_a_full_disk_names_the_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as err:
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert f"error: {os_error_message(err.value)}" == no_space_line(target)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


# ----------------------------------------------------------------------------- item 20: disk full during train


def test_disk_full_while_train_writes_a_checkpoint(
    finished_run: Path, pristine_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = load_checkpoint(finished_run / "train" / "checkpoints" / "last.pt")["synthmphn"]["step"]
    fill_disk(monkeypatch, checkpoint_module)
    config = write_run_config(finished_run, pristine_dataset, steps=6)  # 2 more steps, then a checkpoint
    line = one_line_error(cli("train", config, "--resume"))
    step_file = finished_run / "train" / "checkpoints" / "step_0000006.pt"
    assert line == no_space_line(step_file)
    monkeypatch.undo()
    folder = finished_run / "train" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step_0000002.pt", "step_0000004.pt"]
    assert load_checkpoint(folder / "last.pt")["synthmphn"]["step"] == before


# ----------------------------------------------------------------------------- items 12, 14: train output.dir


def test_train_into_a_read_only_output_dir(pristine_dataset: Path, tmp_path: Path, read_only) -> None:  # type: ignore[no-untyped-def]
    config = write_run_config(tmp_path / "cfg", pristine_dataset)
    mount = tmp_path / "ro"
    mount.mkdir()
    read_only(mount)
    line = one_line_error(cli("train", config, f"output.dir={mount / 'run'}"))
    assert line.startswith(f"error: {mount / 'run' / 'train'}: not writable (Read-only file system)")


def test_train_with_output_dir_an_existing_file(pristine_dataset: Path, tmp_path: Path) -> None:
    config = write_run_config(tmp_path / "cfg", pristine_dataset)
    (tmp_path / "afile").write_text("not a folder")
    line = one_line_error(cli("train", config, f"output.dir={tmp_path / 'afile'}"))
    assert line.startswith(f"error: {tmp_path / 'afile' / 'train'}: a part of this path is a file")
    assert (tmp_path / "afile").read_text() == "not a folder"


# ----------------------------------------------------------------------------- item 13: eval on a read-only run


def test_eval_of_a_run_on_a_read_only_filesystem(pristine_dataset: Path, tmp_path: Path, read_only) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    write_run_config(run, pristine_dataset)
    checkpoint_module.save_checkpoint(
        run / "train" / "checkpoints" / "last.pt", create_clip("synth-tiny-vit").model
    )
    read_only(run)
    line = one_line_error(cli("eval", run, "eval.tasks=[diagnostics]"))
    assert line.startswith(f"error: {run / 'eval'}: not writable (Read-only file system)")


# ----------------------------------------------------------------------------- item 11: recaption OUT a file


def test_recaption_out_an_existing_file(pristine_dataset: Path, tmp_path: Path) -> None:
    (tmp_path / "out.tar").write_text("mine")
    line = one_line_error(cli("recaption", pristine_dataset, tmp_path / "out.tar"))
    assert (
        line
        == f"error: {tmp_path / 'out.tar'}: recaption OUT is an existing file; give a folder (new, or one recaption made)"
    )
    assert (tmp_path / "out.tar").read_text() == "mine"


# ----------------------------------------------------------------------------- item 17: a binary concepts file


def test_binary_concepts_file_is_named(tmp_path: Path) -> None:
    binary = tmp_path / "concepts.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with pytest.raises(ValueError, match=rf"captions.concepts_file={binary}: not a UTF-8 text file"):
        load_bank(binary)
    line = one_line_error(
        cli(
            "build",
            "configs/quickstart.yaml",
            f"captions.concepts_file={binary}",
            f"output.dir={tmp_path / 'run'}",
        )
    )
    assert f"captions.concepts_file={binary}: not a UTF-8 text file (byte 0: invalid start byte)" in line


# ----------------------------------------------------------------------------- item 18: a GPU this machine lacks


def test_a_missing_gpu_names_train_device(
    pristine_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    with pytest.raises(
        ValueError, match=r"train.device='cuda:7': this machine has 2 CUDA GPU\(s\) \(cuda:0 to cuda:1\)"
    ):
        check_device("cuda:7")
    check_device("cuda:1")
    check_device("cuda")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    config = write_run_config(tmp_path / "run", pristine_dataset)
    line = one_line_error(cli("train", config, "train.device=cuda:7"))
    assert "train.device='cuda:7': no CUDA GPU is usable here" in line and "train.device=cpu" in line
    assert not (tmp_path / "run" / "train").exists()
