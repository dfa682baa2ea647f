#!/usr/bin/env Rscript
## Golden reference values from lme4 / lmerTest for models with several
## grouping factors (crossed, nested, partially crossed).
##
## Run from the repository root:
##     Rscript tests/golden/make_golden_multi.R
## (about 15 minutes, most of it InstEval; GOLDEN_ONLY=pastes,machines limits
## the fits to the named data sets, the data files are written in any case)
##
## Writes
##   tests/golden/multi/<dataset>__<model>__<reml|ml>.json
##   tests/golden/data/{pastes,penicillin,machines,threelevel}.csv, insteval.csv.gz
##
## The fits are made as for the one-factor set (make_golden.R, with the helpers
## of golden_fit.R): the best of several tight nloptwrap runs, Newton-polished on
## lme4's own profiled deviance, every number then lme4/lmerTest's own at the
## polished theta.  Tests never call R; they read the committed files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(numDeriv)
})

out_dir  <- file.path("tests", "golden", "multi")
data_dir <- file.path("tests", "golden", "data")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("tests", "golden", "golden_common.R"))  # JSON writer, translate_terms, capture_fit
source(file.path("tests", "golden", "golden_fit.R"))    # tight fits, polish, golden_record

## ---------------------------------------------------------------------------
## Data: lme4's Pastes, Penicillin, InstEval; nlme's Machines; a simulated
## three-level data set.  Each is written once and the fits use the re-imported
## file, so Python sees exactly the same data.  Grouping and factor columns are
## written as text (InstEval's as integers, its file gzipped: 73,421 rows);
## on re-import every factor gets the level order of the original.
## ---------------------------------------------------------------------------
write_data <- function(df, name, gz = FALSE) {
  path <- file.path(data_dir, paste0(name, if (gz) ".csv.gz" else ".csv"))
  out <- df
  for (nm in names(out)) if (is.factor(out[[nm]])) out[[nm]] <- as.character(out[[nm]])
  con <- if (gz) gzfile(path, "w") else file(path, "w")
  write.csv(out, con, row.names = FALSE)
  close(con)
  back <- read.csv(path, stringsAsFactors = FALSE,
                   colClasses = vapply(df, function(v) if (is.factor(v)) "character" else "numeric", ""))
  for (nm in names(df)) {
    if (is.factor(df[[nm]])) {
      back[[nm]] <- factor(back[[nm]], levels = levels(df[[nm]]))
      stopifnot(identical(as.character(df[[nm]]), as.character(back[[nm]])))
    } else {
      stopifnot(identical(as.numeric(df[[nm]]), as.numeric(back[[nm]])))
    }
  }
  back
}

pastes <- write_data(lme4::Pastes[, c("strength", "batch", "cask")], "pastes")
penicillin <- write_data(lme4::Penicillin, "penicillin")
mach <- as.data.frame(nlme::Machines)
mach$Worker <- factor(as.character(mach$Worker), levels = levels(mach$Worker))  # unordered
mach <- write_data(mach[, c("score", "Worker", "Machine")], "machines")
insteval <- write_data(lme4::InstEval[, c("y", "s", "d", "dept", "service")], "insteval", gz = TRUE)

## Three levels: students in classes in schools (seed fixed; R's default RNG).
## 40 schools, 3 to 6 classes each, 6 to 14 students a class; x is a student
## covariate with a class component, w a school covariate; random school
## intercept (sd 1) and slope (sd 0.3, correlation 0.4), class intercept
## (sd 0.6), residual sd 1.
simulate_threelevel <- function(seed = 20240917L) {
  set.seed(seed)
  n_school <- 40
  rows <- list()
  for (s in seq_len(n_school)) {
    w <- rnorm(1)
    u <- MASS::mvrnorm(1, c(0, 0), matrix(c(1, 0.4 * 0.3, 0.4 * 0.3, 0.09), 2))
    for (k in seq_len(sample(3:6, 1))) {
      m <- sample(6:14, 1)
      v <- rnorm(1, 0, 0.6)
      xc <- rnorm(1, 0, 0.5)
      x <- xc + rnorm(m)
      score <- 10 + 2 * x + 0.8 * w + u[1] + u[2] * x + v + rnorm(m)
      rows[[length(rows) + 1]] <- data.frame(
        score = round(score, 4), x = round(x, 4), w = round(w, 4),
        school = sprintf("s%02d", s), class = sprintf("c%d", k))
    }
  }
  d <- do.call(rbind, rows)
  d$school <- factor(d$school)
  d$class <- factor(d$class)
  d
}
threelevel <- write_data(simulate_threelevel(), "threelevel")

