"""The embedded captioner: a small conv image encoder + a word-level GRU decoder, trained from scratch.

This is the paper's "image-grounded text decoder trained on S_h" for our images: it fits on a few hundred
clean (image, caption) pairs in under a minute of one CPU core (1,000 pairs × 30 epochs ≈ 45 s), then
captions the rest of the data.

Model (defaults: 32 px input, width 32, feature F = 128, word embedding 64):
    trunk    [conv3x3 · BatchNorm · ReLU] (3→32) · maxpool → (32→64) · maxpool → (64→128)   → 8×8 grid
    feature  v = Dropout(ReLU(W [what; where])), with what = global max pool of the grid (which things are
             there, wherever they are) and where = a 1×1 conv to 8 maps average-pooled to 4×4 (the position
             words, "at the top left", need the layout)
    decoder  h₀ = tanh(U v); at step t the GRU reads [embed(w_{t-1}); v] and the next-word logits come from
             [h_t; v], so every word sees the image directly
Training: teacher forcing with word dropout (each input word is replaced by <unk> with p = 0.25, so the decoder
cannot guess the next word from the phrase alone), loss = mean over non-pad targets of CE(logits_t, w_t),
AdamW (lr `recaption.lr`, weight decay 1e-4), `recaption.epochs` epochs, seeded init and shuffling.
Decoding: greedy argmax from <bos> until <eos> or `recaption.max_new_tokens` words.

Text: captions are lowercased and split into words and punctuation marks; the vocabulary holds every token of
the clean captions plus <pad>, <bos>, <eos>, <unk>. Generated tokens are joined with spaces, without a space
before closing punctuation, so "a red circle, on grass." round-trips.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from synthmphn.config import RecaptionConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.io import atomic_open, atomic_write_json, read_json
from synthmphn.recaption.base import CAPTIONERS, torch_threads

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*|[^\sa-z0-9]")
_NO_SPACE_BEFORE = set(".,;:!?)")
WEIGHTS_NAME = "captioner.pt"
VOCAB_NAME = "captioner.json"
WORD_DROPOUT = 0.25


def tokenize(text: str) -> list[str]:
    """Lowercased words and punctuation marks of a caption: 'Two red circles, left.' -> [two, red, circles, ',', left, '.']."""
    return _TOKEN_RE.findall(text.lower())


def detokenize(tokens: list[str]) -> str:
    """Joins tokens with spaces, except before closing punctuation (the inverse of `tokenize` on our captions)."""
    text = ""
    for token in tokens:
        text += token if (not text or token in _NO_SPACE_BEFORE) else " " + token
    return text


def normalize_caption(text: str) -> str:
    """A caption as the embedded captioner would write it (lowercase, canonical spacing); for exact-match."""
    return detokenize(tokenize(text))


class Vocab:
    """Token <-> id; ids 0..3 are <pad>, <bos>, <eos>, <unk>; the rest are sorted corpus tokens."""

    def __init__(self, tokens: list[str]) -> None:
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {tokens[:4]}")
        self.tokens = tokens
        self.index = {token: i for i, token in enumerate(tokens)}

    @classmethod
    def build(cls, captions: list[str]) -> Vocab:
        """The vocabulary of every token in `captions` (sorted, so the ids do not depend on caption order)."""
        words = sorted({token for caption in captions for token in tokenize(caption)} - set(SPECIALS))
        return cls([*SPECIALS, *words])

    def encode(self, caption: str) -> list[int]:
        """[<bos>, ids..., <eos>]; unknown words map to <unk>."""
        return [BOS, *(self.index.get(t, UNK) for t in tokenize(caption)), EOS]

    def decode(self, ids: list[int]) -> str:
        """Text of ids up to the first <eos>, skipping specials."""
        words: list[str] = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                words.append(self.tokens[i])
        return detokenize(words)

    def __len__(self) -> int:
        return len(self.tokens)


def conv_block(channels_in: int, channels_out: int) -> list[nn.Module]:
    """conv3x3 -> BatchNorm -> ReLU (BatchNorm makes the from-scratch fit on ~1,000 images fast and stable)."""
    return [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out), nn.ReLU()]


class GruDecoder(nn.Module):
    """Word-level GRU decoder conditioned on an image feature v [B,F] at every step (see module doc).

    Subclasses say how v is made from their input (`image_feature`); decoding (`start`, `step`) is shared by
    the embedded and blip captioners.
    """

    def __init__(self, vocab_size: int, feature: int = 128, embed: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD)
        self.init_hidden = nn.Linear(feature, feature)
        self.gru = nn.GRU(embed + feature, feature, batch_first=True)
        self.head = nn.Linear(2 * feature, vocab_size)

    def image_feature(self, inputs: Tensor) -> Tensor:
        """The image feature v [B,F] of a batch of inputs."""
        raise NotImplementedError

    def start(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Image features v [B,F] and the decoder's first hidden state [1,B,F]."""
        feature = self.image_feature(inputs)
        return feature, torch.tanh(self.init_hidden(feature)).unsqueeze(0)

    def step(self, words: Tensor, feature: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """Logits [B,T,V] for the next words after `words` [B,T], and the new hidden state."""
        image = feature.unsqueeze(1).expand(-1, words.shape[1], -1)
        out, hidden = self.gru(torch.cat([self.embed(words), image], dim=-1), hidden)
        return self.head(torch.cat([out, image], dim=-1)), hidden

    def forward(self, inputs: Tensor, words: Tensor) -> Tensor:
        """Teacher-forced logits [B,T,V] after each of `words` [B,T] (targets are the words shifted by one)."""
        feature, hidden = self.start(inputs)
        return self.step(words, feature, hidden)[0]


class CaptionNet(GruDecoder):
    """Conv image encoder trained from scratch + the GRU decoder (see module doc)."""

    def __init__(
        self, vocab_size: int, image_size: int, width: int = 32, feature: int = 128, embed: int = 64
    ) -> None:
        super().__init__(vocab_size, feature, embed)
        if image_size % 4:
            raise ValueError(f"embedded captioner image_size must be a multiple of 4, got {image_size}")
        self.trunk = nn.Sequential(
            *conv_block(3, width), nn.MaxPool2d(2),
            *conv_block(width, 2 * width), nn.MaxPool2d(2),
            *conv_block(2 * width, 4 * width),
        )  # fmt: skip
        self.what = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.where = nn.Sequential(
            nn.Conv2d(4 * width, 8, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten()
        )
        self.project = nn.Sequential(nn.Linear(4 * width + 8 * 16, feature), nn.ReLU(), nn.Dropout(0.2))

    def image_feature(self, inputs: Tensor) -> Tensor:
        """v = project([what; where]) of the conv grid of pixels [B,3,S,S]."""
        grid = self.trunk(inputs)
        return self.project(torch.cat([self.what(grid), self.where(grid)], dim=1))


def to_pixels(images: list[Image.Image], size: int) -> Tensor:
    """RGB images resized to size×size as a float tensor [N,3,size,size] in [-1, 1]."""
    arrays = [np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)) for im in images]
    stacked = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return stacked / 127.5 - 1.0


