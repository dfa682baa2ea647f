## Fitting helpers shared by the lme4 golden scripts (make_golden.R, make_golden_multi.R):
## tight multi-start lmerTest fits, the Newton polish on lme4's own deviance function,
## extraction of every reported quantity and golden_record(), which writes one JSON file
## into out_dir (set by the calling script). Sourced after golden_common.R.

## ---------------------------------------------------------------------------
## Optimizer controls
## ---------------------------------------------------------------------------
## Tight control: nloptwrap (BOBYQA via nloptr) with absolute tolerances far
## below lme4's defaults (xtol_abs = ftol_abs = 1e-8 in lme4 1.1-31), relative
## tolerances switched off, so that the reported values are the optimum to
## (close to) machine precision. The convergence *check* (gradient/Hessian
## heuristics) is left at lme4's default; anything it says is recorded.
tight_optCtrl <- list(xtol_abs = 1e-14, ftol_abs = 1e-15,
                      xtol_rel = 0, ftol_rel = 0, maxeval = 1e5)
tight_control <- lmerControl(optimizer = "nloptwrap", optCtrl = tight_optCtrl)
tight_control_text <- paste0(
  'lmerControl(optimizer = "nloptwrap", optCtrl = list(xtol_abs = 1e-14, ',
  'ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0, maxeval = 1e5))')
polish_text <- paste(
  "Newton polish of the chosen theta on lme4's profiled deviance (lmer(..., devFunOnly = TRUE)):",
  "gradient and Hessian over the free theta elements by numDeriv::genD (Richardson,",
  "d = 0.1, eps = 1e-4, r = 4); diagonal elements at 0 stay fixed, steps below 0 are projected",
  "onto the bound; a step is accepted if the deviance does not increase by more than",
  "1e-14 * |deviance| (its rounding noise); stop when the step is < 1e-10, no longer shrinks,",
  "or after 10 steps. The final fit is rebuilt at the polished theta with",
  "lmerTest::lmer(start = list(theta = polished)) and an optimizer that returns its start.")
default_control_text <- "lmerControl()  (lme4 default: nloptwrap/BOBYQA, xtol_abs = ftol_abs = 1e-8, maxeval = 1e5)"


fit_model <- function(formula, data, reml, control, start = NULL) {
  if (is.null(start)) {
    capture_fit(lmerTest::lmer(formula, data = data, REML = reml, control = control))
  } else {
    capture_fit(lmerTest::lmer(formula, data = data, REML = reml, control = control,
                               start = list(theta = start)))
  }
}

## Multi-start search for the optimum.
## A single BOBYQA run from lme4's default start can stop at a spurious
## boundary point (this happens for hsfull q3 under ML, where the default-start
## fit sits at theta[4] = 0 with a log-likelihood ~3.49 below the interior
## optimum). So every golden fit is the best of several tight nloptwrap runs:
##   default   : lme4's default starting values
##   nm        : started from a tight Nelder_Mead solution
##   bobyqa    : started from a tight minqa::bobyqa solution
##   other_crit: started from the tight fit under the other criterion
##               (ML <-> REML, default start)
## The highest log-likelihood wins; candidates within 1e-9 of the best count
## as ties (objective noise), and ties go to the earlier candidate, so the
## default-start fit is kept whenever it is at the optimum. All candidates
## are recorded in the JSON under "optimum_search".
nm_control <- lmerControl(optimizer = "Nelder_Mead",
                          optCtrl = list(FtolAbs = 1e-15, FtolRel = 1e-15, XtolRel = 1e-12, maxfun = 1e5))
bq_control <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

best_tight_fit <- function(formula, data, reml) {
  cand <- list()
  cand$default <- fit_model(formula, data, reml, tight_control)
  starts <- list(
    nm = getME(suppressWarnings(suppressMessages(
      lme4::lmer(formula, data = data, REML = reml, control = nm_control))), "theta"),
    bobyqa = getME(suppressWarnings(suppressMessages(
      lme4::lmer(formula, data = data, REML = reml, control = bq_control))), "theta"),
    other_crit = getME(suppressWarnings(suppressMessages(
      lme4::lmer(formula, data = data, REML = !reml, control = tight_control))), "theta"))
  for (nm in names(starts)) cand[[nm]] <- fit_model(formula, data, reml, tight_control, start = starts[[nm]])
  lls <- vapply(cand, function(cf) as.numeric(logLik(cf$value)), numeric(1))
  # first candidate (default start preferred) within 1e-9 of the best loglik:
  # smaller differences are floating-point noise in the objective.
  best <- names(cand)[which(lls >= max(lls) - 1e-9)[1]]
  search <- lapply(names(cand), function(nm) {
    cf <- cand[[nm]]$value
    list(start = S(nm),
         loglik = S(lls[[nm]]),
         loglik_minus_best = S(lls[[nm]] - max(lls)),
         theta = unname(getME(cf, "theta")),
         singular = S(isSingular(cf, tol = 1e-4)),
         warnings = cand[[nm]]$warnings,
         messages = cand[[nm]]$messages)
  })
  thetas <- do.call(rbind, lapply(cand, function(cf) getME(cf$value, "theta")))
  near <- lls >= max(lls) - 1e-8
  list(fr = cand[[best]], chosen = best,
       default_start_loglik = lls[["default"]],
       search = search,
       theta_spread_near_optimum = unname(apply(thetas[near, , drop = FALSE], 2, function(v) max(v) - min(v))))
}

