"""Validation as the API server validates (placeholder until the validation module lands)."""

from __future__ import annotations

from typing import Any

from podnet.api.meta import Resource


def validate(obj: Resource, config: Any = None) -> list[str]:
    """Complete messages (``The Service "web" is invalid: …``); empty when valid."""
    return []
