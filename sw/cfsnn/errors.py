"""Errors that carry a message meant for the user (the CLI prints it and exits 2)."""


class CfsnnError(Exception):
    """Base class: something the user gave us (a file, an argument, a frame) is wrong."""


class ModelError(CfsnnError, ValueError):
    """A model (in memory or in a file) breaks the contract; ``field`` names the culprit."""

    def __init__(self, field: str, message: str, path: str | None = None):
        self.field = field
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{field}: {message}")


class DataError(CfsnnError, ValueError):
    """A dataset or an input array is malformed."""