## ---------------------------------------------------------------------------
## Newton polish of the chosen theta
## ---------------------------------------------------------------------------
## A derivative-free optimizer stops where the deviance stops changing, and
## at the optimum the profiled deviance is flat to its own rounding noise
## (about 1e-15 relative, ~5e-11 on a deviance of 46,000) over theta
## displacements of up to a few 1e-6 in flat directions (hsfull q3_block
## REML: theta[4] = 0.0128593 from BOBYQA vs the stationary point 0.0128567).
## The gradient, however, is still well determined there. So the chosen theta
## is polished by Newton's method on lme4's own profiled deviance
## (lmer(..., devFunOnly = TRUE), same REML/ML):
##   * gradient and Hessian by central differences with Richardson
##     extrapolation (numDeriv::genD: base step 10% of |theta_k| (1e-4
##     absolute for |theta_k| < 1.8e-5), 4 halvings), over the free elements;
##     the large base step keeps the rounding noise out of the derivatives and
##     the extrapolation removes the truncation error;
##   * diagonal elements at the lower bound 0 (singular fits) stay fixed at 0;
##     a step that would take a diagonal element below 0 is projected onto
##     the bound and that element then stays fixed;
##   * a step is accepted only if the deviance does not increase by more than
##     its rounding noise (1e-14 * |deviance|): below that level deviance
##     values cannot rank two thetas, which is the whole reason for the polish;
##   * stop when the Newton step is < 1e-10 (max abs), when it no longer
##     shrinks (the noise floor of the differenced derivatives), when the
##     Hessian is not positive definite, or after 10 steps.
polish_d <- 0.1
polish_noise_rel <- 1e-14

newton_polish <- function(devfun, theta, lower, max_steps = 10L, step_tol = 1e-10) {
  f_start <- devfun(theta)
  noise <- polish_noise_rel * max(1, abs(f_start))
  free <- !(lower == 0 & theta == 0)
  derivs <- function(th) {
    k <- sum(free)
    if (k == 0) return(list(g = numeric(0), H = matrix(0, 0, 0)))
    fx <- function(x) { t <- th; t[free] <- x; devfun(t) }
    D <- numDeriv::genD(fx, th[free], method.args = list(d = polish_d, eps = 1e-4, r = 4, v = 2))$D
    H <- matrix(0, k, k); u <- k
    for (i in seq_len(k)) for (j in seq_len(i)) { u <- u + 1; H[i, j] <- H[j, i] <- D[u] }
    list(g = D[seq_len(k)], H = H)
  }
  th <- theta; f <- f_start; steps <- list(); prev <- Inf
  dv <- derivs(th); g0 <- dv$g
  stop_reason <- "10 steps taken"
  for (it in seq_len(max_steps)) {
    if (!any(free)) { stop_reason <- "no free theta elements"; break }
    if (min(eigen(dv$H, symmetric = TRUE, only.values = TRUE)$values) <= 0) {
      stop_reason <- "Hessian not positive definite"; break
    }
    new <- th
    new[free] <- th[free] - solve(dv$H, dv$g)
    out <- new < lower
    new[out] <- lower[out]                      # project onto the bound
    size <- max(abs(new - th))
    if (size < step_tol) { stop_reason <- "Newton step below 1e-10"; break }
    if (size >= prev) { stop_reason <- "Newton step no longer shrinking (derivative noise floor)"; break }
    fn <- devfun(new)
    ok <- fn <= f + noise
    steps[[length(steps) + 1L]] <- list(max_abs_step = S(size), deviance_change = S(fn - f),
                                        accepted = S(ok), projected_to_bound = which(out))
    if (!ok) { stop_reason <- "deviance would increase"; break }
    th <- new; f <- fn; prev <- size
    free <- free & !out
    dv <- derivs(th)
  }
  list(theta = th, deviance_before = f_start, deviance_after = devfun(th), noise_allowance = noise,
       grad_norm_before = sqrt(sum(g0^2)), grad_norm_after = sqrt(sum(dv$g^2)),
       free = free, steps = steps, stop_reason = stop_reason)
}

