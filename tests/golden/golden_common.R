## Helpers shared by the golden-file scripts (make_golden.R, make_golden_ladder.R):
## a JSON writer with shortest round-trip numbers, term-name translation to
## formulaic's convention, and capture of lme4's warnings and messages.
## Sourced from the repository root: source(file.path("tests", "golden", "golden_common.R")).
## Needs jsonlite (for string escaping).

## ---------------------------------------------------------------------------
## Minimal JSON writer with shortest round-trip number formatting.
## (jsonlite caps numeric output at 15 significant digits, which does not
## round-trip IEEE doubles; we need exact values.)
## Conventions: atomic vectors -> arrays (always, even length 1) unless
## wrapped with S() (scalar); matrices -> list of rows; named lists -> objects;
## unnamed lists -> arrays; NULL -> null; NA/NaN/Inf -> null.
## ---------------------------------------------------------------------------
S <- function(x) { stopifnot(length(x) == 1L); structure(x, class = c("json_scalar", class(x))) }

fmt_num <- function(x) {
  vapply(x, function(v) {
    if (is.na(v) || !is.finite(v)) return("null")
    for (d in 15:17) {
      s <- sprintf(paste0("%.", d, "g"), v)
      if (as.numeric(s) == v) break
    }
    s
  }, character(1))
}
fmt_atom <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) return(ifelse(is.na(x), "null", ifelse(x, "true", "false")))
  if (is.character(x)) return(ifelse(is.na(x), "null",
                                     vapply(x, function(s) as.character(toJSON(s, auto_unbox = TRUE)), character(1))))
  if (is.numeric(x)) return(fmt_num(as.numeric(x)))
  stop("unsupported atomic type: ", class(x))
}
to_json <- function(x, indent = 0L) {
  pad  <- strrep("  ", indent)
  pad1 <- strrep("  ", indent + 1L)
  if (is.null(x)) return("null")
  if (inherits(x, "json_scalar")) { class(x) <- setdiff(class(x), "json_scalar"); return(fmt_atom(x)) }
  if (is.matrix(x)) {
    rows <- lapply(seq_len(nrow(x)), function(i) x[i, ])
    if (nrow(x) == 0) return("[]")
    return(paste0("[", paste(vapply(rows, function(r) paste0("[", paste(fmt_atom(r), collapse = ", "), "]"), ""),
                             collapse = ", "), "]"))
  }
  if (is.atomic(x)) {
    return(paste0("[", paste(fmt_atom(unname(x)), collapse = ", "), "]"))
  }
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    if (!is.null(names(x)) && all(names(x) != "")) {
      items <- vapply(seq_along(x), function(i)
        paste0(pad1, fmt_atom(names(x)[i]), ": ", to_json(x[[i]], indent + 1L)), "")
      return(paste0("{\n", paste(items, collapse = ",\n"), "\n", pad, "}"))
    }
    items <- vapply(x, function(el) paste0(pad1, to_json(el, indent + 1L)), "")
    return(paste0("[\n", paste(items, collapse = ",\n"), "\n", pad, "]"))
  }
  stop("cannot serialise object of class ", class(x))
}
write_json_file <- function(x, path) writeLines(to_json(x), path, useBytes = TRUE)

## ---------------------------------------------------------------------------
## Name translation to formulaic's convention
## ---------------------------------------------------------------------------
translate_terms <- function(nms, data) {
  fac_vars <- names(data)[vapply(data, is.factor, logical(1))]
  tr1 <- function(comp) {
    if (comp == "(Intercept)") return("Intercept")
    for (v in fac_vars) {
      for (lv in levels(data[[v]])) {
        if (comp == paste0(v, lv)) return(paste0(v, "[T.", lv, "]"))
      }
    }
    comp
  }
  vapply(nms, function(n) paste(vapply(strsplit(n, ":", fixed = TRUE)[[1]], tr1, ""), collapse = ":"),
         character(1), USE.NAMES = FALSE)
}

## ---------------------------------------------------------------------------
## Fitting with capture of warnings and messages
## ---------------------------------------------------------------------------
capture_fit <- function(expr) {
  warns <- character(0); msgs <- character(0)
  val <- withCallingHandlers(expr,
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs  <<- c(msgs, sub("\n$", "", conditionMessage(m))); invokeRestart("muffleMessage") })
  list(value = val, warnings = warns, messages = msgs)
}
