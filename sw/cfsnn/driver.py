"""Host driver: load a model onto the core (simulated or on a board) and run it.

    dev = open_device("sim")                     # the simulated board (Verilator, pseudo-terminal)
    dev = open_device("serial:/dev/ttyUSB1")     # a real board (optionally serial:PORT@BAUD)
    dev.info()                                   # build parameters of the core
    dev.load(model)                              # checks the fit, writes, verifies by read-back
    r = dev.infer(codes)                         # logits, predictions, cycles per sample

Every transaction is one request frame and one reply frame (cfsnn.protocol). A reply that
does not come in time, or comes corrupted, or answers another request, is not accepted:
the driver resends the request (requests are idempotent) up to ``retries`` times and then
raises a DeviceError that says what happened. Transports are small classes with
``write``, ``read`` and ``close``; the same SerialTransport talks to the simulated board and
to a real one.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from . import memmap as MM
from . import protocol as PR
from .errors import CfsnnError
from .golden import check_codes


class DeviceError(CfsnnError):
    """The device could not do what was asked; the message says why."""


class SerialTransport:
    """A serial port through pyserial (a real UART or the simulated board's pseudo-terminal)."""

    def __init__(self, port: str, baudrate: int = 3_000_000):
        import serial
        try:
            self.port = serial.Serial(port, baudrate=baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as e:
            raise DeviceError(f"cannot open serial port {port}: {e}") from None
        self.name = port

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read(self, timeout: float) -> bytes:
        """Whatever arrives within ``timeout`` seconds (returns as soon as something came)."""
        self.port.timeout = timeout
        first = self.port.read(1)
        if not first:
            return b""
        self.port.timeout = 0
        return first + self.port.read(self.port.in_waiting or 0)

    def close(self) -> None:
        self.port.close()


@dataclass
class InferResult:
    """logits [B, C], predictions [B], cycles/events/synops [B], spike_counts [B, L_cf]."""

    logits: np.ndarray
    predictions: np.ndarray
    cycles: np.ndarray
    events: np.ndarray
    synops: np.ndarray
    spike_counts: np.ndarray


class Device:
    """A cfsnn core behind a transport."""

    def __init__(self, transport, *, timeout: float = 1.0, retries: int = 5, owner=None,
                 block_words: int = PR.MAX_WRITE_WORDS, run_timeout: float = 10.0):
        self.transport, self.timeout, self.retries = transport, timeout, retries
        #: a RUN also waits for the inference: a slow clock or a big model needs longer
        self.run_timeout = max(run_timeout, timeout)
        #: words per WRITE/READ frame; halved (down to 16) whenever a frame needed a retry,
        #: so that a noisy link moves to shorter frames that get through
        self.block_words = max(1, min(block_words, PR.MAX_WRITE_WORDS))
        self._owner = owner               # the simulated board's process, if any
        self._seq = int.from_bytes(os.urandom(1), "little")   # not 1: stale replies of an
        # earlier session on the same port must not match
        self._parser = PR.FrameParser(PR.REP_SYNC)
        self._params = None
        self.link_info = None
        self.model = None
        self.dynamic = False
        self.stats = {"requests": 0, "retries": 0, "bad_replies": 0, "timeouts": 0}

    # ------------------------------------------------------------------ transactions
    def transact(self, op: PR.Op, payload: bytes = b"", timeout: float | None = None) -> bytes:
        """Send one request and return the payload of its OK reply (retrying as needed)."""
        timeout = self.timeout if timeout is None else timeout
        op_name = op.name if hasattr(op, "name") else f"opcode 0x{int(op):02x}"
        problem = "no reply"
        for attempt in range(self.retries + 1):
            self._seq = (self._seq + 1) & 0xFF
            seq = self._seq
            if attempt:
                self.stats["retries"] += 1
                # bytes left from a damaged reply (a false sync byte announcing a long frame,
                # say) would hold up the parser: start clean
                self._parser.buf.clear()
            self.stats["requests"] += 1
            self.transport.write(PR.request(seq, op, payload))
            deadline = time.monotonic() + timeout
            got = None
            while got is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                data = self.transport.read(left)
                errs = self._parser.crc_errors
                for rseq, status, body in self._parser.feed(data):
                    if rseq == seq:
                        got = (status, body)
                    # a reply to an earlier (abandoned) request is ignored
                if self._parser.crc_errors != errs:
                    self.stats["bad_replies"] += self._parser.crc_errors - errs
            if got is None:
                self.stats["timeouts"] += 1
                problem = f"no valid reply within {timeout:.2f} s"
                continue
            status, body = got
            if status == PR.Status.OK.value:
                return body
            if status == PR.Status.BAD_CRC.value:
                problem = "the device received a corrupted request (BAD_CRC)"
                continue
            name = PR.Status(status).name if status in {s.value for s in PR.Status} else f"0x{status:02x}"
            detail = ""
            if status == PR.Status.CORE_ERROR.value and len(body) >= 4:
                st = PR.unwords(body[:4])[0]
                code = (st >> MM.STATUS_CODE_SHIFT) & 0xFF
                layer = (st >> MM.STATUS_LAYER_SHIFT) & 0xF
                cname = MM.ErrorCode(code).name if code in {c.value for c in MM.ErrorCode} else code
                detail = f": the core refused the configuration ({cname}, layer {layer})"
            raise DeviceError(f"{op_name} failed with status {name}{detail}")
        raise DeviceError(f"{op_name}: gave up after {self.retries + 1} tries ({problem}) on "
                          f"{getattr(self.transport, 'name', 'the transport')}")

    def _adapt(self, retries_before: int) -> None:
        if self.stats["retries"] > retries_before:
            self.block_words = max(min(16, self.block_words), self.block_words // 2)

    def write_block(self, addr: int, words) -> None:
        words = list(words)
        i = 0
        while i < len(words):
            n = self.block_words
            before = self.stats["retries"]
            self.transact(PR.Op.WRITE, PR.write_payload(addr + i, words[i:i + n]))
            self._adapt(before)
            i += n

    def read_block(self, addr: int, count: int) -> list[int]:
        out = []
        while len(out) < count:
            n = min(self.block_words, count - len(out))
            before = self.stats["retries"]
            out += PR.unwords(self.transact(PR.Op.READ, PR.read_payload(addr + len(out), n)))
            self._adapt(before)
        return out

    # ------------------------------------------------------------------ commands
    def info(self) -> MM.BuildParams:
        """The core's build parameters (also sets ``link_info``)."""
        ws = PR.unwords(self.transact(PR.Op.INFO))
        n = MM.N_INFO
        regs = {MM.Reg(i): ws[i] for i in range(n) if i in {r.value for r in MM.Reg}}
        try:
            self._params = MM.BuildParams.from_info(regs)
        except ValueError as e:
            raise DeviceError(f"the device's build information is not valid: {e}") from None
        self.link_info = dict(zip(PR.INFO_LINK_WORDS, ws[n:]))
        return self._params

    @property
    def params(self) -> MM.BuildParams:
        return self._params if self._params is not None else self.info()

    def link_stats(self) -> dict:
        return dict(zip(PR.STATS_WORDS, PR.unwords(self.transact(PR.Op.STATS))))

    def reset(self) -> None:
        self.transact(PR.Op.RESET)

    def load(self, model, dynamic: bool = False, verify: bool = True, progress=None) -> None:
        """Check that ``model`` fits this build (refusing before writing anything), write it,
        and verify every word by reading it back."""
        params = self.params
        problems = params.check_fits(model, dynamic)
        if problems:
            raise DeviceError("the model does not fit this build: " + "; ".join(problems))
        self.model = None      # until the new model is written and verified, none is usable
        writes = MM.model_writes(model, params, dynamic)
        blocks = _blocks(writes)
        total = sum(len(ws) for _, ws in blocks)
        done = 0
        for addr, ws in blocks:
            self.write_block(addr, ws)
            done += len(ws)
            if progress:
                progress(done, total, "write")
        if verify:
            done = 0
            for addr, ws in blocks:
                got = self.read_block(addr, len(ws))
                want = [MM.stored_value(addr + i, w, params) for i, w in enumerate(ws)]
                if got != want:
                    i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
                    raise DeviceError(f"read-back of address 0x{addr + i:06x} gave 0x{got[i]:08x}, "
                                      f"0x{want[i]:08x} was written")
                done += len(ws)
                if progress:
                    progress(done, total, "verify")
        self.model, self.dynamic = model, dynamic

    def infer(self, codes, progress=None) -> InferResult:
        """Run a batch of codes ([B, N_in] static or [B, T, N_in]) through the loaded model."""
        if self.model is None:
            raise DeviceError("no model loaded (call load() first)")
        model = self.model
        x = check_codes(model, codes)
        if (x.shape[1] != 1) and not self.dynamic:
            raise DeviceError("per-step inputs need a model loaded with dynamic=True")
        rows = []
        n = model.n_classes
        n_cf = len(model.cf_layers)
        for b in range(len(x)):
            sample = x[b, 0] if not self.dynamic else np.broadcast_to(x[b], (model.T, model.n_in))
            codes = bytes(np.asarray(sample, np.uint8).reshape(-1))
            if len(codes) > PR.MAX_PAYLOAD:     # too long for one frame: write, then RUN
                self.write_block(MM.mem_addr(MM.Region.INPUT, 0), list(codes))
                codes = b""
            body = PR.unwords(self.transact(PR.Op.RUN, codes, timeout=self.run_timeout))
            if len(body) != 6 + n + n_cf or body[4] != n or body[5 + n] != n_cf:
                raise DeviceError(f"RUN reply of {len(body)} words does not match the loaded "
                                  f"model ({n} logits, {n_cf} CF layers)")
            rows.append(body)
            if progress:
                progress(b + 1, len(x), "infer")
        logits = np.array([[MM.to_signed(v, 32) for v in r[5:5 + n]] for r in rows], np.int64)
        return InferResult(logits=logits, predictions=np.array([r[0] for r in rows]),
                           cycles=np.array([r[1] for r in rows]), events=np.array([r[2] for r in rows]),
                           synops=np.array([r[3] for r in rows]),
                           spike_counts=np.array([r[6 + n:] for r in rows]).reshape(len(rows), -1))

    def close(self) -> None:
        try:
            self.transport.close()
        finally:
            if self._owner is not None:
                try:
                    self._owner.stdin.close()
                    self._owner.wait(timeout=5)
                except Exception:  # noqa: BLE001 - make sure the process goes
                    self._owner.kill()
                self._owner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _blocks(writes):
    """Group (address, value) writes into runs of consecutive addresses."""
    blocks = []
    for a, v in writes:
        if blocks and blocks[-1][0] + len(blocks[-1][1]) == a:
            blocks[-1][1].append(v)
        else:
            blocks.append((a, [v]))
    return blocks


def open_device(spec: str, *, timeout: float = 1.0, retries: int = 5, log=None, **sim_kw) -> Device:
    """``"sim"`` (the simulated board; keyword arguments ``params``, ``clocks_per_bit``) or
    ``"serial:PORT"`` / ``"serial:PORT@BAUD"``."""
    if spec == "sim":
        from cfsnn_hw import simboard
        proc, pty = simboard.start(log=log, **sim_kw)
        try:
            return Device(SerialTransport(pty), timeout=timeout, retries=retries, owner=proc)
        except BaseException:
            proc.kill()
            raise
    if spec.startswith("serial:") and len(spec) > 7:
        port, _, baud = spec[7:].partition("@")
        try:
            rate = int(baud) if baud else 3_000_000
        except ValueError:
            raise DeviceError(f"bad baud rate in {spec!r}") from None
        return Device(SerialTransport(port, rate), timeout=timeout, retries=retries)
    raise DeviceError(f"unknown device {spec!r} (use 'sim' or 'serial:PORT[@BAUD]')")


class FaultyTransport:
    """Wraps a transport and damages the traffic, for tests. Every rate is per byte: a byte
    sent may have a bit flipped, be dropped, be duplicated, or have garbage inserted before
    it; a byte received may have a bit flipped, or stall the reply past the timeout (and so
    lose it). Seeded."""

    def __init__(self, inner, rng, *, flip=0.0, drop=0.0, dup=0.0, insert=0.0,
                 reply_flip=0.0, stall=0.0):
        self.inner, self.rng = inner, rng
        self.rates = dict(flip=flip, drop=drop, dup=dup, insert=insert)
        self.reply_flip, self.stall = reply_flip, stall
        self.injected = {"flip": 0, "drop": 0, "dup": 0, "insert": 0, "reply_flip": 0, "stall": 0}
        self.name = f"faulty({getattr(inner, 'name', '?')})"

    def write(self, data: bytes) -> None:
        out = bytearray()
        r = self.rng
        for b in data:
            if r.random() < self.rates["insert"]:
                out += bytes(r.integers(0, 256, size=int(r.integers(1, 4))).tolist())
                self.injected["insert"] += 1
            if r.random() < self.rates["drop"]:
                self.injected["drop"] += 1
                continue
            if r.random() < self.rates["flip"]:
                b ^= 1 << int(r.integers(8))
                self.injected["flip"] += 1
            out.append(b)
            if r.random() < self.rates["dup"]:
                out.append(b)
                self.injected["dup"] += 1
        self.inner.write(bytes(out))

    def read(self, timeout: float) -> bytes:
        data = self.inner.read(timeout)
        if not data:
            return data
        r = self.rng
        if r.random() < 1 - (1 - self.stall) ** len(data):
            self.injected["stall"] += 1
            time.sleep(timeout)       # the reply arrives too late, and is then lost
            return b""
        d = bytearray(data)
        for i in np.flatnonzero(r.random(len(d)) < self.reply_flip):
            d[i] ^= 1 << int(r.integers(8))
            self.injected["reply_flip"] += 1
        return bytes(d)

    def close(self) -> None:
        self.inner.close()
