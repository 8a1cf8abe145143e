"""ambidex_bayes: Bayesian multilevel analysis of daily-diary studies.

Within-person slopes, their moderation by person-level variables (cross-level
interactions), and the checks a methodologist reports with them.
"""

from __future__ import annotations

__version__ = "0.1.0"
