"""The diffusers backend on a tiny Stable Diffusion pipeline built from configs in a tmp dir (no downloads)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from synthmphn.config import DiffusersConfig, ImagesConfig
from synthmphn.images import create_pool
from synthmphn.images.diffusers_backend import DiffusersGenerator


def build_tiny_pipeline(path) -> None:
    """A ~100 kB StableDiffusionPipeline: tiny UNet, VAE, CLIP text encoder and an offline char tokenizer."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=16,
    )
    # CLIP's BPE vocab: one token per character, and per character ending a word (no merges needed).
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789":
        vocab[ch] = len(vocab)
        vocab[f"{ch}</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=16,
            projection_dim=16,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(path)


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """The tiny pipeline's folder; torch runs single-threaded meanwhile (a tiny model on a busy 2-core
    machine is ~100x slower with spinning OpenMP threads)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("tiny-sd")
    build_tiny_pipeline(path)
    yield path
    torch.set_num_threads(threads)


def test_tiny_pipeline_generates_seeded_images_batch_independent(tiny_pipeline):
    config = ImagesConfig(
        pool=[f"diffusers:{tiny_pipeline}"], diffusers={"steps": 2, "batch_size": 3, "guidance": 3.0}
    )
    name = f"diffusers:{tiny_pipeline}"
    gen = create_pool([name], 24, config)[name]
    assert gen.name == name and gen._pipe is None  # lazy: nothing loaded yet
    prompts = ["a red circle", "digit 7", "a blue house", "a green tree"]
    images = gen.generate(prompts, [None] * 4, [11, 12, 13, 14])
    assert [im.size for im in images] == [(24, 24)] * 4 and all(im.mode == "RGB" for im in images)
    again = gen.generate(prompts[:2], [None, None], [11, 12])
    assert again[0].tobytes() == images[0].tobytes()
    assert images[0].tobytes() != gen.generate(prompts[:1], [None], [99])[0].tobytes()
    # image i depends only on its own seed: alone (batch of 1) == inside a batch of 3
    alone = gen.generate([prompts[1]], [None], [12])[0]
    assert np.abs(np.asarray(alone, np.int16) - np.asarray(images[1], np.int16)).max() <= 1
    # a negative prompt changes the unconditional branch of guidance, hence the image
    gen.config = DiffusersConfig(steps=2, batch_size=3, guidance=3.0, negative_prompt="blurry")
    negative = gen.generate(prompts[:1], [None], [11])[0]
    assert negative.size == (24, 24) and negative.tobytes() != images[0].tobytes()


def test_missing_pipeline_path_names_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        DiffusersGenerator(missing, 32, ImagesConfig().diffusers)


def test_a_folder_that_is_no_pipeline_is_refused_before_loading(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"model_index\.json: missing; 'diffusers:.*' must name a pipeline"
    ):
        DiffusersGenerator(tmp_path, 32, ImagesConfig().diffusers)


def test_importing_images_does_not_import_torch_or_diffusers():
    code = "import sys, synthmphn.images; print('torch' in sys.modules, 'diffusers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]