## "Optimizer" that returns its start: used to rebuild the final fit at the
## polished theta with lme4/lmerTest's own code (fixef, vcov, Satterthwaite,
## ranef, ...). Return fields as for lme4's nloptwrap (par, fval, feval, conv,
## message). restart_edge / boundary.tol off so that nothing moves theta.
polish_optimizer <- function(par, fn, lower, upper, control = list(), ...)
  list(par = par, fval = fn(par), feval = 1L, conv = 0L,
       message = "Newton-polished theta, evaluated without optimizer moves")
polish_control <- lmerControl(optimizer = polish_optimizer, restart_edge = FALSE, boundary.tol = 0)

polish_fit <- function(formula, data, reml, fit) {
  devfun <- lme4::lmer(formula, data = data, REML = reml, devFunOnly = TRUE)
  theta0 <- getME(fit, "theta")
  crit0 <- if (reml) unname(REMLcrit(fit)) else unname(deviance(fit))
  pol <- newton_polish(devfun, unname(theta0), getME(fit, "lower"))
  th <- setNames(pol$theta, names(theta0))
  fr <- fit_model(formula, data, reml, polish_control, start = th)
  refit <- fr$value
  crit <- if (reml) unname(REMLcrit(refit)) else unname(deviance(refit))
  dv <- devfun(pol$theta)
  stopifnot(identical(unname(getME(refit, "theta")), unname(pol$theta)),
            abs(crit - dv) <= 4 * .Machine$double.eps * abs(dv))
  pol$chosen_fit_criterion <- crit0
  pol$rebuilt_criterion_minus_devfun <- crit - dv
  pol$theta_before <- unname(theta0)
  c(pol, list(fr = fr))
}

## ---------------------------------------------------------------------------
## Extraction
## ---------------------------------------------------------------------------
varcorr_info <- function(fit, data) {
  vc   <- VarCorr(fit)
  cnms <- getME(fit, "cnms")          # names = grouping factor (duplicated for ||)
  blocks <- lapply(seq_along(vc), function(i) {
    m <- vc[[i]]
    sd <- attr(m, "stddev")
    corr <- attr(m, "correlation")
    if (is.null(corr)) corr <- matrix(1, 1, 1)
    corr <- as.matrix(corr)
    diag(corr) <- 1
    list(group = S(names(cnms)[i]),
         block = S(names(vc)[i]),
         terms = translate_terms(colnames(m), data),
         sd = unname(sd),
         variance = unname(sd^2),
         corr = unname(corr),
         cov = unname(as.matrix(m)))
  })
  groups <- unique(names(cnms))
  G <- lapply(groups, function(g) {
    idx <- which(names(cnms) == g)
    mats <- lapply(idx, function(i) as.matrix(vc[[i]]))
    terms <- unlist(lapply(idx, function(i) colnames(vc[[i]])))
    q <- length(terms)
    Gm <- matrix(0, q, q)
    off <- 0
    for (m in mats) {
      k <- nrow(m); Gm[off + seq_len(k), off + seq_len(k)] <- m; off <- off + k
    }
    list(group = S(g), terms = translate_terms(terms, data), G = Gm)
  })
  names(G) <- groups
  list(blocks = blocks, G = G)
}

## max_levels: keep the first max_levels levels of each grouping factor (large
## data sets such as InstEval); Inf keeps all.
ranef_info <- function(fit, data, max_levels = Inf) {
  re <- ranef(fit, condVar = TRUE)
  cnms <- getME(fit, "cnms")
  out <- lapply(names(re), function(g) {
    df <- re[[g]]
    pv <- attr(df, "postVar"); if (is.null(pv)) pv <- attr(df, "condVar")
    # pv: q x q x J array (one block) or a list of per-block arrays (several
    # blocks for the same grouping factor, e.g. '||'). lme4 does not report
    # cross-block conditional covariances.
    if (!is.list(pv)) pv <- list(pv)
    keep <- seq_len(min(nrow(df), max_levels))
    df <- df[keep, , drop = FALSE]
    pv <- lapply(pv, function(a) a[, , keep, drop = FALSE])
    idx <- which(names(cnms) == g)
    block_terms <- lapply(idx, function(i) cnms[[i]])
    J <- nrow(df)
    condsd <- do.call(cbind, lapply(pv, function(a) {
      k <- dim(a)[1]
      t(matrix(vapply(seq_len(dim(a)[3]), function(j) sqrt(diag(matrix(a[, , j], k, k))), numeric(k)), nrow = k))
    }))
    colnames(condsd) <- unlist(block_terms)
    blups <- lapply(names(df), function(tn) unname(df[[tn]]))
    names(blups) <- translate_terms(names(df), data)
    csd <- lapply(names(df), function(tn) unname(condsd[, tn]))
    names(csd) <- translate_terms(names(df), data)
    postvar_blocks <- lapply(seq_along(pv), function(b) {
      a <- pv[[b]]
      list(terms = translate_terms(block_terms[[b]], data),
           matrices = lapply(seq_len(dim(a)[3]), function(j) unname(matrix(a[, , j], dim(a)[1], dim(a)[2]))))
    })
    list(group = S(g),
         levels = rownames(df),
         terms = translate_terms(names(df), data),
         blup = blups,
         cond_sd = csd,
         postvar_blocks = postvar_blocks)
  })
  names(out) <- names(re)
  out
}

