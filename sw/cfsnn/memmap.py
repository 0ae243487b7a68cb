"""The core's memory map and build parameters: defined once, used by the RTL, tests and driver.

The host sees a flat space of 32-bit words at word addresses (``ADDR_BITS`` wide). The top
four bits select a region, the rest is the offset inside it:

=========  ====================================================================
region     offset meaning
=========  ====================================================================
REG        registers (:class:`Reg`) and per-layer configuration (:func:`layer_reg`)
WEIGHT     ``word * lanes + lane``: the weight of neuron ``g*lanes+lane`` for one input
THETA      global neuron index ``word * lanes + lane``: threshold (CF layers)
BIAS       global neuron index: bias, in accumulator units
MEMBRANE   global neuron index: membrane U (the readout's U are the logits)
INPUT      ``t * n_in + i`` (per-step input) or ``i`` (static input): an input code
SPIKE      ``(t * neuron_words + word) * lanes + lane``: spike of a neuron at step t (read only)
=========  ====================================================================

Layer ``l`` occupies neuron words ``[neuron_base, neuron_base + G)`` with
``G = ceil(n_out / lanes)`` and weight words ``[weight_base, weight_base + n_in * G)``:
the weights of input ``i`` are the ``G`` words from ``weight_base + i * G``.
:func:`plan` lays a model out and :func:`model_writes` lists every (address, value) write
that loads it; :func:`BuildParams.check_fits` says why a model does not fit a build.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

import numpy as np

from . import formats as F

ADDR_BITS = 24
DATA_BITS = 32
REGION_SHIFT = 20
OFFSET_MASK = (1 << REGION_SHIFT) - 1
MAGIC = 0x4346534E          # "CFSN"
MAP_VERSION = 2


class Region(enum.IntEnum):
    REG = 0
    WEIGHT = 1
    THETA = 2
    BIAS = 3
    MEMBRANE = 4
    INPUT = 5
    SPIKE = 6


class Reg(enum.IntEnum):
    """Register word offsets inside Region.REG."""
    ID = 0x00                # MAGIC
    VERSION = 0x01           # MAP_VERSION
    LANES = 0x02
    MAX_LAYERS = 0x03
    MAX_NEURONS = 0x04       # per layer
    NEURON_WORDS = 0x05      # depth of the neuron memories (words of `lanes` neurons)
    WEIGHT_WORDS = 0x06
    INPUT_DEPTH = 0x07       # input codes the input memory holds
    T_MAX = 0x08
    WIDTHS = 0x09            # w_bits | v_bits << 8 | acc_bits << 16 | in_bits << 24
    K_MAX = 0x0A
    FIRE_LANES = 0x0B        # neurons the fire stage updates per cycle (divides LANES)
    CTRL = 0x10              # write CTRL_START to run; CTRL_CLEAR clears done/error flags
    STATUS = 0x11            # see Status
    T = 0x12
    N_LAYERS = 0x13
    V_BITS = 0x14
    INPUT_MODE = 0x15        # 0: static (same codes every step), 1: one frame per step
    CYCLES = 0x18            # cycles of the last inference
    EVENTS = 0x19            # non-zero inputs processed (all layers and steps)
    PREDICTION = 0x1A
    SYNOPS = 0x1B            # synaptic operations: non-zero inputs x fan-out
    SPIKES = 0x20            # + layer: non-zero spikes of that layer in the last inference
    LAYER = 0x40             # + layer * LAYER_STRIDE + LayerField


LAYER_STRIDE = 8
#: The read-only build registers are ``Reg.ID .. N_INFO - 1`` (INFO returns them in order).
N_INFO = int(Reg.FIRE_LANES) + 1


class LayerField(enum.IntEnum):
    KIND = 0                 # 0 cf, 1 readout
    N_IN = 1
    N_OUT = 2
    K = 3
    FLAGS = 4                # bit 0 bipolar, bit 1 reset to zero
    LEAK = 5
    WEIGHT_BASE = 6          # in weight words
    NEURON_BASE = 7          # in neuron words


#: Widths of the writable registers (the core keeps these many low bits of a write).
CONFIG_BITS = {"T": 16, "N_LAYERS": 16, "V_BITS": 16, "INPUT_MODE": 1}
LAYER_FIELD_BITS = {LayerField.KIND: 1, LayerField.N_IN: 16, LayerField.N_OUT: 16,
                    LayerField.K: 16, LayerField.FLAGS: 2, LayerField.LEAK: 16,
                    LayerField.WEIGHT_BASE: 32, LayerField.NEURON_BASE: 32}


class Ctrl(enum.IntFlag):
    START = 1
    CLEAR = 2


class Status(enum.IntFlag):
    BUSY = 1
    DONE = 2
    ERROR = 4
    ACCESS_WHILE_BUSY = 8    # sticky: the host touched a memory while the core ran
    BAD_ADDRESS = 16         # sticky: the host wrote past the end of a memory
    # bits 8..15: ErrorCode, bits 16..19: the layer it concerns


STATUS_CODE_SHIFT = 8
STATUS_LAYER_SHIFT = 16


class ErrorCode(enum.IntEnum):
    NONE = 0
    BAD_T = 1
    BAD_N_LAYERS = 2
    BAD_KIND = 3
    BAD_N_OUT = 4
    BAD_N_IN = 5
    BAD_K = 6
    NEURON_OVERFLOW = 7
    WEIGHT_OVERFLOW = 8
    INPUT_OVERFLOW = 9
    BAD_V_BITS = 10
    BAD_LEAK = 11
    LAYOUT = 12              # layers' memory ranges overlap or are out of layer order


def reg_addr(reg: int) -> int:
    return (Region.REG << REGION_SHIFT) | int(reg)


def layer_reg(layer: int, field: LayerField) -> int:
    return reg_addr(Reg.LAYER + layer * LAYER_STRIDE + int(field))


def mem_addr(region: Region, offset: int) -> int:
    if not 0 <= int(offset) <= OFFSET_MASK:
        raise ValueError(f"offset {offset} is outside a region (0..{OFFSET_MASK})")
    return (int(region) << REGION_SHIFT) | int(offset)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class BuildParams:
    """What one build of the core holds. The defaults fit the digits model easily.

    lanes : neurons the synapse engine updates per cycle (a power of two)
    fire_lanes : CF neuron units of the fire stage (a power of two dividing ``lanes``;
        default ``lanes``). Fewer units make a smaller core (the iCE40 build uses 1): fire
        takes ceil(n_out / fire_lanes) cycles per layer and step instead of ceil(n_out / lanes),
        and the neuron memories are ``fire_lanes`` neurons wide
    max_layers : layers, the readout included
    max_neurons : neurons per layer
    neuron_words : depth of the neuron memories, in words of ``lanes`` neurons
    weight_words : depth of the weight memory, in words of ``lanes`` weights
    input_depth : input codes the input memory holds (T * n_in for per-step inputs)
    t_max : largest T
    w_bits, v_bits, acc_bits, in_bits : the widest model formats the build runs
    """

    lanes: int = 8
    max_layers: int = 4
    max_neurons: int = 256
    neuron_words: int = 64
    weight_words: int = 4096
    input_depth: int = 1024
    t_max: int = F.T_MAX
    w_bits: int = 8
    v_bits: int = 16
    acc_bits: int = 24
    in_bits: int = 8
    fire_lanes: int | None = None

    def __post_init__(self):
        def need(cond, msg):
            if not cond:
                raise ValueError(msg)
        need(isinstance(self.lanes, int) and self.lanes >= 1
             and self.lanes & (self.lanes - 1) == 0,
             f"lanes must be a power of two, not {self.lanes}")
        if self.fire_lanes is None:
            object.__setattr__(self, "fire_lanes", self.lanes)
        q = self.fire_lanes
        need(isinstance(q, int) and 1 <= q <= self.lanes and q & (q - 1) == 0,
             f"fire_lanes must be a power of two in [1, lanes={self.lanes}], not {q}")
        need(1 <= self.max_layers <= 16, f"max_layers must be in [1, 16], not {self.max_layers}")
        need(self.max_neurons >= 1, f"max_neurons must be >= 1, not {self.max_neurons}")
        need(self.neuron_words >= 1 and self.weight_words >= 1 and self.input_depth >= 1,
             "memory depths must be >= 1")
        need(1 <= self.t_max <= F.T_MAX, f"t_max must be in [1, {F.T_MAX}], not {self.t_max}")
        need(F.W_BITS_RANGE[0] <= self.w_bits <= F.W_BITS_RANGE[1], f"bad w_bits {self.w_bits}")
        need(F.V_BITS_RANGE[0] <= self.v_bits <= 24, f"v_bits must be in [4, 24], not {self.v_bits}")
        need(self.v_bits <= self.acc_bits <= 32, f"acc_bits must be in [v_bits, 32], not {self.acc_bits}")
        need(1 <= self.in_bits <= 8, f"in_bits must be in [1, 8], not {self.in_bits}")
        for name, words in (("weight_words x lanes", self.weight_words * self.lanes),
                            ("t_max x neuron_words x lanes", self.t_max * self.neuron_words * self.lanes),
                            ("input_depth", self.input_depth)):
            need(words <= 1 << REGION_SHIFT, f"{name} = {words} exceeds a region's "
                                             f"{1 << REGION_SHIFT} addresses")

    @property
    def k_max(self) -> int:
        return F.K_MAX

    @property
    def capacity(self) -> dict:
        return {"weights": self.weight_words * self.lanes,
                "neurons": self.neuron_words * self.lanes,
                "neurons_per_layer": self.max_neurons, "layers": self.max_layers,
                "T": self.t_max, "inputs": self.input_depth}

    def widths_word(self) -> int:
        return self.w_bits | self.v_bits << 8 | self.acc_bits << 16 | self.in_bits << 24

    def as_dict(self) -> dict:
        return asdict(self)

    def info_registers(self) -> dict:
        """Register -> value of the read-only build information."""
        return {Reg.ID: MAGIC, Reg.VERSION: MAP_VERSION, Reg.LANES: self.lanes,
                Reg.MAX_LAYERS: self.max_layers, Reg.MAX_NEURONS: self.max_neurons,
                Reg.NEURON_WORDS: self.neuron_words, Reg.WEIGHT_WORDS: self.weight_words,
                Reg.INPUT_DEPTH: self.input_depth, Reg.T_MAX: self.t_max,
                Reg.WIDTHS: self.widths_word(), Reg.K_MAX: self.k_max,
                Reg.FIRE_LANES: self.fire_lanes}

    @classmethod
    def from_info(cls, regs: dict) -> "BuildParams":
        """Rebuild the parameters from the values of the info registers (the driver's view)."""
        if regs[Reg.ID] != MAGIC:
            raise ValueError(f"not a cfsnn core: ID register reads 0x{regs[Reg.ID]:08x}")
        if regs[Reg.VERSION] != MAP_VERSION:
            raise ValueError(f"memory map version {regs[Reg.VERSION]} is not {MAP_VERSION}")
        w = regs[Reg.WIDTHS]
        return cls(lanes=regs[Reg.LANES], max_layers=regs[Reg.MAX_LAYERS],
                   max_neurons=regs[Reg.MAX_NEURONS], neuron_words=regs[Reg.NEURON_WORDS],
                   weight_words=regs[Reg.WEIGHT_WORDS], input_depth=regs[Reg.INPUT_DEPTH],
                   t_max=regs[Reg.T_MAX], w_bits=w & 0xFF, v_bits=(w >> 8) & 0xFF,
                   acc_bits=(w >> 16) & 0xFF, in_bits=(w >> 24) & 0xFF,
                   fire_lanes=regs[Reg.FIRE_LANES])

    def check_fits(self, model, dynamic: bool = True) -> list[str]:
        """Reasons why ``model`` cannot run on this build (empty if it fits)."""
        p = []
        if model.T > self.t_max:
            p.append(f"T={model.T} exceeds the build's t_max={self.t_max}")
        if len(model.layers) > self.max_layers:
            p.append(f"{len(model.layers)} layers exceed the build's max_layers={self.max_layers}")
        for name in ("w_bits", "v_bits", "in_bits"):
            if getattr(model, name) > getattr(self, name):
                p.append(f"model {name}={getattr(model, name)} exceeds the build's {name}="
                         f"{getattr(self, name)}")
        if model.acc_bits > self.acc_bits:
            p.append(f"model acc_bits={model.acc_bits} exceeds the build's acc_bits={self.acc_bits}")
        for i, l in enumerate(model.layers):
            if l.n_out > self.max_neurons:
                p.append(f"layer {i} has {l.n_out} neurons, more than the build's "
                         f"max_neurons={self.max_neurons}")
        from .protocol import max_run_logits
        if model.n_classes > max_run_logits(self.max_layers):
            p.append(f"{model.n_classes} classes exceed the {max_run_logits(self.max_layers)} logits "
                     f"a RUN reply carries on this build")
        if model.n_in > self.input_depth:
            p.append(f"{model.n_in} inputs exceed the build's input_depth={self.input_depth}")
        elif dynamic and model.T * model.n_in > self.input_depth:
            p.append(f"T x inputs = {model.T * model.n_in} per-step input codes exceed the "
                     f"build's input_depth={self.input_depth}")
        nw = sum(ceil_div(l.n_out, self.lanes) for l in model.layers)
        if nw > self.neuron_words:
            p.append(f"the model needs {nw} neuron words ({nw * self.lanes} neurons), more than "
                     f"the build's neuron_words={self.neuron_words}")
        ww = sum(l.n_in * ceil_div(l.n_out, self.lanes) for l in model.layers)
        if ww > self.weight_words:
            p.append(f"the model needs {ww} weight words ({ww * self.lanes} weights with padding), "
                     f"more than the build's weight_words={self.weight_words}")
        return p


@dataclass(frozen=True)
class LayerPlan:
    weight_base: int
    neuron_base: int
    groups: int


def plan(model, params: BuildParams) -> list[LayerPlan]:
    """Memory layout of ``model``: layers packed one after the other."""
    out, wb, nb = [], 0, 0
    for l in model.layers:
        g = ceil_div(l.n_out, params.lanes)
        out.append(LayerPlan(wb, nb, g))
        wb += l.n_in * g
        nb += g
    return out


def _u32(v: int) -> int:
    return int(v) & 0xFFFFFFFF


def config_writes(model, params: BuildParams, dynamic: bool) -> list[tuple[int, int]]:
    """Register writes that configure ``model`` (T, layers, v_bits, input mode)."""
    w = [(reg_addr(Reg.T), model.T), (reg_addr(Reg.N_LAYERS), len(model.layers)),
         (reg_addr(Reg.V_BITS), model.v_bits), (reg_addr(Reg.INPUT_MODE), int(dynamic))]
    for i, (l, lp) in enumerate(zip(model.layers, plan(model, params))):
        cf = l.kind == "cf"
        w += [(layer_reg(i, LayerField.KIND), 0 if cf else 1),
              (layer_reg(i, LayerField.N_IN), l.n_in), (layer_reg(i, LayerField.N_OUT), l.n_out),
              (layer_reg(i, LayerField.K), l.K if cf else 0),
              (layer_reg(i, LayerField.FLAGS), (int(l.bipolar) | int(l.reset == "zero") << 1) if cf else 0),
              (layer_reg(i, LayerField.LEAK), l.leak_shift),
              (layer_reg(i, LayerField.WEIGHT_BASE), lp.weight_base),
              (layer_reg(i, LayerField.NEURON_BASE), lp.neuron_base)]
    return w


def model_writes(model, params: BuildParams, dynamic: bool = False) -> list[tuple[int, int]]:
    """Every (address, value) write that loads ``model``: configuration, weights, thresholds,
    biases. Padding lanes get zero weights and biases and threshold 1. Raises ValueError if
    the model does not fit."""
    problems = params.check_fits(model, dynamic)
    if problems:
        raise ValueError("; ".join(problems))
    P = params.lanes
    writes = config_writes(model, params, dynamic)
    for l, lp in zip(model.layers, plan(model, params)):
        W = np.zeros((lp.groups * P, l.n_in), np.int64)
        W[:l.n_out] = l.weight
        # word (weight_base + i*G + g), lane j  <-  W[g*P + j, i]
        order = W.T.reshape(l.n_in, lp.groups, P)             # [i, g, j]
        base = lp.weight_base * P
        for k, v in enumerate(order.reshape(-1)):
            writes.append((mem_addr(Region.WEIGHT, base + k), _u32(v)))
        n0 = lp.neuron_base * P
        b = np.zeros(lp.groups * P, np.int64)
        b[:l.n_out] = l.bias
        th = np.ones(lp.groups * P, np.int64)
        if l.kind == "cf":
            th[:l.n_out] = l.theta
        writes += [(mem_addr(Region.BIAS, n0 + k), _u32(b[k])) for k in range(lp.groups * P)]
        writes += [(mem_addr(Region.THETA, n0 + k), _u32(th[k])) for k in range(lp.groups * P)]
    return writes


def input_writes(model, codes) -> list[tuple[int, int]]:
    """Writes of one sample's codes: [N_in] (static) or [T, N_in] (per step)."""
    c = np.asarray(codes, dtype=np.int64).reshape(-1)
    return [(mem_addr(Region.INPUT, k), int(v)) for k, v in enumerate(c)]


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def stored_value(addr: int, value: int, params: BuildParams) -> int:
    """What reading ``addr`` back returns after ``value`` was written there (32-bit word)."""
    region, off = addr >> REGION_SHIFT, addr & OFFSET_MASK
    v = int(value)

    def sx(bits):
        return to_signed(v, bits) & 0xFFFFFFFF
    if region == Region.WEIGHT:
        return sx(params.w_bits)
    if region == Region.THETA:
        return v & ((1 << params.v_bits) - 1)
    if region == Region.BIAS:
        return sx(params.acc_bits)
    if region == Region.MEMBRANE:
        return sx(params.v_bits)
    if region == Region.INPUT:
        return v & 0xFF
    if region == Region.REG:
        for name, bits in CONFIG_BITS.items():
            if off == Reg[name]:
                return v & ((1 << bits) - 1)
        if off >= Reg.LAYER:
            fld = LayerField((off - Reg.LAYER) % LAYER_STRIDE)
            return v & ((1 << LAYER_FIELD_BITS[fld]) - 1)
    return v & 0xFFFFFFFF


def decode_writes(writes, params: BuildParams):
    """Rebuild the model and the last input codes from a log of bus writes, keeping only the
    bits the core stores: what the hardware actually received. Returns (model, codes, dynamic);
    the model is not validated (it is what the core will compute with)."""
    from .model import Layer, Model   # local: model.py does not depend on the memory map
    img = {}
    for a, v in writes:
        img[int(a)] = int(v) & 0xFFFFFFFF
    P = params.lanes

    def reg(r, default=0):
        a = reg_addr(r)
        return stored_value(a, img.get(a, default), params)

    def lreg(l, f):
        a = layer_reg(l, f)
        return stored_value(a, img.get(a, 0), params)

    T, L = reg(Reg.T), reg(Reg.N_LAYERS)
    dynamic = bool(reg(Reg.INPUT_MODE) & 1)
    layers = []
    for l in range(L):
        n_in, n_out = lreg(l, LayerField.N_IN), lreg(l, LayerField.N_OUT)
        G = ceil_div(n_out, P)
        wb, nb = lreg(l, LayerField.WEIGHT_BASE), lreg(l, LayerField.NEURON_BASE)
        W = np.zeros((n_out, n_in), np.int64)
        for i in range(n_in):
            for j in range(n_out):
                a = mem_addr(Region.WEIGHT, (wb + i * G + j // P) * P + j % P)
                W[j, i] = to_signed(img.get(a, 0), params.w_bits)
        n0 = nb * P
        b = np.array([to_signed(img.get(mem_addr(Region.BIAS, n0 + j), 0), params.acc_bits)
                      for j in range(n_out)], np.int64)
        th = np.array([img.get(mem_addr(Region.THETA, n0 + j), 0) & ((1 << params.v_bits) - 1)
                       for j in range(n_out)], np.int64)
        flags = lreg(l, LayerField.FLAGS)
        if lreg(l, LayerField.KIND) & 1:
            layers.append(Layer("readout", W, b, None, leak_shift=lreg(l, LayerField.LEAK)))
        else:
            layers.append(Layer("cf", W, b, th, K=lreg(l, LayerField.K), bipolar=bool(flags & 1),
                                reset="zero" if flags & 2 else "subtract",
                                leak_shift=lreg(l, LayerField.LEAK)))
    model = Model(T=T, layers=layers, in_bits=params.in_bits, v_bits=reg(Reg.V_BITS),
                  w_bits=params.w_bits, acc_bits=params.acc_bits)
    n_in = layers[0].n_in if layers else 0
    n = T * n_in if dynamic else n_in
    codes = np.array([img.get(mem_addr(Region.INPUT, k), 0) & 0xFF for k in range(n)], np.int64)
    return model, (codes.reshape(T, n_in) if dynamic else codes), dynamic
