#!/usr/bin/env Rscript
## Golden reference values for the handout's part 2 (the model ladder, the
## one-way model's nlme intervals) from lme4 / lmerTest / nlme.
##
## Run from the repository root:
##     Rscript tests/golden/make_golden_ladder.R
##
## Writes
##   tests/golden/ladder/<dataset>__<model>__<reml|ml>.json   the ten ladder models
##   tests/golden/ladder/<dataset>__lrt.json                   anova() between neighbours
##   tests/golden/ladder/hs__oneway_nlme.json                  nlme::intervals() of Y ~ 1, ~ 1 | school
##
## Conventions as tests/golden/make_golden.R (see tests/golden/README.md):
## tight nloptwrap settings, best of several starts, lmerTest Satterthwaite
## df, formulaic term names, shortest round-trip number formatting.
## Tests never call R; they read the committed JSON files.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(nlme)
  library(jsonlite)
})

out_dir <- file.path("tests", "golden", "ladder")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("tests", "golden", "golden_common.R"))  # JSON writer, translate_terms, capture_fit

## ---------------------------------------------------------------------------
## Tight fits, best of several starts (as make_golden.R)
## ---------------------------------------------------------------------------
tight_control <- lmerControl(optimizer = "nloptwrap",
                             optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15,
                                            xtol_rel = 0, ftol_rel = 0, maxeval = 1e5))
tight_control_text <- paste0(
  'lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-14, ',
  'ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e5))')
nm_control <- lmerControl(optimizer = "Nelder_Mead",
                          optCtrl = list(FtolAbs = 1e-15, FtolRel = 1e-15, XtolRel = 1e-12, maxfun = 1e5))

fit_model <- function(formula, data, reml, start = NULL) {
  if (is.null(start)) capture_fit(lmerTest::lmer(formula, data = data, REML = reml, control = tight_control))
  else capture_fit(lmerTest::lmer(formula, data = data, REML = reml, control = tight_control,
                                  start = list(theta = start)))
}

best_fit <- function(formula, data, reml) {
  cand <- list(default = fit_model(formula, data, reml))
  starts <- list(
    nm = getME(suppressWarnings(suppressMessages(
      lme4::lmer(formula, data = data, REML = reml, control = nm_control))), "theta"),
    other_crit = getME(suppressWarnings(suppressMessages(
      lme4::lmer(formula, data = data, REML = !reml, control = tight_control))), "theta"))
  for (nm in names(starts)) cand[[nm]] <- fit_model(formula, data, reml, start = starts[[nm]])
  lls <- vapply(cand, function(cf) as.numeric(logLik(cf$value)), numeric(1))
  best <- names(cand)[which(lls >= max(lls) - 1e-9)[1]]
  list(fr = cand[[best]], chosen = best, loglik_spread = max(lls) - min(lls))
}

record <- function(dataset, model_id, name, formula, data, reml) {
  bf <- best_fit(formula, data, reml)
  fit <- bf$fr$value
  co <- summary(fit, ddf = "Satterthwaite")$coefficients
  vc <- VarCorr(fit)[["school"]]
  rterms <- translate_terms(colnames(vc), data)
  sd <- attr(vc, "stddev")
  corr <- attr(vc, "correlation")
  if (is.null(corr)) corr <- matrix(1, 1, 1)
  ll <- logLik(fit)
  list(
    dataset = S(dataset), model = S(model_id), name = S(name),
    formula = S(paste(deparse(formula, width.cutoff = 500L), collapse = " ")),
    reml = S(reml),
    reference_levels = list(Sector = S(levels(data$Sector)[1])),
    R_version = S(R.version.string),
    lme4_version = S(as.character(packageVersion("lme4"))),
    lmerTest_version = S(as.character(packageVersion("lmerTest"))),
    control = S(tight_control_text),
    chosen_start = S(bf$chosen),
    start_loglik_spread = S(bf$loglik_spread),
    terms = translate_terms(rownames(co), data),
    fixef = unname(co[, "Estimate"]),
    std_error = unname(co[, "Std. Error"]),
    df = unname(co[, "df"]),
    statistic = unname(co[, "t value"]),
    p_value = unname(co[, "Pr(>|t|)"]),
    theta = unname(getME(fit, "theta")),
    random_terms = rterms,
    G = unname(as.matrix(vc)),
    sd = unname(sd),
    corr = unname(as.matrix(corr)),
    sigma = S(sigma(fit)),
    sigma2 = S(sigma(fit)^2),
    loglik = S(as.numeric(ll)),
    aic = S(AIC(fit)),
    bic = S(BIC(fit)),
    npar = S(attr(ll, "df")),
    nobs = S(nobs(fit)),
    ngroups = S(unname(ngrps(fit)[["school"]])),
    singular = S(isSingular(fit, tol = 1e-4)),
    warnings = bf$fr$warnings,
    messages = bf$fr$messages,
    fit = fit
  )
}

