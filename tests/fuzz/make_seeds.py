#!/usr/bin/env python3
"""Seed corpora for llmbench's fuzz targets: make_seeds.py SHARED_DIR SOURCE_DIR OUT_DIR.

OUT_DIR/common: every recorded server response (the HTTP head cut off) and the test data files.
OUT_DIR/datasets: each eval fixture, prefixed with the byte that makes fuzz_datasets load it
as that dataset (see the switch in fuzz_datasets.cpp), plain and compressed.
OUT_DIR/parsers: inputs for fuzz_parsers, each behind its selector byte: Ollama stream bodies
(0.5.12's, and 0.33's with the chunked framing taken off), the 1e300 final chunk, a llama-server
/metrics page, nvidia-smi lines, OpenAI-style and llama.cpp native event streams (each
llama-server and Ollama /v1 capture, and 1e300 usage and timings), and the metadata bodies
(/api/show, /api/ps, /api/tags, /api/version, /v1/models, /props), and the stand-in
powermetrics' plist samples (tests/fakes/powermetrics).
"""
import bz2, glob, gzip, os, shutil, subprocess, sys

shared, source, out = sys.argv[1:4]
common, datasets, parsers = os.path.join(out, "common"), os.path.join(out, "datasets"), os.path.join(out, "parsers")
shutil.rmtree(out, ignore_errors=True)
for d in (common, datasets, parsers):
    os.makedirs(d)

for f in sorted(glob.glob(os.path.join(shared, "fixtures", "real-servers", "*.txt"))):
    raw = open(f, "rb").read()
    head = raw.find(b"\r\n\r\n")
    body = raw[head + 4:] if raw.startswith(b"HTTP/") and head >= 0 else raw
    open(os.path.join(common, os.path.basename(f)), "wb").write(body)
for f in glob.glob(os.path.join(source, "tests", "data", "*.jsonl")) + [os.path.join(source, "examples", "prompts.jsonl")]:
    shutil.copy(f, common)

ev = os.path.join(source, "tests", "data", "eval")
seeds = [  # (selector, fixture, compression)
    (0, "mmlu/test/astronomy_test.csv", None), (1, "arc.jsonl", None), (2, "hellaswag.txt", None),
    (2, "hellaswag.jsonl", None), (3, "gsm8k.jsonl", None), (4, "humaneval.jsonl", None),
    (5, "humaneval.jsonl", gzip.compress), (6, "mbpp.jsonl", None), (7, "truthfulqa_mc.json", None),
    (8, "truthfulqa.csv", None), (9, "arc.jsonl", bz2.compress), (10, "hellaswag.txt", None),
    (11, "gsm8k.jsonl", gzip.compress)]
for selector, name, compress in seeds:
    data = open(os.path.join(ev, name), "rb").read()
    if compress:
        data = compress(data)
    seed = os.path.join(datasets, "%02d-%s" % (selector, name.replace("/", "_")))
    open(seed, "wb").write(bytes([selector]) + data)


def dechunk(body):
    """An HTTP/1.1 chunked body without its framing (what the client's decoder hands on)."""
    out, at = b"", 0
    while at < len(body):
        eol = body.find(b"\r\n", at)
        if eol < 0:
            break
        size = int(body[at:eol].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += body[eol + 2:eol + 2 + size]
        at = eol + 2 + size + 2
    return out

real = os.path.join(shared, "fixtures", "real-servers")
for f in sorted(glob.glob(os.path.join(real, "ollama_*stream*.txt"))):
    raw = open(f, "rb").read()
    head = raw.find(b"\r\n\r\n")
    open(os.path.join(parsers, "0-" + os.path.basename(f)), "wb").write(b"\x00" + (raw[head + 4:] if head >= 0 else raw))
for f in sorted(glob.glob(os.path.join(real, "ollama-*", "*.http"))):
    raw = open(f, "rb").read()
    head = raw.find(b"\r\n\r\n")
    if head < 0:
        continue
    body = raw[head + 4:]
    if b"chunked" in raw[:head].lower():
        body = dechunk(body)
    name = os.path.basename(os.path.dirname(f)) + "-" + os.path.basename(f)
    open(os.path.join(parsers, "0-" + name), "wb").write(b"\x80" + body)  # 0x80: with log-probabilities
open(os.path.join(parsers, "0-huge-counts"), "wb").write(
    b'\x00{"model":"m","response":"","done":true,"done_reason":"stop","eval_count":1e300,"eval_duration":-1e300,'
    b'"prompt_eval_count":12,"prompt_eval_duration":1.5e7,"prompt_eval_cached_count":9.9e99}\n')
open(os.path.join(parsers, "1-llama-server-metrics"), "wb").write(
    b"\x01" + open(os.path.join(source, "tests", "data", "llama-server-metrics.prom"), "rb").read())
open(os.path.join(parsers, "2-nvidia-smi"), "wb").write(b"\x02" + b"1024, 250.5\n2048, [N/A]\n1e300, 5\n")
plists = subprocess.run([os.path.join(source, "tests", "fakes", "powermetrics"), "--samplers", "cpu_power,gpu_power", "-i", "1",
                         "-f", "plist", "-n", "2"], check=True, capture_output=True).stdout
open(os.path.join(parsers, "7-powermetrics"), "wb").write(b"\x07" + plists)


def body_of(path):
    """A capture's body: after the HTTP head when there is one, the chunked framing taken off."""
    raw = open(path, "rb").read()
    head = raw.find(b"\r\n\r\n")
    if not raw.startswith(b"HTTP/") or head < 0:
        return raw
    body = raw[head + 4:]
    return dechunk(body) if b"transfer-encoding: chunked" in raw[:head].lower() and path.endswith(".http") else body


captures = sorted(glob.glob(os.path.join(real, "*.txt")) + glob.glob(os.path.join(real, "*", "*.http")))
for f in captures:
    name, body = os.path.basename(os.path.dirname(f)) + "-" + os.path.basename(f), body_of(f)
    if b"data: " in body:  # an event stream: OpenAI-style when it has choices, else llama.cpp's native one
        selector = 3 if b'"choices"' in body else 4
        open(os.path.join(parsers, "%d-%s" % (selector, name)), "wb").write(bytes([selector | (0x80 if b"logprobs" in body else 0)]) + body)
    elif any(k in name for k in ("show", "_ps_", "-ps-", "tags", "version")):
        open(os.path.join(parsers, "5-" + name), "wb").write(b"\x05" + body)
    elif any(k in name for k in ("props", "models")):
        open(os.path.join(parsers, "6-" + name), "wb").write(b"\x06" + body)
open(os.path.join(parsers, "3-huge-usage"), "wb").write(
    b'\x03data: {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":1e300,"completion_tokens":-1e300,"prompt_tokens_details":{"cached_tokens":9.9e99}}}\n\ndata: [DONE]\n\n')
open(os.path.join(parsers, "4-huge-timings"), "wb").write(
    b'\x04data: {"content":"a","stop":true,"stop_type":"limit","timings":{"prompt_n":1e300,"prompt_ms":1e300,'
    b'"predicted_n":-1e300,"predicted_ms":-1e300,"cache_n":9.9e99}}\n\n')
open(os.path.join(parsers, "5-huge-show"), "wb").write(
    b'\x05{"model_info":{"general.architecture":"llama","general.parameter_count":1e300,"llama.context_length":1e300},'
    b'"models":[{"name":"m","size":1e300,"size_vram":-1e300,"context_length":1e300}]}')
