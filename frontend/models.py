"""Built-in models with random, seeded weights (no model hub needed).

``sparsec demo`` and the benchmarks use them: the same seed gives the same
weights on every machine, so runs compare like with like.
"""

from __future__ import annotations

import torch

from .errors import FrontendError


def seeded_bert(layers: int = 12, hidden: int = 768, seed: int = 0,
                max_positions: int = 512) -> torch.nn.Module:
    """A BERT-base-shaped ``BertModel`` (64-wide heads, 4x FFN) in eval mode."""
    from transformers import BertConfig, BertModel

    if layers < 1 or hidden < 64 or hidden % 64:
        raise FrontendError(f"a BERT needs >= 1 layer and a hidden size that is a multiple of "
                            f"64, got {layers} layers and hidden {hidden}")
    torch.manual_seed(seed)
    config = BertConfig(num_hidden_layers=layers, hidden_size=hidden,
                        num_attention_heads=hidden // 64, intermediate_size=4 * hidden,
                        max_position_embeddings=max_positions)
    return BertModel(config).eval()
