"""The `blip` captioner: the image tower of a CLIP trained on the raw web-like data + a light decoder fit on S_h.

BLIP's captioner is not trained from scratch on the clean set: it shares the image encoder pre-trained on
the noisy web pairs and only its text decoder learns from the clean, human-annotated ones. Here the encoder
is the image tower of the CLIP checkpoint `recaption.model` (default `recaption.scorer_checkpoint`, the raw
model that also scores captions in the filter): noisy captions name the wrong subject, but the images are
true, so its image features still separate subjects.

Model (e = the tower's image embedding, D = its width; F = 256):
    feature  v = Dropout(ReLU(W LayerNorm(e)))        (LayerNorm: CLIP embeddings are small and unnormalised)
    text     (`caption_form: text`) the embedded captioner's GRU decoder over v (`embedded.GruDecoder`):
             teacher forcing with word dropout, CE over next words; greedy or beam decoding
             (`recaption.beam_size`), batched
    heads    (`caption_form: structured`) a subject head and one head per attribute over v; loss =
             CE(subject) + Σ_a CE(attribute a), each attribute only over the pairs whose caption states it.
             The caption is the predicted spec rendered by the caption grammar (`captions.grammar`, one
             fixed phrasing): the subject, plus every attribute whose predicted value has p ≥ 0.5
The tower is frozen by default (its embeddings are computed once; its weights never change); with
`recaption.finetune_encoder` it trains with the decoder at 0.1 × `recaption.lr` (measured: at the decoder's
lr 2e-3 the tower forgets, held-out subject accuracy 0.083 → 0.049). AdamW, `recaption.epochs`
epochs, seeded init and shuffling (the embedded captioner's loop, `embedded.train_epochs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from torch import Tensor, nn

from synthmphn.captions.concepts import ConceptBank, Subject, plural_of
from synthmphn.captions.grammar import Template, render_caption
from synthmphn.config import RecaptionConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.io import atomic_open, atomic_write_json, read_json
from synthmphn.models.checkpoint import model_from_checkpoint
from synthmphn.recaption.base import CAPTIONERS, torch_threads
from synthmphn.recaption.embedded import (
    GruDecoder,
    Vocab,
    beam_decode,
    pad_batch,
    train_caption_net,
    train_epochs,
)

WEIGHTS_NAME = "blip.pt"
META_NAME = "blip.json"
FEATURE = 256
TOWER_LR_SCALE = 0.1  # a fine-tuned tower's lr relative to recaption.lr
STATE_ATTRIBUTE = 0.5  # structured form: an attribute is stated when its predicted value has p >= this
# The one phrasing of structured captions: "a small red digit 3 at the top left on a grass background".
TEMPLATE = Template(
    opener="",
    noun_style="pre",
    adjective_order=("size", "colour", "texture"),
    position_frame="at the {}",
    background_frame="on {} background",
    position_first=True,
    separator=" ",
)


def feature_layer(embed_dim: int) -> nn.Sequential:
    """v = Dropout(ReLU(W LayerNorm(e))): the CLIP embedding as the decoder's image feature [B, FEATURE]."""
    return nn.Sequential(nn.LayerNorm(embed_dim), nn.Linear(embed_dim, FEATURE), nn.ReLU(), nn.Dropout(0.2))


class FeatureDecoder(GruDecoder):
    """The GRU decoder reading CLIP image embeddings [B, D]."""

    def __init__(self, vocab_size: int, embed_dim: int) -> None:
        super().__init__(vocab_size, feature=FEATURE)
        self.project = feature_layer(embed_dim)

    def image_feature(self, inputs: Tensor) -> Tensor:
        """v of CLIP embeddings [B, D]."""
        return self.project(inputs)


