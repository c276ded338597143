"""Fine-tune the aisfx CNN9's top blocks and a head on a corpus' sfx-mel maps, on a GPU (PyTorch).

Not part of the package: it runs where PyTorch and a GPU are (a lent accelerator machine), on the
folder ``tools/finetune_aisfx.py pack`` writes (DATA, default data/dev: ft.npz + aisfx_embedding.npz).

Configs (CONFIGS, e.g. "frozen,b4,b34,b234@30": head only; block 4; blocks 3–4; blocks 2–4, "@N" = most
epochs; "+fs": the maps also shifted by up to 2 mel bands either way, a timbre/pitch nudge; "+fam": within a
label, each source family weighs the same in the loss, within 4x of its clip share) are compared by
leave-family-out cross-validation over the TRAINING families (the folds in ft.npz); the held-out (test)
families are only predicted by each config's final model, trained on all training families with early
stopping on the validation recordings. Batch norm statistics stay aisfx's.
Writes $OUT/results.json, $OUT/<cfg>.npz (out-of-fold probabilities/embeddings of the training clips,
test probabilities/embeddings, the head) and $OUT/<cfg>_<block>.npz (fine-tuned block weights), which
``tools/finetune_aisfx.py assemble`` turns into a Keras model.

    OUT=out CONFIGS=frozen,b4,b34,b234@30 INST="$(cat data/dev/inst.json)" python3 tools/finetune_aisfx_torch.py
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OUT = os.environ.get("OUT", "/tmp/out")
DEV = "cuda" if torch.cuda.is_available() else "cpu"
SMALL = int(os.environ.get("SMALL", "0"))
CONFIGS = os.environ.get("CONFIGS", "frozen,b4,b34").split(",")
EPOCHS = int(os.environ.get("EPOCHS", "30"))
N_LABELS = 41
t_start = time.time()

DATA = os.environ.get("DATA", "data/dev")
d = np.load(f"{DATA}/ft.npz")
x_all = torch.tensor(d["x"]).float().div_(200.0)  # (n, 216, 96)
y_all = torch.tensor(d["y"]).long()
test, val, fold = d["test"], d["val"], d["fold"]
family = d["family"] if "family" in d else np.zeros(len(y_all), np.int16)
if SMALL:
    keep = np.random.default_rng(0).permutation(len(y_all))[:SMALL]
    keep.sort()
    x_all, y_all, test, val, fold, family = x_all[keep], y_all[keep], test[keep], val[keep], fold[keep], family[keep]
x_all = x_all.to(DEV)
y_all = y_all.to(DEV)
# the tunable blocks' weights may travel as float16 (tools/finetune_aisfx.py pack): they are only a start
W = {k: torch.tensor(v).float() for k, v in np.load(f"{DATA}/aisfx_embedding.npz").items()}


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(cout), nn.BatchNorm2d(cout)

    def forward(self, x, pool):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.max_pool2d(x, 2) if pool else x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_block1, self.conv_block2 = Block(1, 64), Block(64, 128)
        self.conv_block3, self.conv_block4 = Block(128, 256), Block(256, 512)

    def forward(self, x):  # (n, T, F)
        x = x[:, None]
        x = self.conv_block1(x, True)
        x = self.conv_block2(x, True)
        x = self.conv_block3(x, True)
        x = self.conv_block4(x, False)
        return x.mean(dim=3).max(dim=2)[0]


def fresh_net():
    net = Net()
    sd = {k[len("embedding_net."):]: v for k, v in W.items()}
    missing = net.load_state_dict(sd, strict=False)
    assert not [m for m in missing.missing_keys if "num_batches" not in m], missing
    return net.to(DEV)


class Head(nn.Module):
    def __init__(self, mean, var, hidden=256, dropout=0.3):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("var", var)
        self.drop_in, self.drop = nn.Dropout(dropout / 2), nn.Dropout(dropout)
        self.hidden = nn.Linear(512, hidden)
        self.out = nn.Linear(hidden, N_LABELS)

    def forward(self, e):
        z = (e - self.mean) / torch.sqrt(self.var + 1e-7)  # keras Normalization: sqrt(max(var, eps))
        return self.out(self.drop(F.relu(self.hidden(self.drop_in(z)))))


@torch.no_grad()
def embed(net, idx, bs=256):
    net.eval()
    out = []
    for i in range(0, len(idx), bs):
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=DEV == "cuda"):
            out.append(net(x_all[idx[i:i + bs]]).float())
    return torch.cat(out)


def augment(x, gen, shift=0):
    n, T, Fq = x.shape
    x = x.clone()
    for i in range(n):
        if shift:
            k = int(torch.randint(-shift, shift + 1, (1,), generator=gen))
            if k > 0:
                x[i, :, k:] = x[i, :, :-k].clone()
                x[i, :, :k] = 0
            elif k < 0:
                x[i, :, :k] = x[i, :, -k:].clone()
                x[i, :, k:] = 0
        s = int(torch.randint(0, 7, (1,), generator=gen))
        if s:
            x[i, s:] = x[i, :-s].clone()
            x[i, :s] = 0
        t = int(torch.randint(0, 16, (1,), generator=gen))
        t0 = int(torch.randint(0, T - t + 1, (1,), generator=gen))
        x[i, t0:t0 + t] = 0
        f = int(torch.randint(0, 12, (1,), generator=gen))
        f0 = int(torch.randint(0, Fq - f + 1, (1,), generator=gen))
        x[i, :, f0:f0 + f] = 0
    return x


def class_weights(y):
    counts = torch.bincount(y, minlength=N_LABELS).float()
    present = counts > 0
    w = torch.zeros(N_LABELS, device=y.device)
    w[present] = (len(y) / (present.sum() * counts[present])).clamp(0.2, 5.0)
    return w


def family_weights(idx):
    """Per-clip loss weights: each (label, family) gets an equal share of its label, clipped to 4x either way."""
    y, f = y_all[idx].cpu().numpy(), family[idx]
    w = np.ones(len(idx), np.float32)
    for label in np.unique(y):
        m = y == label
        fams, counts = np.unique(f[m], return_counts=True)
        share = m.sum() / len(fams)
        for fam, c in zip(fams, counts, strict=True):
            w[m & (f == fam)] = np.clip(share / c, 0.25, 4.0)
    return torch.tensor(w, device=DEV)


def fit(cfg, train_idx, val_idx, seed=0):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = fresh_net()
    e0 = embed(net, train_idx)
    head = Head(e0.mean(0), e0.var(0, unbiased=False)).to(DEV)
    trainable = {"frozen": [], "b4": ["conv_block4"], "b34": ["conv_block3", "conv_block4"],
                 "b234": ["conv_block2", "conv_block3", "conv_block4"]}[cfg.split("@")[0].split("+")[0]]
    for name, p in net.named_parameters():
        p.requires_grad = any(name.startswith(b) for b in trainable)
    params = [{"params": head.parameters(), "lr": 1e-3, "weight_decay": 1e-4}]
    if trainable:
        params.append({"params": [p for p in net.parameters() if p.requires_grad], "lr": 1e-4, "weight_decay": 1e-4})
    opt = torch.optim.AdamW(params)
    ytr = y_all[train_idx]
    cw = class_weights(ytr)
    shift = 2 if "+fs" in cfg else 0
    fw = torch.zeros(len(y_all), device=DEV)
    fw[train_idx] = family_weights(train_idx) if "+fam" in cfg else 1.0
    best, best_state, bad = 1e9, None, 0
    frozen_emb = e0 if not trainable else None
    epochs_run = 0
    for _ in range(int(cfg.split("@")[1].split("+")[0]) if "@" in cfg else EPOCHS):
        epochs_run += 1
        head.train()
        # batch-norm statistics stay as trained by aisfx (eval mode) in every block
        net.eval()
        perm = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
        for i in range(0, len(perm), 64):
            b = perm[i:i + 64]
            with torch.autocast(DEV, dtype=torch.bfloat16, enabled=DEV == "cuda"):
                e = net(augment(x_all[b], gen, shift)) if frozen_emb is None else embed_cache[b]
                logits = head(e.float())
            per = F.cross_entropy(logits.float(), y_all[b], weight=cw, label_smoothing=0.05, reduction="none")
            loss = (per * fw[b]).sum() / (cw[y_all[b]] * fw[b]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        head.eval()
        with torch.no_grad():
            ev = embed(net, val_idx)
            vl = float(F.cross_entropy(head(ev), y_all[val_idx], label_smoothing=0.05)) if len(val_idx) else 0.0
        if vl < best - 1e-4:
            best, bad = vl, 0
            best_state = ({k: v.detach().clone() for k, v in net.state_dict().items()},
                          {k: v.detach().clone() for k, v in head.state_dict().items()})
        else:
            bad += 1
            if bad >= 4:
                break
    net.load_state_dict(best_state[0])
    head.load_state_dict(best_state[1])
    return net, head, epochs_run


@torch.no_grad()
def predict(net, head, idx, trained):
    e = embed(net, idx)
    head.eval()
    p = torch.softmax(head(e), 1)
    mask = torch.zeros(N_LABELS, device=p.device)
    mask[trained] = 1
    p = p * mask
    p = p / p.sum(1, keepdim=True).clamp_min(1e-12)
    return p.cpu().numpy(), e.cpu().numpy()


def inst_acc(p, y):
    MAP = json.loads(os.environ.get("INST", "null"))
    if MAP is None:
        return float("nan")
    inst = np.array(MAP)
    return float(np.mean(inst[p.argmax(1)] == inst[y]))


def tag(cfg):
    """A configuration's file name: "b234@30+fs" → "b234-30.fs" (names come back in letters, digits, - . _)."""
    return cfg.replace("@", "-").replace("+", ".")


