"""podium: rollouts, scaling and data pipelines as Apache Airflow DAGs.

Importing this package is cheap: it imports neither Airflow nor any client library. Submodules
import what they need inside the functions that use it.
"""

from __future__ import annotations

__version__ = "0.1.0"
