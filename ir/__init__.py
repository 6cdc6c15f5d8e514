"""sparsec.ir: the IR core, its types and attributes, dialects and text form.

Imports neither torch nor tvm.
"""

from .attributes import *  # noqa: F403
from .core import Block, BlockArgument, IRError, Location, Operation, OpResult, Region, Use, Value
from .opdef import OpDef, VerifyError, lookup, registered_ops
from .types import *  # noqa: F403
from .verifier import VerificationError, verify

__all__ = [  # noqa: RUF022
    "Block", "BlockArgument", "IRError", "Location", "Operation", "OpResult", "Region", "Use",
    "Value", "OpDef", "VerifyError", "lookup", "registered_ops", "VerificationError", "verify",
]
