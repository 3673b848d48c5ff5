"""Memory per page view: serve the dashboard, open pages one by one in headless Chromium, and
print the resident memory (RSS) of the server and of each page's kernel.

Each page view starts its own kernel, which holds the log and the dashboard: that kernel is
the cost of one more viewer.

    .venv/bin/python benchmarks/viewers.py                      # the demo log, 5 pages
    .venv/bin/python benchmarks/viewers.py --log requests.parquet --pages 10
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log: str | None, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("usage-widgets")
    command = [str(exe), "serve", "--port", str(port)] + (["--log", log] if log else [])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            return process
        except urllib.error.HTTPError:
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def kernels(server: psutil.Process) -> list[psutil.Process]:
    return [p for p in server.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]


def rss_mib(process: psutil.Process) -> float:
    return process.memory_info().rss / MIB


def uss_mib(process: psutil.Process) -> float:
    """Memory only this process holds (RSS counts shared libraries in every process)."""
    return process.memory_full_info().uss / MIB


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log", help="request log to serve (default: the demo log)")
    parser.add_argument("--pages", type=int, default=5, help="page views to open (default 5)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    process = start_server(args.log, port)
    server = psutil.Process(process.pid)
    url = f"http://127.0.0.1:{port}/"
    try:
        idle = rss_mib(server)
        print(f"log: {args.log or 'demo log'} · machine: {os.cpu_count()} cores")
        print(f"server alone: {idle:.0f} MiB RSS")
        print(f"{'pages':>5} {'ready s':>8} {'server MiB':>11} {'newest kernel RSS / USS MiB':>28} "
              f"{'all kernels USS MiB':>20}")  # fmt: skip
        rss: list[float] = []
        uss: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for n in range(1, args.pages + 1):
                started = time.monotonic()
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(url, timeout=180_000)
                page.wait_for_selector(".uw-dashboard canvas", timeout=180_000)
                ready = time.monotonic() - started
                time.sleep(1.0)  # let the kernel settle after the first render
                procs = sorted(kernels(server), key=lambda k: k.create_time())
                rss, uss = [rss_mib(k) for k in procs], [uss_mib(k) for k in procs]
                print(f"{n:>5} {ready:>8.1f} {rss_mib(server):>11.0f} {f'{rss[-1]:.0f} / {uss[-1]:.0f}':>28} "
                      f"{sum(uss):>20.0f}")  # fmt: skip
            browser.close()
        print(
            f"per page view: a kernel of {statistics.median(rss):.0f} MiB RSS, "
            f"{statistics.median(uss):.0f} MiB of its own (USS), medians of {len(rss)}; "
            f"the server grows by {(rss_mib(server) - idle) / args.pages:.1f} MiB a page"
        )
    finally:
        process.terminate()
        process.wait(timeout=15)


if __name__ == "__main__":
    main()
