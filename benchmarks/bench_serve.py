"""Time `qdaconv serve`'s API against the command line on a large study, and what the server holds in memory.

Starts `qdaconv serve --no-browser` in a subprocess, then for the benchmark project
(benchmarks/make_big.py) measures: POST /api/info, POST /api/convert (to refi-qdpx and
tables-xlsx), POST /api/redact (bench_redact.py's 200 terms) and POST /api/agree (two of its
users) next to `qdaconv info` / `convert` / `redact` / `agree --json` run as commands; how long GET /api/targets
takes while a conversion runs (the page must not freeze); and the server's peak memory (VmHWM)
after streaming a large upload it refuses. Each is run `--repeat` times in turn and the fastest
shown (commands include the interpreter's start-up). Needs the `serve` and `test` extras (httpx); Linux (/proc).

    python benchmarks/bench_serve.py [--sources 1000] [--excerpts 100000] [--upload-mb 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_redact import write_terms  # noqa: E402
from make_big import main as make_big  # noqa: E402


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--upload-mb", type=int, default=300, help="size of the refused large upload")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest is shown")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        big = folder / "big.qdpx"
        make_big([str(big), "--sources", str(args.sources), "--excerpts", str(args.excerpts)])
        terms = folder / "terms.csv"
        write_terms(terms)
        private = folder / "server-tmp"
        private.mkdir()
        server = subprocess.Popen([sys.executable, "-m", "qdaconv", "serve", "--no-browser",
                                   "--max-upload", str(args.upload_mb * 2)],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  env={**os.environ, "TMPDIR": str(private)})
        try:
            link = server.stdout.readline().strip()
            base, token = link.split("/?token=")
            client = httpx.Client(base_url=base, cookies={f"qdaconv-token-{base.rsplit(':', 1)[1]}": token},
                                  timeout=600)
            print(f"study: {big.stat().st_size / 2**20:.1f} MiB, {args.sources} sources, {args.excerpts} excerpts")
            print(f"server after start: {peak_mib(server.pid):.0f} MiB peak")

            def post(url: str, data: dict[str, str] | None = None, with_terms: bool = False) -> httpx.Response:
                with open(big, "rb") as stream:
                    files = {"file": ("big.qdpx", stream)}
                    if with_terms:
                        files["terms"] = ("terms.csv", terms.read_bytes())
                    done = client.post(url, files=files, data=data)
                done.raise_for_status()
                return done

            def command(*words: str) -> None:
                subprocess.run([sys.executable, "-m", "qdaconv", *words], check=True, capture_output=True)

            rows = [
                ("info", lambda: post("/api/info"), lambda: command("info", str(big), "--json")),
                ("convert to refi-qdpx", lambda: post("/api/convert?to=refi-qdpx"),
                 lambda: command("convert", "--force", str(big), str(folder / "out.qdpx"))),
                ("convert to tables-xlsx", lambda: post("/api/convert?to=tables-xlsx"),
                 lambda: command("convert", "--force", str(big), str(folder / "out.xlsx"))),
                ("redact, 200 terms", lambda: post("/api/redact", with_terms=True),
                 lambda: command("redact", "--force", str(big), str(folder / "red.qdpx"), "--terms", str(terms))),
                ("agree Alex,Sam", lambda: post("/api/agree", {"coders": "Alex,Sam"}),
                 lambda: command("agree", str(big), "--coders", "Alex,Sam", "--json")),
            ]
            print(f"{'what (fastest of ' + str(args.repeat) + ')':<24} {'API':>8} {'command':>8}")
            for name, through_api, through_command in rows:
                api_times, command_times = [], []
                for _ in range(args.repeat):  # in turn, so both meet the same neighbours on a shared machine
                    api_times.append(timed(through_api)[0])
                    command_times.append(timed(through_command)[0])
                print(f"{name:<24} {min(api_times):>7.2f}s {min(command_times):>7.2f}s")
            print(f"server peak after the conversions: {peak_mib(server.pid):.0f} MiB")

            latencies: list[float] = []
            worker = threading.Thread(target=lambda: post("/api/convert?to=tables-xlsx"))
            worker.start()
            while worker.is_alive():
                latency, _ = timed(lambda: client.get("/api/targets").raise_for_status())
                latencies.append(latency)
                time.sleep(0.2)
            worker.join()
            print(f"GET /api/targets during a conversion: median {statistics.median(latencies) * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} requests")

            before = peak_mib(server.pid)
            noise = folder / "noise.bin"
            with open(noise, "wb") as stream:
                for _ in range(args.upload_mb):
                    stream.write(os.urandom(2**20))
            with open(noise, "rb") as stream:
                upload_time, refused = timed(lambda: client.post("/api/info", files={"file": ("noise.bin", stream)}))
            print(f"a {args.upload_mb} MB upload streamed and refused ({refused.status_code}) in {upload_time:.2f}s; "
                  f"server peak {before:.0f} -> {peak_mib(server.pid):.0f} MiB")
            print(f"private folders left: {len(list(private.iterdir()))}")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
