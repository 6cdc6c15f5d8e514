"""Command-line option types shared by the commands, so each reads the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES

# The model options of every command that imports a model.
ModelArgument = Annotated[str, typer.Argument(help="torch.export archive, TorchScript archive, "
                                                   "Hugging Face model directory, or (with "
                                                   "--allow-pickle) torch.save file.")]
BatchOption = Annotated[
    int | None, typer.Option("--batch", metavar="N",
                             help="Batch size to trace with (default 1, or the traced one of a "
                                  "TorchScript archive).")
]
SeqLenOption = Annotated[
    int | None, typer.Option("--seq-len", metavar="N",
                             help="Sequence length to trace with (default: min(128, the "
                                  "model's position table), or the traced one of a "
                                  "TorchScript archive).")
]
AllowPickleOption = Annotated[
    bool, typer.Option("--allow-pickle", help="Allow a pickled nn.Module (runs its code!).")
]
AllowMissingWeightsOption = Annotated[
    bool, typer.Option("--allow-missing-weights",
                       help="Accept a Hugging Face checkpoint that lacks some of the model's "
                            "weights (they are initialised at random).")
]

# The block-shape choices of `analyze` and `compile`.
DEFAULT_BLOCK_SHAPES_TEXT = ",".join(DEFAULT_BLOCK_SHAPES)
BlockShapesOption = Annotated[
    str, typer.Option("--block-shapes", metavar="RxC,...",
                      help="Candidate block shapes, comma-separated.")
]
BlockShapeOption = Annotated[
    str, typer.Option("--block-shape", metavar="RxC",
                      help="Force this block shape (or 'dense') on every weight not above "
                           "--dense-above.")
]
LayerOption = Annotated[
    list[str] | None,
    typer.Option("--layer", metavar="GLOB=RxC",
                 help="GLOB=RxC or GLOB=dense for matching weight names (repeatable; first "
                      "match wins, before --dense-above and --block-shape)."),
]
DenseAboveOption = Annotated[
    float, typer.Option("--dense-above", metavar="FRACTION",
                        help="Weights denser than this stay dense.")
]
CostModelOption = Annotated[
    str, typer.Option("--cost-model", metavar="NAME|FILE",
                      help="analytic, auto (this CPU's cached calibration if any) or a JSON "
                           "file.")
]
