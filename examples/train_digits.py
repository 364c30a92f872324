"""Train the built-in example (edgec/examples/digits.py) and write its weights.

    .venv/bin/python examples/train_digits.py   # rewrites edgec/examples/digits_cnn.npz
"""
import torch

from edgec.examples import digits
from edgec.ir.graph import save_npz


def main(epochs=60, seed=0):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xtr, ytr = digits.train_split()
    xte, yte = digits.test_split()
    m = digits.DigitsCNN()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        m.train()
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()
        sched.step()
    m.eval()
    with torch.no_grad():
        acc = (m(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean()
    print(f"float test accuracy {100 * acc:.2f}% on {len(yte)} samples")
    save_npz(digits.WEIGHTS, {k: v.numpy() for k, v in m.state_dict().items()})


if __name__ == "__main__":
    main()
