from __future__ import annotations

from podium.kube.smoke import service_selector, service_smoke_problems

SERVICE = {"metadata": {"name": "web"}, "spec": {"selector": {"tier": "web", "app": "shop"}}}


def pod(name: str, image: str, ready: bool = True) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "web", "image": image}]},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def test_selector_is_sorted_label_pairs() -> None:
    assert service_selector(SERVICE) == "app=shop,tier=web"


def test_passes_when_ready_pods_run_the_new_image() -> None:
    assert (
        service_smoke_problems(SERVICE, [pod("a", "web:2"), pod("b", "web:1", ready=False)], {"web": "web:2"})
        == []
    )


def test_names_what_is_wrong() -> None:
    assert service_smoke_problems(None, [], {}) == ["the Service does not exist"]
    assert service_smoke_problems({"metadata": {"name": "x"}, "spec": {}}, [], {}) == [
        "service/x selects no pods (no spec.selector)"
    ]
    assert service_smoke_problems(SERVICE, [pod("a", "web:2", ready=False)], {"web": "web:2"}) == [
        "service/web has no ready pod behind it"
    ]
    assert service_smoke_problems(SERVICE, [pod("a", "web:1")], {"web": "web:2"}) == [
        "pod a container web runs 'web:1', expected 'web:2'"
    ]
