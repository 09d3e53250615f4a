"""Reusable test harnesses: real Airflow components, and (later) the project's doubles."""
