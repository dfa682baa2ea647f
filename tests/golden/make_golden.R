#!/usr/bin/env Rscript
## Golden reference values from lme4 / lmerTest for the mlmcompare test-suite.
##
## Run from the repository root:
##     Rscript tests/golden/make_golden.R
##
## Writes
##   tests/golden/lme4/<dataset>__<model>__<reml|ml>.json
##   tests/golden/data/{dyestuff,dyestuff2,sleepstudy}.csv   (lme4 package datasets)
##
## Tests never call R; they read the committed JSON files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(numDeriv)
})

out_dir  <- file.path("tests", "golden", "lme4")
data_dir <- file.path("tests", "golden", "data")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("tests", "golden", "golden_common.R"))  # JSON writer, translate_terms, capture_fit
source(file.path("tests", "golden", "golden_fit.R"))    # tight fits, polish, golden_record

## ---------------------------------------------------------------------------
## HS&B data
## ---------------------------------------------------------------------------
prep_hs <- function(path, ref = "Catholic") {
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$ses_mean <- ave(d$ses, d$school)
  d$ses_cwg  <- d$ses - d$ses_mean
  d$female   <- as.numeric(d$Sex == "Female")
  lv <- if (ref == "Catholic") c("Catholic", "Public") else c("Public", "Catholic")
  d$Sector   <- factor(d$Sector, levels = lv)
  # Grouping factor: school ids as strings (all ids have 4 digits, so string
  # order == numeric order); this is the level order reported in 'ranef'.
  d$school   <- factor(as.character(d$school))
  d
}

L_slopes <- list(
  catholic_intercept = c(1, 0, 0, 0),
  public_intercept   = c(1, 0, 1, 0),
  catholic_slope     = c(0, 1, 0, 0),
  public_slope       = c(0, 1, 0, 1),
  diff_intercept     = c(0, 0, 1, 0),
  diff_slope         = c(0, 0, 0, 1))
e <- function(i, p = 6) { v <- numeric(p); v[i] <- 1; v }
L_contextual <- list(
  catholic_intercept  = e(1),
  public_intercept    = e(1) + e(4),
  catholic_slope      = e(2),
  public_slope        = e(2) + e(5),
  diff_intercept      = e(4),
  diff_slope          = e(5),
  contextual_catholic = e(3) - e(2),
  contextual_public   = e(3) + e(6) - e(2) - e(5))
L_sector <- list(catholic = c(1, 0), public = c(1, 1), diff = c(0, 1))

icc_extra <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  tau00 <- vc$vcov[vc$grp == "school"]
  s2 <- sigma(fit)^2
  list(icc = list(tau00 = S(tau00), sigma2 = S(s2), icc = S(tau00 / (tau00 + s2)),
                  note = S("icc = tau00 / (tau00 + sigma2) from the random-intercept null model")))
}

hs_models <- list(
  null             = list(f = mathach ~ 1 + (1 | school), ref = "Catholic", uses_sector = FALSE),
  sector_ri        = list(f = mathach ~ Sector + (1 | school), ref = "Catholic", L = L_sector),
  sector_ri_pubref = list(f = mathach ~ Sector + (1 | school), ref = "Public"),
  slopes           = list(f = mathach ~ ses * Sector + (1 + ses | school), ref = "Catholic", L = L_slopes),
  contextual       = list(f = mathach ~ (ses_cwg + ses_mean) * Sector + (1 + ses_cwg | school),
                          ref = "Catholic", L = L_contextual),
  slopes_uncorr    = list(f = mathach ~ ses * Sector + (1 + ses || school), ref = "Catholic"),
  q3               = list(f = mathach ~ ses_cwg + ses_mean + female + Sector + (1 + ses_cwg + female | school),
                          ref = "Catholic"),
  q3_block         = list(f = mathach ~ ses_cwg + ses_mean + female + Sector + (1 | school) +
                            (0 + ses_cwg + female | school), ref = "Catholic"),
  ri_ses           = list(f = mathach ~ ses + (1 | school), ref = "Catholic", uses_sector = FALSE)
)

results <- list()
for (ds in c("hs", "hsfull")) {
  path <- file.path("data", paste0(ds, ".csv"))
  dat <- list(Catholic = prep_hs(path, "Catholic"), Public = prep_hs(path, "Public"))
  for (mid in names(hs_models)) {
    m <- hs_models[[mid]]
    uses_sector <- if (is.null(m$uses_sector)) TRUE else m$uses_sector
    refl <- if (uses_sector) list(Sector = m$ref) else list()
    for (reml in c(TRUE, FALSE)) {
      extra <- if (mid == "null" && reml) icc_extra else NULL
      r <- golden_record(ds, mid, m$f, dat[[m$ref]], reml, refl, contrasts = m$L, extra = extra)
      results[[basename(r$file)]] <- r$rec
    }
  }
}

## ---------------------------------------------------------------------------
## lme4 package datasets (exported to CSV; fits use the re-imported CSV so the
## Python side sees exactly the same data)
## ---------------------------------------------------------------------------
export_and_reload <- function(df, name, group) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  out <- df
  out[[group]] <- as.character(out[[group]])
  write.csv(out, path, row.names = FALSE)
  back <- read.csv(path, stringsAsFactors = FALSE, colClasses = setNames("character", group))
  # keep lme4's level order for the grouping factor
  back[[group]] <- factor(back[[group]], levels = levels(df[[group]]))
  for (nm in names(df)) {
    if (is.numeric(df[[nm]])) stopifnot(identical(as.numeric(df[[nm]]), as.numeric(back[[nm]])))
    else stopifnot(identical(as.character(df[[nm]]), as.character(back[[nm]])))
  }
  back
}
dye  <- export_and_reload(lme4::Dyestuff,  "dyestuff",  "Batch")
dye2 <- export_and_reload(lme4::Dyestuff2, "dyestuff2", "Batch")
sleep <- export_and_reload(lme4::sleepstudy, "sleepstudy", "Subject")

for (reml in c(TRUE, FALSE)) {
  r <- golden_record("dyestuff", "null", Yield ~ 1 + (1 | Batch), dye, reml, list())
  results[[basename(r$file)]] <- r$rec
  r <- golden_record("dyestuff2", "null", Yield ~ 1 + (1 | Batch), dye2, reml, list())
  results[[basename(r$file)]] <- r$rec
  r <- golden_record("sleepstudy", "slopes", Reaction ~ Days + (Days | Subject), sleep, reml, list())
  results[[basename(r$file)]] <- r$rec
  r <- golden_record("sleepstudy", "slopes_uncorr", Reaction ~ Days + (Days || Subject), sleep, reml, list())
  results[[basename(r$file)]] <- r$rec
}

cat("\nWrote", length(results), "golden files to", out_dir, "\n")
