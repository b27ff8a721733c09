"""Generator profiles: how faithful and how diverse a pool member is (the thesis's trade-off, made explicit).

Real text-to-image models fail in documented ways (Boutin et al. 2022; Fan et al. CVPR'24; "When Pretty
Isn't Useful", arXiv 2602.19946): they leave out the subject, miscount, bind an attribute to the wrong
object or to the background, draw a look-alike, or draw it too small to read; aesthetic models collapse
to a narrow canonical look. A profile gives a procedural style those behaviours, per pool member:

    procedural:<style>?fidelity=0.8&diversity=low        (a pool entry; the query is the profile)
    procedural:<style>?omission=0.1&swap=0.05&clutter=2  (single knobs)

Fidelity: `fidelity=f` gives each of the `FAILURE_MODES` the rate (1 - f) / 5; a mode named explicitly
(`swap=0.1`) overrides its share. Per image at most one failure is drawn (u ~ U(0, 1) against the
cumulative rates), from a stream of its own, so the failure is a pure function of (profile, spec, seed)
and every image record can say what was really drawn.

Diversity: a preset (`collapsed`, `low`, `medium` = the styles as they are, `high`) or a number in
[0, 2] that scales every range; single knobs override it (see `Diversity`). `collapsed` is the
mode-collapsed canonical render: one appearance per caption whatever the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from urllib.parse import parse_qsl

FAILURE_MODES = ("omission", "count", "binding", "swap", "small")
"""omission: subject not drawn; count: one instance more or fewer; binding: the caption's colour goes to
the background and the subject gets another; swap: a look-alike subject; small: drawn too small to read."""


@dataclass(frozen=True)
class Diversity:
    """Ranges of the render, as multipliers on the style's own ranges (1 = the style as it is).

    pose: rotation, slant, stroke wobble and elastic distortion; scale: width of the size range;
    jitter: how far an instance strays from its cell (and the region used when no position is named);
    palette: share of the style's default colours, backgrounds and fonts in use (0 = the first only);
    clutter: mean number of distractor shapes behind the subject (Poisson); layout: chance that several
    instances take shuffled cells instead of the first ones; modes: distinct appearances per caption
    (image seed taken modulo `modes`; None = every seed its own).
    """

    pose: float = 1.0
    scale: float = 1.0
    jitter: float = 1.0
    palette: float = 1.0
    clutter: float = 0.0
    layout: float = 1.0
    modes: int | None = None

    @property
    def is_default(self) -> bool:
        """True for the styles' own ranges (renders are then byte-identical to an unprofiled style)."""
        return self == Diversity()


DIVERSITY_PRESETS: dict[str, Diversity] = {
    "collapsed": Diversity(pose=0.0, scale=0.0, jitter=0.0, palette=0.0, clutter=0.0, layout=0.0, modes=1),
    "low": Diversity(pose=0.3, scale=0.3, jitter=0.25, palette=0.2, clutter=0.0, layout=0.3, modes=4),
    "medium": Diversity(),
    "high": Diversity(pose=1.6, scale=1.5, jitter=1.3, palette=1.0, clutter=1.5, layout=1.0),
}


@dataclass(frozen=True)
class Profile:
    """Per-image failure rates (one per mode of `FAILURE_MODES`, summing to <= 1) and the diversity."""

    failures: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAILURE_MODES, 0.0))
    diversity: Diversity = Diversity()

    @property
    def fidelity(self) -> float:
        """1 - the total failure rate: the share of images that show exactly the caption."""
        return 1.0 - sum(self.failures.values())

    @property
    def is_default(self) -> bool:
        """A faithful profile with the style's own ranges (the embedded styles as they always were)."""
        return self.fidelity >= 1.0 and self.diversity.is_default

    def choose_failure(self, u: float) -> str | None:
        """The failure mode for a uniform draw u in [0, 1): modes take consecutive intervals of their rates."""
        edge = 0.0
        for mode in FAILURE_MODES:
            edge += self.failures[mode]
            if u < edge:
                return mode
        return None


DEFAULT_PROFILE = Profile()


def _number(key: str, value: str, where: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{where}: {key}={value!r} must be a number in [{low}, {high}]") from None
    if not (low <= number <= high) or math.isnan(number):
        raise ValueError(f"{where}: {key}={value!r} must lie in [{low}, {high}]")
    return number


def _diversity(value: str, where: str) -> Diversity:
    if value in DIVERSITY_PRESETS:
        return DIVERSITY_PRESETS[value]
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(
            f"{where}: diversity={value!r} must be one of {', '.join(DIVERSITY_PRESETS)} or a number in [0, 2]"
        ) from None
    scale = _number("diversity", value, where, 0.0, 2.0)
    return Diversity(
        pose=scale, scale=scale, jitter=scale, palette=min(scale, 1.0), clutter=max(scale - 1.0, 0.0) * 3.0
    )


KNOBS = {f.name for f in fields(Diversity)}


def parse_profile(query: str, where: str = "images.pool") -> Profile:
    """A profile from a query `fidelity=0.8&diversity=low&swap=0.1` (empty = the default profile).

    Errors name `where` (the pool entry) and the key, and say what would be right.
    """
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False) if query else []
    values = dict(pairs)
    if len(values) != len(pairs):
        raise ValueError(f"{where}: a profile key appears twice in {query!r}")
    known = {"fidelity", "diversity", *FAILURE_MODES, *KNOBS}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown profile key(s) {unknown}; known: {', '.join(sorted(known))}")
    fidelity = _number("fidelity", values["fidelity"], where, 0.0, 1.0) if "fidelity" in values else 1.0
    named = {m: _number(m, values[m], where, 0.0, 1.0) for m in FAILURE_MODES if m in values}
    share = (1.0 - fidelity) / len(FAILURE_MODES)
    failures = {m: named.get(m, share) for m in FAILURE_MODES}
    if sum(failures.values()) > 1.0 + 1e-9:
        raise ValueError(f"{where}: failure rates sum to {sum(failures.values()):.3f} > 1 in {query!r}")
    diversity = _diversity(values["diversity"], where) if "diversity" in values else Diversity()
    overrides: dict[str, float | int | None] = {}
    for knob in KNOBS & set(values):
        if knob == "modes":
            overrides[knob] = int(_number(knob, values[knob], where, 1, 1_000_000))
        else:
            overrides[knob] = _number(knob, values[knob], where, 0.0, 10.0)
    return Profile(failures, replace(diversity, **overrides))  # type: ignore[arg-type]


def split_profile(arg: str, where: str | None = None) -> tuple[str, Profile]:
    """'photo?fidelity=0.8' -> ('photo', Profile(...)); an arg without '?' has the default profile."""
    base, _, query = arg.partition("?")
    return base, parse_profile(query, where or arg)


TRADEOFF_POOL = (
    "procedural:flat?fidelity=0.97&diversity=collapsed",
    "procedural:photo?fidelity=0.92&diversity=low",
    "procedural:sketch",
    "procedural:pixel?fidelity=0.75&diversity=high",
    "procedural:painterly?fidelity=0.45&diversity=high",
)
"""A pool spanning the trade-off the way a pool of real text-to-image models does (docs/config.md):
faithful-narrow (an aesthetic, mode-collapsed model), faithful-low diversity (a strong recent model), the
style as is, diverse and often wrong, diverse-unfaithful (an early model). `configs/tradeoff.yaml` uses it."""
