"""sparsec.passes: the pass infrastructure and the passes, one file each.

    from sparsec.passes import PassManager, parse_pipeline
    PassManager(parse_pipeline("canonicalize,cse,dce")).run(module)

Imports neither torch nor tvm.
"""

from sparsec.ir.diagnostics import PassError, PassFailure, PipelineError

from .pass_base import Pass, option
from .pass_manager import PassManager, TimingReport
from .pipeline import format_pipeline, parse_pipeline
from .registry import get_pass_class, list_passes_text, register_pass, registered_passes
from .rewrite import Pattern, RewriteResult, apply_patterns_greedily, replace_op

__all__ = [  # noqa: RUF022
    "Pass", "PassError", "option", "PassFailure", "PassManager", "TimingReport",
    "PipelineError", "format_pipeline", "parse_pipeline", "get_pass_class", "list_passes_text",
    "register_pass", "registered_passes", "Pattern", "RewriteResult", "apply_patterns_greedily",
    "replace_op",
]
