"""One exception family for everything a user can get wrong; the CLI prints its message alone."""


class CodecError(Exception):
    """A problem with the user's input, files or models, with a one-line explanation."""


class ModelError(CodecError):
    """A model or checkpoint is missing, altered, or does not match a bitstream."""


def check_config(cfg, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 fractions: tuple[str, ...] = (), multiple_of: dict[str, int] | None = None) -> None:
    """Raise :class:`CodecError` naming the first field of the dataclass ``cfg`` that is out of
    range: ``positive`` fields must be > 0 (``None`` passes: "not set"), ``non_negative`` >= 0
    (a learning rate of 0 measures a model without moving it), ``fractions`` in [0, 1],
    ``multiple_of`` fields a positive multiple of the given step (a crop that g_a's strides and
    h_a's divide evenly). The CLI prints it as ``--field-name ...``, before anything is written."""
    flag = lambda name: "--" + name.replace("_", "-")                      # noqa: E731
    for name in positive:
        v = getattr(cfg, name)
        if v is not None and not v > 0:
            raise CodecError(f"{flag(name)} must be positive, got {v}")
    for name in non_negative:
        if not getattr(cfg, name) >= 0:
            raise CodecError(f"{flag(name)} must be 0 or more, got {getattr(cfg, name)}")
    for name in fractions:
        v = getattr(cfg, name)
        if not 0 <= v <= 1:
            raise CodecError(f"{flag(name)} must be between 0 and 1, got {v}")
    for name, k in (multiple_of or {}).items():
        v = getattr(cfg, name)
        if not (v > 0 and v % k == 0):
            raise CodecError(f"{flag(name)} must be a positive multiple of {k}, got {v}")
