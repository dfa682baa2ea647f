"""The provenance record of the designs handout (``results/designs/manifest.json``).

The same fields as the method handout's manifest (input and output sha256,
settings, package versions, git commit, creation time, step run times) for
the designs part, whose inputs are several files rather than one dataset.
Read it with :func:`mlmcompare.pipeline.load_manifest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..steps import write_provenance

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
    return write_provenance(
        path,
        header={"dataset": "designs", "title": settings.get("title", "Designs and variance components")},
        inputs=inputs,
        outputs=outputs,
        config_record={"designs": json.loads(json.dumps(dict(settings)))},
        benchmarks=benchmarks,
        root=root,
    )
