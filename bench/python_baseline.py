#!/usr/bin/env python3
"""The reference way to read an Ollama stream in Python: requests + json.loads per line.

Usage: python_baseline.py URL MODEL NUM_PREDICT STREAMS
Prints one JSON object: chunks, cpu_s (process CPU), wall_s, client ("requests" or "http.client").
"""
import json
import sys
import time

url, model, num_predict, streams = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
body = {"model": model, "prompt": "baseline", "stream": True, "options": {"num_predict": num_predict}}

try:
    import requests

    def stream_lines():
        with requests.post(url + "/api/generate", json=body, stream=True) as r:
            for line in r.iter_lines():
                if line:
                    yield line

    client = "requests " + requests.__version__
except Exception:  # requests missing or broken: the standard library does the same job
    import http.client
    import urllib.parse

    def stream_lines():
        u = urllib.parse.urlparse(url)
        conn = http.client.HTTPConnection(u.hostname, u.port)
        conn.request("POST", "/api/generate", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        for line in resp:
            if line.strip():
                yield line
        conn.close()

    client = "http.client"

chunks = 0
cpu0, wall0 = time.process_time(), time.perf_counter()
for _ in range(streams):
    text = []
    for line in stream_lines():
        obj = json.loads(line)
        if obj.get("response"):
            chunks += 1
            text.append(obj["response"])
        if obj.get("done"):
            break
cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
print(json.dumps({"chunks": chunks, "cpu_s": cpu, "wall_s": wall, "client": client}))
