"""Kubernetes service code shared by operators, sensors and triggers: the actions (roll back a
workload, read its history, load manifests) and the one rollout wait. Calls go through the hooks in
:mod:`podium.hooks.kubernetes`; decisions come from the pure logic in :mod:`podium.kube`.

(``podium.kubernetes``, not ``kubernetes``: absolute imports keep the client importable.)
"""
