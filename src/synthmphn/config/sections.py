"""The pydantic sections of a run config, one per stage, and which fields leave a stage's output unchanged.

Layout of a run folder (`output.dir`):
    dataset/   shards + manifest written by `build`
    train/     checkpoints, metrics.jsonl, TensorBoard logs written by `train`
    eval/      metrics.json and plots written by `eval`
    report.html, report.md written by `report`
Every stage also writes its resolved config and run_info.json (versions, git commit, seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DATASET_FOLDER = "dataset"
"""A run's own dataset: <output.dir>/dataset (where `build` writes and `train` reads unless train.data)."""

# Fields that may differ without changing what a stage writes carry `json_schema_extra=<one of these>`; every
# "is this the same output?" check (build / train / recaption resume, dataset keys, run fingerprints) reads
# them through `config.identity.stage_identity`, so the rule lives here once:
#   EXECUTION: how a stage runs (workers, engine, device, threads, timeouts); skipped by every identity.
#   LOCATION:  where files live (their content is identified by hashes instead); skipped by every identity.
#   RESUMABLE: how long / how often a stage runs, logs or measures; a resume may change it, the run keeps it.
EXECUTION: dict[str, Any] = {"output_neutral": "execution"}
LOCATION: dict[str, Any] = {"output_neutral": "location"}
RESUMABLE: dict[str, Any] = {"output_neutral": "resumable"}
# A key added after datasets were built with its default behaviour: left out of every identity while it
# holds its default, so those datasets (and grid cells, run fingerprints) keep their identities.
LATE_DEFAULT: dict[str, Any] = {"identity_at_default": "omitted"}


class StrictModel(BaseModel):
    """Base for configs: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ----------------------------------------------------------------------------- build (captions/images/shards)


class OutputConfig(StrictModel):
    dir: Path = Field(Path("runs/quickstart"), json_schema_extra=LOCATION)


class CaptionsConfig(StrictModel):
    """Caption stage: which backend writes base captions and their hard negatives."""

    backend: str = "grammar"
    n_groups: int = Field(2000, ge=1)
    negatives_per_caption: int = Field(1, ge=0)
    # Edit kinds a negative may use: "subject" or attribute names from the concept bank.
    negative_kinds: list[str] = ["subject", "colour", "size", "position", "count", "texture", "background"]
    # Relative weight of a kind of `negative_kinds` when a negative's kind is drawn (missing = 1): e.g.
    # {subject: 6} with the 7 default kinds makes half the negatives swap the subject.
    negative_kind_weights: dict[str, float] = Field({}, json_schema_extra=LATE_DEFAULT)
    # Scales the chance that a caption states each attribute (captions/sampling.py); < 1 = shorter captions.
    attribute_rate: float = Field(1.0, ge=0.0)
    # Restrict the concept bank (None = every subject / category of the bank).
    subjects: list[str] | None = None
    categories: list[str] | None = None
    concepts_file: Path | None = None
    # LLM backends (transformers / openai)
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = Field("OPENAI_API_KEY", json_schema_extra=EXECUTION)
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.7, ge=0.0)
    # Who makes the hard negatives (captions/llm.py): "value" = the LLM picks the new value of the planned
    # slot and the code edits the caption; "edit" = the plan's value, no LLM call; "llm" = the LLM rewrites
    # the caption (free rewrite, then validated).
    negative_source: Literal["value", "edit", "llm"] = Field("value", json_schema_extra=LATE_DEFAULT)
    # Retries of a rejected caption (LLM backends) and of a failed HTTP request (openai): 0 = one try.
    max_retries: int = Field(3, ge=0, json_schema_extra=EXECUTION)
    concurrency: int = Field(4, ge=1, json_schema_extra=EXECUTION)
    timeout_s: float = Field(60.0, gt=0, json_schema_extra=EXECUTION)
    cache_dir: Path | None = Field(None, json_schema_extra=LOCATION)
    # Web-like noise for the recaptioning study: with probability misalign_p a train caption names a wrong,
    # systematically correlated subject (the images stay true); the first clean_groups groups stay clean.
    misalign_p: float = Field(0.0, ge=0.0, le=1.0)
    clean_groups: int = Field(0, ge=0)


class DiffusersConfig(StrictModel):
    steps: int = Field(25, ge=1)
    guidance: float = 7.5
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "cpu"
    batch_size: int = Field(4, ge=1)
    negative_prompt: str | None = None


REFERENCE_POOL = [
    "procedural:flat",
    "procedural:sketch",
    "procedural:photo",
    "procedural:pixel",
    "procedural:painterly",
]
"""The default `splits.reference_pool`: the five styles of the default images.pool, unprofiled (faithful), so
a default run's `heldout` images are what they were when it was drawn by the training pool."""


