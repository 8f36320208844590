"""Computes the polynomial coefficients of dev.jgrad.tensor.kernel.VectorMath.

Each polynomial is a near-minimax fit of the function's relative error (Lawson's iteratively reweighted least
squares on Chebyshev nodes, targets from mpmath at 40 digits), printed as the float literals VectorMath uses. The
accuracy of the finished float functions is measured in Java by VectorMathTest, not here.

    /usr/bin/python3 lib-tensor/src/test/python/fit_vector_math.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40


def lawson(xs, target, weight, degree, iterations=400):
    """Coefficients (lowest first) minimising max |weight * (P(xs) - target)|, and that maximum."""
    a = np.vstack([xs**k for k in range(degree + 1)]).T * weight[:, None]
    b = target * weight
    w = np.ones(len(xs)) / len(xs)
    for _ in range(iterations):
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
        e = np.abs(a @ c - b)
        w = w * e
        w /= w.sum()
    return c, np.max(np.abs(a @ c - b))


def chebyshev_nodes(lo, hi, m=4000):
    k = np.arange(m)
    xs = (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / m)
    return xs[np.abs(xs) > 1e-9]


def values(f, xs):
    return np.array([float(f(mp.mpf(v))) for v in xs])


def report(name, first_power, c, err):
    literals = ", ".join(f"C{first_power + k * (2 if name == 'tanh' else 1)} = {np.float32(v)!r}f" for k, v in enumerate(c))
    print(f"{name}: relative error of the fit {err:.3g} (2^{np.log2(err):.1f}); {literals}")


# exp(r) = 1 + r + r^2 P(r) for |r| <= ln(2)/2 (a little wider, for the rounding of r); P of degree 4.
r = chebyshev_nodes(-0.3466 * 1.01, 0.3466 * 1.01)
c, err = lawson(r, values(lambda v: (mp.exp(v) - 1 - v) / v**2, r), r**2 / np.exp(r), 4)
report("exp", 2, c, err)

# log(1 + f) = f + f^2 P(f) for sqrt(1/2) - 1 <= f < sqrt(2) - 1; P of degree 8.
f = chebyshev_nodes(np.sqrt(0.5) - 1 - 1e-4, np.sqrt(2) - 1 + 1e-4)
c, err = lawson(f, values(lambda v: (mp.log1p(v) - v) / v**2, f), np.abs(f**2 / values(mp.log1p, f)), 8)
report("log", 2, c, err)

# tanh(a) = a + a^3 P(a^2) for 0 <= a <= 0.625; P of degree 4 in a^2.
a = chebyshev_nodes(1e-4, 0.63)
c, err = lawson(a**2, values(lambda v: (mp.tanh(v) - v) / v**3, a), np.abs(a**3 / values(mp.tanh, a)), 4)
report("tanh", 3, c, err)
