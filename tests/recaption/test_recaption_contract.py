"""Every registered captioner keeps the protocol: one deterministic caption per image, save/load round trip.

Parametrized over the registry, so a new captioner is tested the moment it registers (add its tiny setup
to `SETUPS`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from recaption_tiny_ved import save_folder, tiny_model
from recaption_toyworld import sample

from synthmphn.config import RecaptionConfig
from synthmphn.models.checkpoint import save_checkpoint
from synthmphn.models.factory import create_clip
from synthmphn.recaption import CAPTIONERS, create_captioner

create_captioner(RecaptionConfig())  # registers the built-in captioners

SETUPS: dict[str, Callable[[Path], RecaptionConfig]] = {
    "embedded": lambda tmp: RecaptionConfig(epochs=1, batch_size=4),
    "blip": lambda tmp: RecaptionConfig(
        model=str(save_checkpoint(tmp / "clip.pt", create_clip("synth-tiny-cnn-32").model)),
        epochs=1,
        batch_size=4,
        beam_size=2,
        max_new_tokens=6,
    ),
    "transformers": lambda tmp: RecaptionConfig(
        captioner="transformers",
        model=str(save_folder(tmp / "ved", tiny_model())),
        batch_size=4,
        max_new_tokens=4,
    ),
}


@pytest.mark.parametrize("name", [n for n in CAPTIONERS.names() if not n.startswith("test-")])
def test_captioner_contract(name: str, tmp_path: Path) -> None:
    assert name in SETUPS, f"captioner {name!r} has no contract setup in {__file__}"
    config = SETUPS[name](tmp_path).model_copy(update={"captioner": name})
    images, captions, _ = sample(6, seed=9)
    captioner = create_captioner(config)
    if captioner.needs_fit:
        captioner.fit(images, captions, seed=0)
    out = captioner.caption(images)
    assert len(out) == len(images) and all(isinstance(c, str) for c in out)
    assert captioner.caption(images) == out
    assert captioner.caption([]) == []
    captioner.save(tmp_path / "state")
    reloaded = create_captioner(config)
    reloaded.load(tmp_path / "state")
    assert reloaded.caption(images) == out
