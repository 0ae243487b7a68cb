"""SPEC section 4 written once more as scalar Python loops on Python ints.

Slow and obvious on purpose: it checks the vectorised golden model element by element.
"""


def floor_div(a, b):
    return a // b  # Python floors


def run_sample(model, codes):
    """codes: list [N_in] (static) or list of T lists. Returns (logits, spikes per CF layer)."""
    T = model.T
    vmin, vmax = -(1 << (model.v_bits - 1)), (1 << (model.v_bits - 1)) - 1
    static = not isinstance(codes[0], (list, tuple))
    U = [[0] * l.n_out for l in model.layers]
    spikes = [[[0] * l.n_out for _ in range(T)] for l in model.layers if l.kind == "cf"]
    for t in range(T):
        s = list(codes) if static else list(codes[t])
        ci = 0
        for i, l in enumerate(model.layers):
            W = [[int(v) for v in row] for row in l.weight]
            out = []
            for j in range(l.n_out):
                a = int(l.bias[j]) + sum(W[j][k] * s[k] for k in range(l.n_in) if s[k] != 0)
                u = U[i][j]
                k = l.leak_shift
                L = u - floor_div(u, 1 << k) if k > 0 else u   # u >> k == floor(u / 2^k)
                H = min(vmax, max(vmin, L + a))
                if l.kind == "readout":
                    U[i][j] = H
                    continue
                th = int(l.theta[j])
                m = min(l.K, abs(H) // th)
                if H >= 0:
                    S = m
                else:
                    S = -m if l.bipolar else 0
                if l.reset == "subtract":
                    U[i][j] = H - S * th
                else:
                    U[i][j] = 0 if S != 0 else H
                out.append(S)
                spikes[ci][t][j] = S
            if l.kind == "cf":
                ci += 1
                s = out
    return U[-1], spikes
