"""The version of qceas (ground floor: engines compare it across processes)."""

__version__ = "0.1.0"