MAX_IMAGE_SIZE = 2048
"""Largest images.size (pixels per side): every image is held decoded in memory while a shard is written."""


class ImagesConfig(StrictModel):
    """Image stage: the generator pool and how its members share the image budget."""

    pool: list[str] = list(REFERENCE_POOL)
    strategy: Literal["single", "msm-random", "msm-all"] = "msm-all"
    per_caption: int = Field(5, ge=1)
    size: int = Field(64, ge=8)
    format: Literal["png", "jpg"] = "png"
    # Style never used for training: the held-out-style test split is rendered with it.
    heldout_style: str | None = "procedural:mosaic"
    diffusers: DiffusersConfig = DiffusersConfig()
    # build step: gate the built train split (`gate.*`) into the dataset folder; the raw build goes to
    # <dataset folder>-raw (`build.job.raw_build_config`)
    gate: bool = Field(False, json_schema_extra=LATE_DEFAULT)
    workers: int = Field(1, ge=1, json_schema_extra=EXECUTION)  # shard bytes do not depend on these two
    engine: Literal["local", "ray"] = Field("local", json_schema_extra=EXECUTION)

    @field_validator("size")
    @classmethod
    def _size_bounded(cls, size: int) -> int:
        if size > MAX_IMAGE_SIZE:
            raise ValueError(
                f"{size} pixels per side is more than {MAX_IMAGE_SIZE} (images are rendered and held in "
                f"memory at this size); use 8..{MAX_IMAGE_SIZE}"
            )
        return size

    @field_validator("pool")
    @classmethod
    def _pool_not_empty(cls, pool: list[str]) -> list[str]:
        if not pool:
            raise ValueError("images.pool must name at least one generator")
        if len(set(pool)) != len(pool):
            raise ValueError(f"images.pool has duplicates: {pool}")
        return pool


class ShardsConfig(StrictModel):
    groups_per_shard: int = Field(250, ge=1)


class SplitsConfig(StrictModel):
    """Held-out groups written by `build` next to the training shards (never trained on).

    `heldout` is drawn by `reference_pool` with msm-all, one image per member, whatever `images.pool` and
    `images.strategy` are, so every variant of a grid is evaluated on the same images (a "shared" set);
    `reference_pool: null` draws it with the training pool instead (an "in-domain" set, per variant).
    """

    heldout_groups: int = Field(200, ge=0)
    heldout_style_groups: int = Field(200, ge=0)
    reference_pool: list[str] | None = list(REFERENCE_POOL)

    @field_validator("reference_pool")
    @classmethod
    def _reference_pool_valid(cls, pool: list[str] | None) -> list[str] | None:
        if pool is None:
            return None
        if not pool:
            raise ValueError(
                "splits.reference_pool must name at least one generator (or be null: draw the held-out "
                "captions with images.pool, in-domain)"
            )
        if len(set(pool)) != len(pool):
            raise ValueError(f"splits.reference_pool has duplicates: {pool}")
        return pool


# ----------------------------------------------------------------------------- train


class CurveConfig(StrictModel):
    """The shape of a training curriculum (data/schedules.py): a registered shape, a warm-up, plateaus."""

    name: str = "constant"
    warmup: float = Field(0.0, ge=0.0, le=1.0)
    steps: int = Field(4, ge=1)  # number of plateaus for the `step` schedule


class ScheduleConfig(CurveConfig):
    """Hard-negative curriculum p(t): ⌊p(t)·B⌋ base+HN pairs in a batch of B at progress t (2⌊p·B⌋ slots).

    As in the thesis code, p = 0.5 fills the whole batch with pairs (p_max <= 0.5) and p = 0.25 half of it.
    """

    p_max: float = Field(0.5, ge=0.0, le=0.5)


