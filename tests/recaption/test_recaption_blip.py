"""The blip captioner: learning a toy world on a CLIP tower, frozen vs fine-tuned tower, structured captions
through the caption grammar, beam search, errors, and the recaption job around it (resume, summary)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from recaption_toyworld import SUBJECTS, sample, write_toy_dataset

from synthmphn.captions.concepts import ConceptBank, Subject
from synthmphn.captions.grammar import render_caption
from synthmphn.config import RecaptionConfig, RunConfig
from synthmphn.data.manifest import Manifest
from synthmphn.data.records import CaptionSpec
from synthmphn.io import read_json
from synthmphn.models.checkpoint import load_checkpoint, save_checkpoint
from synthmphn.models.factory import create_clip
from synthmphn.recaption import create_captioner
from synthmphn.recaption.blip import TEMPLATE, BlipCaptioner, FeatureDecoder, SpecClasses
from synthmphn.recaption.embedded import beam_decode, greedy_decode
from synthmphn.recaption.metrics import caption_metrics, filter_quality
from synthmphn.recaption.pipeline import SUMMARY_NAME, run_recaption


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synth-tiny-cnn-32 whose image tower was pre-trained to tell the toy subjects apart (a stand-in for
    the web-trained CLIP: a random tower's embeddings do not, linear probe 0.26 on 4 subjects), drawn from
    toy images the tests below never use (seed 99)."""
    torch.manual_seed(0)
    parts = create_clip("synth-tiny-cnn-32")
    images, _, subjects = sample(256, seed=99)
    pixels = torch.stack([parts.preprocess_val(image) for image in images])
    labels = torch.tensor([SUBJECTS.index(s) for s in subjects])
    tower = parts.model.visual
    head = torch.nn.Linear(parts.embed_dim, len(SUBJECTS))
    optimizer = torch.optim.AdamW([*tower.parameters(), *head.parameters()], lr=2e-3)
    for step in range(120):
        chosen = torch.randint(0, len(pixels), (32,), generator=torch.Generator().manual_seed(step))
        loss = torch.nn.functional.cross_entropy(head(tower(pixels[chosen])), labels[chosen])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return save_checkpoint(tmp_path_factory.mktemp("clip") / "raw.pt", parts.model)


def toy_specs(captions: list[str]) -> list[CaptionSpec]:
    """The specs of toy captions 'a {colour} {subject} on the {position} on a {background} background'."""
    words = [c.split() for c in captions]
    return [
        CaptionSpec(
            subject=w[2], category="shape", attributes={"colour": w[1], "position": w[5], "background": w[8]}
        )
        for w in words
    ]


def config(checkpoint: Path, **fields: object) -> RecaptionConfig:
    settings = {"captioner": "blip", "model": str(checkpoint), "epochs": 15, "batch_size": 16, "lr": 3e-3}
    return RecaptionConfig.model_validate({**settings, **fields})


def subject_accuracy(captioner: BlipCaptioner, seed: int) -> float:
    images, captions, subjects = sample(80, seed=seed)
    return caption_metrics(captioner.caption(images), captions, subjects)["subject_accuracy"]


@pytest.mark.parametrize("form", ["text", "structured"])
def test_learns_the_toy_world_on_a_frozen_tower(clip_checkpoint: Path, form: str) -> None:
    images, captions, _ = sample(160, seed=0)
    captioner = create_captioner(config(clip_checkpoint, caption_form=form))
    before = {k: v.clone() for k, v in captioner.tower.state_dict().items()}
    captioner.fit(images, captions, seed=0, specs=toy_specs(captions))
    assert subject_accuracy(captioner, seed=5) >= 0.7  # 4 subjects: chance 0.25 (measured 0.825 / 0.9)
    after = captioner.tower.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # frozen: weights and BN statistics
    saved = load_checkpoint(clip_checkpoint)["state_dict"]
    assert all(torch.equal(saved[f"visual.{k}"], v) for k, v in after.items())


def test_finetuning_changes_the_tower_and_round_trips(clip_checkpoint: Path, tmp_path: Path) -> None:
    images, captions, _ = sample(48, seed=1)
    cfg = config(clip_checkpoint, finetune_encoder=True, epochs=2)
    captioner = create_captioner(cfg)
    before = {k: v.clone() for k, v in captioner.tower.state_dict().items()}
    captioner.fit(images, captions, seed=0)
    assert any(not torch.equal(before[k], v) for k, v in captioner.tower.state_dict().items())
    captioner.save(tmp_path)
    reloaded = create_captioner(cfg)
    reloaded.load(tmp_path)
    assert reloaded.caption(images[:8]) == captioner.caption(images[:8])
    with pytest.raises(ValueError, match="finetune_encoder=True"):
        create_captioner(config(clip_checkpoint)).load(tmp_path)


