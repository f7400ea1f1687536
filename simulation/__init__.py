"""The SimPy model of a local SEND system: one replication = Parameters + seed -> Results."""

from .model import run_replication
from .parameters import ParameterError, Parameters, apply_scenario, from_dict
from .results import Results

__all__ = [
    "ParameterError",
    "Parameters",
    "Results",
    "apply_scenario",
    "from_dict",
    "run_replication",
]
