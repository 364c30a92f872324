"""The choices of edgec's options, in one place: the CLI's argument lists, the build's
checks and the modules that act on them all read these (a leaf module: no numpy, no
torch, so the CLI can build its parser before anything heavy is imported)."""

PRESETS = {"int8": (8, 8), "int4": (4, 4), "w2a2": (2, 2), "w1a1": (1, 1)}  # name -> (weight bits, activation bits)
DEFAULT_PRESET = "w2a2"
WINOGRAD_MODES = ("off", "f2", "f4", "auto")
SPARSE_MODES = ("off", "on", "auto")
REQUANT_MODES = ("auto", "on", "off")  # --requant: integer requantizers instead of thresholds
PRUNE_MODES = ("unstructured", "channel")
PRUNE_DOMAINS = ("spatial", "winograd")
LOWRANK_CONV = ("tucker", "separable")
VIVADO_IPS = ("hls", "rtl")
CSIM_VIEWS = ("csim", "synth")
SIMULATORS = ("icarus", "verilator")
SIM_ENGINES = ("auto", "torch", "numpy")  # the generated simulator's engines (OUT/sim/model.py ENGINES)
# `edgec verify --reference`: auto (the one the build kept), or qonnx, torch (the fake-quant reference), onnxruntime
VERIFY_REFERENCES = ("auto", "qonnx", "torch", "onnxruntime", "pytorch")

__all__ = ["PRESETS", "DEFAULT_PRESET", "WINOGRAD_MODES", "SPARSE_MODES", "REQUANT_MODES", "PRUNE_MODES",
           "PRUNE_DOMAINS", "LOWRANK_CONV", "VIVADO_IPS", "CSIM_VIEWS", "SIMULATORS", "SIM_ENGINES",
           "VERIFY_REFERENCES"]