def test_structured_output_round_trips_through_the_caption_grammar() -> None:
    specs = [
        CaptionSpec(subject="circle", category="shape", attributes={"colour": "red", "position": "left"}),
        CaptionSpec(subject="cross", category="shape", attributes={"colour": "blue"}),
    ]
    classes = SpecClasses.build(specs)
    assert classes.names == ["circle", "cross"] and classes.attributes == {
        "colour": ["blue", "red"],
        "position": ["left"],
    }
    assert classes.targets(specs)["position"].tolist() == [0, -1]  # not stated: ignored by the loss
    # confident logits for circle / red / left, then cross / blue with an unsure colour (p = 0.5 ties state it)
    logits = {
        "subject": torch.tensor([[9.0, 0.0], [0.0, 9.0]]),
        "colour": torch.tensor([[0.0, 9.0], [0.0, 0.0]]),
        "position": torch.tensor([[0.0], [0.0]]),  # one value: p = 1, always stated
    }
    captions = classes.render(logits)
    bank = ConceptBank(subjects=(Subject("circle", "shape", "circle", "circles", ()),), attributes={})
    assert captions[0] == render_caption(specs[0], TEMPLATE, bank) == "a red circle at the left"
    assert captions[1] == "a blue cross at the left"
    metrics = caption_metrics(captions, captions, ["circle", "cross"], [s.attributes for s in specs])
    assert metrics["subject_accuracy"] == 1.0 and metrics["attribute_accuracy"] == 1.0


def test_attribute_accuracy_and_confusion_matrix_by_hand() -> None:
    metrics = caption_metrics(
        ["a red circle", "a blue square at the left"],
        ["a red circle", "a red square"],
        ["circle", "square"],
        [{"colour": "red", "position": "right"}, {"colour": "red"}],
    )
    assert metrics["attribute_accuracy"] == pytest.approx(1 / 3) and metrics["attributes_stated"] == 3
    assert metrics["exact_match"] == 0.5 and metrics["subject_accuracy"] == 1.0
    quality = filter_quality([True, True, False, False, True], [True, False, True, False, False])
    assert quality == {
        "misaligned": 2,
        "aligned": 3,
        "replaced": 3,
        "caught": 1,
        "missed": 1,
        "wrongly_replaced": 2,
        "kept_aligned": 1,
        "precision": pytest.approx(1 / 3),
        "recall": 0.5,
        "wrongly_replaced_share": pytest.approx(2 / 3),
    }


def sequence_logprob(net: FeatureDecoder, inputs: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Sum of log p(w_t | w_<t) of each row of ids, up to and including its first <eos>."""
    bos = torch.full((len(ids), 1), 1, dtype=torch.long)
    logp = torch.log_softmax(net(inputs, torch.cat([bos, ids[:, :-1]], dim=1)), dim=-1)
    picked = logp.gather(2, ids.unsqueeze(2)).squeeze(2)
    ended = (ids == 2).long().cumsum(dim=1)
    keep = (ended == 0) | ((ended == 1) & (ids == 2))
    return (picked * keep).sum(dim=1)


def test_beam_search_scores_at_least_greedy() -> None:
    torch.manual_seed(0)
    net = FeatureDecoder(vocab_size=7, embed_dim=8).eval()
    inputs = torch.randn(16, 8)
    with torch.no_grad():
        greedy = greedy_decode(net, inputs, 5)
        assert torch.equal(beam_decode(net, inputs, 5, beams=1), greedy)
        beam = beam_decode(net, inputs, 5, beams=4)
        length = max(greedy.shape[1], beam.shape[1])
        pad = lambda ids: torch.nn.functional.pad(ids, (0, length - ids.shape[1]), value=2)  # noqa: E731
        greedy_score = sequence_logprob(net, inputs, pad(greedy))
        beam_score = sequence_logprob(net, inputs, pad(beam))
    assert bool((beam_score >= greedy_score - 1e-5).all()) and bool((beam_score > greedy_score + 1e-4).any())


def test_errors_name_the_problem(clip_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="recaption.model or recaption.scorer_checkpoint"):
        create_captioner(RecaptionConfig(captioner="blip"))
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        create_captioner(config(tmp_path / "nowhere.pt"))
    images, captions, _ = sample(4, seed=0)
    with pytest.raises(ValueError, match="caption_form=structured needs every clean group's CaptionSpec"):
        create_captioner(config(clip_checkpoint, caption_form="structured")).fit(images, captions, seed=0)


def test_recaption_job_with_blip_resumes_without_refitting(
    clip_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_toy_dataset(tmp_path / "src", train_shards=2, per_shard=12, heldout=4)
    settings = {"captioner": "blip", "clean_groups": 8, "epochs": 3, "batch_size": 8, "eval_groups": 4}
    cfg = RunConfig.model_validate(
        {"seed": 1, "recaption": {**settings, "scorer_checkpoint": str(clip_checkpoint)}}
    )
    out = run_recaption(source, tmp_path / "out", cfg)  # blip builds on the scorer checkpoint
    summary = read_json(out / SUMMARY_NAME)
    assert summary["candidates"] == 16 and summary["misaligned"]["misaligned"] == 6
    quality = summary["misaligned"]
    assert quality["caught"] + quality["missed"] == 6
    assert quality["wrongly_replaced"] + quality["kept_aligned"] == 10
    assert summary["alignment"]["all"]["before"]["n"] == 16
    assert summary["captioner_heldout"]["images"] == 8
    assert (out / "recaption" / "captioner" / "blip.pt").is_file()

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "train-000001.tar").unlink()
    monkeypatch.setattr(BlipCaptioner, "fit", lambda *a, **k: pytest.fail("a resumed run must not refit"))
    run_recaption(source, copy, cfg)
    shards = [e.path for e in Manifest.load(out).entries()]
    assert all((copy / p).read_bytes() == (out / p).read_bytes() for p in shards)
    beams = cfg.model_copy(update={"recaption": cfg.recaption.model_copy(update={"beam_size": 3})})
    with pytest.raises(ValueError, match="recaption.beam_size"):
        run_recaption(source, copy, beams)
