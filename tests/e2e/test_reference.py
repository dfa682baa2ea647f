"""The numbers of the default run against the committed reference
(tests/reference/default_run.parquet): every table the run builds, each
quantity within its tolerance (tests/reference/tables.py)."""

from __future__ import annotations

import pandas as pd

from ..reference.tables import REFERENCE, REFERENCE_SKIP, compare, record


def test_numbers_match_the_committed_reference(default_run):
    fresh = record(default_run, REFERENCE_SKIP)
    problems = compare(pd.read_parquet(REFERENCE), fresh)
    assert not problems, (
        f"{len(problems)} columns moved beyond their tolerance:\n" + "\n".join(problems)
        + "\nIf the change is intended: make reference (python -m tests.reference.tables regenerate), review, commit."
    )
    assert fresh["table"].nunique() > 80
