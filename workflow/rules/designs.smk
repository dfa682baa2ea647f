# The second handout, designs and variance components: one step per part
# (mlmcompare.analyses.DESIGN_PARTS), each from the file of the config
# section it reads, into results/designs/<part>/; a part runs when its
# section is in the config. reports/designs.qmd displays them.

DESIGNS = config["designs"]
DESIGNS_DIR = f"{RESULTS}/designs"
# each part and the config section (under designs:) it reads
DESIGN_SECTIONS = {"oneway": "oneway", "rmanova": "repeated", "multcomp": "repeated", "gls": "repeated", "components": "components"}
DESIGN_PARTS = [p for p, section in DESIGN_SECTIONS.items() if section in DESIGNS]


def design_inputs():
    """The input file of each present config section, keyed by section."""
    return {DESIGN_SECTIONS[p]: project_path(DESIGNS[DESIGN_SECTIONS[p]]["file"]) for p in DESIGN_PARTS}


def design_outputs():
    return {p: f"{DESIGNS_DIR}/{p}" for p in DESIGN_PARTS}


rule design_part:
    input:
        csv=lambda wc: project_path(DESIGNS[DESIGN_SECTIONS[wc.part]]["file"]),
    output:
        tables=directory(f"{DESIGNS_DIR}/{{part}}"),
    log:
        f"{DESIGNS_DIR}/logs/{{part}}.log",
    benchmark:
        f"{DESIGNS_DIR}/benchmarks/{{part}}.tsv"
    params:
        designs=DESIGNS,
    wildcard_constraints:
        part="|".join(DESIGN_PARTS) or "none",
    conda:
        CONDA_ENV
    script:
        STEP


if DESIGN_PARTS and DESIGNS["build"]:
    EXTRA_TARGETS.append(f"{DESIGNS_DIR}/designs.html")