## ---------------------------------------------------------------------------
## Data and the ladder (X = ses, W = Sector, cvar = ses_mean, dvar = ses_cwg)
## ---------------------------------------------------------------------------
prep_hs <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$ses_mean <- ave(d$ses, d$school)
  d$ses_cwg  <- d$ses - d$ses_mean
  d$Sector   <- factor(d$Sector, levels = c("Catholic", "Public"))
  d$school   <- factor(as.character(d$school))
  d
}

ladder <- list(
  oneway       = list(name = "One-way ANOVA with random effects", f = mathach ~ 1 + (1 | school)),
  means        = list(name = "Means as outcomes", f = mathach ~ 1 + Sector + (1 | school)),
  ancova       = list(name = "One-way ANCOVA", f = mathach ~ 1 + ses + (1 | school)),
  randcoef     = list(name = "Random coefficients", f = mathach ~ 1 + ses + (1 + ses | school)),
  isao         = list(name = "Intercepts and slopes as outcomes",
                      f = mathach ~ 1 + ses + Sector + ses:Sector + (1 + ses | school)),
  nonrandom    = list(name = "Non-random slopes", f = mathach ~ 1 + ses + Sector + ses:Sector + (1 | school)),
  parallel     = list(name = "Parallel mean slopes", f = mathach ~ 1 + ses + Sector + (1 + ses | school)),
  ctx_cwg      = list(name = "Contextual with CWG variable",
                      f = mathach ~ 1 + ses_mean + ses_cwg + (1 + ses_cwg | school)),
  ctx_raw      = list(name = "Contextual with raw variable",
                      f = mathach ~ 1 + ses_mean + ses + (1 + ses_cwg | school)),
  ctx_isao     = list(name = "Intercepts and slopes as outcomes with contextual",
                      f = mathach ~ 1 + (ses_mean + ses_cwg) * Sector + (1 + ses_cwg | school))
)

## Neighbours tested: fixed parts by ML (anova() refits), variance parts by
## REML with equal fixed parts (refit = FALSE).
tests <- list(
  list(small = "oneway",    big = "means",     method = "ML"),
  list(small = "oneway",    big = "ancova",    method = "ML"),
  list(small = "ancova",    big = "nonrandom", method = "ML"),
  list(small = "randcoef",  big = "parallel",  method = "ML"),
  list(small = "parallel",  big = "isao",      method = "ML"),
  list(small = "ctx_cwg",   big = "ctx_isao",  method = "ML"),
  list(small = "ancova",    big = "randcoef",  method = "REML"),
  list(small = "nonrandom", big = "isao",      method = "REML")
)

chibar <- function(stat, df) {
  lo <- if (df - 1 > 0) pchisq(stat, df - 1, lower.tail = FALSE) else as.numeric(stat <= 0)
  0.5 * lo + 0.5 * pchisq(stat, df, lower.tail = FALSE)
}

