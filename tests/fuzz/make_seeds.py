#!/usr/bin/env python3
"""Seed corpora for llmbench's fuzz targets: make_seeds.py SHARED_DIR SOURCE_DIR OUT_DIR.

OUT_DIR/common: every recorded server response (the HTTP head cut off) and the test data files.
OUT_DIR/datasets: each eval fixture, prefixed with the byte that makes fuzz_datasets load it
as that dataset (see the switch in fuzz_datasets.cpp), plain and compressed.
"""
import bz2, glob, gzip, os, shutil, sys

shared, source, out = sys.argv[1:4]
common, datasets = os.path.join(out, "common"), os.path.join(out, "datasets")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(common)
os.makedirs(datasets)

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
