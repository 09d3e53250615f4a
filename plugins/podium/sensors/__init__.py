"""Sensors: wait for a state; fail fast on a terminal wrong state."""
