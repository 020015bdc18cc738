"""A detector's registered name, as the attribution methods dispatch on it."""

from __future__ import annotations

__all__ = ["detector_name"]


def detector_name(detector) -> str:
    """The registered name of ``detector`` ("" for an unregistered class)."""
    from anomalib_ae.detectors.state import registered_name

    try:
        return registered_name(detector)
    except (TypeError, ValueError):
        return ""
