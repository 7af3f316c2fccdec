"""``python -m improve.bench``: how fast the real app serves a large estate.

For each kind of database (SQLite; PostgreSQL) it:

1. creates a database of its own (a temp SQLite file, or a PostgreSQL database named
   improve_bench_*) and, in a child process, applies the committed migrations, builds
   the estate in bulk, logs people in, times the reminder scan and counts queries
   (``improve.bench.prepare``);
2. for each setup on that database (sqlite; postgres with one app instance; postgres2
   with two, the load split between them, on the same estate):
   - serves a bare Litestar + Jinja endpoint under uvicorn and loads it: the yardstick;
   - starts the real app with ``improve serve`` (one process per instance) and loads,
     from a separate process (``improve.bench.load``), the case page, both portfolio
     views, the API's action plan and PATCH of an action;
   - reads each server's peak resident memory (VmHWM in /proc/<pid>/status);
3. drops the database (unless --keep).

Then it prints one table with the targets of issue 8. It exits 0 whether or not the
targets are met (it is a measurement); 1 if any request failed or a step broke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import improve
from improve.bench import report
from improve.bench.bare import PATH as BARE_PATH
from improve.bench.estate import Scale

# The source tree the children import (this one), whatever directory they run in.
ROOT = Path(improve.__file__).resolve().parents[1]
SETUPS = {"sqlite": ("sqlite", 1), "postgres": ("postgres", 1), "postgres2": ("postgres", 2)}
QUICK = Scale(services=20, providers=2, commissioners=3, actions=5, months=3, sample=20)
READY_SECONDS = 60
# Production mode needs a real key; this one lives as long as the run.
SECRET = secrets.token_urlsafe(48)


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


# --- options ---------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m improve.bench", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny estate, short loads (for CI)")
    p.add_argument("--services", type=int, help="services in the estate (default 1000)")
    p.add_argument("--seconds", type=float, help="measured seconds per endpoint (default 10)")
    p.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    p.add_argument(
        "--databases",
        default=",".join(SETUPS),
        help="comma-separated: sqlite, postgres, postgres2 (default all three)",
    )
    p.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server where improve_bench_* databases may be created and dropped",
    )
    p.add_argument("--keep", action="store_true", help="keep the databases and the work dir")
    args = p.parse_args(argv)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = [d for d in args.databases if d not in SETUPS]
    if unknown or not args.databases:
        p.error(f"--databases: choose from {', '.join(SETUPS)}")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    return args


def scale_of(args: argparse.Namespace) -> Scale:
    if args.quick:
        base = QUICK
        services = args.services or base.services
        return Scale(**{**asdict(base), "services": services})
    services = args.services or Scale.services
    return Scale(
        services=services,
        providers=min(Scale.providers, services),
        commissioners=min(Scale.commissioners, services),
    )


def timing(args: argparse.Namespace) -> dict[str, float]:
    """Measured seconds per endpoint, and the shorter warm-up and serial phases."""
    seconds = args.seconds or (1.0 if args.quick else 10.0)
    return {
        "seconds": seconds,
        "warmup_seconds": min(2.0, max(0.2, seconds / 5)),
        "serial_seconds": min(3.0, max(0.3, seconds / 4)),
    }


# --- child processes -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(database_url: str, workdir: Path, base_url: str = "http://127.0.0.1") -> dict:
    """The settings of every child: production mode with a real key, no scheduler."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")}
    env.update(
        IMPROVE_DATABASE_URL=database_url,
        IMPROVE_MODE="production",
        IMPROVE_SECRET_KEY=SECRET,
        IMPROVE_BASE_URL=base_url,
        IMPROVE_SCHEDULER="off",
        IMPROVE_UPLOAD_DIR=str(workdir / "uploads"),
        PICCOLO_CONF="improve.piccolo_conf",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p),
    )
    return env


