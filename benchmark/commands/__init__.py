"""Entry points: the command line (``benchmark.commands.cli``) and each of its commands.

The top floor: these modules import everything below them and nothing imports them."""
