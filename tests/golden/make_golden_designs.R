#!/usr/bin/env Rscript
## Golden reference values for the designs handout (issue 8).
##
## Run from the repository root:
##     Rscript tests/golden/make_golden_designs.R
##
## Writes tests/golden/designs/
##   gls__<structure>__<reml|ml>.json   nlme::gls on the grocery data, six covariance structures
##   rmanova.json                      aov, car::Anova (idata), Mauchly, epsilons, MANOVA
##   lmer_lrt.json                     lme4 ML fits of price ~ store + (1 | item) and the null
##   components__<model>__<reml|ml>.json  lme4 random-slope fits on hsfull (part 3)
##
## Tests never call R; they read the committed JSON files.

suppressPackageStartupMessages({
  library(nlme)
  library(lme4)
  library(car)
  library(jsonlite)
})

out_dir <- file.path("tests", "golden", "designs")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
put <- function(x, name) {
  writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, pretty = TRUE, matrix = "rowmajor"),
             file.path(out_dir, name))
}

## --------------------------------------------------------------- grocery data
grocery <- read.csv("data/grocery.csv", stringsAsFactors = FALSE)
grocery$store <- factor(grocery$store, levels = c("A", "B", "C", "D"))
grocery$item <- factor(grocery$item, levels = unique(grocery$item))
grocery$occ <- as.integer(grocery$store)
grocery <- grocery[order(grocery$item, grocery$occ), ]

## ------------------------------------------------------------------- nlme::gls
ctrl <- glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12,
                   returnObject = TRUE)
structures <- list(
  independence = list(correlation = NULL, weights = NULL),
  compound_symmetry = list(correlation = corCompSymm(form = ~ 1 | item), weights = NULL),
  ar1 = list(correlation = corAR1(form = ~ occ | item), weights = NULL),
  toeplitz = list(correlation = corARMA(form = ~ occ | item, p = 3), weights = NULL),
  heterogeneous = list(correlation = NULL, weights = varIdent(form = ~ 1 | store)),
  unstructured = list(correlation = corSymm(form = ~ occ | item),
                      weights = varIdent(form = ~ 1 | store))
)
for (s in names(structures)) {
  for (method in c("REML", "ML")) {
    st <- structures[[s]]
    fit <- gls(price ~ store, data = grocery, method = method, control = ctrl,
               correlation = st$correlation, weights = st$weights)
    V <- if (is.null(st$correlation)) {
      ## getVarCov needs a correlation structure: the diagonal, from sigma and the variance ratios
      ratios <- if (is.null(st$weights)) rep(1, 4) else
        coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)[levels(grocery$store)]
      diag(unname(fit$sigma * ratios)^2)
    } else matrix(unclass(getVarCov(fit, individual = 1)), 4, 4)
    ll <- logLik(fit)
    cs <- fit$modelStruct$corStruct
    vs <- fit$modelStruct$varStruct
    put(list(
      structure = s, method = method,
      call = paste(deparse(fit$call), collapse = " "),
      coef = as.list(coef(fit)),
      std_error = as.list(sqrt(diag(vcov(fit)))),
      sigma = fit$sigma,
      loglik = as.numeric(ll), df = attr(ll, "df"),
      aic = AIC(fit), bic = BIC(fit),
      covariance = unname(V),
      correlation = unname(cov2cor(V)),
      cor_params = if (is.null(cs)) NULL else as.list(coef(cs, unconstrained = FALSE)),
      var_ratios = if (is.null(vs)) NULL else as.list(coef(vs, unconstrained = FALSE, allCoef = TRUE))
    ), sprintf("gls__%s__%s.json", s, tolower(method)))
  }
}

## ------------------------------------------------------- RM ANOVA, car::Anova
wide <- reshape(grocery[, c("item", "store", "price")], idvar = "item", timevar = "store",
                direction = "wide")
