// edgec HLS kernel library: the matrix-vector-activation unit (MVAU) and the activations
// (PassAct, Thresholds, Requant).
//
// out[o] = act(o, sum_k w[o][k] * x[k]) for an MH x MW weight matrix, folded: PE output
// channels and SIMD inputs per cycle, (MH/PE) * (MW/SIMD) cycles per input vector.
// Output channel o = nf * PE + pe is held by processing element pe in neuron fold nf.
// Weights: W[pe][nf * (MW/SIMD) + sf] packs the SIMD weights of inputs sf*SIMD ...
// The input vector is read once (during the first neuron fold) and replayed from a buffer.
// SETS > 1 (Winograd: one matrix per tile position): vector v uses weight set v % SETS,
// W[pe][(set * NF + nf) * SF + sf].
#ifndef EDGEC_MVAU_H
#define EDGEC_MVAU_H

#include "common.h"

namespace edgec {

// Arithmetic of one SIMD-wide dot product, one per kernel kind.
enum Kind {
    XNOR_POPCOUNT = 0,  // bipolar x bipolar: number of equal bits
    BINARY_ADDSUB = 1,  // weights +-1 (one bit), integer inputs: add or subtract
    LUT_MAC = 2,        // narrow multipliers in LUTs
    DSP_MAC = 3         // multipliers in DSP48 slices
};

// One product on the multiplier the kernel kind asks for: one specialisation per
// binding, so exactly one BIND_OP pragma applies to each product.
template <bool DSP>
struct Mul;
template <>
struct Mul<true> {
    template <class R, class A, class B>
    static R apply(const A &a, const B &b) {
#pragma HLS INLINE
        R p = a * b;
#pragma HLS BIND_OP variable = p op = mul impl = dsp
        return p;
    }
};
template <>
struct Mul<false> {
    template <class R, class A, class B>
    static R apply(const A &a, const B &b) {
#pragma HLS INLINE
        R p = a * b;
#pragma HLS BIND_OP variable = p op = mul impl = fabric
        return p;
    }
};

template <int KIND, unsigned SIMD, class XT, class WT, class AccT>
struct Dot {
    static AccT apply(const ap_uint<SIMD * XT::bits> &x, const ap_uint<SIMD * WT::bits> &w) {
#pragma HLS INLINE
        AccT s = 0;
        for (unsigned i = 0; i < SIMD; i++) {
#pragma HLS UNROLL
            typename XT::value_t xv = XT::get(x, i);
            typename WT::value_t wv = WT::get(w, i);
            s += Mul<KIND == DSP_MAC>::template apply<AccT>(xv, wv);
        }
        return s;
    }
};

template <unsigned SIMD, class XT, class WT, class AccT>
struct Dot<XNOR_POPCOUNT, SIMD, XT, WT, AccT> {
    static AccT apply(const ap_uint<SIMD> &x, const ap_uint<SIMD> &w) {
#pragma HLS INLINE
        ap_uint<SIMD> eq = ~(x ^ w);
        AccT s = 0;
        for (unsigned i = 0; i < SIMD; i++) {
#pragma HLS UNROLL
            s += eq[i];
        }
        return s;
    }
};

template <unsigned SIMD, class XT, class WT, class AccT>
struct Dot<BINARY_ADDSUB, SIMD, XT, WT, AccT> {
    static AccT apply(const ap_uint<SIMD * XT::bits> &x, const ap_uint<SIMD> &w) {
#pragma HLS INLINE
        AccT s = 0;
        for (unsigned i = 0; i < SIMD; i++) {
#pragma HLS UNROLL
            typename XT::value_t xv = XT::get(x, i);
            if (w[i])
                s += xv;
            else
                s -= xv;
        }
        return s;
    }
};

// The accumulator itself leaves the unit (a layer without a following activation).
template <class OT>
struct PassAct {
    template <class AccT>
    typename OT::value_t activate(unsigned, unsigned, const AccT &acc) const {
#pragma HLS INLINE
        typename OT::value_t v = acc;
        return v;
    }
};

// Multi-threshold activation of a folded channel dimension (channel = nf * PE + pe):
// out = OUT_LO + #{i : s * acc >= T[pe][nf][i]}, s = -1 where neg is set, else +1;
// a bipolar output is +1 when that count is 1, else -1. CB: the comparison width.
// The PE lanes and the NT comparisons work in parallel: the generated top partitions t
// completely in dims 1 and 3 and neg in dim 1 (ARRAY_PARTITION variable = act_N.t).
// STEPS (signed steps, the form of an activation that falls somewhere): the specialisation
// below, with dn[pe][nf][i] set where threshold i is a falling step.
template <unsigned PE, unsigned NF, unsigned NT, int CB, int OUT_LO, bool BIPOLAR, class OT, bool STEPS = false>
struct Thresholds {
    typename rom_int<CB>::type t[PE][NF][NT];
    bool neg[PE][NF];

