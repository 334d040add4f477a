"""The ``neurogeom`` command line.

Every command prints a short human-readable summary; errors print one line and exit non-zero.
Heavy modules are imported inside each command so that ``neurogeom --help`` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(
    name="neurogeom",
    help="Geometry of neural population task representations across learning, in brains and models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

# Errors that come from the user's input or files: printed as one line, exit code 1.
_USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, OSError)


def _one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an input error raised by the library into one clear line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _USER_ERRORS as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err_console.print(f"[bold red]error:[/bold red] {message}", highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper


@app.callback()
def _main() -> None:
    """neurogeom: manifold capacity and representational geometry across learning."""


# ---- commands ----------------------------------------------------------------------------------


def main() -> None:  # pragma: no cover - console entry point
    app()
