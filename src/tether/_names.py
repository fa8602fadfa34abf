"""Readable default run names (``brisk-harbor-42``), so a run list is scannable by eye."""

from __future__ import annotations

from typing import Final

from tether import _tokens

_ADJECTIVES: Final = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "daring",
    "eager",
    "fierce",
    "gentle",
    "golden",
    "hidden",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "mellow",
    "nimble",
    "quiet",
    "rapid",
    "silent",
    "steady",
    "swift",
    "vivid",
    "wild",
    "witty",
)
_NOUNS: Final = (
    "aurora",
    "brook",
    "canyon",
    "cedar",
    "comet",
    "delta",
    "ember",
    "falcon",
    "fjord",
    "glade",
    "harbor",
    "heron",
    "lagoon",
    "meadow",
    "nebula",
    "orbit",
    "otter",
    "pine",
    "quartz",
    "reef",
    "river",
    "sparrow",
    "summit",
    "tundra",
    "valley",
    "willow",
)


def friendly_name() -> str:
    adjective = _tokens.choice(_ADJECTIVES)
    noun = _tokens.choice(_NOUNS)
    return f"{adjective}-{noun}-{_tokens.below(100)}"
