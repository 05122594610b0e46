"""Analysis calls per second from Python, on the same bundle as the Rust benchmark
`cargo bench --bench analyze -- example_oom_killed`. Run from the repository root with the
wheel installed (scripts/test.d/50-python.sh leaves one in target/python/venv):

    target/python/venv/bin/python adapters/aiops-python/bench.py
"""

import statistics
import time

import aiops

PATH = "examples/bundles/oom-killed.json"


def per_call(fn, arg, calls=300, rounds=5):
    """Median seconds per call over `rounds` rounds of `calls` calls."""
    fn(arg)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(arg)
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


if __name__ == "__main__":
    engine = aiops.Engine()
    for name, fn in [("aiops.analyze(path)", aiops.analyze), ("Engine().analyze(path)", engine.analyze)]:
        s = per_call(fn, PATH)
        print(f"{name}: {s * 1e6:.0f} us per call, {1 / s:.0f} calls/s")
