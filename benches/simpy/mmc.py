"""The M/M/c station of a fusebench validation scenario, simulated in SimPy.

Reads λ (workload rate_rps), the mean service time (exponential mean_ms), c (concurrency) and
the duration (duration_s) from the scenario file itself, so both engines run the same model:
Poisson arrivals for `duration_s` seconds, one FIFO queue in front of c servers, exponential
service; every customer that arrived is followed until it leaves (as fusebench drains).

Prints one line of JSON: requests, mean sojourn (queue + service, ms), utilisation, the time
spent inside `env.run()`, and the Erlang C mean sojourn for comparison.

    python mmc.py SCENARIO.toml [--seed N] [--duration SECONDS]
"""

import argparse
import json
import math
import random
import time
import tomllib

import simpy


def model(path):
    with open(path, "rb") as f:
        s = tomllib.load(f)
    (svc,) = [x for x in s["service"] if "service_time" in x]
    dist = svc["service_time"]["distribution"]
    assert dist["dist"] == "exponential", dist
    arrival = s["workload"]["arrival"]
    assert arrival["kind"] == "poisson", arrival
    return {
        "rate": float(arrival["rate_rps"]),
        "mean_s": float(dist["mean_ms"]) / 1e3,
        "servers": int(svc.get("concurrency", 4)),
        "duration": float(s["workload"]["duration_s"]),
    }


def erlang_c_w_ms(m):
    """Theory: W = C(c, a)/(cμ − λ) + 1/μ, C the Erlang C probability of waiting."""
    lam, mu, c = m["rate"], 1.0 / m["mean_s"], m["servers"]
    a = lam / mu
    terms = [a**k / math.factorial(k) for k in range(c)]
    top = a**c / math.factorial(c) * c / (c - a)
    return 1e3 * (top / (sum(terms) + top) / (c * mu - lam) + 1.0 / mu)


def run(m, seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    station = simpy.Resource(env, capacity=m["servers"])
    stats = {"n": 0, "sojourn": 0.0, "busy": 0.0}

    def customer():
        arrived = env.now
        with station.request() as slot:
            yield slot
            service = rng.expovariate(1.0 / m["mean_s"])
            stats["busy"] += service
            yield env.timeout(service)
        stats["n"] += 1
        stats["sojourn"] += env.now - arrived

    def arrivals():
        while True:
            gap = rng.expovariate(m["rate"])
            if env.now + gap >= m["duration"]:
                return
            yield env.timeout(gap)
            env.process(customer())

    env.process(arrivals())
    start = time.perf_counter()
    env.run()  # until every customer has left
    elapsed = time.perf_counter() - start
    return {
        "requests": stats["n"],
        "mean_sojourn_ms": 1e3 * stats["sojourn"] / stats["n"],
        "utilisation": stats["busy"] / (m["duration"] * m["servers"]),
        "run_s": elapsed,
        "theory_w_ms": erlang_c_w_ms(m),
        "simpy": simpy.__version__,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, help="seconds of arrivals (default: the file's)")
    a = p.parse_args()
    m = model(a.scenario)
    if a.duration:
        m["duration"] = a.duration
    print(json.dumps(run(m, a.seed)))


if __name__ == "__main__":
    main()