class SpecHeads(nn.Module):
    """Subject and attribute-value logits from CLIP image embeddings [B, D]."""

    def __init__(self, embed_dim: int, subjects: int, attributes: dict[str, int]) -> None:
        super().__init__()
        self.project = feature_layer(embed_dim)
        self.subject = nn.Linear(FEATURE, subjects)
        self.attributes = nn.ModuleDict({name: nn.Linear(FEATURE, n) for name, n in attributes.items()})

    def forward(self, inputs: Tensor) -> dict[str, Tensor]:
        """{"subject": [B, S], attribute name: [B, V_a]} logits."""
        feature = self.project(inputs)
        return {"subject": self.subject(feature)} | {n: h(feature) for n, h in self.attributes.items()}


class Tuned(nn.Module):
    """A decoder or heads behind the CLIP image tower, trained together (`recaption.finetune_encoder`)."""

    def __init__(self, tower: nn.Module, inner: nn.Module) -> None:
        super().__init__()
        self.tower, self.inner = tower, inner

    def forward(self, pixels: Tensor, *args: Tensor) -> Any:
        """The inner module's output on the tower's embeddings of `pixels`."""
        return self.inner(self.tower(pixels), *args)


class SpecClasses:
    """The label sets of the structured form, read from S_h's specs: subjects (with categories), attribute values."""

    def __init__(self, subjects: dict[str, str], attributes: dict[str, list[str]]) -> None:
        self.subjects = subjects  # name -> category
        self.names = sorted(subjects)
        self.attributes = attributes  # attribute -> sorted values

    @classmethod
    def build(cls, specs: Sequence[CaptionSpec]) -> SpecClasses:
        """Every subject and stated attribute value of `specs` (sorted, so ids do not depend on order)."""
        subjects = {s.subject: s.category for s in specs}
        values: dict[str, set[str]] = {}
        for spec in specs:
            for name, value in spec.attributes.items():
                values.setdefault(name, set()).add(value)
        return cls(subjects, {name: sorted(v) for name, v in sorted(values.items())})

    def targets(self, specs: Sequence[CaptionSpec]) -> dict[str, Tensor]:
        """Class ids per head; -1 where a spec does not state the attribute (ignored by the loss)."""
        out = {"subject": torch.tensor([self.names.index(s.subject) for s in specs])}
        for name, values in self.attributes.items():
            ids = [values.index(s.attributes[name]) if name in s.attributes else -1 for s in specs]
            out[name] = torch.tensor(ids)
        return out

    def render(self, logits: dict[str, Tensor]) -> list[str]:
        """Captions of predicted specs: argmax subject, attributes stated when p ≥ STATE_ATTRIBUTE."""
        bank = ConceptBank(
            subjects=tuple(Subject(n, c, n, plural_of(n), ()) for n, c in self.subjects.items()),
            attributes={name: tuple(values) for name, values in self.attributes.items()},
        )
        subjects = logits["subject"].argmax(dim=1).tolist()
        stated = {n: torch.softmax(logits[n].float(), dim=1).max(dim=1) for n in self.attributes}
        captions = []
        for i, subject in enumerate(subjects):
            name = self.names[subject]
            attributes = {
                n: self.attributes[n][int(best.indices[i])]
                for n, best in stated.items()
                if float(best.values[i]) >= STATE_ATTRIBUTE
            }
            spec = CaptionSpec(subject=name, category=self.subjects[name], attributes=attributes)
            captions.append(render_caption(spec, TEMPLATE, bank))
        return captions

    def to_json(self) -> dict[str, Any]:
        """JSON-safe label sets (for `save`)."""
        return {"subjects": self.subjects, "attributes": self.attributes}


def encoder_checkpoint(config: RecaptionConfig) -> Path:
    """The CLIP checkpoint whose image tower the captioner uses: `recaption.model`, else the scorer's."""
    path = config.model or config.scorer_checkpoint
    if path is None:
        raise ValueError(
            "captioner 'blip' needs a CLIP checkpoint trained on the raw data: set recaption.model or "
            "recaption.scorer_checkpoint"
        )
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: CLIP checkpoint for captioner 'blip' not found (recaption.model)")
    return Path(path)


