"""Pure Kubernetes object logic: plain API objects (dicts) in, plain data out.

No I/O, no Airflow, no client: workload references, rollout verdicts and failure explanations,
revisions and undo targets, manifests and their order, API error classification, smoke checks.
Service code (:mod:`podium.kubernetes`), operators, sensors and triggers all call these.
"""
