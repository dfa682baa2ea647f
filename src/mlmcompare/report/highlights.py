"""The key figures and tables of a handout, written once by a pipeline step.

The ellipse figure, the study's coverage figure, the comparison of the
methods' gaps and the summary of methods are the handout's results that
stand alone: the `highlights` step writes them as files (PNG and CSV), the
handout and the at-a-glance sheet include those files instead of drawing
them again, and `snakemake --report` shows them with captions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import prose
from .comparison import differences_table, summary_table
from .figures import figure_png
from .study import DataNotes, design_for, judged_verdicts
from .tidy import write_bytes_atomic, write_text_atomic

#: the files of the step, keyed as in the handout's manifest
FIGURES = ("ellipses", "coverage")
TABLES = ("comparison", "summary_of_methods")


def comparison_csv(lines: pd.DataFrame, fits: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The handout's table of differences between the levels (intercept and
    slope gap by method, with SE, df and 95% interval), a † on fits in trouble."""
    flagged = [m for m, p in prose.fit_problems(fits).items() if p]
    return differences_table(lines, labels, flagged=flagged)


def summary_of_methods(lines: pd.DataFrame, fits: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str],
                       study: pd.DataFrame | None, n_groups: int, mean_size: float) -> pd.DataFrame:
    """The summary of methods as the handout prints it: the reasoned verdicts,
    judged by the study's measurements at the design nearest the data when
    there is a study."""
    problems = prose.fit_problems(fits)
    if study is None:
        return summary_table(methods, labels, problems)
    notes = DataNotes.from_lines(lines, problems)
    return judged_verdicts(study, methods, labels, design_for(study, n_groups, mean_size), notes)


def write_highlights(outputs: Mapping[str, str | Path], lines: pd.DataFrame, fits: pd.DataFrame,
                     methods: Sequence[str], labels: Mapping[str, str], study: pd.DataFrame | None,
                     n_groups: int, mean_size: float) -> None:
    """Draw and write each file `outputs` names (keys: FIGURES and TABLES)."""
    import matplotlib.pyplot as plt

    from .figures.comparison import ellipse_figure
    from .figures.study import coverage_figure

    figures = {"ellipses": lambda: ellipse_figure(lines, fits, labels),
               "coverage": lambda: coverage_figure(study, labels, mean_size)}
    for name in FIGURES:
        if name in outputs:
            fig = figures[name]()
            try:
                write_bytes_atomic(figure_png(fig), outputs[name])
            finally:
                plt.close(fig)
    tables = {"comparison": lambda: comparison_csv(lines, fits, labels),
              "summary_of_methods": lambda: summary_of_methods(lines, fits, methods, labels, study, n_groups, mean_size)}
    for name in TABLES:
        if name in outputs:
            write_text_atomic(tables[name]().to_csv(index=False), outputs[name])
