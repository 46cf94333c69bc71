# Trains the tiny BERT (masked language model) on the stories of corpus.ts, in PyTorch, and saves it as a
# Hugging Face BertForMaskedLM folder (config.json, model.safetensors with Hugging Face's names) that
# `token-lens import` reads. Also writes reference.json: PyTorch's own float64 outputs on one sentence
# (every token's pseudo-loss, the logits at its mask, layer 0's attention), which the tests compare with
# the imported model.
#
# Usage: python3 scripts/tiny-bert/train.py IDS.bin OUT_DIR [STEPS]
# Needs torch only (the model is written out here, as Hugging Face's modeling_bert defines it).
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)  # a shared machine: one core is plenty for this size

ids_file, out = sys.argv[1], sys.argv[2]
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
vocab = open(f"{out}/vocab.txt", encoding="utf-8").read().split("\n")[:-1]
V = len(vocab)
PAD, UNK, CLS, SEP, MASK = (vocab.index(s) for s in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
N_LAYER, N_HEAD, C, FF, T, BATCH = 2, 4, 128, 256, 64, 32
EPS = 1e-12


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value, self.out = (nn.Linear(C, C) for _ in range(4))
        self.ln_1, self.ln_2 = nn.LayerNorm(C, eps=EPS), nn.LayerNorm(C, eps=EPS)
        self.up, self.down = nn.Linear(C, FF), nn.Linear(FF, C)

    def forward(self, x, pad_mask):
        B, L, _ = x.shape
        heads = lambda t: t.view(B, L, N_HEAD, C // N_HEAD).transpose(1, 2)
        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(C // N_HEAD)
        scores = scores.masked_fill(~pad_mask[:, None, None, :], torch.finfo(scores.dtype).min)
        probs = scores.softmax(-1)
        y = (probs @ v).transpose(1, 2).reshape(B, L, C)
        x = self.ln_1(x + self.out(y))
        return self.ln_2(x + self.down(F.gelu(self.up(x)))), probs


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.seg = nn.Embedding(V, C), nn.Embedding(T, C), nn.Embedding(2, C)
        self.ln_emb = nn.LayerNorm(C, eps=EPS)
        self.layers = nn.ModuleList(Layer() for _ in range(N_LAYER))
        self.dense, self.ln_mlm = nn.Linear(C, C), nn.LayerNorm(C, eps=EPS)
        self.bias = nn.Parameter(torch.zeros(V))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids, pad_mask, at=None):
        """Logits at every position, or only where `at` (a bool mask) is set: the head is the costly part."""
        L = ids.shape[1]
        x = self.ln_emb(self.tok(ids) + self.pos(torch.arange(L)) + self.seg(torch.zeros_like(ids)))
        attention = []
        for layer in self.layers:
            x, probs = layer(x, pad_mask)
            attention.append(probs)
        if at is not None:
            x = x[at]
        h = self.ln_mlm(F.gelu(self.dense(x)))
        return h @ self.tok.weight.T + self.bias, attention


def sequences():
    """Each story's tokens in windows of T: [CLS] up to T-2 tokens [SEP], padded."""
    raw = open(ids_file, "rb").read()
    stream = list(struct.unpack(f"<{len(raw) // 2}H", raw))
    stories, cur = [], []
    for i in stream:
        if i == CLS:
            cur = []
        elif i == SEP:
            stories.append(cur)
        else:
            cur.append(i)
    rows = []
    for s in stories:
        for at in range(0, len(s), T - 2):
            body = s[at:at + T - 2]
            if len(body) >= 8:
                rows.append([CLS] + body + [SEP] + [PAD] * (T - 2 - len(body)))
    return torch.tensor(rows)


def mask_batch(batch):
    """BERT's recipe: 15% of the real tokens are targets; 80% of those become [MASK], 10% a random token."""
    real = (batch != PAD) & (batch != CLS) & (batch != SEP)
    target = real & (torch.rand(batch.shape) < 0.15)
    inputs = batch.clone()
    r = torch.rand(batch.shape)
    inputs[target & (r < 0.8)] = MASK
    swap = target & (r >= 0.8) & (r < 0.9)
    inputs[swap] = torch.randint(5, V, (int(swap.sum()),))
    return inputs, torch.where(target, batch, torch.full_like(batch, -100))


data = sequences()
print(f"{len(data)} windows of {T} tokens, vocabulary {V}", file=sys.stderr)
model = Bert()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
for step in range(steps):
    lr = 2e-3 * min(1, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * step / steps))
    for g in opt.param_groups:
        g["lr"] = lr
    batch = data[torch.randint(0, len(data), (BATCH,))]
    inputs, labels = mask_batch(batch)
    targets = labels != -100
    logits, _ = model(inputs, batch != PAD, targets)
    loss = F.cross_entropy(logits, labels[targets])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 250 == 0 or step == steps - 1:
        print(f"step {step} loss {loss.item():.3f}", file=sys.stderr)

# Hugging Face's BertForMaskedLM names; its Linear weights are [out, in]. The decoder is tied to the word
# embeddings, so save_pretrained leaves cls.predictions.decoder.weight out, as here.
sd = {
    "bert.embeddings.word_embeddings.weight": model.tok.weight,
    "bert.embeddings.position_embeddings.weight": model.pos.weight,
    "bert.embeddings.token_type_embeddings.weight": model.seg.weight,
    "bert.embeddings.LayerNorm.weight": model.ln_emb.weight, "bert.embeddings.LayerNorm.bias": model.ln_emb.bias,
    "cls.predictions.transform.dense.weight": model.dense.weight, "cls.predictions.transform.dense.bias": model.dense.bias,
    "cls.predictions.transform.LayerNorm.weight": model.ln_mlm.weight, "cls.predictions.transform.LayerNorm.bias": model.ln_mlm.bias,
    "cls.predictions.bias": model.bias,
}
for i, l in enumerate(model.layers):
    p = f"bert.encoder.layer.{i}."
    for name, m in [("attention.self.query", l.query), ("attention.self.key", l.key), ("attention.self.value", l.value),
                    ("attention.output.dense", l.out), ("intermediate.dense", l.up), ("output.dense", l.down),
                    ("attention.output.LayerNorm", l.ln_1), ("output.LayerNorm", l.ln_2)]:
        sd[p + name + ".weight"], sd[p + name + ".bias"] = m.weight, m.bias

header, blobs, offset = {}, [], 0
for name in sorted(sd):
    data_bytes = sd[name].detach().float().contiguous().numpy().tobytes()
    header[name] = {"dtype": "F32", "shape": list(sd[name].shape), "data_offsets": [offset, offset + len(data_bytes)]}
    blobs.append(data_bytes)
    offset += len(data_bytes)
head = json.dumps(header).encode()
head += b" " * (-len(head) % 8)
with open(f"{out}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
json.dump({
    "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": V, "hidden_size": C,
    "num_hidden_layers": N_LAYER, "num_attention_heads": N_HEAD, "intermediate_size": FF,
    "max_position_embeddings": T, "type_vocab_size": 2, "layer_norm_eps": EPS, "hidden_act": "gelu",
    "pad_token_id": PAD,
}, open(f"{out}/config.json", "w"), indent=2)

# The reference: PyTorch's float64 outputs on one sentence (its ids from prepare.ts).
ref = json.load(open(f"{ids_file}.reference.json"))
model = model.double().eval()
with torch.no_grad():
    ids = torch.tensor([ref["ids"]])
    every = torch.ones_like(ids, dtype=torch.bool)
    logits, attention = model(ids, every)
    m = ref["ids"].index(MASK)
    losses = []
    for t, token in enumerate(ref["ids"]):
        if token in (CLS, SEP, MASK):
            losses.append(None)
            continue
        masked = ids.clone()
        masked[0, t] = MASK
        losses.append(-model(masked, every)[0][0, t].log_softmax(-1)[token].item())
ref.update({"mask": m, "maskLogits": logits[0, m].tolist(), "pseudoLosses": losses, "attention0": attention[0][0, 0].tolist()})
json.dump(ref, open(f"{out}/reference.json", "w"))
print(f"wrote {out}", file=sys.stderr)
