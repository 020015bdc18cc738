"""Error records for inputs that could not be used.

The data adapters never abort a whole batch because one file or one row is bad, and they
never drop an input silently: each input they cannot use becomes one of these records in
the ``errors`` list of the batch they return.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FileError:
    """A file that could not be read or featurised.

    Parameters
    ----------
    path : str
        The file, as it was given (or found in a folder).
    message : str
        Why it was skipped, e.g. ``"UnidentifiedImageError: cannot identify image file"``.
    """

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict ``{"path": ..., "message": ...}``."""
        return asdict(self)


@dataclass(frozen=True)
class RowError:
    """A table row that could not be used.

    Parameters
    ----------
    row : int
        0-based position of the row in the input table (``df.iloc[row]``), not its index label.
    message : str
        Why the row is unusable.
    """

    row: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict ``{"row": ..., "message": ...}``."""
        return asdict(self)


def describe_exception(exc: BaseException) -> str:
    """Format an exception as ``"TypeName: message"`` for an error record."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
