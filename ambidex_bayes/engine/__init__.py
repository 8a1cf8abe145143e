"""The engine: everything that runs MCMC, and how.

- :mod:`~ambidex_bayes.engine.settings`: :class:`SamplerSettings`, the default backend.
- :mod:`~ambidex_bayes.engine.limits`: allowed ranges of the settings, the backends' packages.
- :mod:`~ambidex_bayes.engine.sampling`: sampling a built model (full NUTS or the fast path),
  with compiled models re-used within a process.
- :mod:`~ambidex_bayes.engine.nutpie_cache`: nutpie's compiled callbacks kept on disk.

:func:`ambidex_bayes.fit.fit` is the front of the engine for one spec and one data set.
"""
