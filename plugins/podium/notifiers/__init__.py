"""Alert notifiers (Airflow BaseNotifier subclasses)."""
