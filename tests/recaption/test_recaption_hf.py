"""The transformers captioner on a tiny VisionEncoderDecoder built from configs (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from PIL import Image
from recaption_tiny_ved import EOS, WORDS, save_folder, tiny_model

from synthmphn.config import RecaptionConfig
from synthmphn.recaption import create_captioner


def solid(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (24, 24), rgb)


@pytest.fixture(scope="module")
def random_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_folder(tmp_path_factory.mktemp("tiny-ved"), tiny_model())


def test_random_model_captions_every_image_deterministically(random_folder: Path) -> None:
    config = RecaptionConfig(
        captioner="transformers", model=str(random_folder), batch_size=3, max_new_tokens=5
    )
    captioner = create_captioner(config)
    images = [solid((40 * i, 0, 255 - 40 * i)) for i in range(5)]
    first = captioner.caption(images)
    assert len(first) == 5 and all(isinstance(c, str) for c in first)
    assert all(len(c.split()) <= 5 for c in first)
    assert all(set(c.split()) <= set(WORDS[4:]) for c in first)  # special tokens are stripped
    assert captioner.caption(images) == first
    assert create_captioner(config).caption(images) == first  # reloaded from disk
    captioner.fit(images, first, seed=0)  # a no-op for a pretrained captioner
    assert captioner.caption(images) == first


def test_a_trained_tiny_model_says_what_it_learned(tmp_path: Path) -> None:
    """Fits the tiny model on two pairs for a few steps, so the decoding path is checked on real content."""
    model = tiny_model(seed=1)
    processor = transformers.ViTImageProcessor(size={"height": 16, "width": 16})
    images = [solid((230, 20, 20)), solid((20, 20, 230))]
    targets = torch.tensor([[4, 5, 7, EOS], [4, 6, 8, EOS]])  # "a red circle", "a blue square"
    pixels = processor(images=images, return_tensors="pt").pixel_values
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        loss = model(pixel_values=pixels, labels=targets).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    folder = save_folder(tmp_path / "trained", model.eval())
    captioner = create_captioner(
        RecaptionConfig(captioner="transformers", model=str(folder), batch_size=1, max_new_tokens=6)
    )
    assert captioner.caption(images) == ["a red circle", "a blue square"]


def test_missing_model_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        create_captioner(RecaptionConfig(captioner="transformers", model=str(missing)))
    with pytest.raises(ValueError, match="recaption.model"):
        create_captioner(RecaptionConfig(captioner="transformers"))
