"""The checkout example's shop: its business rules (``rules``: pure) and the hook that writes orders,
payments, reservations, messages and shipments (``hook``). Example code, not part of podium: it sits
beside the DAG that uses it (dags/checkout.py). dags/.airflowignore keeps Airflow from parsing it as
DAG files; the dags folder is on sys.path wherever Airflow runs tasks, so ``checkout_shop`` imports.
"""
