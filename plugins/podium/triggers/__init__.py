"""Triggers for deferrable mode (the triggerer imports them by class path)."""
