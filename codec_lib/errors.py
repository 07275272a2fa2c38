"""One exception family for everything a user can get wrong; the CLI prints its message alone."""


class CodecError(Exception):
    """A problem with the user's input, files or models, with a one-line explanation."""


class ModelError(CodecError):
    """A model or checkpoint is missing, altered, or does not match a bitstream."""