def run_child(module: str, spec: dict, workdir: Path, env: dict, label: str) -> dict[str, Any]:
    """``python -m module SPEC OUT``: its JSON answer; its output goes to a log file."""
    spec_path = workdir / f"{label}.spec.json"
    out_path = workdir / f"{label}.out.json"
    log_path = workdir / f"{label}.log"
    spec_path.write_text(json.dumps(spec))
    with open(log_path, "w") as output:
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", module, str(spec_path), str(out_path)],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{tail}")
    return json.loads(out_path.read_text())


class Server:
    """One uvicorn process: started, waited for, measured, stopped."""

    def __init__(self, command: list[str], env: dict, workdir: Path, ready: str, label: str):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ready, self.label = ready, label
        self.log_path = workdir / f"{label}.log"
        self.command = [*command, "--host", "127.0.0.1", "--port", str(self.port)]
        self.env = {**env, "IMPROVE_BASE_URL": self.base}
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "w") as output:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter)
                self.command, cwd=self.workdir, env=self.env, stdout=output, stderr=output
            )

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                break
            try:
                if httpx.get(self.base + self.ready, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.label} did not start:\n{self.log_path.read_text()[-3000:]}")

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has had (kB in /proc)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc (not Linux?)")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        yield servers
    finally:
        for s in servers:
            s.stop()


def app_servers(env: dict, workdir: Path, count: int) -> list[Server]:
    command = [sys.executable, "-m", "improve.cli", "serve"]
    return [Server(command, env, workdir, "/readyz", f"app{n + 1}") for n in range(count)]


def bare_servers(env: dict, workdir: Path, count: int) -> list[Server]:
    # the options `improve serve` gives uvicorn (improve/cli.py), for a like-for-like yardstick
    command = [
        *(sys.executable, "-m", "uvicorn", "improve.bench.bare:create_app", "--factory"),
        *("--proxy-headers", "--log-level", "info"),
    ]
    return [Server(command, env, workdir, BARE_PATH, f"bare{n + 1}") for n in range(count)]


# --- databases -------------------------------------------------------------------------------


def _postgres_url(server_url: str, database: str) -> str:
    return urlsplit(server_url)._replace(path=f"/{database}").geturl()


