"""The probe beside GuideLLM on the same llama.cpp server, the same prompts and the same load.

Starts the tests' tiny random-weight llama.cpp server (llama-cpp-python, `--interrupt_requests
False`), writes the probe's own prompts to a JSONL file GuideLLM reads (`--data kind=json_file`), so
both send the same text and ask for the same number of output tokens, and runs each load twice:
one stream (the probe's concurrency 1, GuideLLM's `synchronous`) and a constant rate. GuideLLM's
benchmarks JSON is read back with `planner.probe.imports`, so both sides are the probe's result
model, and the figures are printed side by side with their differences. Both use `/v1/completions`:
GuideLLM's chat requests cap the answer with `max_completion_tokens`, which llama-cpp-python
ignores (it then writes to the end of its context while GuideLLM counts the tokens it asked for).

    .venv/bin/python bench/probe_side_by_side.py --guidellm /path/to/venv/bin/guidellm

GuideLLM is not a dependency of this project (it pulls torch, transformers and datasets); install
it in a venv of its own. It needs a tokenizer to count tokens: a word-level one over the tiny
model's vocabulary is written next to the prompts (every word of the probe's filler is one token
there, as in the tiny model). GuideLLM runs with one worker process (GUIDELLM__MAX_WORKER_PROCESSES=1):
with its default ten on two cores, its own processes took the CPU the server decodes with.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "probe"))


def _tokenizer(folder: Path) -> None:
    """A Hugging Face word-level tokenizer over the tiny model's words (GuideLLM counts with it)."""
    import string

    from tiny_gguf import _WORDS
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for word in [*dict.fromkeys(_WORDS), *string.ascii_letters, *string.digits, *string.punctuation]:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                            eos_token="</s>").save_pretrained(folder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guidellm", required=True, help="the guidellm executable (in its own venv)")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--rate", type=float, default=4.0, help="the constant-rate load, requests/s")
    parser.add_argument("--prompt-tokens", type=int, default=48)
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="keep GuideLLM's JSON files in this folder")
    args = parser.parse_args()

    from llama_support import LlamaServer
    from tiny_gguf import write_tiny_llama

    from planner.probe import ProbeConfig, run_probe
    from planner.probe.imports import import_result_file
    from planner.probe.prompts import build_prompt

    work = Path(tempfile.mkdtemp(prefix="side-by-side-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    server = LlamaServer(write_tiny_llama(work / "tiny.gguf"), work / "server.log")
    try:
        template = build_prompt(args.prompt_tokens)
        with (work / "prompts.jsonl").open("w") as fh:
            for i in range(1, 2 * args.requests + 10):
                fh.write(json.dumps({"prompt": template.render(10_000 + i), "output_tokens_count": args.output_tokens,
                                     "prompt_tokens_count": args.prompt_tokens}) + "\n")
        _tokenizer(work / "tokenizer")
        print(f"llama.cpp (llama-cpp-python) at {server.url}; {args.requests} requests per load, "
              f"~{args.prompt_tokens} prompt tokens, {args.output_tokens} output tokens, the same prompts for both")
        loads = [("one stream", dict(concurrency=(1,)), "kind=synchronous"),
                 (f"constant {args.rate:g}/s", dict(rates=(args.rate,), arrival="constant"),
                  f"kind=constant,rate={args.rate:g}")]
        rows = []
        for label, probe_load, profile in loads:
            cpu0_s = time.process_time()
            probe = run_probe(ProbeConfig(url=server.url, model="tiny", requests_per_level=args.requests,
                                          prompt_tokens=args.prompt_tokens, max_tokens=args.output_tokens,
                                          endpoint="completions",
                                          use_tokenizer=False, gpu_telemetry=False, **probe_load)).levels[0]
            probe_cpu_s = time.process_time() - cpu0_s
            path = out / f"guidellm-{profile.split(',')[0].split('=')[1]}.json"
            env = dict(os.environ, GUIDELLM__MAX_WORKER_PROCESSES="1")
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(
                [args.guidellm, "run", "--backend",
                 f"kind=openai_http,target={server.url.removesuffix('/v1')},model=tiny,validate_backend=false,"
                 "request_format=/v1/completions",
                 "--profile", profile, "--data", f"kind=json_file,path={work / 'prompts.jsonl'}",
                 "--tokenizer", f"kind=hf_auto,model={work / 'tokenizer'}",
                 "--constraint", f"kind=max_requests,count={args.requests}", "--output", f"kind=json,path={path}",
                 "--disable-console"], capture_output=True, text=True, env=env, timeout=900)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
                return 1
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            peer_cpu_s = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
            peer = import_result_file(path).levels[0]
            rows.append((label, probe, peer))
            print(f"{label}: client CPU over the run: probe {probe_cpu_s:.2f} s, GuideLLM {peer_cpu_s:.2f} s "
                  "(both share the server's two cores)")
        print(f"{'load':<16}{'metric':<26}{'probe':>12}{'GuideLLM':>12}{'diff':>9}")
        for label, probe, peer in rows:
            for name, ours, theirs, scale, unit in (
                    ("TTFT p50", probe.ttft_s.p50, peer.ttft_s.p50, 1000, "ms"),
                    ("ITL p50", probe.inter_token_s.p50, peer.inter_token_s.p50, 1000, "ms"),
                    ("output tokens/s", probe.aggregate_output_tokens_per_s, peer.aggregate_output_tokens_per_s, 1, ""),
                    ("per-stream tokens/s p50", probe.output_tokens_per_s_per_stream.p50,
                     peer.output_tokens_per_s_per_stream.p50, 1, "")):
                diff = (ours - theirs) / theirs * 100 if ours and theirs else float("nan")
                print(f"{label:<16}{name + (f' ({unit})' if unit else ''):<26}{ours * scale:>12.2f}"
                      f"{theirs * scale:>12.2f}{diff:>+8.1f}%")
        print(f"GuideLLM's files: {out}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
