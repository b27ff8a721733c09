"""Rendering jobs batched per generator, and deterministic encoding."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from synthmphn.config import ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.images import ImageJob, create_pool, encode_image, render_jobs

SPEC = CaptionSpec(subject="circle", category="shape", attributes={"colour": "red"})


class CountingGenerator:
    """Grey images whose level is the seed; counts `generate` calls."""

    name = "count:x"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompts, specs, seeds):
        self.calls += 1
        return [Image.new("RGB", (8, 8), (s, s, s)) for s in seeds]


def test_render_jobs_batches_per_generator_and_keeps_job_order() -> None:
    a, b = CountingGenerator(), CountingGenerator()
    jobs = [ImageJob(name, "p", None, seed) for name, seed in (("a", 1), ("b", 2), ("a", 3), ("b", 4))]
    images = render_jobs(jobs, {"a": a, "b": b})
    assert [im.getpixel((0, 0))[0] for im in images] == [1, 2, 3, 4]
    assert a.calls == b.calls == 1


def test_render_jobs_names_a_generator_missing_from_the_pool() -> None:
    with pytest.raises(KeyError, match=r"generator 'c' that is not in the pool: \['a'\]"):
        render_jobs([ImageJob("c", "p", None, 0)], {"a": CountingGenerator()})


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_encoding_is_deterministic_and_metadata_free(fmt: str) -> None:
    pool = create_pool(["procedural:flat"], 32, ImagesConfig(size=32))
    image = render_jobs([ImageJob("procedural:flat", "a red circle", SPEC, 5)], pool)[0]
    image.info["comment"] = b"dropped"
    first, second = encode_image(image, fmt, 32, "procedural:flat"), encode_image(image, fmt, 32, "x")
    assert first == second
    decoded = Image.open(io.BytesIO(first))
    assert decoded.size == (32, 32) and "comment" not in decoded.info


def test_encoding_refuses_a_wrongly_sized_image() -> None:
    with pytest.raises(ValueError, match=r"generator 'g' returned a \(8, 8\) image; expected 16x16"):
        encode_image(Image.new("RGB", (8, 8)), "png", 16, "g")
