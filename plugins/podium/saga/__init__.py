"""podium.saga: ordered steps with compensations, retries and alerts, as pure logic.

:mod:`podium.saga.plan` (steps, parallel groups, run-time decisions); :mod:`podium.dagbuilders.saga`
builds the tasks. The checkout example's shop code lives beside its DAG (dags/checkout_shop/).
"""