for (ds in c("hs", "hsfull")) {
  data <- prep_hs(file.path("data", paste0(ds, ".csv")))
  fits <- list(REML = list(), ML = list())
  for (mid in names(ladder)) {
    for (reml in c(TRUE, FALSE)) {
      rec <- record(ds, mid, ladder[[mid]]$name, ladder[[mid]]$f, data, reml)
      fits[[if (reml) "REML" else "ML"]][[mid]] <- rec$fit
      rec$fit <- NULL
      fname <- file.path(out_dir, sprintf("%s__%s__%s.json", ds, mid, if (reml) "reml" else "ml"))
      write_json_file(rec, fname)
      cat(sprintf("%-32s loglik=%.10f npar=%d sing=%s start=%s\n", basename(fname), rec$loglik,
                  as.integer(rec$npar), rec$singular, rec$chosen_start))
    }
  }
  lrts <- lapply(tests, function(t) {
    small <- fits[[t$method]][[t$small]]
    big <- fits[[t$method]][[t$big]]
    a <- suppressMessages(anova(small, big, refit = FALSE))
    stat <- a$Chisq[2]; df <- a$Df[2]
    list(small = S(t$small), big = S(t$big), method = S(t$method),
         loglik_small = S(as.numeric(logLik(small))), loglik_big = S(as.numeric(logLik(big))),
         npar_small = S(a$npar[1]), npar_big = S(a$npar[2]),
         statistic = S(stat), df = S(df), p_value = S(a[["Pr(>Chisq)"]][2]),
         p_value_chibar = S(chibar(stat, df)))
  })
  ## Is there any variation between schools? Y ~ 1 (lm) against the one-way
  ## random-effects model, both by REML: 1/2 chi2_0 + 1/2 chi2_1.
  ols0 <- lm(mathach ~ 1, data = data)
  ll0 <- as.numeric(logLik(ols0, REML = TRUE))
  ll1 <- as.numeric(logLik(fits$REML$oneway))
  stat0 <- 2 * (ll1 - ll0)
  lrts[[length(lrts) + 1]] <- list(
    small = S("ols_null"), big = S("oneway"), method = S("REML"),
    loglik_small = S(ll0), loglik_big = S(ll1), npar_small = S(2), npar_big = S(3),
    statistic = S(stat0), df = S(1), p_value = S(pchisq(stat0, 1, lower.tail = FALSE)),
    p_value_chibar = S(chibar(stat0, 1)))
  write_json_file(list(dataset = S(ds),
                       note = S(paste("anova(small, big, refit = FALSE) on the tight fits of the named criterion;",
                                      "p_value_chibar = 1/2 P(chi2_{df-1} > stat) + 1/2 P(chi2_df > stat);",
                                      "ols_null: logLik(lm(mathach ~ 1), REML = TRUE)")),
                       tests = lrts),
                  file.path(out_dir, sprintf("%s__lrt.json", ds)))
  cat("wrote", sprintf("%s__lrt.json", ds), "\n")
}

## ---------------------------------------------------------------------------
## nlme's one-way model on hs and its intervals() (Wald on the log-SD scale)
## ---------------------------------------------------------------------------
hs <- prep_hs(file.path("data", "hs.csv"))
m <- lme(mathach ~ 1, data = hs, random = ~ 1 | school, method = "REML")
iv <- intervals(m)
re <- iv$reStruct$school
tt <- summary(m)$tTable
write_json_file(list(
  dataset = S("hs"),
  call = S("intervals(lme(mathach ~ 1, data = hs, random = ~ 1 | school, method = 'REML'))"),
  nlme_version = S(as.character(packageVersion("nlme"))),
  R_version = S(R.version.string),
  fixed = list(lower = S(iv$fixed[1, "lower"]), est = S(iv$fixed[1, "est."]), upper = S(iv$fixed[1, "upper"]),
               std_error = S(tt[1, "Std.Error"]), df = S(tt[1, "DF"]), statistic = S(tt[1, "t-value"])),
  sd_intercept = list(lower = S(re[1, "lower"]), est = S(re[1, "est."]), upper = S(re[1, "upper"])),
  sigma = list(lower = S(iv$sigma[["lower"]]), est = S(iv$sigma[["est."]]), upper = S(iv$sigma[["upper"]])),
  apVar = unname(as.matrix(m$apVar)),
  apVar_names = rownames(m$apVar),
  loglik = S(as.numeric(logLik(m))), aic = S(AIC(m)), bic = S(BIC(m)),
  blup = list(levels = rownames(ranef(m)), intercept = unname(ranef(m)[, 1]),
              coef = unname(coef(m)[, 1]))
), file.path(out_dir, "hs__oneway_nlme.json"))
cat("wrote hs__oneway_nlme.json\n")
