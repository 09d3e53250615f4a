"""podium.saga: ordered steps with compensations, retries and alerts, built into an Airflow DAG.

:mod:`podium.saga.plan` (pure: steps, parallel groups, run-time decisions), :mod:`podium.saga.builder`
(the tasks), :mod:`podium.saga.checkout` (the checkout example's rules).
"""
