"""One module per `aefarm` subcommand.

Each module defines ``add_parser(subparsers, parents) -> argparse.ArgumentParser`` which registers its subcommand and
sets ``func`` (``func(args) -> int``) as the parser default. The CLI discovers the modules, so adding a command never
means editing a shared list.
"""
