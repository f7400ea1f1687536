"""The SimPy model of a local SEND system: one replication = Parameters + seed -> Results."""

from .parameters import ParameterError, Parameters, apply_scenario, from_dict
from .results import Results
from .system import run_replication

__all__ = [
    "ParameterError",
    "Parameters",
    "Results",
    "apply_scenario",
    "from_dict",
    "run_replication",
]
