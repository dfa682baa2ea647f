"""The provenance record of the designs handout (``results/designs/manifest.json``).

The same fields as the method handout's manifest (input and output sha256,
settings, package versions, git commit, creation time, step run times) for
the designs part, whose inputs are several files rather than one dataset.
Read it with :func:`mlmcompare.pipeline.load_manifest`.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..pipeline import git_commit, package_versions, step_seconds
from ..tidy import sha256_file, write_text_atomic

__all__ = ["write_designs_manifest"]


def write_designs_manifest(
    path: str | Path,
    settings: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    outputs: Mapping[str, str | Path],
    benchmarks: Sequence[str | Path] = (),
    root: str | Path = ".",
) -> dict[str, Any]:
    """Write the manifest (JSON, atomically) and return it."""
    path = Path(path)
    base = path.parent.resolve()

    def entry(p: str | Path) -> dict[str, str]:
        p = Path(p)
        rp = p.resolve()
        rel = rp.relative_to(base) if rp.is_relative_to(base) else p
        return {"path": str(rel), "sha256": sha256_file(p)}

    manifest = {
        "dataset": "designs",
        "title": settings.get("title", "Designs and variance components"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {k: entry(v) for k, v in inputs.items()},
        "config": {"designs": json.loads(json.dumps(dict(settings)))},
        "versions": package_versions(),
        "platform": {"system": platform.platform(), "executable": sys.executable},
        "git": git_commit(root),
        "outputs": {k: entry(v) for k, v in outputs.items()},
        "step_seconds": step_seconds(benchmarks),
    }
    write_text_atomic(json.dumps(manifest, indent=2) + "\n", path)
    return manifest
