"""The model's entry point, kept where other code imports it from.

The model itself is `simulation/system.py` (`SendSystem`: state, calendar, run, results)
and the stages of the statutory pathway in `simulation/pathway/`; docs/architecture.md maps
the modules.
"""

from __future__ import annotations

from .system import SendSystem, run_replication

__all__ = ["SendSystem", "run_replication"]
