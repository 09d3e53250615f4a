"""The Airflow plugin podium registers.

It is loaded through ``plugins/podium_plugin.py`` (the only file Airflow's plugin loader imports;
see ``plugins/.airflowignore``). It adds the ``podium`` macros to every template context, e.g.
``{{ macros.podium.image_tag(params.image) }}`` or ``{{ macros.podium.podium_version() }}``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

import podium


def podium_version() -> str:
    """The installed podium version."""
    return podium.__version__


def image_tag(image: str) -> str:
    """The tag (or ``@digest``) of a container image reference; ``latest`` when it has none.

    >>> image_tag("registry:5000/team/app:1.2")
    '1.2'
    >>> image_tag("nginx")
    'latest'
    """
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class PodiumPlugin(AirflowPlugin):
    """Registers podium's template macros with Airflow."""

    name = "podium"
    macros = [image_tag, podium_version]
