"""CLI sub-commands of `sparsec`, one module each, each with `register(app)`."""
