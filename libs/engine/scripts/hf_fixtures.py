#!/usr/bin/env python3
"""Writes Hugging Face transformers reference outputs for the tiny test models.

For each model it records, per prompt: the prompt token ids, greedy continuation token ids with the chosen
token's logprob and the top logprobs at every step, prompt logprobs, and 4-beam search results. The engine's
test/hf-fixtures.test.ts compares against these files when they exist.

Needs: python3 with torch and transformers (CPU is enough). Run after `npm run setup -w @sluice/engine`:

    python3 libs/engine/scripts/hf_fixtures.py
"""
import argparse
import json
import pathlib

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
MODELS = ["tiny-llama", "tiny-gqa"]
TOP_K = 5
GREEDY_TOKENS = 24
BEAM_WIDTH = 4
BEAM_TOKENS = 12

PROMPTS = [
    ("plain", "The river keeps moving while"),
    ("question", "What is a queue? A queue is"),
    ("unicode", "Café naïve 日本語 🙂 привет"),
    ("code", "for (let i = 0; i < n; i++) {"),
]


def long_prompt() -> str:
    # Several hundred tokens from the tokenizer's own corpus, so attention spans many KV blocks.
    corpus = (HERE / "tiny-corpus.txt").read_text(encoding="utf-8").splitlines()
    return " ".join(corpus[:14])


def top_entries(logprobs_row: torch.Tensor, k: int):
    values, indices = torch.topk(logprobs_row, k)
    return [{"id": int(i), "logprob": float(v)} for v, i in zip(values.tolist(), indices.tolist())]


@torch.no_grad()
def greedy(model, input_ids: torch.Tensor, eos_ids):
    out = model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=GREEDY_TOKENS,
        do_sample=False,
        num_beams=1,
        eos_token_id=eos_ids,
        pad_token_id=eos_ids[0],
        output_logits=True,
        return_dict_in_generate=True,
    )
    new_tokens = out.sequences[0, input_ids.shape[1]:].tolist()
    steps = []
    # out.logits holds the raw (unprocessed) logits of each generated step, shape [batch, vocab].
    for token, logits in zip(new_tokens, out.logits):
        lp = torch.log_softmax(logits[0].float(), dim=-1)
        steps.append({"token": int(token), "logprob": float(lp[token]), "top": top_entries(lp, TOP_K)})
    return {"token_ids": new_tokens, "steps": steps}


@torch.no_grad()
def prompt_logprobs(model, input_ids: torch.Tensor):
    logits = model(input_ids).logits[0].float()
    lp = torch.log_softmax(logits, dim=-1)
    ids = input_ids[0].tolist()
    # Entry j scores prompt token j given tokens [0, j); the first token has no score.
    entries = [None]
    for j in range(1, len(ids)):
        row = lp[j - 1]
        entries.append({"token": ids[j], "logprob": float(row[ids[j]]), "top": top_entries(row, TOP_K)})
    return entries


@torch.no_grad()
def beam(model, input_ids: torch.Tensor, eos_ids):
    out = model.generate(
        input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=BEAM_TOKENS,
        do_sample=False,
        num_beams=BEAM_WIDTH,
        num_return_sequences=BEAM_WIDTH,
        length_penalty=1.0,
        early_stopping=False,
        eos_token_id=eos_ids,
        pad_token_id=eos_ids[0],
        output_scores=True,
        return_dict_in_generate=True,
    )
    beams = []
    for seq, score in zip(out.sequences, out.sequences_scores):
        tokens = seq[input_ids.shape[1]:].tolist()
        # Finished beams are right-padded with pad_token_id (= the first eos id): keep up to the first eos.
        for i, t in enumerate(tokens):
            if t in eos_ids:
                tokens = tokens[: i + 1]
                break
        beams.append({"token_ids": tokens, "score": float(score)})
    return {"beam_width": BEAM_WIDTH, "max_tokens": BEAM_TOKENS, "length_penalty": 1.0, "beams": beams}


def fixtures_for(model_dir: pathlib.Path):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.eval()
    gen_config = json.loads((model_dir / "generation_config.json").read_text())
    eos_ids = gen_config["eos_token_id"]
    eos_ids = eos_ids if isinstance(eos_ids, list) else [eos_ids]

    prompts = list(PROMPTS) + [("long", long_prompt())]
    chat = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who keeps the light?"}]
    cases = []
    for name, text in prompts:
        ids = tokenizer(text, return_tensors="pt").input_ids
        cases.append({"name": name, "prompt": text, "chat": None, "ids": ids})
    chat_ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt")
    if not isinstance(chat_ids, torch.Tensor):  # newer transformers return a BatchEncoding
        chat_ids = chat_ids["input_ids"]
    cases.append({"name": "chat", "prompt": None, "chat": chat, "ids": chat_ids})

    out = []
    for case in cases:
        ids = case["ids"]
        out.append({
            "name": case["name"],
            "prompt": case["prompt"],
            "chat": case["chat"],
            "prompt_token_ids": ids[0].tolist(),
            "greedy": greedy(model, ids, eos_ids),
            "prompt_logprobs": prompt_logprobs(model, ids),
            "beam_search": beam(model, ids, eos_ids),
        })
    return {
        "model": model_dir.name,
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "eos_token_ids": eos_ids,
        "top_k": TOP_K,
        "cases": out,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=pathlib.Path, default=REPO / ".cache" / "models")
    parser.add_argument("--out", type=pathlib.Path, default=HERE.parent / "test" / "fixtures")
    args = parser.parse_args()
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in MODELS:
        data = fixtures_for(args.models_dir / name)
        path = args.out / f"hf-{name}.json"
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
