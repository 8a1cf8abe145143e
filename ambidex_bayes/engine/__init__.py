"""The engine: everything that runs MCMC, and how.

- :mod:`~ambidex_bayes.engine.settings`: :class:`SamplerSettings`, the default backend.
- :mod:`~ambidex_bayes.engine.limits`: allowed ranges of the settings, the backends' packages.
- :mod:`~ambidex_bayes.engine.sampling`: sampling a built model (full NUTS or the fast path),
  with compiled models re-used within a process.
- :mod:`~ambidex_bayes.engine.nutpie_cache`: nutpie's compiled callbacks kept on disk.
- :mod:`~ambidex_bayes.engine.graph_cache`: nutpie's rewritten PyTensor functions kept on
  disk, so that a new process does not rewrite the model's graphs again.
- :mod:`~ambidex_bayes.engine.result`: :class:`FitResult`, a fit saved to and loaded from
  one file.
- :mod:`~ambidex_bayes.engine.fit_file`: the structural checks of a saved fit file's records,
  before a fit is rebuilt from them.
- :mod:`~ambidex_bayes.engine.cache`: the one routine every route that samples shares: the
  fit cache (key, file, load if the key matches), the model that is sampled (fast path or
  full NUTS) and the fit's record (``meta``).
- :mod:`~ambidex_bayes.engine.rescue`: the announced second try of a failing fit.
- :mod:`~ambidex_bayes.engine.reuse`: one model compiled once and sampled under many prior
  sets (PyMC's NUTS), used by :func:`ambidex_bayes.priors.compare_priors`.

:func:`ambidex_bayes.fit.fit` is the front of the engine for one spec and one data set;
:func:`ambidex_bayes.priors.compare_priors` for one spec under several prior sets; power and
SBC runs fit each simulated data set through :func:`ambidex_bayes.fit.fit`.
"""
