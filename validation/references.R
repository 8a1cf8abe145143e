# Reference estimates from lme4 and brms on two public data sets, stored as fixtures.
#
# Usage (from the repository root):
#   Rscript validation/references.R [output folder] [--no-brms] [--only=NAME]
# The output folder defaults to tests/fixtures/validation. For each data set it writes
#   <name>.csv             the data as used (the columns of the model only)
#   <name>_reference.json  lme4 (REML and ML) and brms estimates, with the versions of R and
#                          of the packages that made them
# --no-brms leaves the brms part out (it compiles a Stan model per data set, minutes each);
# --only=sleepstudy or --only=exam makes one data set's fixtures only.
#
# Data sets and models (the same model is fitted by ambidex_bayes in
# tests/test_validation_references.py and validation/compare_references.py):
#   sleepstudy (lme4):  Reaction ~ Days + (Days | Subject)
#   Exam (mlmRev):      normexam ~ standLRT + sex + schgend + (standLRT | school)

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
with_brms <- !("--no-brms" %in% args)
only <- sub("^--only=", "", grep("^--only=", args, value = TRUE))
args <- args[!grepl("^--", args)]
out_dir <- if (length(args) >= 1) args[[1]] else file.path("tests", "fixtures", "validation")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# brms settings: default priors, 2 chains of 2000 iterations (1000 warm-up), fixed seed
BRMS <- list(chains = 2L, iter = 2000L, warmup = 1000L, seed = 20261201L)

versions <- function() {
  pkgs <- c("lme4", "Matrix", "mlmRev", "jsonlite")
  if (with_brms) pkgs <- c(pkgs, "brms", "rstan")
  c(list(R = paste(R.version$major, R.version$minor, sep = ".")),
    setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs))
}

# lme4 fit: fixed effects with SEs, SDs and correlations of the group effects, residual SD
lme4_part <- function(formula, data, reml) {
  fit <- lmer(formula, data = data, REML = reml)
  coefs <- summary(fit)$coefficients
  fixed <- lapply(seq_len(nrow(coefs)), function(i) {
    list(estimate = unname(coefs[i, "Estimate"]), se = unname(coefs[i, "Std. Error"]))
  })
  names(fixed) <- rownames(coefs)
  vc <- VarCorr(fit)
  group <- names(vc)[[1]]
  block <- vc[[group]]
  sds <- attr(block, "stddev")
  cors <- attr(block, "correlation")
  cor_list <- list()
  terms <- names(sds)
  for (a in seq_along(terms)) for (b in seq_along(terms)) if (a < b) {
    cor_list[[paste(terms[a], terms[b], sep = ",")]] <- unname(cors[a, b])
  }
  list(
    method = if (reml) "REML" else "ML",
    group = group,
    fixed = fixed,
    sd = as.list(sds),
    cor = cor_list,
    sigma = sigma(fit),
    logLik = as.numeric(logLik(fit)),
    n_obs = nobs(fit),
    n_groups = unname(lme4::ngrps(fit)[[group]])
  )
}

# brms' default priors of a fit, one row per class that sets one (an empty prior of the
# fixed effects is brms' flat prior)
default_priors <- function(fit) {
  ps <- as.data.frame(brms::prior_summary(fit))
  ps$prior[ps$prior == "" & ps$class == "b" & ps$coef == ""] <- "(flat)"
  ps <- ps[ps$prior != "", c("prior", "class")]
  rownames(ps) <- NULL
  ps
}

# brms fit with default priors: posterior means and SDs
brms_part <- function(formula, data) {
  suppressPackageStartupMessages(library(brms))
  # Debian's r-cran-bh ships no headers (they are libboost-dev's, in /usr/include): point
  # rstan at them when its own Boost folder is missing
  if (!file.exists(rstan::rstan_options("boost_lib")) && dir.exists("/usr/include/boost")) {
    rstan::rstan_options(boost_lib = "/usr/include")
  }
  fit <- brm(formula, data = data, family = gaussian(), chains = BRMS$chains,
             iter = BRMS$iter, warmup = BRMS$warmup, seed = BRMS$seed, cores = 1,
             refresh = 0, silent = 2, backend = "rstan")
  fe <- fixef(fit)
  fixed <- lapply(seq_len(nrow(fe)), function(i) {
    list(mean = unname(fe[i, "Estimate"]), sd = unname(fe[i, "Est.Error"]))
  })
  names(fixed) <- sub("^Intercept$", "(Intercept)", rownames(fe))
  vc <- VarCorr(fit)
  group <- setdiff(names(vc), "residual__")[[1]]
  sd_tab <- vc[[group]]$sd
  sds <- lapply(seq_len(nrow(sd_tab)), function(i) {
    list(mean = unname(sd_tab[i, "Estimate"]), sd = unname(sd_tab[i, "Est.Error"]))
  })
  names(sds) <- sub("^Intercept$", "(Intercept)", rownames(sd_tab))
  cor_arr <- vc[[group]]$cor
  terms <- names(sds)
  cor_list <- list()
  for (a in seq_along(terms)) for (b in seq_along(terms)) if (a < b) {
    cor_list[[paste(terms[a], terms[b], sep = ",")]] <- list(
      mean = unname(cor_arr[a, "Estimate", b]), sd = unname(cor_arr[a, "Est.Error", b]))
  }
  res <- vc$residual__$sd
  rhat <- max(brms::rhat(fit), na.rm = TRUE)
  list(
    settings = c(BRMS, list(priors = "brms defaults")),
    prior_summary = default_priors(fit),
    group = group,
    fixed = fixed,
    sd = sds,
    cor = cor_list,
    sigma = list(mean = unname(res[1, "Estimate"]), sd = unname(res[1, "Est.Error"])),
    max_rhat = rhat
  )
}

reference <- function(name, source, formula, data) {
  if (length(only) && !(name %in% only)) return(invisible(NULL))
  message("fitting ", name, " with lme4")
  out <- list(
    dataset = name,
    source = source,
    formula = deparse(formula, width.cutoff = 500L),
    rows = nrow(data),
    software = versions(),
    lme4 = list(REML = lme4_part(formula, data, TRUE), ML = lme4_part(formula, data, FALSE))
  )
  if (with_brms) {
    message("fitting ", name, " with brms (compiles a Stan model)")
    out$brms <- brms_part(formula, data)
  }
  write.csv(data, file.path(out_dir, paste0(name, ".csv")), row.names = FALSE)
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
             file.path(out_dir, paste0(name, "_reference.json")))
  message("wrote ", paste(file.path(out_dir, paste0(name, c(".csv", "_reference.json"))), collapse = ", "))
}

data("sleepstudy", package = "lme4")
sleep <- sleepstudy[, c("Subject", "Days", "Reaction")]
reference("sleepstudy", "lme4::sleepstudy", Reaction ~ Days + (Days | Subject), sleep)

data("Exam", package = "mlmRev")
exam <- Exam[, c("school", "normexam", "standLRT", "sex", "schgend")]
reference("exam", "mlmRev::Exam",
          normexam ~ standLRT + sex + schgend + (standLRT | school), exam)