    template <class AccT>
    typename OT::value_t activate(unsigned nf, unsigned pe, const AccT &acc) const {
#pragma HLS INLINE
        ap_int<CB> v = acc;
        if (neg[pe][nf]) v = -v;
        ap_uint<16> count = 0;
        for (unsigned i = 0; i < NT; i++) {
#pragma HLS UNROLL
            ap_int<CB> ti = t[pe][nf][i];
            count += (v >= ti) ? 1 : 0;
        }
        typename OT::value_t o;
        if (BIPOLAR)
            o = (count == 1) ? 1 : -1;
        else
            o = OUT_LO + (int)count;
        return o;
    }
};

// Signed steps: out = OUT_LO + sum_i (s * acc >= T[pe][nf][i]) ? (dn[pe][nf][i] ? -1 : +1) : 0
// (bipolar: +1 when that sum is 1, else -1). The count is signed, |count| <= NT < 2^16; the
// true result is in OT's range. The top partitions dn like t (dims 1 and 3).
template <unsigned PE, unsigned NF, unsigned NT, int CB, int OUT_LO, bool BIPOLAR, class OT>
struct Thresholds<PE, NF, NT, CB, OUT_LO, BIPOLAR, OT, true> {
    typename rom_int<CB>::type t[PE][NF][NT];
    bool neg[PE][NF];
    bool dn[PE][NF][NT];

    template <class AccT>
    typename OT::value_t activate(unsigned nf, unsigned pe, const AccT &acc) const {
#pragma HLS INLINE
        ap_int<CB> v = acc;
        if (neg[pe][nf]) v = -v;
        ap_int<17> count = 0;
        for (unsigned i = 0; i < NT; i++) {
#pragma HLS UNROLL
            ap_int<CB> ti = t[pe][nf][i];
            count += (v >= ti) ? (dn[pe][nf][i] ? -1 : 1) : 0;
        }
        typename OT::value_t o;
        if (BIPOLAR)
            o = (count == 1) ? 1 : -1;
        else
            o = OUT_LO + (int)count;
        return o;
    }
};

// Requantizer activation of a folded channel dimension (channel = nf * PE + pe), the IR's
// Requant: out = clip((acc * m[pe][nf] + b[pe][nf]) >> (SMIN + s[pe][nf]), LO, HI), the
// shift arithmetic (floor). XW: the signed width of the input, MB, BB: of the multipliers
// and biases; SMIN the least shift of the layer, SHB the width of the rest. The product (XW + MB bits) is one DSP48 per lane up to a
// 25 x 18 multiply; the sum is formed at max(XW + MB, BB) + 1 bits. The generated top
// partitions m, b and s completely in dim 1 (the PE lanes work in parallel).
template <unsigned PE, unsigned NF, int XW, int MB, int BB, int SHB, int SMIN, int LO, int HI, class OT>
struct Requant {
    typename rom_int<MB>::type m[PE][NF];
    typename rom_int<BB>::type b[PE][NF];
    typename rom_word<SHB>::type s[PE][NF];

