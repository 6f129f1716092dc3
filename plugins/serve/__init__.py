"""The serve plugin: `qdaconv serve`, a local web page for converting and checking studies without a terminal.

The page and its small JSON API run on 127.0.0.1 only, behind a secret token printed in the link.
The web parts (Starlette, uvicorn, python-multipart) are the `serve` extra, imported only when
the command runs, so the rest of qdaconv starts as fast as before and works without them.
"""

from __future__ import annotations

import secrets
import socket
import sys

import click

from qdaconv.hookspecs import hookimpl

DEFAULT_MAX_UPLOAD_MB = 1024
INSTALL_HINT = "pip install 'qdaconv[serve]' (from a checkout: pip install -e '.[serve]')"


def _web_parts_missing() -> str | None:
    """The first web package that is not installed, or None when `serve` can run."""
    import importlib.util

    for module in ("starlette", "uvicorn", "python_multipart"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def _listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1 only (port 0: any free port); never another interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise click.UsageError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(64)
    return sock


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Print the link only; do not open a browser.")
@click.option("--max-upload", type=click.IntRange(min=1), default=DEFAULT_MAX_UPLOAD_MB, show_default=True,
              metavar="MB", help="Largest upload accepted, in megabytes.")
def serve_command(port: int, no_browser: bool, max_upload: int) -> None:
    """Open a local web page to check studies and convert them for NVivo, ATLAS.ti, MAXQDA, QualCoder, Taguette,
    tables, an archive package or an HTML report, make de-identified copies and compare two coders.

    Only this computer can reach the page (127.0.0.1), and only with the secret link printed here.
    Stop it with Ctrl+C.
    """
    missing = _web_parts_missing()
    if missing is not None:
        click.echo(f"qdaconv: error: `qdaconv serve` needs the web extra ({missing} is not installed); "
                   f"install it with: {INSTALL_HINT}", err=True)
        sys.exit(2)
    import uvicorn

    from qdaconv.plugins.serve.app import Settings, create_app

    sock = _listen(port)
    port = sock.getsockname()[1]
    settings = Settings(token=secrets.token_urlsafe(32), port=port, max_upload=max_upload * 1024 * 1024)
    link = f"http://127.0.0.1:{port}/?token={settings.token}"
    app = create_app(settings)
    click.echo(f"qdaconv serve: the page is at {link} (only this computer can open it; Ctrl+C stops it)",
               err=True)
    click.echo(link)
    sys.stdout.flush()
    if not no_browser:
        import webbrowser

        webbrowser.open(link)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C is how a server is stopped: not an error
        pass
    finally:
        sock.close()
    click.echo("qdaconv serve: stopped", err=True)


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(serve_command)
