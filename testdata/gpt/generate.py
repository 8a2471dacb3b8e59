#!/usr/bin/python3
"""Trains a GPT-2-small-shaped decoder briefly on Debian's own documentation and
exports it to ONNX, for mlops' 4-bit quantization benchmark.

Run with Debian's Python (python3-torch, python3-onnx):
    /usr/bin/python3 testdata/gpt/generate.py OUT_DIR [STEPS]

The corpus is the text under /usr/share/doc (README, *.txt, *.md, copyright,
changelog files, gzip or not) and /usr/share/common-licenses, read in sorted
path order; files whose path hashes into 1/20 of the space are held out.
Tokens are lower-cased words, numbers and single punctuation marks; the 8191
most frequent training tokens plus <unk> form the vocabulary (8192).

Model: 12 pre-LN blocks, hidden 768, 12 heads, feed-forward 3072 (GELU),
context 128, token embedding tied to the LM head, as GPT-2 small; about 92 M
parameters. Trained with AdamW for STEPS steps (default 50) of 4 x 48
tokens: enough for held-out perplexity to fall far below the vocabulary size,
so that quantization changes it measurably.

Writes into OUT_DIR (about 370 MB, never committed; the benchmark generates it
into .cache/gpt):
  gpt.onnx         input "input_ids" int64 [batch, seq], output "logits"
                   float32 [batch, seq, 8192]; opset 17, weights in gpt.onnx.data
  heldout.npy      int64 [64, 129]: held-out windows (inputs and next tokens)
  calib.npy        int64 [32, 128]: training windows for gptq calibration
  train.json       steps, final training loss, held-out perplexity (torch)
Deterministic for a given torch build and /usr/share/doc.
"""
import glob
import gzip
import hashlib
import json
import math
import os
import re
import sys
from collections import Counter

import numpy as np
import torch
import torch.nn as nn

SEED = 20261203
VOCAB, HIDDEN, HEADS, FFN, LAYERS, CTX = 8192, 768, 12, 3072, 12, 128
BATCH, TRAIN_SEQ = 4, 48
LR = 2e-3
MAX_BYTES = 24 << 20
TOKEN = re.compile(r"[a-z]+|[0-9]+|[^\sa-z0-9]")


def corpus():
    paths = []
    for pat in ["/usr/share/doc/**/*", "/usr/share/common-licenses/*"]:
        paths += [p for p in glob.glob(pat, recursive=True) if os.path.isfile(p) and not os.path.islink(p)]
    keep = re.compile(r"(readme|copyright|changelog|news|\.txt|\.md|\.rst|licen[cs]e|gpl|bsd|apache|artistic)", re.I)
    train, held = [], []
    size = 0
    for p in sorted(set(paths)):
        if not keep.search(os.path.basename(p)) or size > MAX_BYTES:
            continue
        try:
            raw = gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        size += len(text)
        h = int(hashlib.sha1(p.encode()).hexdigest(), 16)
        (held if h % 20 == 0 else train).append(text.lower())
    return "\n".join(train), "\n".join(held)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(HIDDEN)
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.proj = nn.Linear(HIDDEN, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN)
        self.fc = nn.Linear(HIDDEN, FFN)
        self.out = nn.Linear(FFN, HIDDEN)

    def forward(self, x, mask):
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(HIDDEN, dim=-1)
        heads = lambda t: t.view(b, s, HEADS, HIDDEN // HEADS).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS) + mask[:s, :s]
        ctx = (torch.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(b, s, HIDDEN)
        x = x + self.proj(ctx)
        return x + self.out(torch.nn.functional.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(CTX, HIDDEN)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln = nn.LayerNorm(HIDDEN)
        self.register_buffer("mask", torch.triu(torch.full((CTX, CTX), -1e4), 1))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, ids):
        s = ids.shape[1]
        pos = torch.arange(s, device=ids.device).unsqueeze(0)
        x = self.tok(ids) + self.pos(pos)
        for b in self.blocks:
            x = b(x, self.mask)
        return self.ln(x) @ self.tok.weight.t()  # tied LM head


def main():
    out = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    train_text, held_text = corpus()
    train_tok, held_tok = TOKEN.findall(train_text), TOKEN.findall(held_text)
    vocab = ["<unk>"] + [w for w, _ in Counter(train_tok).most_common(VOCAB - 1)]
    index = {w: i for i, w in enumerate(vocab)}
    enc = lambda toks: np.array([index.get(t, 0) for t in toks], dtype=np.int64)
    train, held = enc(train_tok), enc(held_tok)
    print(f"corpus: {len(train)} training, {len(held)} held-out tokens", flush=True)

    model = GPT()
    ckpt = os.path.join(out, "gpt.pt")
    if os.path.exists(ckpt):
        model.load_state_dict(torch.load(ckpt))
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01, betas=(0.9, 0.95))
        rng = np.random.default_rng(SEED)
        for step in range(steps):
            lr = LR * min(1, (step + 1) / 10) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
            for g in opt.param_groups:
                g["lr"] = lr
            starts = rng.integers(0, len(train) - TRAIN_SEQ - 1, BATCH)
            batch = torch.from_numpy(np.stack([train[s : s + TRAIN_SEQ + 1] for s in starts]))
            logits = model(batch[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 0 or step == steps - 1:
                print(f"step {step} loss {loss.item():.3f}", flush=True)
        torch.save(model.state_dict(), ckpt)
    model.eval()

    rng = np.random.default_rng(SEED + 1)
    hs = rng.integers(0, len(held) - CTX - 1, 64)
    heldout = np.stack([held[s : s + CTX + 1] for s in hs])
    cs = rng.integers(0, len(train) - CTX, 32)
    calib = np.stack([train[s : s + CTX] for s in cs])
    np.save(os.path.join(out, "heldout.npy"), heldout)
    np.save(os.path.join(out, "calib.npy"), calib)
    with torch.no_grad():
        x = torch.from_numpy(heldout)
        nll = 0.0
        for i in range(0, len(x), 8):
            lg = model(x[i : i + 8, :-1])
            nll += nn.functional.cross_entropy(lg.reshape(-1, VOCAB), x[i : i + 8, 1:].reshape(-1), reduction="sum").item()
        ppl = math.exp(nll / (len(x) * CTX))
    print(f"held-out perplexity (torch): {ppl:.2f}", flush=True)
    with open(os.path.join(out, "train.json"), "w") as f:
        json.dump({"steps": steps, "heldout_perplexity": ppl, "train_tokens": int(len(train)), "heldout_tokens": int(len(held))}, f)

    import onnx
    tmp = os.path.join(out, "gpt.tmp.onnx")
    torch.onnx.export(model, torch.zeros(1, CTX, dtype=torch.int64), tmp, input_names=["input_ids"],
                      output_names=["logits"], dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
                      opset_version=17, do_constant_folding=True)
    m = onnx.load(tmp)
    os.remove(tmp)
    onnx.save_model(m, os.path.join(out, "gpt.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="gpt.onnx.data", size_threshold=1024)
    print("wrote", os.path.join(out, "gpt.onnx"))


if __name__ == "__main__":
    main()
