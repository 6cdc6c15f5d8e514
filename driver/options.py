"""Command-line option types shared by the commands, so each reads the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES

# The model options of every command that imports a model.
ModelArgument = Annotated[str, typer.Argument(help="torch.export archive, TorchScript archive, "
                                                   "Hugging Face model directory, or (with "
                                                   "--allow-pickle) torch.save file.")]
@dataclass(frozen=True)
class SizeArg:
    """What --batch and --seq-len take: ``128`` (fixed), ``1..512`` or ``..512`` (a range)."""

    low: int
    high: int

    @property
    def value(self) -> int | tuple[int, int]:
        """The size, or the (min, max) of a run-time size, as ``import_model`` takes it."""
        return self.low if self.low == self.high else (self.low, self.high)


def parse_size(text: str) -> SizeArg:
    low, dots, high = text.partition("..")
    try:
        size = SizeArg(int(low) if low.strip() else 1, int(high)) if dots else SizeArg(
            int(text), int(text))
    except ValueError:
        raise typer.BadParameter(f"'{text}' is neither a size (128) nor a range (1..512)") \
            from None
    if not 1 <= size.low <= size.high:
        raise typer.BadParameter(f"'{text}': sizes start at 1 and a range's min is at most "
                                 "its max")
    return size


def size_value(arg: SizeArg | None) -> int | tuple[int, int] | None:
    return None if arg is None else arg.value


BatchOption = Annotated[
    SizeArg | None, typer.Option("--batch", metavar="N|MIN..MAX", parser=parse_size,
                              help="Batch size to trace with (default 1, or the traced one of "
                                   "a TorchScript archive); a range MIN..MAX compiles one "
                                   "model for every batch size in it.")
]
SeqLenOption = Annotated[
    SizeArg | None, typer.Option("--seq-len", metavar="N|MIN..MAX", parser=parse_size,
                              help="Sequence length to trace with (default: min(128, the "
                                   "model's position table), or the traced one of a "
                                   "TorchScript archive); a range MIN..MAX (e.g. 1..512) "
                                   "compiles one model for every length in it.")
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