def pad_batch(sequences: list[list[int]]) -> Tensor:
    """Right-pads id lists with <pad> into a LongTensor [N, max_len]."""
    longest = max(len(s) for s in sequences)
    return torch.tensor([s + [PAD] * (longest - len(s)) for s in sequences], dtype=torch.long)


@CAPTIONERS.register("embedded")
class EmbeddedCaptioner:
    """A small captioner trained from scratch on clean pairs (`fit`), then greedy-decoding captions."""

    needs_fit: ClassVar[bool] = True

    def __init__(self, config: RecaptionConfig) -> None:
        self.config = config
        self.vocab: Vocab | None = None
        self.net: CaptionNet | None = None
        self.losses: list[float] = []  # mean training loss per epoch, for reports

    def fit(
        self,
        images: list[Image.Image],
        captions: list[str],
        seed: int,
        specs: Sequence[CaptionSpec | None] | None = None,
    ) -> None:
        """Trains on (image, caption) pairs: teacher forcing + CE, AdamW, `config.epochs` epochs, seeded (specs unused)."""
        if len(images) != len(captions) or not images:
            raise ValueError(
                f"fit needs as many captions as images (>0); got {len(images)} and {len(captions)}"
            )
        cfg = self.config
        with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # the init of every layer below (the caller's RNG state is restored)
            self.vocab = Vocab.build(captions)
            self.net = CaptionNet(len(self.vocab), cfg.image_size).to(cfg.device)
            pixels = to_pixels(images, cfg.image_size)
            words = pad_batch([self.vocab.encode(c) for c in captions])
            self.losses = train_caption_net(self.net, pixels, words, cfg, seed)

    def caption(self, images: list[Image.Image]) -> list[str]:
        """One caption per image, greedy decoding in batches of `config.batch_size`."""
        if self.net is None or self.vocab is None:
            raise RuntimeError("the embedded captioner is not fitted: call fit() or load() first")
        cfg = self.config
        out: list[str] = []
        with torch_threads(cfg.threads), torch.no_grad():
            self.net.eval()
            for start in range(0, len(images), cfg.batch_size):
                pixels = to_pixels(images[start : start + cfg.batch_size], cfg.image_size).to(cfg.device)
                ids = greedy_decode(self.net, pixels, cfg.max_new_tokens)
                out.extend(self.vocab.decode(row) for row in ids.tolist())
        return out

    def save(self, directory: Path) -> None:
        """Writes the weights (`captioner.pt`, state dict) and vocabulary + sizes (`captioner.json`)."""
        if self.net is None or self.vocab is None:
            raise RuntimeError("nothing to save: the embedded captioner is not fitted")
        with atomic_open(Path(directory) / WEIGHTS_NAME) as handle:
            torch.save(self.net.state_dict(), handle)
        meta = {"vocab": self.vocab.tokens, "image_size": self.config.image_size, "losses": self.losses}
        atomic_write_json(Path(directory) / VOCAB_NAME, meta)

    def load(self, directory: Path) -> None:
        """Restores a captioner written by `save`; the image size must match the config."""
        meta = read_json(Path(directory) / VOCAB_NAME)
        if meta["image_size"] != self.config.image_size:
            raise ValueError(
                f"{directory}: captioner was trained at image_size={meta['image_size']}, "
                f"config asks for {self.config.image_size}"
            )
        self.vocab = Vocab(meta["vocab"])
        self.losses = list(meta.get("losses", []))
        self.net = CaptionNet(len(self.vocab), self.config.image_size).to(self.config.device)
        state = torch.load(Path(directory) / WEIGHTS_NAME, map_location=self.config.device, weights_only=True)
        self.net.load_state_dict(state)


