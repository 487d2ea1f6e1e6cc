"""`guardia deploy nats-config`: the NATS accounts block for a production cluster (guardia/natsauth.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

deploy_app = typer.Typer(help="What a production deployment needs besides the image.", no_args_is_help=True)


@deploy_app.command("nats-config")
def nats_config(
    credentials: Annotated[str, typer.Option(
        "--credentials",
        help="'env': passwords as $GUARDIA_NATS_PASSWORD_<USER> variables that nats-server reads from its "
             "environment (the file holds no secret); or a YAML file mapping each user (the five services "
             "and admin) to its password, written into the output (then keep the output secret).")] = "env",
    out: Annotated[str, typer.Option("--out", help="Where to write ('-': stdout).")] = "-",
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if --out differs from what would be written.")]
    = False,
) -> None:
    """Write the accounts block: one NATS user per service, publishing only what it produces."""
    from guardia.natsauth import all_permissions, parse_credentials, render

    passwords = None if credentials == "env" else parse_credentials(Path(credentials).read_text())
    try:
        text = render(all_permissions(), passwords)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--credentials") from None
    if check:
        current = Path(out).read_text() if out != "-" and Path(out).exists() else None
        if current != text:
            typer.echo(f"{out} is not current: run `guardia deploy nats-config --out {out}`", err=True)
            raise typer.Exit(1)
        return
    if out == "-":
        typer.echo(text, nl=False)
        return
    target = Path(out)
    target.write_text(text)
    if passwords is not None:
        os.chmod(target, 0o600)  # it holds the passwords
    typer.echo(f"wrote {target} ({len(text.splitlines())} lines)", err=True)
