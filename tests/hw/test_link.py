"""The link bridge and the UART in Amaranth's simulator: frames in, frames out."""

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn import memmap as MM
from cfsnn import protocol as PR
from cfsnn.model import Layer, Model
from cfsnn_hw.core import CFCore
from cfsnn_hw.link import LinkBridge
from cfsnn_hw.uart import UARTRx, UARTTx

PARAMS = MM.BuildParams(lanes=4, max_layers=3, max_neurons=16, neuron_words=16,
                        weight_words=256, input_depth=64, t_max=4)


class Pair(wiring.Component):
    def __init__(self):
        self.core = CFCore(params=PARAMS)
        self.link = LinkBridge(params=PARAMS, clocks_per_bit=4)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core, m.submodules.link = self.core, self.link
        wiring.connect(m, self.link.bus, self.core.bus)
        return m


def link_run(chunks, gap=600):
    """Feed byte chunks (one byte per cycle, ``gap`` idle cycles after each chunk);
    return the replies as (seq, status, payload) and the parser."""
    dut = Pair()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = bytearray()

    async def tb(ctx):
        L = dut.link
        ctx.set(L.tx_ready, 1)
        for chunk in chunks:
            for b in chunk:
                ctx.set(L.rx_data, b)
                ctx.set(L.rx_valid, 1)
                if ctx.get(L.tx_valid):
                    out.append(ctx.get(L.tx_data))
                await ctx.tick()
            ctx.set(L.rx_valid, 0)
            for _ in range(gap):
                if ctx.get(L.tx_valid):
                    out.append(ctx.get(L.tx_data))
                await ctx.tick()
    sim.add_testbench(tb)
    sim.run()
    fp = PR.FrameParser(PR.REP_SYNC)
    return fp.feed(bytes(out)), fp


def model():
    return Model(T=2, in_bits=4, layers=[
        Layer("cf", np.array([[3, -1], [2, 2], [1, -3]]), np.array([0, 1, -1]), np.array([4, 3, 2]),
              K=2, bipolar=True, leak_shift=1),
        Layer("readout", np.array([[1, 2, -1], [-1, 0, 1]]), np.array([0, 0]))]).validate()


def load_frames(m, seq0=10):
    from cfsnn.driver import _blocks
    return [PR.request(seq0 + i, PR.Op.WRITE, PR.write_payload(a, ws))
            for i, (a, ws) in enumerate(_blocks(MM.model_writes(m, PARAMS)))]


def test_info_write_read_run():
    m = model()
    frames = [PR.request(1, PR.Op.INFO)] + load_frames(m) + [
        PR.request(100, PR.Op.READ, PR.read_payload(MM.mem_addr(MM.Region.THETA, 0), 3)),
        PR.request(101, PR.Op.RUN, bytes([3, 5])),
        PR.request(102, PR.Op.STATS)]
    replies, fp = link_run(frames)
    assert fp.crc_errors == 0 and fp.dropped == 0
    assert [r[0] for r in replies] == [1] + list(range(10, 10 + len(frames) - 4)) + [100, 101, 102]
    assert all(r[1] == PR.Status.OK.value for r in replies)
    info = PR.unwords(replies[0][2])
    regs = {MM.Reg(i): info[i] for i in range(MM.N_INFO) if i in {r.value for r in MM.Reg}}
    assert MM.BuildParams.from_info(regs) == PARAMS
    assert info[-3:] == [PR.MAX_PAYLOAD, PR.PROTOCOL_VERSION, 4]
    assert PR.unwords(replies[-3][2]) == [4, 3, 2]
    run = PR.unwords(replies[-2][2])
    g = golden.run(m, np.array([[3, 5]]))
    n = 2
    assert run[0] == g.predictions[0] and run[4] == n
    assert_array_equal([MM.to_signed(v, 32) for v in run[5:5 + n]], g.logits[0])
    assert run[5 + n] == 1 and run[6 + n] == g.spike_counts()[0, 0]
    assert PR.unwords(replies[-1][2])[:2] == [len(frames), 0]   # STATS counts itself


