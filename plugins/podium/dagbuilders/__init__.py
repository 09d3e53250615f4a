"""DAG builders: a validated spec (release, saga, ...) becomes Airflow DAGs and tasks.

The only layer that imports operators (``make lint`` checks it). DAG files call these:
``podium.dagbuilders.release.release_dags``, ``podium.dagbuilders.saga.build_saga``.
"""