class HardnessConfig(CurveConfig):
    """Hardness curriculum β(t) of a hardness-weighted loss (hn-nce): the same shapes as p(t), peak `max`."""

    max: float = Field(0.5, ge=0.0)


class ModelConfig(StrictModel):
    name: str = "synth-tiny-vit"
    pretrained: str | None = None


class TrainConfig(StrictModel):
    """Training stage: model, objective, batches, optimiser and checkpoints."""

    data: Path | None = Field(None, json_schema_extra=LOCATION)  # default: <output.dir>/dataset
    model: ModelConfig = ModelConfig()
    loss: str = "mpclip"
    loss_options: dict[str, float] = {}
    images_per_caption: int = Field(1, ge=1)
    batch_size: int = Field(128, ge=2)
    hn_schedule: ScheduleConfig = ScheduleConfig()
    # β(t) for a hardness-weighted loss (hn-nce); None = the loss's fixed beta (train.loss_options.beta).
    hn_beta: HardnessConfig | None = None
    # Length of the run: `epochs` (fractional allowed) when set, else `steps` optimiser steps.
    epochs: float | None = Field(None, gt=0, json_schema_extra=RESUMABLE)
    steps: int | None = Field(1000, ge=1, json_schema_extra=RESUMABLE)
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    warmup_steps: int = Field(50, ge=0)
    grad_clip: float | None = 1.0
    # The softmax's initial inverse temperature s = exp(logit_scale) (learnt from there, clamped to <= 100);
    # None keeps the model's own init (CLIP: 1/0.07 = 14.3). Sharper starts weigh the hardest negatives more.
    logit_scale_init: float | None = Field(None, gt=1.0, le=100.0)
    # auto: bf16 autocast where the device runs bf16 natively (AMX/AVX512-BF16 CPUs, CUDA), else fp32
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"
    # Micro-batches per optimiser step. Each micro-batch is its own contrastive problem (B captions see only
    # each other) and their losses are averaged: NOT equivalent to one batch of accum_steps·B captions
    # (fewer negatives per row); it only saves memory at the same images per step.
    accum_steps: int = Field(1, ge=1)
    checkpoint_every: int = Field(200, ge=1, json_schema_extra=RESUMABLE)
    log_every: int = Field(10, ge=1, json_schema_extra=RESUMABLE)
    workers: int = Field(1, ge=0, json_schema_extra=EXECUTION)
    device: str = Field("cpu", json_schema_extra=EXECUTION)
    augment: bool = True
    # Where batches are assembled. memory: the train split is decoded once into the training process and a
    # batch is a row gather plus one random resized crop over the whole batch (data/memory.py; no worker
    # processes; ~1.3x the quickstart loop on a 2-core CPU). workers: DataLoader workers (train.workers)
    # decode and crop image by image with PIL. auto: memory when the decoded split fits in 512 MiB and the
    # transform is open_clip's crop + normalise, else workers. With train.augment both crop with the same
    # distribution but not to the same pixels, so this is part of a run's identity.
    loader: Literal["auto", "memory", "workers"] = Field("auto", json_schema_extra=LATE_DEFAULT)
    # torch.compile (inductor) of the model: fuses the elementwise work between matrix products (0.79x the
    # quickstart step on an AMX CPU, docs/performance.md) after a one-off compile of ~1 min per shape (cached
    # on disk by inductor, so later runs of the same model and batch start in seconds). Same function up to
    # bf16 rounding; checkpoints are unchanged.
    compile: bool = False
    threads: int | None = Field(None, json_schema_extra=EXECUTION)

    @model_validator(mode="after")
    def _length_given(self) -> TrainConfig:
        if self.epochs is None and self.steps is None:
            raise ValueError("set train.epochs or train.steps")
        return self


# ----------------------------------------------------------------------------- eval / report


