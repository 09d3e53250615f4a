"""podium.etl: pure logic of podium's data pipelines (partitions, synthetic source, quality checks).

Nothing here touches Airflow's task context or the network; operators in
:mod:`podium.operators.etl` call it.
"""
