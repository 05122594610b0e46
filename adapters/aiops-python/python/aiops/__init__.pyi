"""Type stubs for the aiops extension module."""

import os
from typing import Any, Mapping, Optional, Union

__version__: str

Bundle = Union[Mapping[str, Any], str, "os.PathLike[str]"]

class AiopsError(Exception):
    """Base class of every aiops error."""

class BundleError(AiopsError):
    """A bundle that does not parse."""

    path: str
    """JSON path of the bad field (``.`` for the whole document)."""

class PolicyError(AiopsError):
    """A policy or policy input that cannot be evaluated."""

def analyze(bundle: Bundle) -> dict[str, Any]:
    """Diagnoses one incident bundle (dict, JSON/YAML text or path) with the default engine."""

def evaluate_policy(input: Mapping[str, Any], policy: Optional[str] = None) -> dict[str, Any]:
    """Evaluates a policy input document; returns ``{"decision", "reasons", "input"}``."""

def eval(path: Union[str, "os.PathLike[str]"]) -> dict[str, Any]:
    """Scores every bundle with an ``expected`` block in a folder (or one file)."""

class Engine:
    """An engine with its own rules and policy, reused across analyses."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None) -> None:
        """``config`` keys: ``rules`` (path), ``rules_text`` (YAML/JSON), ``policy`` (path)."""

    def analyze(self, bundle: Bundle) -> dict[str, Any]:
        """Diagnoses one incident bundle with this engine."""

    def rule_ids(self) -> list[str]:
        """The ids of every rule this engine runs."""