embed_cache = None
results = {}
nets = {}
n = len(y_all)
all_idx = np.arange(n)
y_np = y_all.cpu().numpy()
for cfg in CONFIGS:
    t0 = time.time()
    if t0 - t_start > float(os.environ.get("BUDGET_S", "1e9")):
        print("skipping", cfg, "(time budget)", flush=True)
        continue
    if cfg.startswith("frozen"):
        embed_cache = torch.zeros(n, 512, device=DEV)
        embed_cache[:] = embed(fresh_net(), all_idx)
    oof_p = np.zeros((n, N_LABELS), np.float32)
    oof_e = np.zeros((n, 512), np.float32)
    epochs = []
    for k in sorted(set(fold.tolist()) - {-1}):
        tr = all_idx[(fold != k) & (fold >= 0) & ~val]
        va = all_idx[(fold != k) & (fold >= 0) & val]
        te = all_idx[fold == k]
        net, head, ep = fit(cfg, tr, va)
        epochs.append(ep)
        trained = sorted(set(y_np[tr].tolist()))
        oof_p[te], oof_e[te] = predict(net, head, te, trained)
    tr = all_idx[(fold >= 0) & ~val]
    va = all_idx[(fold >= 0) & val]
    net, head, ep = fit(cfg, tr, va)
    epochs.append(ep)
    trained = sorted(set(y_np[tr].tolist()))
    te = all_idx[test]
    test_p, test_e = predict(net, head, te, trained)
    # embeddings of the training clips under the final net, for the memory's calibration reference
    ooff = fold >= 0
    r = {"oof_top1": float(np.mean(oof_p[ooff].argmax(1) == y_np[ooff])), "oof_inst": inst_acc(oof_p[ooff], y_np[ooff]),
         "test_top1": float(np.mean(test_p.argmax(1) == y_np[te])), "test_inst": inst_acc(test_p, y_np[te]),
         "epochs": epochs, "seconds": round(time.time() - t0, 1)}
    results[cfg] = r
    print(cfg, r, flush=True)
    head_sd = {f"head.{k}": v.float().cpu().numpy() for k, v in head.state_dict().items()}
    np.savez_compressed(f"{OUT}/{tag(cfg)}.npz", oof_p=oof_p.astype(np.float16),
                        oof_e=oof_e.astype(np.float16), test_p=test_p.astype(np.float16),
                        test_e=test_e.astype(np.float16), test_idx=te, **head_sd)
    blocks = {"b4": ("conv_block4",), "b34": ("conv_block3", "conv_block4"),
              "b234": ("conv_block2", "conv_block3", "conv_block4")}.get(cfg.split("@")[0].split("+")[0], ())
    nets[cfg] = {b: {f"embedding_net.{k}": v.float().cpu().numpy() for k, v in net.state_dict().items()
                     if f"{b}." in k and "num_batches" not in k} for b in blocks}
    with open(f"{OUT}/results.json", "w") as f:
        json.dump(results, f, indent=1)
# the fine-tuned blocks of the configuration chosen out of fold (a machine returns few files): one file a block
if results:
    chosen = max(results, key=lambda c: results[c]["oof_inst"])
    for b, weights in nets[chosen].items():
        np.savez(f"{OUT}/{tag(chosen)}_{b}.npz", **weights)
    print("chosen out of fold:", chosen, flush=True)
print("total", round(time.time() - t_start, 1), "s", flush=True)
