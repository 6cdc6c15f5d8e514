"""The ONNX file that ONNX Runtime, OpenVINO and DeepSparse all run.

Opset 14, with the classic additive attention mask: ``(1 - mask[:, None, None, :]) *
finfo.min`` added to the attention scores in the model's eager attention path. transformers
5's own mask builder (and the SDPA path) export ops DeepSparse lacks, which it would run on a
slow fallback; this export it runs 100 %. Every engine's outputs are checked against PyTorch
anyway, so a wrong export fails its rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from sparsec.atomic import atomic_path

OPSET = 14


class ClassicMaskBert(torch.nn.Module):
    """A BertModel taking the 2-D mask of ones and zeros, building the 4-D additive mask
    itself (transformers passes a 4-D mask through unchanged)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = attention_mask[:, None, None, :].to(torch.float32)
        additive = (1.0 - keep) * torch.finfo(torch.float32).min
        out = self.model(input_ids=input_ids, attention_mask=additive,
                         token_type_ids=token_type_ids)
        return out.last_hidden_state, out.pooler_output


def export_onnx(model: torch.nn.Module, inputs: dict[str, torch.Tensor], path: Path) -> None:
    """Export ``model`` at the inputs' (static) shapes to ``path``, atomically.

    The eager attention path is switched on for the export only and switched back after.
    The TorchScript exporter is used: torch 2.13's dynamo exporter needs onnxscript.
    """
    names = ["input_ids", "attention_mask", "token_type_ids"]
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings(), torch.no_grad(), atomic_path(path) as temp:
            warnings.simplefilter("ignore")
            # eval(): export restores the wrapper's mode afterwards, and a new Module is training.
            torch.onnx.export(ClassicMaskBert(model).eval(), tuple(inputs[n] for n in names),
                              str(temp), dynamo=False, opset_version=OPSET, input_names=names,
                              output_names=["last_hidden_state", "pooler_output"])
    finally:
        model.set_attn_implementation(before)
