"""A fresh install of the demo as the README does it, timed (issue 19, finding 11; goal: under 45 s).

    python3 benchmarks/install_time.py [--ref HEAD [--ref OTHER]] [--repeat 3] [--cache both] [--extra mplfonts]

Each run creates a new virtual environment in a temporary directory and installs the project into
it, non-editable, exactly as the README's demo command does:

    python3 -m venv .venv && .venv/bin/pip install .

The time of both steps together is one sample. `--ref` installs a commit of this repository
(exported with `git archive`, so the working tree is not touched); without it, the working tree as it
is. Given twice or more, the commits are compared: each round installs each of them once, in turn, and
the medians are reported with their ratio to the first. `--extra` adds packages to the same
`pip install` (e.g. `mplfonts` for the dependency set before issue 19).

`--cache`: `cold` runs pip with `--no-cache-dir` (a first install: every wheel downloaded from the
package index, every sdist built); `warm` gives pip a private cache directory that one untimed install
fills first (a second try: downloads and built wheels come from the cache); `both` (the default) does
cold runs, then warm runs. Prints every sample, each mode's median with its ratio to the goal, and
the size of the last environment (du).

`--profile` instead makes one cold install with `pip install -v` and prints where its time went: the
venv, the project's build environment, finding and downloading the dependencies, building wheels
(the project's, and jieba's: it is published as an sdist only), and unpacking and byte-compiling.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL = 45.0


def source_tree(ref: str | None, workdir: Path) -> Path:
    """The directory pip installs: the working tree, or `ref` exported into workdir."""
    if ref is None:
        return REPO
    out = workdir / f"src-{ref}"
    out.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def install(source: Path, extra: list[str], cache: Path | None) -> tuple[float, int]:
    """Seconds for `python3 -m venv` + `pip install`, and the environment's size in bytes."""
    with tempfile.TemporaryDirectory(prefix="xf-install-") as tmp:
        venv = Path(tmp) / ".venv"
        flags = ["--no-cache-dir"] if cache is None else ["--cache-dir", str(cache)]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *flags, str(source), *extra],
                       check=True)
        seconds = time.perf_counter() - started
        size = int(subprocess.run(["du", "-sb", str(venv)], check=True, capture_output=True,
                                  text=True).stdout.split()[0])
        return seconds, size


PHASES = (  # pip -v's line that ends each phase after the venv, and the phase's name
    ("Preparing metadata (pyproject.toml): finished", "the project's build environment and metadata"),
    ("Building wheels for collected packages", "finding and downloading dependencies (and jieba's metadata)"),
    ("Successfully built", "building wheels (the project, jieba)"),
    ("Successfully installed", "unpacking and byte-compiling"),
)


def profile(source: Path, extra: list[str]) -> None:
    """One cold install with pip -v, its output timestamped, summed into PHASES."""
    with tempfile.TemporaryDirectory(prefix="xf-install-") as tmp:
        venv = Path(tmp) / ".venv"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        marks = [("python3 -m venv", time.perf_counter() - started)]
        pip = subprocess.Popen([str(venv / "bin" / "pip"), "install", "-v", "--no-cache-dir", str(source), *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        phases = iter(PHASES)
        marker, name = next(phases)
        for line in pip.stdout:
            if marker and marker in line:
                marks.append((name, time.perf_counter() - started))
                marker, name = next(phases, (None, None))
        if pip.wait():
            raise SystemExit("pip install failed")
    last = 0.0
    for name, at in marks:
        print(f"{at - last:6.1f} s  {name}")
        last = at
    print(f"{last:6.1f} s  in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", action="append", default=[],
                        help="a commit to install instead of the working tree; twice or more to compare them")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", choices=("cold", "warm", "both"), default="both")
    parser.add_argument("--extra", nargs="*", default=[], help="more packages for the same pip install")
    parser.add_argument("--profile", action="store_true", help="one cold install, timed by phase")
    args = parser.parse_args()
    modes = ["cold", "warm"] if args.cache == "both" else [args.cache]
    refs = args.ref or [None]
    with tempfile.TemporaryDirectory(prefix="xf-bench-") as work:
        workdir = Path(work)
        sources = {ref: source_tree(ref, workdir) for ref in refs}
        print(f"installing {', '.join(ref or 'the working tree' for ref in refs)}"
              f"{' + ' + ' '.join(args.extra) if args.extra else ''} with {sys.executable} ({os.cpu_count()} CPUs)",
              flush=True)
        if args.profile:
            profile(sources[refs[-1]], args.extra)
            return
        for mode in modes:
            caches: dict[str | None, Path | None] = {ref: None for ref in refs}
            if mode == "warm":
                for ref in refs:
                    caches[ref] = workdir / f"pip-cache-{ref}"
                    install(sources[ref], args.extra, caches[ref])  # fills the cache; not timed
            samples: dict[str | None, list[float]] = {ref: [] for ref in refs}
            sizes: dict[str | None, int] = {}
            # Rounds interleave the commits: the package index's speed drifts over minutes (a series
            # of one commit measured 48.9 s in the morning and 40.6 s in the afternoon), and a
            # comparison must not take that drift for a difference between commits.
            for n in range(args.repeat):
                for ref in refs:
                    seconds, sizes[ref] = install(sources[ref], args.extra, caches[ref])
                    samples[ref].append(seconds)
                    print(f"{mode} run {n + 1} {ref or 'working tree'}: {seconds:.1f} s", flush=True)
            baseline = statistics.median(samples[refs[0]])
            for ref in refs:
                median = statistics.median(samples[ref])
                versus = f", {median / baseline:.2f}x {refs[0]}" if ref != refs[0] else ""
                print(f"{mode} {ref or 'working tree'}: median {median:.1f} s of {len(samples[ref])}"
                      f" (min {min(samples[ref]):.1f}, max {max(samples[ref]):.1f}), {median / GOAL:.2f}x the"
                      f" {GOAL:.0f} s goal{versus}; environment {sizes[ref] / 2**20:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
