// edgec HLS kernel library: the sparse matrix-vector-activation unit (SMVAU).
//
// out[o] = act(o, sum_k w[o][k] * x[k]) for an MH x MW weight matrix of which only the
// non-zeros are stored and visited. Output channel o = nf * PE + pe (lane pe, neuron fold nf).
// Weights: STEPS words of PE * SIMD * (WB + IXB) + 1 bits (edgec/backend/hls.py:sparse_stream):
// groups (set, nf), set-major, each one or more consecutive words; in each word lane pe holds
// SIMD entries, entry (pe, s) at bits [(pe*SIMD + s)*E, +E), E = WB + IXB: a signed WB-bit
// value in the low bits, an IXB-bit input index above it (padding: value 0, index 0); the
// top bit marks a group's last word, where the unit emits the group's PE outputs.
// Vector v uses weight set v mod SETS; the word pointer simply runs on and wraps at STEPS.
// The input vector (MW/IN_E words of IN_E elements) sits in a completely partitioned buffer,
// two of them: loading vector v+1 overlaps computing vector v.
#ifndef EDGEC_SMVAU_H
#define EDGEC_SMVAU_H

#include "common.h"

namespace edgec {

// One pipelined loop over periods: period 0 loads vector 0 (MW/IN_E iterations); period k
// (1 <= k <= vectors) computes vector k-1, one weight word per iteration, and loads
// vector k (k < vectors); it takes max(MW/IN_E, words of the set of vector k-1) iterations.
// The counter ticks in periods k >= 1 only (period 0 is latency). AB: accumulator bits
// (two's complement or unsigned); the unit sums at AB + 1 signed bits.
// VECTORS: input vectors per frame (pixels, or tile positions x tiles for Winograd).
template <unsigned MW, unsigned MH, unsigned PE, unsigned SIMD, unsigned IN_E, class XT, int WB, int IXB, int AB,
          class OT, class Act, unsigned SETS, unsigned STEPS, unsigned VECTORS, int ID>
void smvau(hls::stream<ap_uint<IN_E * XT::bits> > &in, hls::stream<ap_uint<PE * OT::bits> > &out,
           const typename rom_word<PE * SIMD * (WB + IXB) + 1>::type weights[STEPS], const Act &act,
           unsigned frames) {
    const unsigned long long vectors = (unsigned long long)frames * VECTORS;
    const unsigned NF = MH / PE, LD = MW / IN_E, E = WB + IXB, WW = PE * SIMD * E + 1;
    typedef ap_int<AB + 1> AccT;

    // words per weight set, and the period length of a vector of each set
    unsigned cp[SETS], len[SETS];
#pragma HLS ARRAY_PARTITION variable = cp complete
#pragma HLS ARRAY_PARTITION variable = len complete
    for (unsigned s = 0; s < SETS; s++) {
#pragma HLS UNROLL
        cp[s] = 0;
    }
    unsigned set = 0, groups = 0;
    for (unsigned i = 0; i < STEPS; i++) {
#pragma HLS PIPELINE II = 1
        ap_uint<WW> w = weights[i];
        if (set < SETS) cp[set]++;
        if (w[WW - 1] && ++groups == NF) {
            groups = 0;
            set++;
        }
    }
    unsigned long long round = 0, total = 0;
    for (unsigned s = 0; s < SETS; s++) {
#pragma HLS UNROLL
        len[s] = cp[s] > LD ? cp[s] : LD;
        round += len[s];
    }
    if (vectors > 0) {
        total = LD + (vectors / SETS) * round;
        for (unsigned s = 0; s < SETS; s++) {
#pragma HLS UNROLL
            if (s < vectors % SETS) total += len[s];
        }
    }

    typename XT::value_t buf[2][MW];
    AccT acc[PE];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 0
#pragma HLS ARRAY_PARTITION variable = acc complete
    bool fresh = true;  // the next word starts a group
    unsigned long long k = 0;  // period
    unsigned t = 0, steps = 0, plen = LD, wp = 0, nf = 0;
    unsigned lb = 0;  // the buffer being loaded; the other one is computed on
    set = SETS - 1;   // the set of the vector computed in period k
    // iterations per frame: each period takes at least LD and at most LD + STEPS
    const unsigned long long TRIP_LO = (unsigned long long)VECTORS * LD, TRIP_HI = TRIP_LO + (unsigned long long)VECTORS * STEPS;
    (void)TRIP_LO;  // read by the pragma only
    (void)TRIP_HI;
    for (unsigned long long i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP_LO max = TRIP_HI
        if (k != 0) {
            EDGEC_TICK(ID);
        }
        if (t < LD && k < vectors) {
            ap_uint<IN_E * XT::bits> x = in.read();
            for (unsigned e = 0; e < IN_E; e++) {
#pragma HLS UNROLL
                buf[lb][t * IN_E + e] = XT::get(x, e);
            }
        }
        if (t < steps) {
            ap_uint<WW> w = weights[wp];
            bool last = w[WW - 1];
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                AccT a = fresh ? AccT(0) : acc[pe];
                for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                    ap_uint<E> ent = w.range((pe * SIMD + s) * E + E - 1, (pe * SIMD + s) * E);
                    ap_int<WB> v = ent.range(WB - 1, 0);
                    ap_uint<IXB> idx = ent.range(E - 1, WB);
                    a += v * buf[1 - lb][idx];
                }
                acc[pe] = a;
            }
            if (last) {
                ap_uint<PE * OT::bits> o = 0;
                for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                    OT::put(o, pe, act.activate(nf, pe, acc[pe]));
                }
                out.write(o);
                nf = (nf == NF - 1) ? 0 : nf + 1;
            }
            fresh = last;
            wp = (wp == STEPS - 1) ? 0 : wp + 1;
        }
        if (++t == plen) {
            t = 0;
            k++;
            set = (set == SETS - 1) ? 0 : set + 1;
            steps = cp[set];
            plen = len[set];
            lb = 1 - lb;
        }
    }
}

}  // namespace edgec

#endif
