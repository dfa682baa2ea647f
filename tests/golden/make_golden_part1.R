# Golden values for the handout's part 1 (tests/test_part1_*.py), from R.
# Run from the repository root:  Rscript tests/golden/make_golden_part1.R
# Needs the Debian packages r-cran-lme4 r-cran-lmertest r-cran-sandwich
# r-cran-clubsandwich r-cran-jsonlite. Writes tests/golden/part1/<dataset>.json.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(sandwich); library(clubSandwich); library(jsonlite)
})

golden <- function(dataset) {
  hs <- read.csv(file.path("data", paste0(dataset, ".csv")))
  hs$Sector <- factor(hs$Sector, levels = c("Catholic", "Public"))
  hs$school <- factor(hs$school)
  hs$ses_mean <- ave(hs$ses, hs$school)
  hs$ses_cwg <- hs$ses - hs$ses_mean
  out <- list(dataset = dataset, versions = list(R = R.version.string,
    sandwich = as.character(packageVersion("sandwich")), clubSandwich = as.character(packageVersion("clubSandwich")),
    lme4 = as.character(packageVersion("lme4")), lmerTest = as.character(packageVersion("lmerTest"))))

  # robust standard errors of pooled OLS
  fit <- lm(mathach ~ ses * Sector, hs)
  se <- function(V) unname(sqrt(diag(V)))
  cr2 <- vcovCR(fit, cluster = hs$school, type = "CR2")
  ct <- coef_test(fit, vcov = cr2, test = "Satterthwaite")
  out$robust <- list(
    estimate = unname(coef(fit)),
    OLS = se(vcov(fit)),
    HC0 = se(vcovHC(fit, type = "HC0")), HC1 = se(vcovHC(fit, type = "HC1")),
    HC2 = se(vcovHC(fit, type = "HC2")), HC3 = se(vcovHC(fit, type = "HC3")),
    CR1 = se(vcovCL(fit, cluster = ~school, type = "HC1", cadjust = TRUE)),
    CR1S = se(vcovCR(fit, cluster = hs$school, type = "CR1S")),
    CR2 = se(cr2), CR2_df = unname(ct$df_Satt))

  # two-stage MANOVA (sequential, as anova.mlm)
  lines <- coef(lmList(mathach ~ ses | school, hs))
  names(lines) <- c("int", "slope")
  sch <- hs[!duplicated(hs$school), c("school", "Sector")]
  sch <- sch[match(rownames(lines), as.character(sch$school)), ]
  mfit <- lm(cbind(int, slope) ~ Sector, data = data.frame(lines, Sector = sch$Sector))
  man <- list()
  for (test in c("Pillai", "Wilks", "Hotelling-Lawley", "Roy")) {
    a <- anova(mfit, test = test)
    man[[test]] <- list(term = rownames(a)[1:2], value = unname(a[1:2, 2]), approx_f = unname(a[1:2, 3]),
                        num_df = unname(a[1:2, 4]), den_df = unname(a[1:2, 5]), p_value = unname(a[1:2, 6]))
  }
  out$manova <- man

  # three effects by OLS
  sl <- function(f, d) { s <- summary(lm(f, d))$coefficients; list(estimate = s[2, 1], std_error = s[2, 2]) }
  means <- aggregate(cbind(mathach, ses) ~ school, hs, mean)
  out$effects <- list(within = sl(mathach ~ ses + school, hs), between = sl(mathach ~ ses, means), pooled = sl(mathach ~ ses, hs))

  # mixed model with the contextual variable: within, between, contextual
  m <- lmer(mathach ~ ses_cwg + ses_mean + (1 + ses_cwg | school), hs, REML = TRUE)
  cc <- contest(m, rbind(c(0, 1, 0), c(0, 0, 1), c(0, -1, 1)), joint = FALSE)
  out$mixed_effects <- list(effect = c("within", "between", "contextual"), estimate = cc$Estimate,
                            std_error = cc[["Std. Error"]], df = cc$df, reml_criterion = REMLcrit(m))

  # Hausman: FE (school intercepts, common sector slopes) against random intercepts
  fe <- lm(mathach ~ ses + ses:Sector + school, hs)
  re <- lmer(mathach ~ ses * Sector + (1 | school), hs, REML = TRUE)
  tf <- c("ses", "ses:SectorPublic")
  d <- coef(fe)[tf] - fixef(re)[tf]
  D <- vcov(fe)[tf, tf] - as.matrix(vcov(re))[tf, tf]
  out$hausman <- list(statistic = unname(drop(t(d) %*% solve(D) %*% d)), df = 2,
                      fe = unname(coef(fe)[tf]), re = unname(fixef(re)[tf]))
  out
}

dir.create("tests/golden/part1", showWarnings = FALSE, recursive = TRUE)
for (ds in c("hs", "hsfull")) {
  writeLines(toJSON(golden(ds), digits = NA, auto_unbox = TRUE, pretty = TRUE),
             file.path("tests/golden/part1", paste0(ds, ".json")))
}
