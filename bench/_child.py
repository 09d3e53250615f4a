"""What the parse benchmarks share: a measuring script run in fresh Python processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def child_samples(script: str, path: Path, repeats: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """Run ``script`` (``python -c``, argument ``path``) ``repeats`` times, each in a new process.

    The script prints its measurement as one JSON line last. Raises SystemExit when a run fails or
    the measured file has import errors, so a benchmark never reports a broken file's timings.
    """
    samples = []
    for _ in range(repeats):
        result = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env, check=False
        )
        if result.returncode != 0:
            raise SystemExit(f"measuring {path} failed:\n{result.stderr[-3000:]}")
        samples.append(json.loads(result.stdout.strip().splitlines()[-1]))
    if samples and samples[-1]["import_errors"]:
        raise SystemExit(f"{path} has import errors: {samples[-1]['import_errors']}")
    return samples
