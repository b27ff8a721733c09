"""`ClipEncoder`: the only model interface eval tasks use (normalised embeddings, no grad, batched)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from PIL import Image

from synthmphn.models.factory import ClipParts


class ClipEncoder:
    """Encodes PIL images and strings into L2-normalised float32 CPU tensors, `batch_size` at a time.

    Images go through `parts.preprocess_val` (no augmentation). The model is switched to eval mode
    while encoding and put back in its previous mode afterwards, so a trainer can call this mid-run.
    """

    def __init__(self, parts: ClipParts, device: str | torch.device = "cpu", batch_size: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.parts = parts
        self.model = parts.model.to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size

    @property
    def embed_dim(self) -> int:
        """Dimension D of the embeddings."""
        return self.parts.embed_dim

    def encode_images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """[N, D] embeddings of PIL images (converted to RGB, then the eval transform)."""
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = [
                self.parts.preprocess_val(image.convert("RGB"))
                for image in images[start : start + self.batch_size]
            ]
            chunks.append(self.encode_image_tensor(torch.stack(batch)))
        return self._concat(chunks)

    def encode_image_tensor(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, D] embeddings of already-preprocessed images [N, 3, H, W]."""
        dtype = next(self.model.parameters()).dtype
        chunks = []
        with self._eval_mode():
            for start in range(0, len(pixels), self.batch_size):
                x = pixels[start : start + self.batch_size].to(self.device, dtype=dtype)
                chunks.append(self._finish(self.model.encode_image(x)))
        return self._concat(chunks)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """[n, D] embeddings of captions (tokenised with the model's tokenizer; long ones are truncated)."""
        chunks = []
        with self._eval_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.parts.tokenizer(list(texts[start : start + self.batch_size])).to(self.device)
                chunks.append(self._finish(self.model.encode_text(tokens)))
        return self._concat(chunks)

    @staticmethod
    def _finish(features: torch.Tensor) -> torch.Tensor:
        # Normalise in float32: bf16/fp16 weights would otherwise give low-precision unit vectors.
        return F.normalize(features.float(), dim=-1).cpu()

    def _concat(self, chunks: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(chunks) if chunks else torch.zeros(0, self.embed_dim)

    @contextmanager
    def _eval_mode(self) -> Iterator[None]:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.model.train(was_training)
