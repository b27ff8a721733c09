"""`diffusers:<path>`: any local text-to-image pipeline (Stable Diffusion, SDXL, PixArt, ...) as a generator.

The pipeline loads lazily on the first `generate` call (torch and diffusers are imported only then,
so `import synthmphn.images` stays fast). Each image gets its own CPU `torch.Generator` seeded with its
image seed, so image i depends only on its own seed, whatever batch it lands in, and the same seed
gives the same starting noise on any device. Outputs are resized to size x size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from synthmphn.config import DiffusersConfig, ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.images.base import GENERATORS


class DiffusersGenerator:
    """A local diffusers text-to-image pipeline; `config` holds batch size, steps, guidance, dtype, device."""

    def __init__(self, path: str | Path, size: int, config: DiffusersConfig, name: str | None = None) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FileNotFoundError(
                f"diffusers pipeline not found: {self.path} (a pool entry 'diffusers:<path>' must name a local "
                "folder written by save_pretrained, with model_index.json)"
            )
        if not (self.path / "model_index.json").is_file():
            raise FileNotFoundError(
                f"{self.path / 'model_index.json'}: missing; 'diffusers:{path}' must name a pipeline folder "
                "written by save_pretrained (model_index.json plus one folder per component)"
            )
        self.size = size
        self.config = config
        self.name = name or f"diffusers:{path}"
        self._pipe: Any = None

    def _load(self) -> Any:
        """Loads the pipeline once (first call), on the configured device and dtype, progress bar off."""
        if self._pipe is None:
            import torch
            from diffusers import AutoPipelineForText2Image

            dtype = getattr(torch, self.config.dtype)
            try:  # diffusers >= 0.36 calls it `dtype`; older releases only know `torch_dtype`
                from diffusers.utils.deprecation_utils import _resolve_dtype  # noqa: F401

                kwargs = {"dtype": dtype}
            except ImportError:
                kwargs = {"torch_dtype": dtype}
            pipe = AutoPipelineForText2Image.from_pretrained(str(self.path), **kwargs)
            pipe = pipe.to(self.config.device)
            pipe.set_progress_bar_config(disable=True)
            self._pipe = pipe
        return self._pipe

    def generate(
        self, prompts: Sequence[str], specs: Sequence[CaptionSpec | None], seeds: Sequence[int]
    ) -> list[Image.Image]:
        """Renders each prompt with its own seed, `config.batch_size` prompts per pipeline call."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{self.name}: got {len(prompts)} prompts but {len(seeds)} seeds")
        import torch

        pipe = self._load()
        step = self.config.batch_size
        images: list[Image.Image] = []
        for start in range(0, len(prompts), step):
            batch = list(prompts[start : start + step])
            generators = [
                torch.Generator("cpu").manual_seed(int(s) % (1 << 63)) for s in seeds[start : start + step]
            ]
            negative = [self.config.negative_prompt] * len(batch) if self.config.negative_prompt else None
            with torch.inference_mode():
                out = pipe(
                    prompt=batch,
                    negative_prompt=negative,
                    num_inference_steps=self.config.steps,
                    guidance_scale=self.config.guidance,
                    generator=generators,
                    output_type="pil",
                )
            images += [self._finish(image) for image in out.images]
        return images

    def _finish(self, image: Image.Image) -> Image.Image:
        """RGB, centre-cropped to a square (non-square pipelines), resized to size x size."""
        image = image.convert("RGB")
        w, h = image.size
        if w != h:
            side = min(w, h)
            image = image.crop(
                ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
            )
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), Image.Resampling.LANCZOS)
        return image


@GENERATORS.register("diffusers")
def create_diffusers_generator(arg: str, size: int, config: ImagesConfig) -> DiffusersGenerator:
    """Factory for `diffusers:<path>`; a missing path raises FileNotFoundError naming it."""
    return DiffusersGenerator(arg, size, config.diffusers, name=f"diffusers:{arg}")