coef_info <- function(fit, data, max_levels = Inf) {
  cf <- coef(fit)
  out <- lapply(names(cf), function(g) {
    df <- cf[[g]]
    df <- df[seq_len(min(nrow(df), max_levels)), , drop = FALSE]
    cols <- lapply(names(df), function(tn) unname(df[[tn]]))
    names(cols) <- translate_terms(names(df), data)
    list(levels = rownames(df), columns = cols)
  })
  names(out) <- names(cf)
  out
}

contrast_info <- function(fit, Lspec, terms) {
  L <- do.call(rbind, lapply(Lspec, function(x) x))
  stopifnot(ncol(L) == length(terms))
  ct <- capture_fit(lmerTest::contest(fit, L, joint = FALSE, ddf = "Satterthwaite"))
  res <- ct$value
  lapply(seq_along(Lspec), function(i) {
    list(name = S(names(Lspec)[i]),
         L = as.numeric(Lspec[[i]]),
         estimate = S(res[i, "Estimate"]),
         std_error = S(res[i, "Std. Error"]),
         df = S(res[i, "df"]),
         statistic = S(res[i, "t value"]),
         p_value = S(res[i, "Pr(>|t|)"]),
         warnings = ct$warnings)
  })
}

num_theta <- function(fit) getME(fit, "theta")

