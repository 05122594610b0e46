"""aiops: turn a Kubernetes incident bundle into ranked, cited root-cause hypotheses.

Every function returns the same JSON documents as the ``aiops`` command line, as Python objects.
"""

from ._aiops import (
    AiopsError,
    BundleError,
    Engine,
    PolicyError,
    __version__,
    analyze,
    eval,
    evaluate_policy,
)

__all__ = [
    "AiopsError",
    "BundleError",
    "Engine",
    "PolicyError",
    "__version__",
    "analyze",
    "eval",
    "evaluate_policy",
]
