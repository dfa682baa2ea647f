"""The `mlmcompare` command: run the pipeline, render a report, fit one model.

    mlmcompare run [--datasets hs hsfull] [--cores 2]   the Snakemake pipeline
    mlmcompare render reports/handout.qmd --manifest results/hs/manifest.json --out handout.html
    mlmcompare fit "mathach ~ ses + (1 | school)" data/hs.csv [--ml]
    mlmcompare fit "strength ~ 1 + (1 | batch/cask)" pastes.csv     (nested; crossed: (1|a) + (1|b))
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Sequence


def project_root() -> Path:
    """The checkout that holds the Snakefile (the current folder or a parent)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "Snakefile").exists():
            return folder
    raise SystemExit("mlmcompare run: no Snakefile in this folder or its parents; run it inside the project checkout")


def cmd_run(args: argparse.Namespace) -> int:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    if args.datasets:
        cmd += ["--config", f"run=[{','.join(args.datasets)}]"]
    return subprocess.call(cmd, cwd=project_root())


def cmd_render(args: argparse.Namespace) -> int:
    from .render import render_report

    info = render_report(
        Path(args.qmd), Path(args.out), params={"manifest": str(Path(args.manifest).resolve())},
        pdf_out=Path(args.pdf) if args.pdf else None, engine=args.engine,
    )
    print(f"rendered {args.out} with {info.engine}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    import pandas as pd

    from . import lmm

    data = pd.read_csv(args.csv)
    res = lmm.fit(args.formula, data, reml=not args.ml)
    print(f"{'REML' if not args.ml else 'ML'} fit: {args.formula}")
    print(f"nobs {res.nobs}, logLik {res.loglik:.4f}, AIC {res.aic:.4f}, BIC {res.bic:.4f}\n")
    print(res.summary())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmcompare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Snakemake pipeline")
    run.add_argument("--datasets", nargs="+", help="datasets to build (default: config 'run')")
    run.add_argument("--cores", type=int, default=2)
    run.set_defaults(func=cmd_run)
    ren = sub.add_parser("render", help="render a .qmd report from a manifest")
    ren.add_argument("qmd")
    ren.add_argument("--manifest", required=True)
    ren.add_argument("--out", required=True)
    ren.add_argument("--pdf")
    ren.add_argument("--engine", default="auto", choices=["auto", "quarto", "fallback"])
    ren.set_defaults(func=cmd_render)
    fit = sub.add_parser("fit", help="fit one linear mixed model (lme4 formula syntax)")
    fit.add_argument("formula")
    fit.add_argument("csv")
    fit.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    fit.set_defaults(func=cmd_fit)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