def train_caption_net(
    net: nn.Module,
    inputs: Tensor,
    words: Tensor,
    cfg: RecaptionConfig,
    seed: int,
    lr_scale: dict[nn.Module, float] | None = None,
) -> list[float]:
    """Teacher-forced training of a decoder (`GruDecoder`-like: `net(inputs, words)` gives next-word logits);
    returns the mean loss of each epoch.

    loss = Σ_t CE(logits(w_<t, image), w_t) / #non-pad targets, with word dropout on the inputs;
    `lr_scale` as in `train_epochs`.
    """
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

    def batch_loss(chosen: Tensor, generator: torch.Generator) -> Tensor:
        x, w = inputs[chosen].to(cfg.device), words[chosen].to(cfg.device)
        logits = net(x, drop_words(w[:, :-1], WORD_DROPOUT, generator))
        return loss_fn(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))

    return train_epochs(net, len(inputs), batch_loss, cfg, seed, lr_scale)


def train_epochs(
    net: nn.Module,
    n_items: int,
    batch_loss: Callable[[Tensor, torch.Generator], Tensor],
    cfg: RecaptionConfig,
    seed: int,
    lr_scale: dict[nn.Module, float] | None = None,
) -> list[float]:
    """The fitting loop every trained captioner shares; returns the mean loss of each epoch.

    `recaption.epochs` passes over shuffled mini-batches of `recaption.batch_size` item indices (generator
    seeded with `seed`, also handed to `batch_loss` for its own draws); AdamW(lr, weight decay 1e-4) over
    the parameters that require grad, the parameters of each submodule in `lr_scale` at lr × its factor.
    """
    scaled = {id(p): f for module, f in (lr_scale or {}).items() for p in module.parameters()}
    factors = sorted({scaled.get(id(p), 1.0) for p in net.parameters()})
    groups = [
        {
            "params": [p for p in net.parameters() if p.requires_grad and scaled.get(id(p), 1.0) == f],
            "lr": cfg.lr * f,
        }
        for f in factors
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, weight_decay=1e-4)
    shuffle = torch.Generator().manual_seed(seed)
    epoch_losses: list[float] = []
    net.train()
    for _ in range(cfg.epochs):
        order = torch.randperm(n_items, generator=shuffle)
        total, batches = 0.0, 0
        for start in range(0, n_items, cfg.batch_size):
            loss = batch_loss(order[start : start + cfg.batch_size], shuffle)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, batches = total + loss.item(), batches + 1
        epoch_losses.append(total / batches)
    net.eval()
    return epoch_losses


