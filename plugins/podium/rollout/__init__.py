"""Pure rollout logic (no I/O, no Airflow): verdicts, pod failure detection, manifests, revisions."""
