"""`usage-widgets serve`: the dashboard as a standalone web page, served by Voilà."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NOTEBOOK = "usage.ipynb"
# Voilà's lab template, minus its requests to public CDNs (see jupyter/voila/templates/).
TEMPLATE = "usage-widgets"
IDLE_KERNEL_SECONDS = 15 * 60  # a closed page frees its kernel after this; an open page keeps it


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def notebook_path() -> Path:
    """The packaged dashboard notebook."""
    return Path(str(files("usage_widgets") / "notebooks" / NOTEBOOK))


def template_root() -> Path:
    """The packaged Jupyter data folder that holds the page template."""
    return Path(str(files("usage_widgets") / "jupyter"))


def voila_command(args: argparse.Namespace, token: str | None) -> list[str]:
    """The Voilà command line for ``args``."""
    notebook = notebook_path()
    command = [
        sys.executable, "-m", "voila", str(notebook),
        f"--Voila.ip={args.host}",
        f"--port={args.port}",
        "--Voila.port_retries=0",
        "--no-browser",
        "--strip_sources=True",
        "--show_tracebacks=False",
        f"--template={TEMPLATE}",
        f"--Voila.root_dir={notebook.parent}",
        f"--MappingKernelManager.cull_idle_timeout={IDLE_KERNEL_SECONDS}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
    ]  # fmt: skip
    if token:
        command += [f"--token={token}", "--Voila.identity_provider_class=usage_widgets.server.TokenRequired"]
    else:
        command.append("--token=")
    return command


def warm_up() -> None:
    """Compile the report's kernel, or read it from the cache (`usage_widgets.warm`)."""
    from .warm import main as warm

    warm()


def serve(args: argparse.Namespace) -> int:
    try:
        ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"usage-widgets: unknown time zone {args.tz!r} (use an IANA name such as Europe/Berlin)",
              file=sys.stderr)  # fmt: skip
        return 2
    token = args.token
    if not is_loopback(args.host) and not token:
        token = secrets.token_urlsafe(24)
    env = dict(os.environ)
    if args.log:
        env["USAGE_LOG"] = str(Path(args.log).expanduser().resolve()) if "://" not in args.log else args.log
        if "://" not in args.log and not Path(env["USAGE_LOG"]).exists():
            print(f"usage-widgets: no log at {args.log}", file=sys.stderr)
            return 2
    else:
        env.pop("USAGE_LOG", None)
    env["USAGE_TZ"] = args.tz
    for name, value in (("USAGE_TABLE", args.table), ("USAGE_PRESET", args.preset)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    # Where Voilà finds the template: searched before the usual Jupyter folders.
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(template_root()), env.get("JUPYTER_PATH")) if p)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    if ":" in shown_host:  # an IPv6 address goes in brackets in a URL
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{args.port}/"
    if token:
        url += f"?token={token}"
    warm_up()  # the first page would otherwise wait for the kernel to compile
    print(f"usage-widgets: serving the dashboard at {url}", flush=True)
    command = voila_command(args, token)
    os.execve(sys.executable, command, env)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="usage-widgets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the dashboard with Voilà")
    p.add_argument("--log", help="request log: CSV, Parquet or JSON lines, or a database URL "
                   "(postgresql://user:password@host/db, duckdb:///path.duckdb); default: the demo log")
    p.add_argument("--table", help="the database table of requests (default: requests)")
    p.add_argument("--preset", choices=["litellm"], help="read LiteLLM proxy's tables")
    p.add_argument("--port", type=int, default=8866, help="port (default 8866)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--token", help="access token (generated when --host is not loopback)")
    p.add_argument("--tz", default="UTC", help="IANA time zone of days and hours (default UTC)")
    args = parser.parse_args(argv)
    return serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
