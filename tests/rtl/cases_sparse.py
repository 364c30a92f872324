"""Random cases of this family of hw/rtl kernels for the sweep top (tests/rtl/sweep.py):
edgec_smvau on sparse_stream weight images, the same problems as tests/hls/cases_sparse.py
(0%, 50%, 90% sparsity, all-zero rows, PE and SIMD > 1, bipolar inputs, four weight sets)."""

LINT_PARAMS: dict[str, list[str]] = {
    "edgec_smvau.v": [
        "",
        "-GMW=1 -GIXB=1 -GMH=1 -GSTEPS=1",
        "-GMW=6 -GIN_E=3 -GPE=2 -GSIMD=3 -GXBIP=1 -GXB=1 -GIXB=3 -GNT=1 -GBIPOLAR=1 -GOB=1 -GCB=8",
        "-GMW=40 -GIN_E=40 -GXB=8 -GXS=1 -GWB=8 -GIXB=6 -GAB=20 -GCB=22 -GOB=21 -GSIMD=4 -GSTEPS=17 -GSETS=4 "
        "-GVECTORS=8",
        "-GMW=5 -GIXB=3 -GNT=3 -GOB=2 -GAB=6 -GCB=8 -GSIMD=2 -GPE=4 -GMH=12 -GSTEPS=3 -GXS=1",
        "-GMW=16 -GIN_E=4 -GIXB=4 -GAB=3 -GOB=3 -GCB=4 -GXB=4 -GWB=4",
        "-GMW=5 -GIXB=3 -GNT=3 -GOB=2 -GAB=6 -GCB=8 -GSIMD=2 -GPE=4 -GMH=12 -GSTEPS=3 -GXS=1 -GSIGNED_STEPS=1",
    ],
}


def sparse_case(i: int, rng, variant, steps: bool = False):
    """``steps`` (a variant of one weight set): always an activation, with signed steps."""
    from edgec.backend import rtl_mem
    from edgec.ir import ref

    from ..hls.cases_sparse import sparse_problem
    from ..hls.kernel_cases import some_thresholds
    from .sweep import act_files, simple, words

    vec, frames = 0, 2

    def vectors(sets):
        nonlocal vec
        vec = sets * int(rng.integers(1, 3))
        return frames * vec

    p = sparse_problem(rng, variant, vectors, max_mw=30, max_mh=10)
    params = dict(MW=p.mw, MH=p.mh, PE=p.pe, SIMD=p.simd, IN_E=p.in_e, XB=p.xt.bits, XS=int(p.xt.signed),
                  XBIP=int(p.xt.bipolar), WB=p.wt.bits, IXB=p.ixb, AB=p.acct.bits)
    files = {"WFILE": rtl_mem.hex_lines(p.words, p.width)}
    if p.sets == 1 and (steps or rng.integers(0, 3)):
        thr, sign, out_lo, bipolar, ot, st = some_thresholds(rng, p.lo, p.hi, p.mh, steps, p.acc)
        ap, af = act_files(thr, sign, p.pe, p.acct.bits, out_lo, bipolar, st)
        files.update(af)
        expected = ref.multi_threshold(p.acc, thr, sign, out_lo, bipolar, st)
        params.update(ap, OB=ot.bits)
    else:
        ot, expected = p.acct, p.acc
        params.update(NT=0, CB=p.acct.bits + 1, OB=p.acct.bits)
    params.update(SETS=p.sets, STEPS=len(p.words), VECTORS=vec)
    return simple(f"smvau {p.name} mw={p.mw} mh={p.mh} pe={p.pe} simd={p.simd} in_e={p.in_e} sets={p.sets} "
                  f"x={p.xt.bits}b w={p.wt.bits}b nt={params['NT']} steps={p.cp}{' signed steps' * steps}",
                  "edgec_smvau", params,
                  p.in_e * p.xt.bits, p.pe * ot.bits, words(p.x, p.in_e, p.xt), words(expected, p.pe, ot), frames,
                  files)


def make(rng) -> list:
    from ..hls.cases_sparse import VARIANTS

    return [sparse_case(k, rng, v) for k, v in enumerate(VARIANTS)]


def make_steps(rng) -> list:
    """The variants of one weight set with an activation of signed steps."""
    from ..hls.cases_sparse import STEPS_VARIANTS

    return [sparse_case(k, rng, v, steps=True) for k, v in enumerate(STEPS_VARIANTS)]
