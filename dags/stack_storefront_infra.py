"""The storefront's infrastructure (include/stacks/storefront-infra.yaml): Airflow DAGs per environment.

Builds ``stack__storefront-infra__<env>`` (plan -> [approve] -> apply -> outputs) and
``drift__storefront-infra__<env>`` for dev, staging and production. A stack spec that does not
validate fails this file's import, naming the spec file, the path in it and line:column.
"""

from __future__ import annotations

from podium.stack import stack_dags

stack_dags("storefront-infra.yaml", globals())