def drop_words(words: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Replaces each input word (not <bos>/<pad>) by <unk> with probability p.

    Teacher forcing lets the decoder guess the next word from the previous ones alone (the grammar's phrasing
    is predictable); hiding some of them makes it read the image instead (word dropout, Bowman et al. 2016).
    """
    hide = (torch.rand(words.shape, generator=generator) < p) & (words >= len(SPECIALS))
    return words.masked_fill(hide.to(words.device), UNK)


def greedy_decode(net: GruDecoder, pixels: Tensor, max_new_tokens: int) -> Tensor:
    """Greedy argmax decoding from <bos>; returns ids [B, ≤max_new_tokens] (rows end at <eos> or the limit)."""
    feature, hidden = net.start(pixels)
    word = torch.full((len(pixels), 1), BOS, dtype=torch.long, device=pixels.device)
    done = torch.zeros(len(pixels), dtype=torch.bool, device=pixels.device)
    steps: list[Tensor] = []
    for _ in range(max_new_tokens):
        logits, hidden = net.step(word, feature, hidden)
        word = logits[:, -1].argmax(dim=-1, keepdim=True)
        word[done] = EOS
        steps.append(word)
        done |= word.squeeze(1) == EOS
        if bool(done.all()):
            break
    return torch.cat(steps, dim=1)


def beam_decode(net: GruDecoder, inputs: Tensor, max_new_tokens: int, beams: int) -> Tensor:
    """Beam search from <bos>: per image the `beams` prefixes with the highest sum of log-probabilities
    survive each step (a finished beam, ended by <eos>, keeps its score and only extends by <eos>); returns
    the best beam's ids [B, ≤max_new_tokens]. `beams` = 1 is `greedy_decode`.
    """
    if beams == 1:
        return greedy_decode(net, inputs, max_new_tokens)
    feature, hidden = net.start(inputs)
    n, device = len(feature), feature.device
    feature, hidden = feature.repeat_interleave(beams, 0), hidden.repeat_interleave(beams, 1)
    scores = torch.full((n, beams), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all beams start equal: keep one so the first step does not pick duplicates
    word = torch.full((n * beams, 1), BOS, dtype=torch.long, device=device)
    done = torch.zeros(n * beams, dtype=torch.bool, device=device)
    history = torch.zeros((n * beams, 0), dtype=torch.long, device=device)
    for _ in range(max_new_tokens):
        logits, hidden = net.step(word, feature, hidden)
        logp = torch.log_softmax(logits[:, -1].float(), dim=-1)
        only_eos = torch.full_like(logp, float("-inf"))
        only_eos[:, EOS] = 0.0
        logp = torch.where(done.unsqueeze(1), only_eos, logp)
        vocab = logp.shape[1]
        scores, index = (scores.reshape(-1, 1) + logp).reshape(n, beams * vocab).topk(beams, dim=1)
        rows = (torch.arange(n, device=device).unsqueeze(1) * beams + index // vocab).reshape(-1)
        word = (index % vocab).reshape(-1, 1)
        history = torch.cat([history[rows], word], dim=1)
        hidden, done = hidden[:, rows], done[rows] | (word.squeeze(1) == EOS)
        if bool(done.all()):
            break
    best = scores.argmax(dim=1)
    return history.reshape(n, beams, -1)[torch.arange(n, device=device), best]
