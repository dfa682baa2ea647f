"""The index page of the published handouts (GitHub or GitLab Pages).

A site folder holds one subfolder per results folder (`hs/`, `designs/`,
...), each with its `manifest.json` and whichever of the handout files were
built. `write_pages_index` writes `index.html` listing them, with the
provenance each manifest records: the commit, the creation date and the
sha256 of every input file. Standard library only, so a CI job can run it
without installing the package:

    PYTHONPATH=src python -m mlmcompare.report.pages_index site --commit "$GITHUB_SHA"
"""

from __future__ import annotations

import argparse
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

# What a results folder may publish, in the order the index lists it.
PUBLISHED = {
    "handout.html": "handout",
    "handout.pdf": "handout (PDF)",
    "glance.html": "at a glance",
    "glance.pdf": "at a glance (PDF)",
    "designs.html": "handout",
    "designs.pdf": "handout (PDF)",
    "explore.html": "explore (interactive)",
    "manifest.json": "manifest",
}


def site_entries(site: str | Path) -> list[dict[str, Any]]:
    """One entry per `<site>/<folder>/manifest.json`: title, provenance and the files present."""
    entries = []
    for manifest_path in sorted(Path(site).glob("*/manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{manifest_path} is not valid JSON: {exc}") from exc
        folder = manifest_path.parent
        git = manifest.get("git") or {}
        entries.append(
            {
                "folder": folder.name,
                "title": str(manifest.get("title") or manifest.get("dataset") or folder.name),
                "commit": git.get("commit"),
                "dirty": git.get("dirty"),
                "created": manifest.get("created"),
                # manifests record paths relative to their folder: show the file's name
                "inputs": {
                    name: {"name": Path(str(item.get("path", ""))).name, "sha256": str(item.get("sha256", ""))}
                    for name, item in (manifest.get("inputs") or {}).items()
                },
                "files": [name for name in PUBLISHED if (folder / name).is_file()],
            }
        )
    return entries


def entry_html(entry: dict[str, Any]) -> str:
    e = html.escape
    links = " · ".join(
        f'<a href="{e(entry["folder"])}/{e(name)}">{e(PUBLISHED[name])}</a>' for name in entry["files"]
    )
    commit = entry["commit"] or "unknown"
    if entry["dirty"]:
        commit += " (with uncommitted changes)"
    inputs = "".join(
        f"<li><code>{e(item['name'])}</code>: sha256 <code>{e(item['sha256'])}</code></li>"
        for item in entry["inputs"].values()
    )
    return (
        f'<section id="{e(entry["folder"])}">\n<h2>{e(entry["title"])}</h2>\n'
        f"<p>{links or 'no published files'}</p>\n"
        f"<dl><dt>Commit</dt><dd><code>{e(commit)}</code></dd>"
        f"<dt>Built</dt><dd>{e(str(entry['created'] or 'unknown'))}</dd>"
        f"<dt>Data</dt><dd><ul>{inputs}</ul></dd></dl>\n</section>\n"
    )


def index_html(entries: Sequence[dict[str, Any]], commit: str | None = None, title: str = "mlmcompare handouts") -> str:
    """The whole index page (self-contained, no scripts)."""
    e = html.escape
    built = f"<p>Published from commit <code>{e(commit)}</code>.</p>\n" if commit else ""
    body = "".join(entry_html(x) for x in entries) or "<p>No handouts were built.</p>\n"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{e(title)}</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\n"
        "dt{font-weight:600}dd{margin:0 0 .5rem 1rem}code{font-size:.85em;word-break:break-all}\n"
        "section{border-top:1px solid #ccc;margin-top:1.5rem}\n</style>\n</head>\n<body>\n"
        f"<h1>{e(title)}</h1>\n{built}{body}</body>\n</html>\n"
    )


def write_pages_index(site: str | Path, commit: str | None = None, title: str = "mlmcompare handouts") -> Path:
    """Write `<site>/index.html` atomically and return its path."""
    site = Path(site)
    if not site.is_dir():
        raise FileNotFoundError(f"site folder {site} does not exist")
    text = index_html(site_entries(site), commit, title)
    out = site / "index.html"
    fd, tmp = tempfile.mkstemp(dir=site, prefix=".index.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write index.html for a folder of published handouts.")
    parser.add_argument("site", help="folder with one subfolder (and manifest.json) per results folder")
    parser.add_argument("--commit", default=os.environ.get("GITHUB_SHA") or os.environ.get("CI_COMMIT_SHA"),
                        help="commit the site is published from (default: $GITHUB_SHA or $CI_COMMIT_SHA)")
    parser.add_argument("--title", default="mlmcompare handouts")
    args = parser.parse_args(argv)
    print(write_pages_index(args.site, args.commit, args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
