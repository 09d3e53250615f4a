from __future__ import annotations

import sys

import pytest

from podium.plugin import image_tag


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("nginx", "latest"),
        ("nginx:1.27", "1.27"),
        ("registry:5000/team/app", "latest"),
        ("registry:5000/team/app:2.0.1-rc1", "2.0.1-rc1"),
        ("ghcr.io/acme/cart@sha256:abc", "sha256:abc"),
    ],
)
def test_image_tag(image: str, tag: str) -> None:
    assert image_tag(image) == tag


def test_airflow_loads_only_podium_plugin_and_shadows_nothing() -> None:
    """The plugin loader must import plugins/podium_plugin.py and nothing under plugins/podium/."""
    from airflow import plugins_manager

    plugins, import_errors = plugins_manager._get_plugins()
    assert import_errors == {}
    assert [plugin.name for plugin in plugins] == ["podium"]
    # Loading plugins must not have put podium's submodules into sys.modules under top-level names.
    for shadow in ("connections", "exceptions", "plugin", "__init__"):
        module = sys.modules.get(shadow)
        assert module is None or "plugins/podium" not in (getattr(module, "__file__", "") or "")


def test_macros_are_registered_under_podium() -> None:
    from airflow import plugins_manager
    from airflow.sdk.execution_time import macros

    plugins_manager.integrate_macros_plugins()
    assert macros.podium.image_tag("app:1.2") == "1.2"  # type: ignore[attr-defined]
    assert macros.podium.podium_version() == __import__("podium").__version__  # type: ignore[attr-defined]
