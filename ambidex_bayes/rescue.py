"""The announced second try of a fit that fails its convergence checks.

It lives in the engine, :mod:`ambidex_bayes.engine.rescue`; its names are re-exported here.
"""

from __future__ import annotations

from ambidex_bayes.engine.rescue import (
    rescue_announcement,
    rescue_settings,
    rescue_verdict,
    worth_rescuing,
)

__all__ = ["worth_rescuing", "rescue_settings", "rescue_announcement", "rescue_verdict"]
