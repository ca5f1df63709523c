#!/usr/bin/env python3
"""parity_torch.py - the embedded trainer's model rebuilt in PyTorch.

Reads what tests/parity_dump.c wrote into DIR (meta.txt, tensors.txt,
params.bin, tokens.bin, targets.bin, grads.bin, loss.txt), builds the same
model from the same float32 weights in float64 with torch's own autograd,
runs the same batch, and compares.  Tolerances (float32 C against float64
torch): loss within 1e-5 relative; every tensor's gradient within 2e-3 of
that tensor's largest gradient entry.  Prints one line per check and exits
0 when all pass, 1 otherwise.

Model (trainer/model.h): embedding, L x (RMSNorm, grouped-query attention
with RoPE on interleaved pairs (2i, 2i+1) at angle pos * base^(-2i/hd),
residual, RMSNorm, SwiGLU, residual), final RMSNorm, LM head (the
embedding when tied); Linear weights are (out, in); RMSNorm eps 1e-5.
"""
import math
import sys

import torch

LOSS_REL = 1e-5
GRAD_REL = 2e-3


def read_floats(path):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).to(torch.float64)


def read_ints(path):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.int32).to(torch.int64)


def main(d):
    meta = {}
    with open(d + "/meta.txt") as f:
        for line in f:
            k, v = line.strip().split("=")
            meta[k] = float(v)
    V, C, L = int(meta["vocab"]), int(meta["d_model"]), int(meta["n_layers"])
    H, KV, hd = int(meta["n_heads"]), int(meta["n_kv_heads"]), int(meta["head_dim"])
    F, T, B = int(meta["ffn"]), int(meta["seq_len"]), int(meta["batch"])
    eps, base = meta["norm_eps"], meta["rope_base"]
    Dkv = KV * hd
    tensors = {}
    with open(d + "/tensors.txt") as f:
        for line in f:
            name, layer, off, rows, cols = line.split()
            tensors[(name, int(layer))] = (int(off), int(rows), int(cols))

    p = read_floats(d + "/params.bin").requires_grad_(True)
    tok = read_ints(d + "/tokens.bin").view(B, T)
    tgt = read_ints(d + "/targets.bin").view(B, T)
    grads_c = read_floats(d + "/grads.bin")
    with open(d + "/loss.txt") as f:
        loss_c = float(f.read())

    def W(name, layer=0):
        off, rows, cols = tensors[(name, layer)]
        w = p[off:off + rows * cols].view(rows, cols)
        return w[0] if rows == 1 else w

    def rms(x, g):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * g

    pos = torch.arange(T, dtype=torch.float64)
    freq = base ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
    ang = pos[:, None] * freq[None, :]
    cos, sin = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]

    def rope(x):  # (B, T, heads, hd)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1).flatten(-2)

    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    x = W("wte")[tok]
    for l in range(L):
        h = rms(x, W("ln1", l))
        qkv = h @ W("wqkv", l).T
        q = rope(qkv[..., :C].reshape(B, T, H, hd))
        k = rope(qkv[..., C:C + Dkv].reshape(B, T, KV, hd))
        v = qkv[..., C + Dkv:].reshape(B, T, KV, hd)
        k = k.repeat_interleave(H // KV, dim=2).transpose(1, 2)
        v = v.repeat_interleave(H // KV, dim=2).transpose(1, 2)
        s = (q.transpose(1, 2) @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ W("wo", l).T
        h = rms(x, W("ln2", l))
        gu = h @ W("w13", l).T
        a = torch.nn.functional.silu(gu[..., :F]) * gu[..., F:]
        x = x + a @ W("w2", l).T
    x = rms(x, W("lnf"))
    head = W("lm_head") if ("lm_head", 0) in tensors else W("wte")
    logits = x @ head.T
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
    loss.backward()

    failed = 0
    rel = abs(loss.item() - loss_c) / abs(loss.item())
    ok = rel <= LOSS_REL
    failed += not ok
    print("%s loss torch %.9f c %.9f rel %.2e" % ("ok  " if ok else "FAIL", loss.item(), loss_c, rel))
    for (name, layer), (off, rows, cols) in sorted(tensors.items(), key=lambda kv: kv[1][0]):
        gt = p.grad[off:off + rows * cols]
        gc = grads_c[off:off + rows * cols]
        scale = gt.abs().max().item()
        err = (gt - gc).abs().max().item()
        ok = scale > 0 and err <= GRAD_REL * scale
        failed += not ok
        print("%s grad %-7s layer %d  max err %.2e of max %.2e" %
              ("ok  " if ok else "FAIL", name, layer, err, scale))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
