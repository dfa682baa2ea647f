# Time lme4::lmer() on one data set: one R process, the CSV read once.
#
# Usage:
#   Rscript bench/lmer_bench.R CSV FORMULA GROUP REPEATS WARMUPS [FACTOR=LEVEL1,LEVEL2 ...]
#
# Each FACTOR=... argument turns a column into a factor with the given level
# order (the first level is the reference, as in the Python fits); GROUP is
# turned into a factor (several grouping columns: comma-separated, a,b,c).  WARMUPS untimed fits, then REPEATS timed fits of
# lmer(FORMULA, data, REML = TRUE) with the default lmerControl().  Prints a
# single JSON object on stdout: times (seconds), logLik, the optimizer's
# function evaluations, warnings and convergence messages, versions.

suppressPackageStartupMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 5) stop("usage: lmer_bench.R CSV FORMULA GROUP REPEATS WARMUPS [FACTOR=L1,L2 ...]")
csv_path <- args[[1]]
model_formula <- as.formula(args[[2]])
group_col <- args[[3]]
repeats <- as.integer(args[[4]])
warmups <- as.integer(args[[5]])
factor_specs <- if (length(args) > 5) args[6:length(args)] else character(0)

dat <- read.csv(csv_path)
for (g in strsplit(group_col, ",", fixed = TRUE)[[1]]) dat[[g]] <- factor(dat[[g]])
for (spec in factor_specs) {
  parts <- strsplit(spec, "=", fixed = TRUE)[[1]]
  dat[[parts[[1]]]] <- factor(dat[[parts[[1]]]], levels = strsplit(parts[[2]], ",", fixed = TRUE)[[1]])
}

# every fit records its warnings (lme4's convergence checks arrive as warnings)
messages <- character(0)
fit_once <- function() {
  withCallingHandlers(
    lmer(model_formula, data = dat, REML = TRUE),
    warning = function(w) {
      messages <<- c(messages, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) invokeRestart("muffleMessage")
  )
}

json_num <- function(x) if (length(x) == 0 || is.na(x)) "null" else format(x, digits = 17)
json_str <- function(x) {
  x <- gsub("\\\\", "\\\\\\\\", x)
  x <- gsub("\"", "\\\\\"", x)
  x <- gsub("[\r\n\t]", " ", x)
  paste0("\"", x, "\"")
}
json_arr <- function(items) paste0("[", paste(items, collapse = ", "), "]")

if (repeats < 1) stop("REPEATS must be at least 1")
fit <- NULL
for (i in seq_len(warmups)) fit <- fit_once()
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  t0 <- Sys.time()
  fit <- fit_once()
  times[i] <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
}

# each distinct message with the number of fits (warm-ups included) that gave it
counts <- table(messages)
message_items <- vapply(names(counts), function(m) {
  json_str(sprintf("%s [%d of %d fits]", m, counts[[m]], warmups + repeats))
}, "")

cat("{",
    "\"times_s\": ", json_arr(vapply(times, json_num, "")), ", ",
    "\"loglik\": ", json_num(as.numeric(logLik(fit))), ", ",
    "\"n_evals\": ", json_num(fit@optinfo$feval), ", ",
    "\"optimizer\": ", json_str(fit@optinfo$optimizer), ", ",
    "\"singular\": ", if (isSingular(fit)) "true" else "false", ", ",
    "\"messages\": ", json_arr(message_items), ", ",
    "\"fixef\": {", paste(vapply(names(fixef(fit)), json_str, ""), vapply(fixef(fit), json_num, ""),
                         sep = ": ", collapse = ", "), "}, ",
    "\"r_version\": ", json_str(paste(R.version$major, R.version$minor, sep = ".")), ", ",
    "\"lme4_version\": ", json_str(as.character(packageVersion("lme4"))),
    "}\n", sep = "")
