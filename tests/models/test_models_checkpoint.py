"""Checkpoints: atomic, weights_only-safe, loadable by plain open_clip in a fresh process."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from synthmphn.models import (
    CONFIG_DIR,
    ClipEncoder,
    create_clip,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(1)
    return create_clip("synth-tiny-vit")


def test_layout_and_weights_only_load(parts, tmp_path):
    state = {"step": 7, "optimizer": {"lr": 1e-3, "moments": [torch.ones(2)]}, "note": None, "seed": (1, 2)}
    path = save_checkpoint(tmp_path / "ckpt.pt", parts.model, state)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"state_dict", "synthmphn"}
    assert raw["synthmphn"]["model_name"] == "synth-tiny-vit"
    assert raw["synthmphn"]["step"] == 7
    assert set(raw["state_dict"]) == set(parts.model.state_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # atomic: no temp file left behind
    assert load_checkpoint(path)["synthmphn"]["optimizer"]["lr"] == 1e-3


def test_ddp_style_wrapper_is_unwrapped(parts, tmp_path):
    wrapper = nn.Module()
    wrapper.module = parts.model
    path = save_checkpoint(tmp_path / "c.pt", wrapper, {})
    assert not any(key.startswith("module.") for key in load_checkpoint(path)["state_dict"])


def test_numpy_in_training_state_is_rejected_with_its_key(parts, tmp_path):
    with pytest.raises(TypeError, match=r"training_state\['sampler'\]\['rng'\].*numpy"):
        save_checkpoint(tmp_path / "c.pt", parts.model, {"sampler": {"rng": np.zeros(3)}})
    assert not (tmp_path / "c.pt").exists()


def test_model_name_is_required_for_foreign_models(tmp_path):
    with pytest.raises(ValueError, match="model_name"):
        save_checkpoint(tmp_path / "c.pt", nn.Linear(2, 2), {})


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint(tmp_path / "absent.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt.pt"):
        load_checkpoint(corrupt)


def test_model_from_checkpoint_restores_the_features(parts, tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", parts.model, {"step": 1})
    restored = model_from_checkpoint(path)
    assert restored.name == "synth-tiny-vit"
    texts = ["a red circle", "a blue cube"]
    torch.testing.assert_close(
        ClipEncoder(restored).encode_texts(texts), ClipEncoder(parts).encode_texts(texts)
    )


def test_plain_open_clip_loads_our_checkpoint_in_a_fresh_process(parts, tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", parts.model, {"step": 3, "sampler": {"cursor": 5}})
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    tokens = parts.tokenizer(["a red circle", "a small green digit 4 on the left"])
    torch.save({"pixels": pixels, "tokens": tokens}, tmp_path / "inputs.pt")
    script = textwrap.dedent(
        f"""
        import open_clip, torch
        open_clip.add_model_config({str(CONFIG_DIR)!r})
        model, _, _ = open_clip.create_model_and_transforms("synth-tiny-vit", pretrained={str(path)!r})
        model.eval()
        inputs = torch.load({str(tmp_path / "inputs.pt")!r})
        with torch.no_grad():
            out = {{"image": model.encode_image(inputs["pixels"]), "text": model.encode_text(inputs["tokens"])}}
        torch.save(out, {str(tmp_path / "outputs.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    outputs = torch.load(tmp_path / "outputs.pt")
    parts.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(outputs["image"], parts.model.encode_image(pixels))
        torch.testing.assert_close(outputs["text"], parts.model.encode_text(tokens))
