"""Fused CPU kernels of the CF neuron (the ``numba`` backend).

The same arithmetic as the ``torch`` backend in :mod:`cfsnn.nn.functional`, written as one
pass over memory per layer instead of a few dozen tensor operations per time step: each
block of neurons is carried through all T steps while it sits in cache, the membrane and
the gradient recurrences stay in registers, and the inner loop over neurons vectorises.
Blocks run in parallel (``prange``).

``fastmath={"reassoc"}`` lets the compiler vectorise the reductions (the PNB sums and the
alpha-gradient dot products); every other operation keeps IEEE order. Results therefore
equal the torch backend's up to float rounding, which tests/nn/test_functional.py checks.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

BLOCK = 2048  # neurons per block: T x BLOCK floats of each array stay in L2


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def cf_forward(I, theta, K, lo, lam, zero_reset, S, H, sums, zero, one):
    """I, S, H: [T, M]; sums: [nblocks, T, 2] partial (sum h, sum |h|).

    Scalars come typed as the arrays (``zero``, ``one`` too), so float32 stays float32.
    """
    T, M = I.shape
    nb = (M + BLOCK - 1) // BLOCK
    for b in prange(nb):
        m0 = b * BLOCK
        n = min(M, m0 + BLOCK) - m0
        u = np.zeros(n, dtype=H.dtype)
        for t in range(T):
            s1 = zero
            s2 = zero
            lam_t = lam if t > 0 else zero
            for j in range(n):
                h = lam_t * u[j] + I[t, m0 + j]
                q = min(max(np.trunc(h / theta), lo), K)
                S[t, m0 + j] = q
                H[t, m0 + j] = h
                if zero_reset:
                    u[j] = h * (one - min(abs(q), one))
                else:
                    u[j] = h - theta * q
                s1 += h
                s2 += abs(h)
            sums[b, t, 0] = s1
            sums[b, t, 1] = s2


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def cf_backward(H, S, gS, c_t, k_t, edges, theta, zero_reset, lam, full_reset_grad,
                gp, gn, learn_alpha, gI, dots, zero, one):
    """Backward over all steps.

    H, S, gS, gI: [T, M]; c_t[t] = pi alpha_t / 2; k_t[t] = alpha_t / (2 theta);
    edges: the step edges in units of theta (1..K, and -1..-K if bipolar);
    gp, gn: [T] gradients of the PNB sums; dots: [nblocks, T] partial sums of
    gse * sum_e z_e r_e (the alpha gradient before its 1/(2c) factor).
    """
    T, M = H.shape
    nb = (M + BLOCK - 1) // BLOCK
    for b in prange(nb):
        m0 = b * BLOCK
        n = min(M, m0 + BLOCK) - m0
        gU = np.zeros(n, dtype=H.dtype)
        hz = np.empty(n, dtype=H.dtype)
        accg = np.zeros(n, dtype=H.dtype)
        acczr = np.zeros(n, dtype=H.dtype)
        for t in range(T - 1, -1, -1):
            c = c_t[t]
            cth = c / theta
            kk = k_t[t]
            pp = gp[t] / theta
            nn_ = gn[t] / theta
            for j in range(n):
                hz[j] = H[t, m0 + j] * cth
                accg[j] = zero
                acczr[j] = zero
            for e in edges:
                ec = e * c
                for j in range(n):
                    z = hz[j] - ec
                    r = one / (z * z + one)
                    accg[j] += r
                    acczr[j] += z * r
            acc_dot = zero
            for j in range(n):
                m = m0 + j
                h = H[t, m]
                gu = gU[j]
                gse = gS[t, m]
                if full_reset_grad:
                    gse -= theta * gu
                acc_dot += gse * acczr[j]
                if zero_reset:
                    gu *= one - min(abs(S[t, m]), one)
                g = gu + gse * accg[j] * kk
                g += (pp if h > zero else zero) - (nn_ if h < zero else zero)
                gI[t, m] = g
                gU[j] = lam * g
            dots[b, t] = acc_dot if learn_alpha else zero


def n_blocks(M: int) -> int:
    return (M + BLOCK - 1) // BLOCK


def forward(I: np.ndarray, theta, K, bipolar, reset, lam, S, H) -> np.ndarray:
    """Run :func:`cf_forward`; returns per-step (sum h, sum |h|) as float64 [T, 2]."""
    T, M = I.shape
    dt = H.dtype.type
    sums = np.zeros((n_blocks(M), T, 2), dtype=np.float64)
    cf_forward(I, dt(theta), dt(K), dt(-K if bipolar else 0), dt(lam), reset == "zero",
               S, H, sums, dt(0), dt(1))
    return sums.sum(axis=0)


def backward(H, S, gS, alphas, theta, K, bipolar, reset, lam, full_reset_grad, gp, gn,
             learn_alpha, gI) -> np.ndarray:
    """Run :func:`cf_backward`; returns sum over neurons of gse * sum_e z_e r_e, [T]."""
    T, M = H.shape
    dt = H.dtype.type
    a = np.asarray(alphas, dtype=np.float64)
    c_t = (math.pi * a / 2).astype(H.dtype)
    k_t = (a / (2 * theta)).astype(H.dtype)
    dots = np.zeros((n_blocks(M), T), dtype=np.float64)
    edges = np.array(list(range(1, K + 1)) + ([-e for e in range(1, K + 1)] if bipolar else []),
                     dtype=H.dtype)
    cf_backward(H, S, gS, c_t, k_t, edges, dt(theta), reset == "zero", dt(lam),
                full_reset_grad, np.asarray(gp, H.dtype), np.asarray(gn, H.dtype), learn_alpha,
                gI, dots, dt(0), dt(1))
    return dots.sum(axis=0)


__all__ = ["forward", "backward", "BLOCK", "numba"]