golden_record <- function(dataset, model_id, formula, data, reml, ref_levels,
                          contrasts = NULL, extra = NULL, max_levels = Inf) {
  bt <- best_tight_fit(formula, data, reml)
  pol <- polish_fit(formula, data, reml, bt$fr$value)
  fr <- pol$fr          # final fit: lmerTest model rebuilt at the polished theta
  fit <- fr$value
  soi <- bt$fr$value@optinfo   # optimizer info of the chosen nloptwrap run
  sm <- capture_fit(summary(fit, ddf = "Satterthwaite"))
  co <- sm$value$coefficients
  terms <- translate_terms(rownames(co), data)
  ll <- logLik(fit)
  theta <- num_theta(fit)
  oi <- fit@optinfo

  rec <- list(
    dataset = S(dataset),
    model = S(model_id),
    formula = S(paste(deparse(formula, width.cutoff = 500L), collapse = " ")),
    reml = S(reml),
    reference_levels = if (length(ref_levels)) lapply(ref_levels, S) else structure(list(), names = character(0)),
    R_version = S(R.version.string),
    lme4_version = S(as.character(packageVersion("lme4"))),
    lmerTest_version = S(as.character(packageVersion("lmerTest"))),
    Matrix_version = S(as.character(packageVersion("Matrix"))),
    nloptr_version = S(as.character(packageVersion("nloptr"))),
    numDeriv_version = S(as.character(packageVersion("numDeriv"))),
    control = S(tight_control_text),
    polish = S(polish_text),
    terms = terms,
    fixef = unname(co[, "Estimate"]),
    std_error = unname(co[, "Std. Error"]),
    df = unname(co[, "df"]),
    statistic = unname(co[, "t value"]),
    p_value = unname(co[, "Pr(>|t|)"]),
    vcov = unname(as.matrix(vcov(fit))),
    theta = unname(theta),
    theta_names = names(theta),
    sigma = S(sigma(fit)),
    sigma2 = S(sigma(fit)^2),
    varcorr = varcorr_info(fit, data),
    loglik = S(as.numeric(ll)),
    reml_criterion = if (reml) S(unname(REMLcrit(fit))) else NULL,
    deviance = if (!reml) S(unname(deviance(fit))) else NULL,
    aic = S(AIC(fit)),
    bic = S(BIC(fit)),
    nobs = S(nobs(fit)),
    ngroups = lapply(as.list(ngrps(fit)), function(v) S(unname(v))),
    npar = S(attr(ll, "df")),
    singular = S(isSingular(fit, tol = 1e-4)),
    fit_messages = list(
      # lme4's convergence checks, warnings and messages of the final fit
      # (rebuilt at the polished theta) ...
      lme4_conv_messages = as.character(unlist(oi$conv$lme4$messages)),
      warnings = fr$warnings,
      messages = fr$messages,
      summary_warnings = sm$warnings,
      # ... and of the chosen tight nloptwrap run (before the polish)
      search_lme4_conv_messages = as.character(unlist(soi$conv$lme4$messages)),
      search_warnings = bt$fr$warnings,
      search_messages = bt$fr$messages,
      optimizer = S(soi$optimizer),
      opt_conv = S(soi$conv$opt),
      opt_message = S(if (is.null(soi$message)) "" else as.character(soi$message)),
      feval = S(soi$feval)
    ),
    optimum_search = list(
      chosen_start = S(bt$chosen),
      default_start_loglik_minus_chosen = S(bt$default_start_loglik - as.numeric(ll)),
      theta_spread_near_optimum = bt$theta_spread_near_optimum,
      note = S(paste("Best of several tight nloptwrap runs with different starting theta;",
                     "theta_spread_near_optimum = max - min of theta over candidates within 1e-8 of the best loglik",
                     "(an indication of how well theta is determined by the optimum)")),
      candidates = bt$search,
      polish = list(
        theta_before = pol$theta_before,
        theta = unname(pol$theta),
        theta_change = unname(pol$theta) - pol$theta_before,
        max_abs_theta_change = S(max(c(0, abs(unname(pol$theta) - pol$theta_before)))),
        fixed_at_bound = which(!pol$free),
        deviance_before = S(pol$deviance_before),
        deviance_after = S(pol$deviance_after),
        deviance_change = S(pol$deviance_after - pol$deviance_before),
        noise_allowance = S(pol$noise_allowance),
        grad_norm_before = S(pol$grad_norm_before),
        grad_norm_after = S(pol$grad_norm_after),
        steps = pol$steps,
        stop_reason = S(pol$stop_reason),
        rebuilt_criterion_minus_devfun = S(pol$rebuilt_criterion_minus_devfun))),
    ranef = ranef_info(fit, data, max_levels),
    coef = coef_info(fit, data, max_levels)
  )
  if (is.null(rec$reml_criterion)) rec$reml_criterion <- NULL
  if (is.null(rec$deviance)) rec$deviance <- NULL

  if (!is.null(contrasts)) {
    rec$contrasts <- contrast_info(fit, contrasts, terms)
  }

  ## Refit with lme4's default control
  dr <- fit_model(formula, data, reml, lmerControl())
  dfit <- dr$value
  dll <- as.numeric(logLik(dfit))
  dth <- num_theta(dfit)
  rec$lme4_default <- list(
    control = S(default_control_text),
    loglik = S(dll),
    loglik_tight_minus_default = S(as.numeric(ll) - dll),
    theta = unname(dth),
    theta_names = names(dth),
    fixef = unname(fixef(dfit)),
    sigma = S(sigma(dfit)),
    singular = S(isSingular(dfit, tol = 1e-4)),
    lme4_conv_messages = as.character(unlist(dfit@optinfo$conv$lme4$messages)),
    warnings = dr$warnings,
    messages = dr$messages,
    feval = S(dfit@optinfo$feval)
  )
  if (!is.null(extra)) rec <- c(rec, extra(fit))

  fname <- file.path(out_dir, sprintf("%s__%s__%s.json", dataset, model_id, if (reml) "reml" else "ml"))
  write_json_file(rec, fname)
  cat(sprintf("%-40s loglik=%.10f sing=%-5s best=%-10s tight-default=%.3e defstart-best=%.1e spread=%.1e polish: dtheta=%.1e grad %.1e->%.1e (%d steps) %s\n",
              basename(fname), as.numeric(ll), isSingular(fit, tol = 1e-4), bt$chosen, as.numeric(ll) - dll,
              bt$default_start_loglik - as.numeric(ll), max(bt$theta_spread_near_optimum),
              max(c(0, abs(pol$theta - pol$theta_before))), pol$grad_norm_before, pol$grad_norm_after,
              length(pol$steps),
              paste(c(fr$warnings, fr$messages, unlist(oi$conv$lme4$messages)), collapse = " | ")))
  invisible(list(fit = fit, rec = rec, file = fname))
}
