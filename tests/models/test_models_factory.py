"""Tiny open_clip configs, `create_clip`, its transforms, and one train step with our losses."""

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image
from torchvision.transforms import Normalize, RandomHorizontalFlip, RandomResizedCrop
from torchvision.transforms.functional import to_tensor

from synthmphn.losses import ContrastiveBatch, create_loss
from synthmphn.models import CONFIG_DIR, create_clip, tiny_model_names

TINY = [
    "synth-tiny-cnn",
    "synth-tiny-cnn-32",
    "synth-tiny-convnext-32",
    "synth-tiny-sigmoid",
    "synth-tiny-vit",
    "synth-tiny-vit-64",
]


def random_images(count: int, size: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(count)]


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return create_clip("synth-tiny-vit")


def test_tiny_configs_are_registered_with_open_clip():
    assert tiny_model_names() == TINY
    assert set(TINY) <= set(open_clip.list_models())
    assert all((CONFIG_DIR / f"{name}.json").is_file() for name in TINY)


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_encodes_images_and_texts(name):
    parts = create_clip(name)
    size = parts.image_size
    assert size == (64 if name in ("synth-tiny-cnn", "synth-tiny-vit-64") else 32)
    tokens = parts.tokenizer(["a red digit 3 on the left", "a small blue cube"])
    assert tokens.shape == (2, 32)
    with torch.no_grad():
        images = parts.model.encode_image(torch.randn(2, 3, size, size))
        texts = parts.model.encode_text(tokens)
    assert images.shape == texts.shape == (2, parts.embed_dim) == (2, 128)
    assert sum(p.numel() for p in parts.model.parameters()) < 15_000_000  # 6.3M: the BPE token table


@pytest.mark.parametrize("name", TINY)
def test_plain_open_clip_gives_every_tiny_config_the_bpe_tokenizer(name):
    # A name containing "siglip" would get open_clip's SigLIP sentencepiece tokenizer (a Hub download).
    tokenizer = open_clip.get_tokenizer(name)
    assert isinstance(tokenizer, open_clip.tokenizer.SimpleTokenizer) and tokenizer.context_length == 32


def test_siglip_config_starts_at_the_papers_scale_and_bias():
    model = create_clip("synth-tiny-sigmoid").model
    assert model.logit_scale.exp().item() == pytest.approx(10.0, rel=1e-5)
    assert model.logit_bias.item() == -10.0


def test_unknown_model_name_lists_our_configs():
    with pytest.raises(ValueError, match=r"unknown model 'tiny-vit'.*synth-tiny-vit.*add_model_config"):
        create_clip("tiny-vit")


def test_missing_pretrained_file_is_named(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        create_clip("synth-tiny-vit", pretrained=missing)


def test_train_transform_is_a_light_crop_without_flips(vit):
    steps = vit.preprocess_train.transforms
    assert not any(isinstance(step, RandomHorizontalFlip) for step in steps)
    crop = next(step for step in steps if isinstance(step, RandomResizedCrop))
    assert crop.scale == (0.8, 1.0)
    assert vit.preprocess_train(random_images(1, 32)[0]).shape == (3, 32, 32)


def test_no_augmentation_trains_on_the_eval_transform():
    parts = create_clip("synth-tiny-vit", augment=False)
    assert parts.preprocess_train is parts.preprocess_val


def test_eval_transform_keeps_native_size_pixels(vit):
    image = random_images(1, 32, seed=1)[0]
    normalize = next(step for step in vit.preprocess_val.transforms if isinstance(step, Normalize))
    torch.testing.assert_close(vit.preprocess_val(image), normalize(to_tensor(image)))


def test_train_step_with_mpclip_gives_finite_gradients(vit):
    captions = ["a red circle", "a blue square", "a green digit 7"]
    images = random_images(6, 32, seed=2)
    pixels = torch.stack([vit.preprocess_train(image) for image in images])
    image_features, text_features, scale = vit.model(pixels, vit.tokenizer(captions))
    batch = ContrastiveBatch(
        image_features=image_features,
        text_features=text_features,
        image_caption=torch.tensor([0, 0, 1, 1, 2, 2]),
        text_partner=torch.tensor([-1, -1, -1]),
        text_is_negative=torch.tensor([False, False, False]),
        logit_scale=scale,
    )
    vit.model.zero_grad()
    loss = create_loss("mpclip")(batch)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in vit.model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert vit.model.logit_scale.grad.abs() > 0
