"""The simulator's own error: a control request it cannot honour."""

from __future__ import annotations


class SimulatorError(Exception):
    """A control request that cannot be honoured (unknown id, bad value...)."""