class UserDatasetConfig(StrictModel):
    """A user's zero-shot / probe dataset: ImageFolder dir, WebDataset shards or CSV (path,label)."""

    name: str
    kind: Literal["imagefolder", "webdataset", "csv"]
    path: Path
    classnames: Path | None = None  # one class name per line
    templates: Path | None = None  # one template per line with {c}


class EvalConfig(StrictModel):
    tasks: list[str] = ["zeroshot", "retrieval", "compositional", "linear_probe", "diagnostics", "generators"]
    checkpoint: str = "last"  # "last", a checkpoint path, or "none" (evaluate `model_name` as it loads)
    # The architecture of a checkpoint that records none (open_clip_train's epoch_N.pt): open_clip name or
    # local-dir:PATH. A run's own checkpoints record theirs, so it never changes a run's output (EXECUTION).
    model_name: str | None = Field(None, json_schema_extra=EXECUTION)
    out: Path | None = Field(None, json_schema_extra=LOCATION)  # where metrics go (default <output.dir>/eval)
    datasets: list[UserDatasetConfig] = []
    sugarcrepe: list[Path] = []  # SugarCrepe-format JSON files
    sugarcrepe_images: Path | None = None
    batch_size: int = Field(256, ge=1)
    tsne_points: int = Field(1000, ge=10)
    # sets the linear probe fits, by name (digits, mnist, fashion_mnist, heldout, heldout_style, a user set);
    # None: every set zero-shot evaluates. The probe's C search dominates eval time on the 10k-image sets.
    probe_sets: list[str] | None = None
    device: str = Field("cpu", json_schema_extra=EXECUTION)
    # judges generators (eval `generators`, `synthmphn analyse`): "embedded" or "<open_clip name>:<pretrained>"
    reference_model: str = "embedded"


# ----------------------------------------------------------------------------- theory / recaption


class SimulateConfig(StrictModel):
    """The theory paper's simulation (SPEC §5); defaults are the paper's."""

    ps: list[float] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    seeds: list[int] = [0, 1, 2]
    dim: int = 2500
    n_features: int = 50
    neurons: int = 80
    sparsity: float = 0.1
    n_web: int = 5000
    n_clean: int = 50
    epochs: int = 30
    batch_size: int = 500
    lr: float = 3e-3
    tau: float = 0.1
    weight_decay: float = 1e-3
    filter_ratio: float = 1.2
    n_test: int = 1000
    tsne_p: float = 0.3
    device: str = Field("cpu", json_schema_extra=EXECUTION)
    # fresh S_w draws per epoch: the authors' code trains raw on S_w twice (2 × n_web fresh pairs per
    # epoch) and recaptioned on the filtered S_w plus web_draws − 1 fresh raw draws
    web_draws: int = Field(2, ge=1)
    web_text_noise: float = Field(0.24, ge=0)  # σ of caption noise in S_w
    clean_text_noise: float = Field(0.016, ge=0)  # σ of caption noise in S_h
    test_noise: float = Field(0.16, ge=0)  # σ of noise on zero-shot test images and class prompts
    recaptioner_lr: float = Field(1e-3, gt=0)  # Adam lr of the recaptioner G (fit on S_h, batch 50)
    recaptioner_epochs: int = Field(30, ge=1)
    workers: int = Field(
        0, ge=0, json_schema_extra=EXECUTION
    )  # processes running (p, seed) units in parallel; 0 = one per CPU
    # Purified magnitude: Σ loadings of the purified neurons / #purified features (the authors') or / #neurons.
    purified_magnitude: Literal["feature", "neuron"] = "feature"
    # The authors' branch (sun-messi/VLM): when the raw model purifies <= authors_retrain_max_features
    # features, the recaptioned model trains authors_retrain_epochs epochs on the filtered set only (lr x0.1
    # every epochs/3 epochs). Off by default: our protocol retrains every unit alike (see theory/simulate.py).
    authors_retrain: bool = False
    authors_retrain_max_features: int = Field(25, ge=0)
    authors_retrain_epochs: int = Field(60, ge=1)


