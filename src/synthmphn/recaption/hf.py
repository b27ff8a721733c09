"""The `transformers` captioner: any local image-to-text model (BLIP, GIT, VisionEncoderDecoder, ...).

`recaption.model` is a folder written by `save_pretrained` (model + tokenizer + image processor). It loads
with `AutoModelForImageTextToText` (transformers 5.x; it maps vision-encoder-decoder, blip, git, ...), and
`AutoProcessor` when the folder has a multimodal processor, else `AutoImageProcessor` + `AutoTokenizer`
(VisionEncoderDecoder folders have no processor class of their own). Nothing is downloaded
(`local_files_only=True`).

Captions come from `generate(pixel inputs, max_new_tokens, do_sample=False, num_beams=1)`: greedy, so the
same weights and images give the same text. Unconditional captioning only: models that need a text prompt
(chat VLMs) are not supported here. `fit` does nothing: the model is used as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image

from synthmphn.config import RecaptionConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.recaption.base import CAPTIONERS, torch_threads


def model_folder(config: RecaptionConfig) -> Path:
    """The local model folder named by `recaption.model`; errors name what is missing."""
    if not config.model:
        raise ValueError("recaption.model must name a local model folder for captioner 'transformers'")
    path = Path(config.model)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path}: captioner model folder not found (recaption.model must be a local folder written by "
            "save_pretrained; nothing is downloaded)"
        )
    return path


def load_processors(path: Path) -> tuple[Any, Any]:
    """(image processor callable, tokenizer) of a model folder: AutoProcessor when it handles images."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    if hasattr(processor, "image_processor") and hasattr(processor, "tokenizer"):
        return processor, processor.tokenizer
    image_processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
    return image_processor, AutoTokenizer.from_pretrained(path, local_files_only=True)


@CAPTIONERS.register("transformers")
class TransformersCaptioner:
    """Captions images with a local transformers image-to-text model, `config.batch_size` at a time."""

    needs_fit: ClassVar[bool] = False

    def __init__(self, config: RecaptionConfig) -> None:
        from transformers import AutoModelForImageTextToText

        self.config = config
        self.path = model_folder(config)
        self.processor, self.tokenizer = load_processors(self.path)
        self.model = AutoModelForImageTextToText.from_pretrained(self.path, local_files_only=True)
        self.model.to(config.device).eval()

    def fit(
        self,
        images: list[Image.Image],
        captions: list[str],
        seed: int,
        specs: Sequence[CaptionSpec | None] | None = None,
    ) -> None:
        """Nothing to learn: a pretrained captioner is used as it is."""

    def save(self, directory: Path) -> None:
        """Nothing to save: the weights live in `recaption.model`."""

    def load(self, directory: Path) -> None:
        """Nothing to load: the weights were read from `recaption.model` at construction."""

    def caption(self, images: list[Image.Image]) -> list[str]:
        """One caption per image: batched greedy `generate`, special tokens removed, whitespace stripped."""
        out: list[str] = []
        with torch_threads(self.config.threads), torch.no_grad():
            for start in range(0, len(images), self.config.batch_size):
                batch = [image.convert("RGB") for image in images[start : start + self.config.batch_size]]
                out.extend(self._caption_batch(batch))
        return out

    def _caption_batch(self, images: list[Image.Image]) -> list[str]:
        """Captions of one batch; for decoder-only models the prompt tokens are cut from the output."""
        inputs = self.processor(images=images, return_tensors="pt").to(self.config.device)
        ids = self.model.generate(
            **inputs, max_new_tokens=self.config.max_new_tokens, do_sample=False, num_beams=1
        )
        if "input_ids" in inputs and not self.model.config.is_encoder_decoder:
            ids = ids[:, inputs["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
