"""The `mlmcompare` command: a handout for your data, the pipeline, a report, one model.

    mlmcompare handout mydata.csv --response score --predictor income --group clinic --compare Region [--reference North]
    mlmcompare run [--datasets hs hsfull] [--cores 2]   the Snakemake pipeline of a checkout
    mlmcompare render reports/handout.qmd --manifest results/hs/manifest.json --out handout.html
    mlmcompare fit "mathach ~ ses + (1 | school)" data/hs.csv [--ml]
    mlmcompare fit "strength ~ 1 + (1 | batch/cask)" pastes.csv     (nested; crossed: (1|a) + (1|b))
    mlmcompare verify results/hs/manifest.json [...]   re-hash every file, compare the environment
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Sequence


def project_files() -> Path:
    """The folder with the Snakefile, workflow, reports, config and bundled data:
    the checkout this package runs from, else the copy installed with it
    (<prefix>/share/mlmcompare)."""
    for folder in (Path(__file__).resolve().parents[2], Path(sysconfig.get_path("data")) / "share" / "mlmcompare"):
        if (folder / "Snakefile").is_file():
            return folder
    raise SystemExit("mlmcompare: the workflow files are missing (neither a checkout nor an installed share/mlmcompare)")


def snakemake(args: Sequence[str], cwd: Path) -> int:
    """Run the project's workflow with this Python's Snakemake in `cwd`."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(project_files() / "Snakefile"), *args]
    return subprocess.call(cmd, cwd=cwd)


def cmd_run(args: argparse.Namespace) -> int:
    extra = ["--config", f"run=[{','.join(args.datasets)}]"] if args.datasets else []
    return snakemake(["--cores", str(args.cores), *extra], cwd=project_files())


def handout_config(args: argparse.Namespace, name: str, results: Path) -> dict[str, Any]:
    """The configuration of one user data set: its columns' roles, and none of
    the bundled data's extras (composition, second factor, school sizes)."""
    model: dict[str, Any] = {
        "response": args.response, "predictor": args.predictor, "group": args.group,
        "level2_factor": args.compare, "reference": args.reference, "level2": [args.compare],
        "factor_levels": {}, "composition": None,
    }
    handout = {"by_factor": None, "level1_factor": None, "size_column": None, "gap_reference": None,
               "highlight_schools": []}
    return {
        "results": str(results),
        "run": [name],
        "datasets": {name: {"file": str(Path(args.csv).resolve()), "title": args.title or name,
                            "model": model, "handout": handout}},
        "designs": {"build": False},
        "study": {"enabled": not args.no_study},
        "report": {"pdf": not args.no_pdf},
    }


def cmd_handout(args: argparse.Namespace) -> int:
    """Check the data, write its configuration beside the results, run the
    pipeline for it and say where the handout is."""
    import yaml

    from .data import DataError, load_data
    from .spec import spec_from_config

    name = args.name or re.sub(r"\W+", "_", Path(args.csv).stem).strip("_") or "mydata"
    results = Path(args.out).resolve()
    if args.reference is None:  # the first level in sorted order, said aloud
        import pandas as pd

        levels = sorted(pd.read_csv(args.csv, usecols=[args.compare])[args.compare].dropna().astype(str).unique())
        args.reference = levels[0] if levels else ""
        print(f"reference level of {args.compare}: {args.reference!r} (the first in sorted order; --reference to choose)")
    config = handout_config(args, name, results)
    try:
        load_data(args.csv, spec_from_config(config["datasets"][name]["model"]))
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"mlmcompare handout: {err}", file=sys.stderr)
        return 2
    folder = results / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    code = snakemake(["--cores", str(args.cores), "--configfile", str(folder / "config.yaml")], cwd=results)
    if code == 0:
        print(f"handout: {folder / 'handout.html'}" + ("" if args.no_pdf else f" and {folder / 'handout.pdf'}"))
    return code


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


def cmd_verify(args: argparse.Namespace) -> int:
    from .report.provenance import verify_manifest

    results = [verify_manifest(path) for path in args.manifests]
    for result in results:
        print(result.summary())
    return 0 if all(r.ok for r in results) else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmcompare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    ho = sub.add_parser("handout", help="the comparison handout for your own data (a CSV, one row per level-1 unit)")
    ho.add_argument("csv")
    ho.add_argument("--response", required=True, help="level-1 response column")
    ho.add_argument("--predictor", required=True, help="level-1 predictor column")
    ho.add_argument("--group", required=True, help="level-2 unit (e.g. school) column")
    ho.add_argument("--compare", required=True, help="level-2 factor whose two levels are compared")
    ho.add_argument("--reference", help="its reference level (default: the first in sorted order)")
    ho.add_argument("--name", help="the data set's name (default: the file's)")
    ho.add_argument("--title", help="the handout's data set title")
    ho.add_argument("--out", default="results", help="results folder (default: ./results)")
    ho.add_argument("--cores", type=int, default=2)
    ho.add_argument("--no-study", action="store_true", help="skip the Monte Carlo study (faster; verdicts not measured)")
    ho.add_argument("--no-pdf", action="store_true", help="HTML only")
    ho.set_defaults(func=cmd_handout)
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
    ver = sub.add_parser("verify", help="check a manifest: every file's sha256, the rendered documents, the "
                         "environment against the recorded one and the lock (exit 1 on any difference)")
    ver.add_argument("manifests", nargs="+", help="results/<dataset>/manifest.json (or a handout.manifest.json)")
    ver.set_defaults(func=cmd_verify)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