def test_corrupted_write_changes_nothing_and_resync():
    addr = MM.mem_addr(MM.Region.THETA, 0)
    bad = bytearray(PR.request(5, PR.Op.WRITE, PR.write_payload(addr, [7, 7, 7])))
    bad[9] ^= 0x10                                     # a flipped payload bit: CRC fails
    garbage = bytes([0x00, 0xA5, 0xFF, 0xFF, 0x13, 0x88])  # a false sync with an absurd length
    frames = [PR.request(1, PR.Op.WRITE, PR.write_payload(addr, [1, 2, 3])), bytes(bad), garbage,
              PR.request(6, PR.Op.READ, PR.read_payload(addr, 3)), PR.request(7, PR.Op.STATS)]
    replies, _ = link_run(frames)
    assert [(r[0], PR.Status(r[1]).name) for r in replies] == [
        (1, "OK"), (5, "BAD_CRC"), (6, "OK"), (7, "OK")]
    assert PR.unwords(replies[2][2]) == [1, 2, 3]      # the corrupted write wrote nothing
    st = dict(zip(PR.STATS_WORDS, PR.unwords(replies[3][2])))
    assert st["crc_errors"] == 1 and st["bad_frames"] == 1 and st["bytes_dropped"] >= 1


def test_truncated_frame_times_out():
    full = PR.request(3, PR.Op.READ, PR.read_payload(MM.reg_addr(MM.Reg.ID), 1))
    replies, _ = link_run([full[:6], PR.request(4, PR.Op.READ, PR.read_payload(MM.reg_addr(MM.Reg.ID), 1)),
                           PR.request(5, PR.Op.STATS)], gap=600)
    assert [r[0] for r in replies] == [4, 5]
    assert PR.unwords(replies[0][2]) == [MM.MAGIC]
    assert dict(zip(PR.STATS_WORDS, PR.unwords(replies[1][2])))["timeouts"] == 1


@pytest.mark.parametrize("frame,status", [
    (PR.request(9, 0x7E), "BAD_OPCODE"),
    (PR.request(9, PR.Op.INFO, b"\x00"), "BAD_LENGTH"),
    (PR.request(9, PR.Op.STATS, b"\x00"), "BAD_LENGTH"),
    (PR.request(9, PR.Op.RESET, b"\x00"), "BAD_LENGTH"),
    (PR.request(9, PR.Op.WRITE, b"\x00\x00\x10\x00\x01"), "BAD_LENGTH"),
    (PR.request(9, PR.Op.READ, b"\x00"), "BAD_LENGTH"),
    (PR.request(9, PR.Op.READ, PR.read_payload(MM.mem_addr(MM.Region.BIAS, 16 * 4), 1)), "BAD_ADDRESS"),
    (PR.request(9, PR.Op.READ, PR.read_payload(MM.mem_addr(MM.Region.BIAS, 60), 5)), "BAD_ADDRESS"),
    (PR.request(9, PR.Op.WRITE, PR.write_payload(MM.mem_addr(MM.Region.SPIKE, 0), [1])), "BAD_ADDRESS"),
    (PR.request(9, PR.Op.WRITE, PR.write_payload(0xF00000, [1])), "BAD_ADDRESS"),
    (PR.request(9, PR.Op.RUN, bytes(65)), "BAD_LENGTH"),
])
def test_refused_requests(frame, status):
    replies, _ = link_run([frame])
    assert [(r[0], PR.Status(r[1]).name) for r in replies] == [(9, status)]


def test_run_reports_core_error():
    frames = [PR.request(1, PR.Op.WRITE, PR.write_payload(MM.reg_addr(MM.Reg.T), [0])),
              PR.request(2, PR.Op.RUN, bytes([1]))]
    replies, _ = link_run(frames)
    assert PR.Status(replies[1][1]).name == "CORE_ERROR"
    st = PR.unwords(replies[1][2])[0]
    assert (st >> MM.STATUS_CODE_SHIFT) & 0xFF == MM.ErrorCode.BAD_T


def test_uart_round_trip(seeded_rng):
    """UARTTx -> UARTRx at 5 clocks per bit: every byte arrives intact."""
    data = seeded_rng.integers(0, 256, size=40).tolist()

    class Loop(wiring.Component):
        def __init__(self):
            self.tx, self.rx = UARTTx(clocks_per_bit=5), UARTRx(clocks_per_bit=5)
            super().__init__({})

        def elaborate(self, platform):
            m = Module()
            m.submodules.tx, m.submodules.rx = self.tx, self.rx
            m.d.comb += self.rx.rx.eq(self.tx.tx)
            return m
    dut = Loop()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got = []

    async def tb(ctx):
        i = 0
        for _ in range(len(data) * 60 + 100):
            if i < len(data) and ctx.get(dut.tx.ready):
                ctx.set(dut.tx.data, data[i])
                ctx.set(dut.tx.valid, 1)
                i += 1
            else:
                ctx.set(dut.tx.valid, 0)
            if ctx.get(dut.rx.valid):
                got.append(ctx.get(dut.rx.data))
            await ctx.tick()
    sim.add_testbench(tb)
    sim.run()
    assert got == data
