"""Moved to harness/tasks.py (kept until the release tests move)."""

from harness.tasks import TaskResult, _serialize, run_task

__all__ = ["TaskResult", "_serialize", "run_task"]
