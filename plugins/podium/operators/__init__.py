"""Airflow operators: one action each, thin wrappers over hooks and pure podium logic."""
