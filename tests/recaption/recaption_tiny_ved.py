"""A tiny VisionEncoderDecoder captioner folder built from configs, offline (random or briefly trained weights)."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers

WORDS = ["<pad>", "<bos>", "<eos>", "<unk>", "a", "red", "blue", "circle", "square"]
PAD, BOS, EOS = 0, 1, 2


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A word-level tokenizer over WORDS, built offline with `tokenizers`."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<bos>", eos_token="<eos>", unk_token="<unk>", pad_token="<pad>"
    )


def tiny_model(seed: int = 0) -> transformers.VisionEncoderDecoderModel:
    """ViT (16 px, 2 patches a side, width 16) + 1-layer GPT-2 decoder with cross-attention."""
    encoder = transformers.ViTConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=16,
        patch_size=8,
    )
    decoder = transformers.GPT2Config(
        vocab_size=len(WORDS), n_embd=16, n_layer=1, n_head=2, n_positions=16, add_cross_attention=True,
        is_decoder=True, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD,
    )  # fmt: skip
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = BOS, PAD, EOS
    torch.manual_seed(seed)
    model = transformers.VisionEncoderDecoderModel(config=config)
    model.generation_config.decoder_start_token_id = BOS
    model.generation_config.pad_token_id = PAD
    model.generation_config.eos_token_id = EOS
    return model


def save_folder(path: Path, model: transformers.VisionEncoderDecoderModel) -> Path:
    """Model + tokenizer + image processor in one save_pretrained folder."""
    model.save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    transformers.ViTImageProcessor(size={"height": 16, "width": 16}).save_pretrained(path)
    return path