## ---------------------------------------------------------------------------
## Extras for the tests: lme4's as.data.frame(VarCorr()), fitted values at
## each level of the random part for the first rows, and the intraclass
## correlations of random-intercept models.
## ---------------------------------------------------------------------------
first_rows <- 12L
level_extra <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  groups <- names(getME(fit, "flist"))
  nd <- fit@frame[seq_len(first_rows), , drop = FALSE]
  bars <- lme4::findbars(lme4:::expandDoubleVerts(formula(fit)))
  by_group <- lapply(groups, function(g) {
    # predict with the random effects of one factor only (all its terms)
    keep <- Filter(function(b) deparse(b[[3]]) == g, bars)
    ref <- as.formula(paste("~", paste(vapply(keep, function(b) paste0("(", deparse(b), ")"), ""),
                                        collapse = " + ")))
    unname(predict(fit, newdata = nd, re.form = ref))
  })
  names(by_group) <- groups
  term <- function(v) vapply(v, function(x) if (is.na(x)) NA_character_ else
    translate_terms(x, fit@frame), "", USE.NAMES = FALSE)
  list(
    varcorr_table = list(grp = vc$grp, var1 = term(vc$var1), var2 = term(vc$var2),
                         vcov = vc$vcov, sdcor = vc$sdcor),
    fitted_first_rows = list(
      rows = S(first_rows),
      fixed = unname(predict(fit, newdata = nd, re.form = NA)),
      by_group = by_group,
      full = unname(fitted(fit)[seq_len(first_rows)]),
      residuals = unname(residuals(fit)[seq_len(first_rows)]))
  )
}

## icc for random-intercept models: for each grouping factor g, the correlation
## of two rows sharing g's level: the variances of g and of every factor that g
## is nested in (each level of g within one level of it), over the total
icc_extra <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  flist <- getME(fit, "flist")
  if (any(!is.na(vc$var1) & vc$var1 != "(Intercept)")) return(list())
  tau <- setNames(vc$vcov[vc$grp != "Residual"], vc$grp[vc$grp != "Residual"])
  total <- sum(tau) + sigma(fit)^2
  nested_in <- function(g, h) all(tapply(as.integer(flist[[h]]), flist[[g]], function(v) length(unique(v))) == 1)
  out <- lapply(names(flist), function(g) {
    inside <- Filter(function(h) h == g || nested_in(g, h), names(flist))
    m <- nrow(fit@frame) / nlevels(flist[[g]])
    icc <- sum(tau[inside]) / total
    list(group = S(g), shares = inside, icc = S(icc), mean_size = S(m),
         design_effect = S(1 + (m - 1) * icc))
  })
  list(icc = out)
}

extras <- function(fit) c(level_extra(fit), icc_extra(fit))

## ---------------------------------------------------------------------------
## Models
## ---------------------------------------------------------------------------
models <- list(
  list(ds = "pastes", id = "nested", f = strength ~ 1 + (1 | batch/cask), data = pastes),
  list(ds = "penicillin", id = "crossed", f = diameter ~ 1 + (1 | plate) + (1 | sample),
       data = penicillin),
  list(ds = "machines", id = "nested", f = score ~ Machine + (1 | Worker) + (1 | Worker:Machine),
       data = mach, ref = list(Machine = "A"),
       L = list(b_minus_c = c(0, 1, -1), c_vs_a = c(0, 0, 1))),
  list(ds = "threelevel", id = "ri", f = score ~ x + w + (1 | school/class), data = threelevel,
       L = list(x_plus_w = c(0, 1, 1))),
  list(ds = "threelevel", id = "slopes", f = score ~ x + w + (1 + x | school) + (1 | school:class),
       data = threelevel),
  list(ds = "threelevel", id = "class_slopes", f = score ~ x + (1 + x | class:school) + (1 | school),
       data = threelevel),
  list(ds = "threelevel", id = "uncorr", f = score ~ x + w + (1 + x || school) + (1 | class:school),
       data = threelevel),
  list(ds = "insteval", id = "crossed", f = y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept),
       data = insteval, ref = list(service = "0"), max_levels = 25)
)

only <- Sys.getenv("GOLDEN_ONLY")
if (nzchar(only)) models <- Filter(function(m) m$ds %in% strsplit(only, ",")[[1]], models)

results <- list()
for (m in models) {
  for (reml in c(TRUE, FALSE)) {
    ref <- if (is.null(m$ref)) list() else m$ref
    ml <- if (is.null(m$max_levels)) Inf else m$max_levels
    r <- golden_record(m$ds, m$id, m$f, m$data, reml, ref, contrasts = m$L, extra = extras,
                       max_levels = ml)
    results[[basename(r$file)]] <- r$rec
  }
}
cat("\nWrote", length(results), "golden files to", out_dir, "\n")