async def _postgres(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_postgres_url(server_url, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def database(kind: str, args: argparse.Namespace, workdir: Path, label: str) -> Iterator[str]:
    """A new, empty database of its own; dropped afterwards unless --keep."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'{label}.sqlite'}"  # an absolute path: four slashes
        return
    name = f"improve_bench_{os.getpid()}_{label}_{secrets.token_hex(3)}"
    asyncio.run(_postgres(args.postgres_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _postgres_url(args.postgres_url, name)
    finally:
        if args.keep:
            log(f"kept PostgreSQL database {name}")
        else:
            asyncio.run(
                _postgres(args.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            )


# --- one setup -------------------------------------------------------------------------------


def load(bases: list[str], endpoints: dict[str, list[dict]], args, workdir: Path, label: str):
    """The load generator in its own process: {endpoint: figures}."""
    spec = {"bases": bases, "endpoints": endpoints, "concurrency": args.concurrency}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return run_child("improve.bench.load", {**spec, **timing(args)}, workdir, env, label)


def build(kind: str, url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    scale = scale_of(args)
    log(f"{kind}: building {scale.services} services × {scale.actions} actions …")
    prepared = run_child(
        "improve.bench.prepare", {"scale": asdict(scale)}, workdir, child_env(url, workdir), kind
    )
    log(f"{kind}: built in {prepared['build_s']:.0f} s; rows {prepared['rows']}")
    return prepared


async def _refresh_versions(url: str, patches: list[dict[str, Any]]) -> None:
    """The PATCH load keeps each action's version as it goes; a second setup on the same
    database starts from the versions the first one left (read in one query)."""
    import asyncpg

    ids = [int(item["path"].rsplit("/", 1)[1]) for item in patches]
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id, version, status FROM plan_action WHERE id = ANY($1::int[])", ids
        )
    finally:
        await conn.close()
    now = {r["id"]: {"version": r["version"], "status": r["status"]} for r in rows}
    for item, action_id in zip(patches, ids, strict=True):
        item["patch"] = now[action_id]


def measure(name: str, url: str, prepared: dict, args, workdir: Path) -> dict[str, Any]:
    """The bare endpoint, then the app's endpoints, on ``name``'s number of instances."""
    instances = SETUPS[name][1]
    env = child_env(url, workdir)
    with serving(bare_servers(env, workdir, instances)) as servers:
        log(f"{name}: loading the bare endpoint …")
        bare = [{"method": "GET", "path": BARE_PATH, "headers": {}}]
        bases = [s.base for s in servers]
        endpoints = load(bases, {"bare": bare}, args, workdir, f"{name}-load-bare")
    with serving(app_servers(env, workdir, instances)) as servers:
        log(f"{name}: loading {', '.join(report.ENDPOINTS[1:])} …")
        bases = [s.base for s in servers]
        endpoints |= load(bases, prepared["requests"], args, workdir, f"{name}-load-app")
        rss = [s.peak_rss_mb() for s in servers]
    return {
        "name": name,
        "instances": instances,
        "endpoints": endpoints,
        "queries": prepared["queries"],
        "cold_ms": prepared["cold_ms"],
        "scan": prepared["scan"],
        "rss_mb": rss,
        "build_s": prepared["build_s"],
    }


def run_kind(kind: str, names: list[str], args, workdir: Path) -> tuple[list[dict], list[str]]:
    """The setups on one kind of database share it: built once (postgres and postgres2
    load the same estate). Returns the setups measured and the names that broke."""
    done, broken = [], []
    try:
        with database(kind, args, workdir, kind) as url:
            prepared = build(kind, url, args, workdir)
            for n, name in enumerate(names):
                try:
                    if n:
                        asyncio.run(
                            _refresh_versions(url, prepared["requests"]["API PATCH action"])
                        )
                    done.append(measure(name, url, prepared, args, workdir))
                except Exception:  # report it, go on with the next setup, exit non-zero
                    broken.append(name)
                    log(f"{name}: failed\n{traceback.format_exc()}")
    except Exception:
        broken += [n for n in names if n not in broken and n not in {d["name"] for d in done}]
        log(f"{kind}: failed\n{traceback.format_exc()}")
    return done, broken


# --- the run ---------------------------------------------------------------------------------


def machine() -> str:
    memory = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    return (
        f"{os.cpu_count()} CPUs, {memory} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def load_average() -> str:
    """Other work on the machine inflates every figure: say how busy it was."""
    one, five, _ = os.getloadavg()
    return f"{one:.1f} (1 min), {five:.1f} (5 min)"


def header(args: argparse.Namespace, busy_before: str) -> str:
    s, t = scale_of(args), timing(args)
    return "\n".join(
        [
            f"machine: {machine()}",
            f"load average: {busy_before} before, {load_average()} after",
            f"estate: {s.services} services, {s.providers} providers, {s.commissioners} "
            f"commissioners, {s.actions} actions per case, {s.months} months of measures",
            f"load: {args.concurrency} connections × {t['seconds']:g} s per endpoint "
            f"(after {t['warmup_seconds']:g} s warm-up; 'alone' = 1 connection for "
            f"{t['serial_seconds']:g} s)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    busy_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="improve-bench-"))
    setups, broken = [], []
    started = time.perf_counter()
    kinds: dict[str, list[str]] = {}
    for name in args.databases:
        kinds.setdefault(SETUPS[name][0], []).append(name)
    try:
        for kind, names in kinds.items():
            done, failed = run_kind(kind, names, args, workdir)
            setups += done
            broken += failed
    finally:
        if args.keep:
            log(f"kept the work directory {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(header(args, busy_before))
    print()
    if setups:
        print(report.table(setups))
    for note in report.notes(setups):
        print(f"note: {note}")
    failures = report.failed(setups)
    print(
        f"\n{failures} failed requests; broken setups: {', '.join(broken) or 'none'}; "
        f"took {time.perf_counter() - started:.0f} s"
    )
    return 1 if failures or broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