class RecaptionConfig(StrictModel):
    """`recaption`: a captioner fit on a clean subset rewrites train captions a CLIP scorer prefers."""

    captioner: str = "embedded"
    # transformers: a local model folder; blip: the CLIP checkpoint whose image tower it uses (default: the scorer)
    model: str | None = None
    finetune_encoder: bool = False  # blip: train the CLIP image tower on S_h too (default: frozen)
    caption_form: Literal["text", "structured"] = "text"  # blip: free text, or subject + attribute heads
    beam_size: int = Field(1, ge=1)  # blip decoding beams (1 = greedy)
    clean_groups: int = Field(200, ge=1)
    alpha: float = Field(1.0, gt=0)  # replace when score(new) >= alpha * score(old)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(64, ge=1)
    # default: <output.dir>/train/checkpoints/last.pt; a recaption job records the scorer's sha256, not its path
    scorer_checkpoint: Path | None = Field(None, json_schema_extra=LOCATION)
    lr: float = Field(2e-3, gt=0)  # embedded captioner (AdamW)
    image_size: int = Field(32, ge=8)  # embedded captioner input size (images are resized)
    max_new_tokens: int = Field(32, ge=1)  # longest caption either captioner writes
    eval_groups: int = Field(200, ge=0, json_schema_extra=RESUMABLE)  # heldout groups measuring the captioner
    device: str = Field("cpu", json_schema_extra=EXECUTION)
    # torch threads while fitting / captioning (None = leave as is); 1: tiny ops
    threads: int | None = Field(1, json_schema_extra=EXECUTION)


class GateConfig(StrictModel):
    """`gate`: score every train image against its own caption (and its hard-negative partner) with a
    reference model and drop, re-render or down-weight the failures (`synthmphn gate`, `synthmphn.gate`)."""

    # "embedded" (the embedded world's reference classifier) or an open_clip model "<name>:<pretrained>" /
    # a synthmphn checkpoint file (zero-shot similarity)
    model: str = "embedded"
    threshold: float = Field(0.1, ge=0.0, le=1.0)  # keep when p(captioned subject | image) >= threshold
    # and, in a hard-negative group, p(own) - p(partner) >= margin (the two captions' softmax, in [-1, 1])
    margin: float = Field(0.0, ge=-1.0, le=1.0)
    # attributes the embedded reference also judges with a judge of their own (`gate.attributes`): own =
    # min(p(subject), p(captioned value)), and partners that differ only in them get a margin; [] = subjects only
    attributes: list[Literal["colour", "count"]] = []
    # drop | rerender (new seed, up to max_tries) | downweight (ImageRecord.weight) | oracle (drop exactly
    # the recorded failures: the ground-truth filter the gate is measured against)
    action: Literal["drop", "rerender", "downweight", "oracle"] = "drop"
    max_tries: int = Field(3, ge=1)
    weight: float = Field(0.1, ge=0.0, le=1.0)  # downweight: the weight a failed image gets
    # a caption left with fewer images is removed (its group for a base caption); set it to
    # train.images_per_caption so every kept caption can still fill its slot
    min_images: int = Field(1, ge=1)
    batch_size: int = Field(256, ge=1, json_schema_extra=EXECUTION)
    device: str = Field("cpu", json_schema_extra=EXECUTION)


# ----------------------------------------------------------------------------- the run


class RunConfig(StrictModel):
    """One run: every stage's config; each stage reads its own section."""

    seed: int = 0
    output: OutputConfig = OutputConfig()
    captions: CaptionsConfig = CaptionsConfig()
    images: ImagesConfig = ImagesConfig()
    shards: ShardsConfig = ShardsConfig()
    splits: SplitsConfig = SplitsConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    simulate: SimulateConfig = SimulateConfig()
    recaption: RecaptionConfig = RecaptionConfig()
    gate: GateConfig = GateConfig()

    @property
    def dataset_dir(self) -> Path:
        """Where `build` writes and `train` reads (train.data overrides)."""
        return self.train.data if self.train.data is not None else self.output.dir / DATASET_FOLDER

    @property
    def train_dir(self) -> Path:
        return self.output.dir / "train"

    @property
    def eval_dir(self) -> Path:
        """Where `eval` writes metrics and plots: `eval.out`, else <output.dir>/eval."""
        return self.eval.out if self.eval.out is not None else self.output.dir / "eval"
