"""Fixed-point formats: the one place that says how wide every number is.

The PyTorch fake-quantiser, the exporter, the model-file loader, the numpy golden model,
the RTL and the driver all take their widths and ranges from here (see docs/SPEC.md,
section "Integer form"). No other module writes a width as a literal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Largest number of time steps a model may have.
T_MAX = 16
#: Largest circulate count K (spikes are signed integers in [-K, K]).
K_MAX = 7
#: Largest leak shift k (lam = 1 - 2^-k).
LEAK_SHIFT_MAX = 15
#: Width of a spike on the wire and in spike memories: signed, holds [-K_MAX, K_MAX].
SPIKE_BITS = 4
#: Allowed ranges of the per-model widths, inclusive.
IN_BITS_RANGE = (1, 8)
W_BITS_RANGE = (2, 16)
V_BITS_RANGE = (4, 32)
ACC_BITS_RANGE = (8, 48)  # <= 48 keeps every partial sum exact in float64 (golden matmul)

RESETS = ("subtract", "zero")
KINDS = ("cf", "readout")


def signed_range(bits: int) -> tuple[int, int]:
    """Inclusive range of a two's-complement number of ``bits`` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def unsigned_max(bits: int) -> int:
    """Largest unsigned number of ``bits`` bits."""
    return (1 << bits) - 1


def weight_qmax(w_bits: int) -> int:
    """Largest magnitude the quantiser produces (symmetric: [-qmax, qmax])."""
    return (1 << (w_bits - 1)) - 1


def spike_range(K: int, bipolar: bool) -> tuple[int, int]:
    """Inclusive range of the spikes of a CF layer."""
    return (-K if bipolar else 0), K


def leak_lambda(leak_shift: int) -> float:
    """Float leak factor that the integer leak ``U - (U >> k)`` approximates."""
    return 1.0 if leak_shift == 0 else 1.0 - 2.0 ** (-leak_shift)


@dataclass(frozen=True)
class Formats:
    """Widths of one model (SPEC section 4).

    Attributes
    ----------
    in_bits : unsigned input code width, codes in [0, 2^in_bits - 1]
    w_bits : signed weight width
    v_bits : signed membrane width; H saturates to this range
    acc_bits : signed width of the exact synaptic accumulator
    """

    in_bits: int = 4
    w_bits: int = 8
    v_bits: int = 16
    acc_bits: int = 24

    def __post_init__(self):
        for name, (lo, hi) in (("in_bits", IN_BITS_RANGE), ("w_bits", W_BITS_RANGE),
                               ("v_bits", V_BITS_RANGE), ("acc_bits", ACC_BITS_RANGE)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, not {v!r}")
            if not lo <= v <= hi:
                raise ValueError(f"{name} must be in [{lo}, {hi}], not {v}")

    @property
    def in_max(self) -> int:
        return unsigned_max(self.in_bits)

    @property
    def w_range(self) -> tuple[int, int]:
        return signed_range(self.w_bits)

    @property
    def v_range(self) -> tuple[int, int]:
        return signed_range(self.v_bits)

    @property
    def acc_range(self) -> tuple[int, int]:
        return signed_range(self.acc_bits)

    @property
    def theta_range(self) -> tuple[int, int]:
        """A threshold is at least 1 and at most the largest membrane value."""
        return 1, signed_range(self.v_bits)[1]

    def as_dict(self) -> dict:
        return asdict(self)
