"""Entry point for Airflow's plugin loader: it imports this file and registers PodiumPlugin."""

from __future__ import annotations

from podium.plugin import PodiumPlugin

__all__ = ["PodiumPlugin"]
