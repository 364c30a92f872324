"""The generated PYNQ driver (OUT/driver/driver.py) off the board: its transfer plan, and
its checks (ap_idle before a start, the bytes the S2MM transfer received), against a
pure-Python board whose accelerator is the generated simulator. (edgec cosim runs the same
driver against the RTL and a DMA model: tests/test_cosim.py.)"""
import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest

from edgec import build
from edgec.backend import sim as sim_backend


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("driver") / "w1a1"
    build(None, d, preset="w1a1", finetune_epochs=0, progress=None)
    return d


def load(path):
    spec = importlib.util.spec_from_file_location(f"drv{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Board:
    """AXI DMA + accelerator, as the driver sees them: registers and channel calls. The
    accelerator computes a run's outputs with the simulator when its input has arrived."""

    def __init__(self, drv, sim, short=0, stuck=False):
        self.drv, self.sim, self.short, self.stuck = drv, sim, short, stuck
        self.regs = {drv.CTRL: drv.AP_IDLE, drv.FRAMES_REG: 0}
        self.log = []
        self.recv = None
        self.length = 0
        board = self

        class Ch:
            def __init__(self, name):
                self.name = name

            def transfer(self, array, start=0, nbytes=0):
                board.log.append((self.name, start, nbytes))
                if self.name == "recv":
                    board.recv = (array, start, nbytes)
                else:
                    board.compute(np.asarray(array[start:start + nbytes]))

            def wait(self):
                pass

        self.dma = SimpleNamespace(sendchannel=Ch("send"), recvchannel=Ch("recv"), read=self.dma_read)
        self.ip = SimpleNamespace(read=self.read, write=self.write)

    def read(self, off):
        return 0 if self.stuck else self.regs[off]

    def write(self, off, v):
        self.log.append(("write", off, v))
        self.regs[off] = v
        if off == self.drv.CTRL and v & self.drv.AP_START:
            self.regs[self.drv.CTRL] = 0  # running until the input has been sent

    def dma_read(self, off):
        assert off == self.drv.S2MM_LENGTH
        return self.length

    def compute(self, raw):
        d, lin = self.drv, self.drv.IN
        n = self.regs[d.FRAMES_REG]
        assert raw.size == n * d.IN_BYTES
        codes = self.sim.K.unpack_beats(raw.tobytes(), n, lin["bits"], self.sim.INPUT_LO < 0, lin["bipolar"],
                                        lin["per_word"], lin["beat_bytes"], lin["elems"])
        q = self.sim.forward(codes.reshape(n, *self.sim_shape())).reshape(n, -1)
        lo = d.OUT
        outb = self.sim.K.pack_beats(q, lo["bits"], lo["bipolar"], lo["per_word"], lo["beat_bytes"]).ravel()
        array, start, nbytes = self.recv
        got = outb[: max(0, nbytes - self.short)]
        array[start:start + got.size] = got
        self.length = got.size
        self.regs[d.CTRL] = d.AP_IDLE | d.AP_DONE

    def sim_shape(self):
        c, h, w = self.sim.INPUT_SHAPE
        return (h, w, c)


def test_driver_runs_a_batch_in_planned_runs(out):
    drv = load(out / "driver" / "driver.py")
    sim = sim_backend.load(out / "sim")
    x = np.random.default_rng(0).integers(sim.INPUT_LO, sim.INPUT_HI + 1, size=(50, *drv.INPUT_SHAPE))
    drv.MAX_TRANSFER = drv.IN_BYTES * 16 + 3  # 16 frames per run: 4 runs, the last of 2
    assert drv.transfer_plan(50) == [(0, 16), (16, 16), (32, 16), (48, 2)]
    board = Board(drv, sim)
    acc = drv.Accelerator(overlay=SimpleNamespace(axi_dma_0=board.dma, edgec_top_0=board.ip),
                          allocate=lambda shape, dtype: np.zeros(shape, dtype))
    q, y = acc.run(x)
    qs, ys = sim.run(x)
    np.testing.assert_array_equal(q, qs)
    # per run: frames, the receive transfer posted before the start, the send after it
    starts = [i for i, e in enumerate(board.log) if e == ("write", drv.CTRL, drv.AP_START)]
    assert len(starts) == 4
    for (first, count), i in zip(drv.transfer_plan(50), starts):
        assert board.log[i - 2] == ("write", drv.FRAMES_REG, count)
        assert board.log[i - 1] == ("recv", first * drv.OUT_BYTES, count * drv.OUT_BYTES)
        assert board.log[i + 1] == ("send", first * drv.IN_BYTES, count * drv.IN_BYTES)


def test_driver_refuses_a_busy_accelerator_and_a_short_transfer(out):
    drv = load(out / "driver" / "driver.py")
    sim = sim_backend.load(out / "sim")
    x = np.ones((3, *drv.INPUT_SHAPE), np.int64)
    for board, msg in ((Board(drv, sim, stuck=True), "not idle"), (Board(drv, sim, short=drv.OUT["beat_bytes"]),
                                                                    "received")):
        acc = drv.Accelerator(overlay=SimpleNamespace(axi_dma_0=board.dma, edgec_top_0=board.ip),
                              allocate=lambda shape, dtype: np.zeros(shape, dtype), timeout=0.05)
        with pytest.raises(RuntimeError, match=msg):
            acc.run(x)


def test_a_frame_larger_than_one_transfer_is_refused(out):
    drv = load(out / "driver" / "driver.py")
    drv.MAX_TRANSFER = drv.IN_BYTES - 1
    with pytest.raises(ValueError, match="exceeds one DMA transfer"):
        drv.transfer_plan(1)
