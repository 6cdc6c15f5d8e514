"""`sparsec prune`: block magnitude pruning of a model's encoder linears.

    sparsec prune bert-dir --block 32x1 --sparsity 0.9 -o bert-pruned
    sparsec prune model.pt2 --block 16x1 --sparsity 0.8 --scope attention -o pruned.pt2

The output has the input's format (Hugging Face directory or torch.export
archive; a TorchScript archive is written as a torch.export archive), is written
atomically, and loads back with every sparsec command.
The report says how far the outputs moved on sample inputs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from sparsec.atomic import atomic_path
from sparsec.errors import UserError, reported_errors
from sparsec.options import AllowMissingWeightsOption


def _block(text: str) -> tuple[int, int]:
    from sparsec.ir.bsr import parse_block_shape

    try:
        return parse_block_shape(text)
    except ValueError as err:
        raise UserError(f"--block: {err}") from None


def prune_command(
    model: Annotated[str, typer.Argument(help="Hugging Face model directory, torch.export "
                                              "archive or TorchScript archive (written as a "
                                              "torch.export archive), or, with "
                                              "--allow-pickle, a torch.save file of a Hugging "
                                              "Face model.")],
    output: Annotated[str, typer.Option("-o", help="Where to write the pruned model.")],
    block: Annotated[str, typer.Option("--block", help="Block shape RxC (R output rows x C "
                                                       "input columns).")] = "32x1",
    sparsity: Annotated[float, typer.Option("--sparsity", help="Fraction of blocks to zero, "
                                                               "in [0, 1).")] = 0.9,
    scope: Annotated[str, typer.Option("--scope", help="Which linears: all encoder linears, "
                                                       "or attention only.")] = "all",
    global_threshold: Annotated[bool, typer.Option("--global", help="One norm threshold over "
                                                   "all weights instead of per weight.")] = False,
    batch: Annotated[int | None, typer.Option("--batch", metavar="N",
                                              help="Batch of the sample inputs (default 1, or "
                                                   "the traced one of a TorchScript "
                                                   "archive).")] = None,
    seq_len: Annotated[int | None, typer.Option("--seq-len", metavar="N",
                                                help="Sequence length of the sample inputs "
                                                     "(default: min(128, the model's position "
                                                     "table), or the traced one of a "
                                                     "TorchScript archive).")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Allow a pickled module "
                                               "(runs its code!).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample inputs.")] = 0,
    allow_missing_weights: AllowMissingWeightsOption = False,
) -> None:
    """Zero the weakest blocks of the encoder linears and save the pruned model."""
    console = Console(stderr=True)
    with reported_errors():
        from sparsec.frontend import FrontendError
        from sparsec.frontend.loader import load
        from sparsec.frontend.prune import prune_loaded, save_loaded, saves_directory

        shape = _block(block)
        try:
            with console.status("Loading the model..."):
                loaded = load(model, batch=batch, seq_len=seq_len, allow_pickle=allow_pickle,
                              allow_missing_weights=allow_missing_weights)
            with console.status("Pruning..."):
                report = prune_loaded(loaded, shape, sparsity, scope, global_threshold, seed)
            with console.status(f"Writing {output}..."), \
                    atomic_path(output, directory=saves_directory(loaded)) as temp:
                save_loaded(loaded, temp)
        except FrontendError as err:
            raise UserError(str(err)) from None
        result = report.result
        console.print(
            f"pruned {len(result.weights)} weights to {result.sparsity:.1%} sparsity "
            f"in {block} blocks -> {output}"
        )
        print(f"output cosine similarity {report.cosine:.6f}, "
              f"max abs difference {report.max_abs_diff:.4g} (pruned vs dense, sample inputs)")


def register(app: typer.Typer) -> None:
    """Add the `prune` command to the CLI."""
    app.command("prune")(prune_command)