Y <- as.matrix(wide[, paste0("price.", c("A", "B", "C", "D"))])
contrasts(grocery$store) <- contr.sum(4)
a_fixed <- summary(aov(price ~ store + item, data = grocery))[[1]]
a_strata <- summary(aov(price ~ store + Error(item / store), data = grocery))
lmod <- lm(Y ~ 1)
idata <- data.frame(store = factor(c("A", "B", "C", "D")))
almod <- Anova(lmod, type = "III", idata = idata, idesign = ~ store)
su <- summary(almod, multivariate = FALSE)
uni <- unclass(su$univariate)
padj <- unclass(su$pval.adj)
sph <- unclass(su$sphericity.tests)
## the multivariate test of store: eigenvalues of SSPE^-1 SSP, as car computes them
E <- almod$SSPE$store; H <- almod$SSP$store
ev <- Re(eigen(solve(E) %*% H)$values)
put(list(
  aov_fixed = list(term = trimws(rownames(a_fixed)), df = a_fixed$Df, sumsq = a_fixed$`Sum Sq`,
                   meansq = a_fixed$`Mean Sq`, statistic = a_fixed$`F value`, p_value = a_fixed$`Pr(>F)`),
  strata_item = list(df = a_strata$`Error: item`[[1]]$Df, sumsq = a_strata$`Error: item`[[1]]$`Sum Sq`),
  strata_within = list(df = a_strata$`Error: item:store`[[1]]$Df,
                       sumsq = a_strata$`Error: item:store`[[1]]$`Sum Sq`,
                       statistic = a_strata$`Error: item:store`[[1]]$`F value`,
                       p_value = a_strata$`Error: item:store`[[1]]$`Pr(>F)`),
  univariate = list(term = rownames(uni), sumsq = unname(uni[, "Sum Sq"]), num_df = unname(uni[, "num Df"]),
                    error_sumsq = unname(uni[, "Error SS"]), den_df = unname(uni[, "den Df"]),
                    statistic = unname(uni[, "F value"]), p_value = unname(uni[, "Pr(>F)"])),
  epsilon = list(gg = unname(padj[1, "GG eps"]), p_gg = unname(padj[1, "Pr(>F[GG])"]),
                 hf = unname(padj[1, "HF eps"]), p_hf = unname(padj[1, "Pr(>F[HF])"])),
  ## car's summary and stats::mauchly.test (same code: 3 * a, not 3 * (a - 1), in the
  ## second-order term of the p-value)
  mauchly = list(statistic = unname(sph[1, "Test statistic"]), p_value_car = unname(sph[1, "p-value"]),
                 p_value_r = mauchly.test(lmod, X = ~ 1)$p.value,
                 W = unname(mauchly.test(lmod, X = ~ 1)$statistic)),
  multivariate = list(pillai = sum(ev / (1 + ev)), wilks = prod(1 / (1 + ev)),
                      hotelling_lawley = sum(ev), roy = max(ev)),
  wide = unname(Y)
), "rmanova.json")

## ------------------------------------------- multiple comparisons of stores
tk <- TukeyHSD(aov(price ~ store + item, data = grocery), "store")$store
long <- grocery[order(grocery$store, grocery$item), ]
paired_p <- function(adj) {
  pt <- pairwise.t.test(long$price, long$store, paired = TRUE, p.adjust.method = adj)$p.value
  pt[lower.tri(pt, diag = TRUE)]
}
put(list(tukey = list(term = rownames(tk), diff = unname(tk[, "diff"]), lwr = unname(tk[, "lwr"]),
                      upr = unname(tk[, "upr"]), p_adj = unname(tk[, "p adj"])),
         paired = list(note = "pairwise.t.test(paired = TRUE): lower triangle by column (B-A, C-A, D-A, C-B, D-B, D-C)",
                       p_none = paired_p("none"), p_bonferroni = paired_p("bonferroni"),
                       p_holm = paired_p("holm"))),
    "multcomp.json")

## ------------------------------------------------------- lme4 LRT (ML)
nmod <- lmer(price ~ 1 + (1 | item), data = grocery, REML = FALSE)
amod <- lmer(price ~ store + (1 | item), data = grocery, REML = FALSE)
av <- anova(nmod, amod)
put(list(aic = av$AIC, bic = av$BIC, loglik = av$logLik, deviance = av$deviance,
         chisq = av$Chisq[2], df = av$Df[2], p_value = av$`Pr(>Chisq)`[2]), "lmer_lrt.json")

## ------------------------------------------------- hsfull covariance components
hs <- read.csv("data/hsfull.csv", stringsAsFactors = FALSE)
hs$female <- as.numeric(hs$Sex == "Female")
hs$Sector <- factor(hs$Sector, levels = c("Catholic", "Public"))
hs$ses_mean <- ave(hs$ses, hs$school)
hs$ses_cwg <- hs$ses - hs$ses_mean
hs$female_mean <- ave(hs$female, hs$school)
hs$female_cwg <- hs$female - hs$female_mean
fixed <- "mathach ~ ses_cwg + ses_mean + female_cwg + female_mean + Sector"
models <- list(
  null = "mathach ~ 1 + (1 | school)",
  intercept = paste(fixed, "+ (1 | school)"),
  unstructured = paste(fixed, "+ (1 + ses_cwg + female_cwg | school)"),
  diagonal = paste(fixed, "+ (1 + ses_cwg + female_cwg || school)"),
  block = paste(fixed, "+ (1 | school) + (0 + ses_cwg + female_cwg | school)")
)
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0,
                                    maxeval = 1e5),
                     check.conv.singular = "ignore")
for (m in names(models)) {
  for (reml in c(TRUE, FALSE)) {
    fit <- lmer(as.formula(models[[m]]), data = hs, REML = reml, control = tight)
    vc <- as.data.frame(VarCorr(fit))
    put(list(model = m, formula = models[[m]], reml = reml,
             fixef = as.list(fixef(fit)), loglik = as.numeric(logLik(fit)),
             aic = AIC(fit), bic = BIC(fit), sigma = sigma(fit),
             varcorr = list(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov)),
        sprintf("components__%s__%s.json", m, if (reml) "reml" else "ml"))
  }
}
cat("golden designs files written to", out_dir, "\n")
