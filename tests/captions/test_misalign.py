"""Misaligned (web-like) captions for the recaptioning study."""

from synthmphn.captions import create_caption_backend
from synthmphn.captions.concepts import builtin_bank
from synthmphn.captions.misalign import apply_misalignment, confusers, swap_subject, true_caption
from synthmphn.config import CaptionsConfig


def test_confuser_is_next_subject_of_same_category():
    bank = builtin_bank()
    mapping = confusers(bank)
    assert mapping["digit 3"].name == "digit 4"
    assert mapping["digit 9"].name == "digit 0"
    assert all(mapping[s.name].category == s.category for s in bank.subjects if s.name in mapping)


def test_swap_handles_plural_and_singular():
    bank = builtin_bank()
    three, four = bank.subject("digit 3"), bank.subject("digit 4")
    assert swap_subject("a red digit 3 on white", three, four) == "a red digit 4 on white"
    assert swap_subject(f"two {three.plural} at the top", three, four) == f"two {four.plural} at the top"
    assert swap_subject("a red circle", three, four) is None


def test_share_clean_prefix_and_images_truth():
    config = CaptionsConfig(misalign_p=0.4, clean_groups=50)
    drafts = create_caption_backend(config).generate(600, seed=1).drafts
    noisy = apply_misalignment(drafts, config, seed=1)
    assert not any(d.misaligned for d in noisy[:50])
    share = sum(d.misaligned for d in noisy[50:]) / 550
    assert 0.3 < share < 0.5
    for before, after in zip(drafts, noisy, strict=True):
        assert after.spec == before.spec  # the images are rendered from the true spec
        assert (after.caption != before.caption) == after.misaligned
    assert apply_misalignment(drafts, config, seed=1) == noisy  # deterministic


def test_true_caption_undoes_the_swap():
    bank = builtin_bank()
    assert true_caption("a red digit 4 on white", "digit 3", bank) == "a red digit 3 on white"  # the confuser
    assert (
        true_caption("three copies of digit 4 at the top", "digit 3", bank)
        == "three copies of digit 3 at the top"
    )
    assert true_caption("a small circle", "digit 3", bank) == "a small digit 3"  # any other subject
    assert (
        true_caption("two t-shirts on sand", "shirt", bank) == "two shirts on sand"
    )  # 't-shirt' before 'shirt'
    assert true_caption("a blue shirt", "t-shirt", bank) == "a blue t-shirt"
    assert true_caption("a blue thing", "t-shirt", bank) is None
