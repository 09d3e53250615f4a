"""The storefront release (include/releases/storefront.yaml): one Airflow DAG per environment.

A release spec that does not validate fails this file's import, naming the spec file, the path in it
and line:column; other release files still load. Add a release: a spec in include/releases/ and a DAG
file like this one.
"""

from __future__ import annotations

from podium.dagbuilders.release import release_dags

release_dags("storefront.yaml", globals())
