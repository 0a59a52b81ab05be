#!/usr/bin/env python3
"""Steady load through the front door while a stack changes under it.

Submits RATE runs a second (POST /v1/tasks/TASK/runs, each with its own idempotency
key; on a connection error, a timeout or a 5xx the same body is sent again
until it is acknowledged) and reads at GET_RATE requests a second (GET
/v1/nodes and GET /v1/runs/{id} of acknowledged runs; never retried: every
non-2xx GET counts). Runs until the file STOP exists, then waits for the
POSTs still retrying and writes a JSON summary to OUT. It stops by itself
after MAX_SECONDS (default 900) even when STOP never appears, so a test that
dies midway leaves no load behind:

  posts, acknowledged, post_errors (failed tries later retried) and their
  codes (0: no answer), unacked
  (keys never acknowledged), distinct_runs_per_key (keys whose answers named
  more than one run id), gets, get_non_2xx, get_5xx, seconds, keys (file of
  key<TAB>run id lines).

Usage: loadgen.py URL TOKEN STOP OUT [--rate 50] [--get-rate 20] [--task nap]
                  [--max-seconds 900]
"""
import argparse
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid


def request(method, url, token, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, b""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = 0
        self.post_errors = 0
        self.post_error_codes = {}  # "0": no answer (connection error, timeout)
        self.acked = {}  # key -> set of run ids answered
        self.unacked = []
        self.gets = 0
        self.get_non_2xx = 0
        self.get_5xx = 0
        self.get_codes = {}
        self.ids = []


def submit(args, stats, key):
    body = {"idempotency_key": key}
    deadline = time.monotonic() + args.retry_for
    while True:
        code, payload = request("POST", args.url + "/v1/tasks/" + args.task + "/runs", args.token, body)
        with stats.lock:
            stats.posts += 1
        if code in (200, 201, 202):
            run = json.loads(payload)["id"]
            with stats.lock:
                stats.acked.setdefault(key, set()).add(run)
                stats.ids.append(run)
            return
        with stats.lock:
            stats.post_errors += 1
            stats.post_error_codes[str(code)] = stats.post_error_codes.get(str(code), 0) + 1
        # 409 is the documented idempotency-key race: submit again.
        if (code != 0 and code < 500 and code != 409) or time.monotonic() > deadline:
            with stats.lock:
                stats.unacked.append((key, code))
            return
        time.sleep(0.2)


def poster(args, stats, jobs):
    while True:
        key = jobs.get()
        if key is None:
            return
        submit(args, stats, key)


def getter(args, stats, stop):
    interval = 1.0 / args.get_rate
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        with stats.lock:
            ids = stats.ids[-50:]
        if n % 2 == 0 or not ids:
            path = "/v1/nodes"
        else:
            path = "/v1/runs/" + ids[n % len(ids)]
        code, _ = request("GET", args.url + path, args.token)
        with stats.lock:
            stats.gets += 1
            if not 200 <= code < 300:
                stats.get_non_2xx += 1
                stats.get_codes[str(code)] = stats.get_codes.get(str(code), 0) + 1
            if code >= 500 or code == 0:
                stats.get_5xx += 1
        n += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("stop")
    p.add_argument("out")
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--get-rate", type=float, default=20)
    p.add_argument("--task", default="nap")
    p.add_argument("--retry-for", type=float, default=60)
    p.add_argument("--max-seconds", type=float, default=900)
    args = p.parse_args()
    args.url = args.url.rstrip("/")

    stats = Stats()
    jobs = queue.Queue()
    workers = [threading.Thread(target=poster, args=(args, stats, jobs)) for _ in range(32)]
    stop = threading.Event()
    getters = [threading.Thread(target=getter, args=(args, stats, stop)) for _ in range(2)]
    args.get_rate /= len(getters)
    for t in workers + getters:
        t.start()
    start = time.monotonic()
    sent = 0
    while not os.path.exists(args.stop) and time.monotonic() - start < args.max_seconds:
        due = int((time.monotonic() - start) * args.rate)
        while sent < due:
            jobs.put(uuid.uuid4().hex)
            sent += 1
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    stop.set()
    for _ in workers:
        jobs.put(None)
    for t in workers + getters:
        t.join()

    keys_file = args.out + ".keys"
    with open(keys_file, "w") as f:
        for key, runs in stats.acked.items():
            for run in runs:
                f.write(f"{key}\t{run}\n")
    summary = {
        "submitted": sent,
        "posts": stats.posts,
        "acknowledged": len(stats.acked),
        "post_errors": stats.post_errors,
        "post_error_codes": stats.post_error_codes,
        "unacked": len(stats.unacked),
        "unacked_codes": sorted({c for _, c in stats.unacked}),
        "distinct_runs_per_key": sum(1 for r in stats.acked.values() if len(r) > 1),
        "gets": stats.gets,
        "get_non_2xx": stats.get_non_2xx,
        "get_5xx": stats.get_5xx,
        "get_codes": stats.get_codes,
        "seconds": round(elapsed, 1),
        "submit_rate": round(sent / elapsed, 1) if elapsed else 0,
        "keys": keys_file,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
