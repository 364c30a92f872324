"""Graph -> Graph passes, each a pure function in its own file, run in this order."""
from .acc_widths import infer_acc_widths
from .choose_kernels import choose_kernels
from .fold_signs import fold_signs
from .fold_thresholds import fold_thresholds
from .nhwc_flatten import nhwc_flatten
from .sparse import sparse
from .winograd import winograd
from .xnor_popcount import xnor_popcount

PIPELINE = [
    ("infer_acc_widths", infer_acc_widths),
    ("fold_thresholds", fold_thresholds),
    ("fold_signs", fold_signs),
    ("winograd", winograd),
    ("xnor_popcount", xnor_popcount),
    ("nhwc_flatten", nhwc_flatten),
    ("infer_acc_widths", infer_acc_widths),
    ("choose_kernels", choose_kernels),
    ("sparse", sparse),
]


def run_pipeline(g, on_pass=None):
    """Run every pass; ``on_pass(index, name, graph)`` sees the graph after each."""
    for i, (name, fn) in enumerate(PIPELINE):
        g = fn(g)
        if on_pass is not None:
            on_pass(i + 1, name, g)
    return g