@CAPTIONERS.register("blip")
class BlipCaptioner:
    """A raw-data CLIP's image tower (frozen, or fine-tuned) + a GRU decoder or spec heads fit on S_h."""

    needs_fit: ClassVar[bool] = True

    def __init__(self, config: RecaptionConfig) -> None:
        self.config = config
        parts = model_from_checkpoint(encoder_checkpoint(config), device=config.device, augment=False)
        self.preprocess = parts.preprocess_val
        self.embed_dim = parts.embed_dim
        self.tower: nn.Module = parts.model.visual.eval()
        self.tower.requires_grad_(config.finetune_encoder)
        self.vocab: Vocab | None = None
        self.classes: SpecClasses | None = None
        self.inner: nn.Module | None = None
        self.losses: list[float] = []

    # ------------------------------------------------------------------------- fit

    def fit(
        self,
        images: list[Image.Image],
        captions: list[str],
        seed: int,
        specs: Sequence[CaptionSpec | None] | None = None,
    ) -> None:
        """Fits the decoder (text) or heads (structured) on S_h, the tower too with `finetune_encoder`."""
        if len(images) != len(captions) or not images:
            raise ValueError(
                f"fit needs as many captions as images (>0); got {len(images)} and {len(captions)}"
            )
        cfg = self.config
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            inputs = self._pixels(images) if cfg.finetune_encoder else self._embed(images)
            if cfg.caption_form == "structured":
                self.losses = self._fit_heads(inputs, _known_specs(specs, len(images)), seed)
            else:
                self.losses = self._fit_decoder(inputs, captions, seed)

    def _fit_decoder(self, inputs: Tensor, captions: list[str], seed: int) -> list[float]:
        """Builds the vocabulary and the GRU decoder, then trains them (teacher forcing)."""
        self.vocab = Vocab.build(captions)
        self.inner = FeatureDecoder(len(self.vocab), self.embed_dim).to(self.config.device)
        words = pad_batch([self.vocab.encode(c) for c in captions])
        return train_caption_net(self._trained_net(), inputs, words, self.config, seed, self._lr_scale())

    def _fit_heads(self, inputs: Tensor, specs: list[CaptionSpec], seed: int) -> list[float]:
        """Builds the label sets and heads, then trains them: CE(subject) + Σ_a CE(attribute a) over stated ones."""
        self.classes = classes = SpecClasses.build(specs)
        sizes = {name: len(values) for name, values in classes.attributes.items()}
        self.inner = SpecHeads(self.embed_dim, len(classes.names), sizes).to(self.config.device)
        targets = classes.targets(specs)
        net, loss_fn = self._trained_net(), nn.CrossEntropyLoss(ignore_index=-1, reduction="sum")

        def batch_loss(chosen: Tensor, generator: torch.Generator) -> Tensor:
            logits = net(inputs[chosen].to(self.config.device))
            total = torch.zeros((), device=self.config.device)
            for head, target in targets.items():
                picked = target[chosen].to(self.config.device)
                stated = int((picked >= 0).sum())
                if stated:
                    total = total + loss_fn(logits[head], picked) / stated
            return total

        return train_epochs(net, len(inputs), batch_loss, self.config, seed, self._lr_scale())

    def _lr_scale(self) -> dict[nn.Module, float]:
        """A fine-tuned tower learns at TOWER_LR_SCALE × lr (at the decoder's lr it forgets what it knew)."""
        return {self.tower: TOWER_LR_SCALE} if self.config.finetune_encoder else {}

    def _trained_net(self) -> nn.Module:
        """What the optimiser trains: the inner module, behind the tower when it is fine-tuned."""
        assert self.inner is not None
        return Tuned(self.tower, self.inner) if self.config.finetune_encoder else self.inner

    # ------------------------------------------------------------------------- caption

    def caption(self, images: list[Image.Image]) -> list[str]:
        """One caption per image, `config.batch_size` images at a time (greedy / beam, or rendered specs)."""
        if self.inner is None:
            raise RuntimeError("the blip captioner is not fitted: call fit() or load() first")
        out: list[str] = []
        with torch_threads(self.config.threads), torch.no_grad():
            self.inner.eval()
            for start in range(0, len(images), self.config.batch_size):
                out.extend(self._caption_batch(self._embed(images[start : start + self.config.batch_size])))
        return out

    def _caption_batch(self, embeddings: Tensor) -> list[str]:
        """Captions of one batch of tower embeddings."""
        assert self.inner is not None
        if self.classes is not None:
            return self.classes.render(self.inner(embeddings))
        assert self.vocab is not None and isinstance(self.inner, GruDecoder)
        ids = beam_decode(self.inner, embeddings, self.config.max_new_tokens, self.config.beam_size)
        return [self.vocab.decode(row) for row in ids.tolist()]

    def _pixels(self, images: Sequence[Image.Image]) -> Tensor:
        """The tower's input: the CLIP eval transform of each RGB image, stacked [N, 3, H, W]."""
        return torch.stack([self.preprocess(image.convert("RGB")) for image in images])

    def _embed(self, images: Sequence[Image.Image]) -> Tensor:
        """Tower embeddings [N, D] (eval mode, no grad) of images."""
        if not images:
            return torch.zeros(0, self.embed_dim)
        self.tower.eval()
        with torch.no_grad():
            return self.tower(self._pixels(images).to(self.config.device)).float()

    # ------------------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Writes the decoder / heads (and a fine-tuned tower) to `blip.pt`, the labels to `blip.json`."""
        if self.inner is None:
            raise RuntimeError("nothing to save: the blip captioner is not fitted")
        tower = self.tower.state_dict() if self.config.finetune_encoder else None
        with atomic_open(Path(directory) / WEIGHTS_NAME) as handle:
            torch.save({"inner": self.inner.state_dict(), "tower": tower}, handle)
        meta = {
            "caption_form": self.config.caption_form,
            "finetune_encoder": self.config.finetune_encoder,
            "vocab": self.vocab.tokens if self.vocab else None,
            "classes": self.classes.to_json() if self.classes else None,
            "losses": self.losses,
        }
        atomic_write_json(Path(directory) / META_NAME, meta)

    def load(self, directory: Path) -> None:
        """Restores a captioner written by `save`; its caption form and tower mode must match the config."""
        meta = read_json(Path(directory) / META_NAME)
        for field in ("caption_form", "finetune_encoder"):
            if meta[field] != getattr(self.config, field):
                raise ValueError(
                    f"{directory}: captioner was fitted with recaption.{field}={meta[field]}, "
                    f"config asks for {getattr(self.config, field)}"
                )
        state = torch.load(Path(directory) / WEIGHTS_NAME, map_location=self.config.device, weights_only=True)
        if meta["classes"] is not None:
            self.classes = SpecClasses(meta["classes"]["subjects"], meta["classes"]["attributes"])
            sizes = {name: len(values) for name, values in self.classes.attributes.items()}
            self.inner = SpecHeads(self.embed_dim, len(self.classes.names), sizes)
        else:
            self.vocab = Vocab(meta["vocab"])
            self.inner = FeatureDecoder(len(self.vocab), self.embed_dim)
        self.inner.to(self.config.device).load_state_dict(state["inner"])
        if state["tower"] is not None:
            self.tower.load_state_dict(state["tower"])
        self.losses = list(meta.get("losses", []))


def _known_specs(specs: Sequence[CaptionSpec | None] | None, n: int) -> list[CaptionSpec]:
    """The specs of every pair, as the structured form needs them (ValueError naming what is missing)."""
    if specs is None or len(specs) != n or any(s is None for s in specs):
        raise ValueError(
            "recaption.caption_form=structured needs every clean group's CaptionSpec (the group json's "
            "`spec`); use caption_form=text for data without specs"
        )
    return [s for s in specs if s is not None]
