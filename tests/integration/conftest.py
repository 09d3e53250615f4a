"""The integration fixtures live in harness/cluster_fixtures.py (a plugin shared by every test directory)."""

from __future__ import annotations

from harness.cluster_fixtures import IT_SECRET

__all__ = ["IT_SECRET"]
