"""Hooks: connections and clients, nothing else."""
