"""sparsec.ir: the IR core, its types and attributes, dialects and text form.

Imports neither torch nor tvm.
"""

from .attributes import *  # noqa: F403
from .core import Block, BlockArgument, Location, Operation, OpResult, Region, Use, Value
from .diagnostics import (
    IRError,
    ParseError,
    PassError,
    PassFailure,
    PipelineError,
    SparsecError,
    VerificationError,
)
from .opdef import OpDef, VerifyError, lookup, registered_ops
from .types import *  # noqa: F403
from .verifier import verify

__all__ = [  # noqa: RUF022
    "Block", "BlockArgument", "Location", "Operation", "OpResult", "Region", "Use", "Value",
    "OpDef", "VerifyError", "lookup", "registered_ops", "verify",
    "SparsecError", "ParseError", "IRError", "VerificationError", "PassError", "PassFailure",
    "PipelineError",
]