    template <class AccT>
    typename OT::value_t activate(unsigned nf, unsigned pe, const AccT &acc) const {
#pragma HLS INLINE
        const int AW = (XW + MB > BB ? XW + MB : BB) + 1;
        ap_int<XW> x = acc;
        ap_int<MB> mv = m[pe][nf];
        ap_int<XW + MB> p = Mul<true>::template apply<ap_int<XW + MB> >(x, mv);
        ap_int<BB> bv = b[pe][nf];
        ap_int<AW> v = p;
        v += bv;
        ap_uint<SHB> sh = s[pe][nf];
        v >>= SMIN;
        v >>= sh;
        typename OT::value_t o;
        if (v < LO)
            o = LO;
        else if (v > HI)
            o = HI;
        else
            o = v;
        return o;
    }
};

// Lookup activation of a folded channel dimension (channel = nf * PE + pe), a MultiThreshold
// held as a table (dataflow.LutAct): out = l[pe][nf * 2^IB + (x - xlo)] over every value x of
// the IB-bit input (IS: signed, then x - xlo is x with its top bit flipped). The codes are
// held as VB-bit signed values (a bipolar code as +-1). The generated top partitions l
// completely in dim 1: a ROM per lane.
template <unsigned PE, unsigned NF, unsigned IB, bool IS, int VB, class OT>
struct Lookup {
    typename rom_int<VB>::type l[PE][NF << IB];

    template <class AccT>
    typename OT::value_t activate(unsigned nf, unsigned pe, const AccT &acc) const {
#pragma HLS INLINE
        ap_uint<IB> j = acc;
        if (IS) j[IB - 1] = !j[IB - 1];
        typename OT::value_t o = l[pe][((unsigned)nf << IB) | (unsigned)j];
        return o;
    }
};

// VECTORS: input vectors per frame (pixels, or tile positions x tiles for Winograd).
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, int KIND, class XT, class WT, class AccT,
          class OT, class Act, unsigned VECTORS, int ID, unsigned SETS = 1>
void mvau(hls::stream<ap_uint<SIMD * XT::bits> > &in, hls::stream<ap_uint<PE * OT::bits> > &out,
          const typename rom_word<SIMD * WT::bits>::type weights[PE][SETS * (MH / PE) * (MW / SIMD)], const Act &act,
          unsigned frames) {
    const unsigned SF = MW / SIMD, NF = MH / PE;
    const unsigned long long TRIP = (unsigned long long)VECTORS * NF * SF;  // iterations per frame
    // the input vector, written during neuron fold 0 and replayed in the others: a word is
    // read back SF iterations after it was written (the only dependence through buf)
    ap_uint<SIMD * XT::bits> buf[MW / SIMD];
#pragma HLS DEPENDENCE variable = buf inter RAW distance = SF true
    AccT acc[PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
    unsigned sf = 0, nf = 0, set = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<SIMD * XT::bits> x;
        if (nf == 0) {
            x = in.read();
            buf[sf] = x;
        } else {
            x = buf[sf];
        }
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            AccT a = (sf == 0) ? AccT(0) : acc[pe];
            ap_uint<SIMD * WT::bits> w = weights[pe][(set * NF + nf) * SF + sf];
            a += Dot<KIND, SIMD, XT, WT, AccT>::apply(x, w);
            acc[pe] = a;
        }
        if (sf == SF - 1) {
            ap_uint<PE * OT::bits> o = 0;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                OT::put(o, pe, act.activate(nf, pe, acc[pe]));
            }
            out.write(o);
        }
        if (++sf == SF) {
            sf = 0;
            if (++nf == NF) {
                nf = 0;
                if (++set == SETS) set = 0;
            }
        }
    }
}

}  // namespace edgec

#endif
