"""podium.etl: pure logic of podium's data pipelines (partitions, synthetic source, quality checks,
DuckDB reader SQL, what a warehouse load is made of and the names it gives its tables).

Nothing here touches Airflow's task context, the network or a client library; the ETL operators
(:mod:`podium.operators.etl` and the ``etl_*`` modules beside it) and the service code in
:mod:`podium.warehouse` call it.
"""
