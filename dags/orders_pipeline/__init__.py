"""Shared by the orders_daily and revenue_report example DAGs: the Assets one produces and the other
consumes. Example code, not part of podium; dags/.airflowignore keeps Airflow from parsing it.
"""
