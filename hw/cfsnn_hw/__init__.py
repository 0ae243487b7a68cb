"""cfsnn gateware (Amaranth 0.5): the fixed-point circulate-firing inference core.

Widths, the memory map and the build parameters come from :mod:`cfsnn.formats` and
:mod:`cfsnn.memmap`; the semantics are those of :mod:`cfsnn.golden` (docs/SPEC.md).
"""

from .core import CFCore
from .lane import CFLane

__all__ = ["CFCore", "CFLane"]
