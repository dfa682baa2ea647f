#!/usr/bin/env Rscript
## Golden reference values from lme4 / lmerTest (and lm) for the designs
## handout's section "Three levels and crossed factors".
##
## Run from the repository root:
##     Rscript tests/golden/make_golden_levels.R
## (about a minute)
##
## Reads the bundled data/threelevel.csv and data/penicillin.csv (the same
## files as tests/golden/data/, written by make_golden_multi.R) and writes
##   tests/golden/levels/<dataset>__<model>__reml.json   lmerTest fits (golden_record)
##   tests/golden/levels/threelevel__ols.json            lm of the same fixed part
## The model ids are those of src/mlmcompare/models.py.  The fits are made as
## for every lme4 golden file (golden_fit.R: best of tight starts, Newton
## polish on lme4's own deviance function).  Tests never call R.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(numDeriv)
})

out_dir <- file.path("tests", "golden", "levels")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("tests", "golden", "golden_common.R"))  # JSON writer, translate_terms, capture_fit
source(file.path("tests", "golden", "golden_fit.R"))    # tight fits, polish, golden_record

read_bundled <- function(name, factors) {
  d <- read.csv(file.path("data", paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (f in factors) d[[f]] <- factor(d[[f]])
  d
}

## Students in classes in schools.  The class labels (c1, c2, ...) repeat
## across schools: a class is a (school, class) pair.  x is split into its
## class mean and the deviation from it, as mlmcompare.analyses.levels does.
threelevel <- read_bundled("threelevel", c("school", "class"))
threelevel$x_mean <- ave(threelevel$x, threelevel$school, threelevel$class)
threelevel$x_cwg <- threelevel$x - threelevel$x_mean

penicillin <- read_bundled("penicillin", c("plate", "sample"))

fixed <- "score ~ x_cwg + x_mean + w"
models <- list(
  list(ds = "threelevel", id = "levels_null", f = score ~ 1 + (1 | school/class), data = threelevel),
  list(ds = "threelevel", id = "levels_null_top", f = score ~ 1 + (1 | school), data = threelevel),
  list(ds = "threelevel", id = "levels_null_middle", f = score ~ 1 + (1 | class:school), data = threelevel),
  list(ds = "threelevel", id = "levels_labels_crossed", f = score ~ 1 + (1 | school) + (1 | class),
       data = threelevel),
  list(ds = "threelevel", id = "levels_three", f = as.formula(paste(fixed, "+ (1 | school/class)")),
       data = threelevel),
  list(ds = "threelevel", id = "levels_no_middle", f = as.formula(paste(fixed, "+ (1 | school)")),
       data = threelevel),
  list(ds = "threelevel", id = "levels_no_top", f = as.formula(paste(fixed, "+ (1 | class:school)")),
       data = threelevel),
  list(ds = "penicillin", id = "crossed_a_only", f = diameter ~ 1 + (1 | plate), data = penicillin),
  list(ds = "penicillin", id = "crossed_b_only", f = diameter ~ 1 + (1 | sample), data = penicillin)
)

for (m in models) {
  golden_record(m$ds, m$id, m$f, m$data, TRUE, list(), max_levels = 5)
}

## OLS of the same fixed part (no level at all)
ols <- lm(as.formula(fixed), data = threelevel)
co <- summary(ols)$coefficients
write_json_file(list(
  dataset = S("threelevel"),
  model = S("levels_ols"),
  formula = S(fixed),
  R_version = S(R.version.string),
  terms = translate_terms(rownames(co), threelevel),
  estimate = unname(co[, "Estimate"]),
  std_error = unname(co[, "Std. Error"]),
  df_resid = S(df.residual(ols)),
  sigma = S(sigma(ols)),
  loglik = S(as.numeric(logLik(ols)))
), file.path(out_dir, "threelevel__levels_ols.json"))
cat("\nWrote", length(models) + 1, "golden files to", out_dir, "\n")
