"""`clip_forward`: cutting the text tower to the captions' columns gives the uncut model's features and gradients."""

from __future__ import annotations

import copy

import pytest
import torch

from synthmphn.models import create_clip
from synthmphn.models.factory import tiny_model_names
from synthmphn.models.text_trim import causal_context, clip_forward, is_compiled, text_columns

CAPTIONS = ["a red cube", "a small blue sphere on the left of a green cone", "a cat", "two dogs"]


def features_and_grads(model, images, tokens, cut: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Image and text features of one forward (cut or not) and every parameter's gradient of a loss on both."""
    model = copy.deepcopy(model)
    outputs = clip_forward(model, images, tokens) if cut else model(images, tokens)
    image_features, text_features = outputs[:2]  # open_clip's CLIP returns (image, text, scale[, bias])
    loss = (image_features @ text_features.T).logsumexp(dim=1).sum() + text_features.square().sum()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return image_features.detach(), text_features.detach(), grads


@pytest.mark.parametrize("name", tiny_model_names())
def test_the_cut_forward_equals_the_full_one_in_value_and_gradient(name: str) -> None:
    torch.manual_seed(0)
    parts = create_clip(name)
    tokens = parts.tokenizer(CAPTIONS)
    size = parts.model.visual.image_size
    images = torch.randn(len(CAPTIONS), 3, *((size, size) if isinstance(size, int) else size))
    assert causal_context(parts.model) == tokens.shape[1] == 32
    full_images, full_texts, full_grads = features_and_grads(parts.model, images, tokens, cut=False)
    cut_images, cut_texts, cut_grads = features_and_grads(parts.model, images, tokens, cut=True)
    torch.testing.assert_close(cut_images, full_images)
    torch.testing.assert_close(cut_texts, full_texts, rtol=1e-5, atol=1e-6)
    assert cut_grads.keys() == full_grads.keys()
    for key, grad in full_grads.items():
        torch.testing.assert_close(cut_grads[key], grad, rtol=1e-4, atol=1e-6, msg=key)
    used = text_columns(tokens)
    assert full_grads["positional_embedding"][used:].abs().max() == 0  # the padding columns never mattered
    assert cut_grads["positional_embedding"].shape == (32, 128)  # the gradient reaches the whole parameter


def test_the_text_tower_sees_only_the_used_columns() -> None:
    parts = create_clip("synth-tiny-cnn-32")
    tokens = parts.tokenizer(CAPTIONS)
    seen: list[tuple[int, ...]] = []
    parts.model.token_embedding.register_forward_hook(
        lambda module, args, out: seen.append(tuple(args[0].shape))
    )
    clip_forward(parts.model, torch.randn(4, 3, 32, 32), tokens)
    longest = max(len(parts.tokenizer.encode(c)) for c in CAPTIONS) + 2  # + start and end of text
    assert seen == [(4, longest)]
    assert parts.model.positional_embedding.shape == (32, 128)  # the model itself is unchanged


def test_text_columns_is_the_last_end_of_text_position_plus_one() -> None:
    tokens = torch.zeros(3, 32, dtype=torch.long)
    tokens[0, :4] = torch.tensor([49406, 7, 8, 49407])  # end of text at position 3
    tokens[1, :6] = torch.tensor([49406, 7, 8, 9, 10, 49407])  # position 5
    tokens[2, :2] = torch.tensor([49406, 49407])
    assert text_columns(tokens) == 6
    assert text_columns(tokens, multiple=8) == 8
    assert text_columns(tokens[:, :7], multiple=8) == 7  # never wider than the tokens


def test_towers_without_a_causal_mask_or_argmax_pooling_run_uncut() -> None:
    model = create_clip("synth-tiny-vit").model
    assert causal_context(model) == 32
    open_mask = copy.deepcopy(model)
    open_mask.attn_mask = torch.zeros(32, 32)
    assert causal_context(open_mask) is None
    last_token = copy.deepcopy(model)
    last_token.text_pool_type = "last"
    assert causal_context(last_token) is None
    tokens = create_clip("synth-tiny-vit").tokenizer(CAPTIONS)
    seen: list[int] = []
    open_mask.token_embedding.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[1]))
    clip_forward(open_mask, torch.randn(4, 3, 32, 32), tokens)
    assert seen == [32]


def test_a_compiled_model_is_recognised_without_compiling() -> None:
    model = create_clip("synth-tiny-vit").model
    assert not is_compiled(model)
    model.compile(dynamic=False)  # lazy: nothing compiles until the first call
    assert is_compiled(model)
