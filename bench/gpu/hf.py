#!/usr/bin/env python3
"""Hugging Face Transformers on the same model files as Sluice, on the GPU machine.

  hf.py logits --model DIR --prompts-from SLUICE.json --out HF.json
      For the prompts of a parity.mjs file: every prompt token's logprob and greedy tokens with their top-2
      logprobs (full recompute per token), in parity.mjs's format, so `parity.mjs compare` checks them.
  hf.py generate --model DIR --requests N --prompt P --output O --batch 128
      generate() throughput on N random prompts of P tokens, exactly O new tokens each, in batches; one JSON line.
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM


def load(model_dir):
    cfg = json.load(open(f"{model_dir}/config.json"))
    dtype = torch.float32 if cfg.get("torch_dtype") == "float32" else torch.bfloat16
    # f32 parity is against Sluice's f32 kernels: no TF32 shortcuts in matmuls.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to("cuda").eval()
    return model, cfg


@torch.no_grad()
def logits(args):
    model, _ = load(args.model)
    src = json.load(open(args.prompts_from))
    rows = []
    for row in src["rows"]:
        ids = torch.tensor([row["prompt"]], device="cuda")
        lp = torch.log_softmax(model(ids).logits.float()[0], dim=-1)
        prompt_lp = [lp[j - 1, row["prompt"][j]].item() for j in range(1, len(row["prompt"]))]
        tokens, top2 = [], []
        for _ in range(len(row["tokens"])):
            last = torch.log_softmax(model(ids).logits.float()[0, -1], dim=-1)
            vals, idx = torch.topk(last, 2)
            tokens.append(int(idx[0]))
            top2.append([float(vals[0]), float(vals[1])])
            ids = torch.cat([ids, idx[:1].view(1, 1)], dim=1)
        rows.append({"prompt": row["prompt"], "promptLogprobs": prompt_lp, "tokens": tokens, "top2": top2})
    json.dump({"source": "hf-transformers", "model": args.model, "rows": rows}, open(args.out, "w"))


@torch.no_grad()
def generate(args):
    model, cfg = load(args.model)
    g = torch.Generator().manual_seed(7)
    prompts = torch.randint(0, cfg["vocab_size"] - 16, (args.requests, args.prompt), generator=g)
    model.generate(prompts[:2].cuda(), max_new_tokens=4, min_new_tokens=4, do_sample=False, pad_token_id=0)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    out_tokens = 0
    for b in range(0, args.requests, args.batch):
        batch = prompts[b:b + args.batch].cuda()
        out = model.generate(batch, attention_mask=torch.ones_like(batch), max_new_tokens=args.output,
                             min_new_tokens=args.output, do_sample=False, pad_token_id=0)
        out_tokens += (out.shape[1] - batch.shape[1]) * batch.shape[0]
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({"engine": "hf-generate", "device": torch.cuda.get_device_name(), "requests": args.requests,
                      "prompt": args.prompt, "output": args.output, "batch": args.batch, "outputTokens": out_tokens,
                      "seconds": seconds, "outputTokensPerSecond": out_tokens / seconds}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    lg = sub.add_parser("logits")
    lg.add_argument("--model", required=True)
    lg.add_argument("--prompts-from", required=True)
    lg.add_argument("--out", required=True)
    gn = sub.add_parser("generate")
    gn.add_argument("--model", required=True)
    for name, default in (("requests", 512), ("prompt", 512), ("output", 256), ("batch", 128)):
        gn.add_argument(f"--{name}", type=int, default=default)
    args = p.parse_args()
    (logits if args.cmd == "logits" else generate)(args)


if __name__ == "__main__":
    main()
