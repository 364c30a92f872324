// edgec HLS kernel library: reductions over a sliding window — max pooling, average
// pooling (rounded half up) and depthwise convolution.
//
// In: the window of each output pixel from swg() in (k, c) order, PE channels per word.
// Out: PE channels per word, C/PE words per pixel. K*C/PE iterations per pixel; the
// outputs leave during the last window position.
#ifndef EDGEC_WINDOW_H
#define EDGEC_WINDOW_H

#include "common.h"

namespace edgec {

// Max over the window. AccT holds the input values.
template <class AccT, int LOWEST>
struct MaxOp {
    AccT init() const { return AccT(LOWEST); }
    template <class V>
    AccT step(const AccT &a, const V &x, unsigned, unsigned, unsigned) const {
#pragma HLS INLINE
        return x > a ? AccT(x) : a;
    }
    template <class OV>
    OV finish(const AccT &a, unsigned, unsigned) const {
        OV o = a;
        return o;
    }
};

// Mean of the K window values at the same scale, rounded half up: floor((2s + K) / 2K).
template <class AccT, unsigned K>
struct AvgOp {
    AccT init() const { return AccT(0); }
    template <class V>
    AccT step(const AccT &a, const V &x, unsigned, unsigned, unsigned) const {
#pragma HLS INLINE
        return a + x;
    }
    template <class OV>
    OV finish(const AccT &a, unsigned, unsigned) const {
        ap_int<AccT::width + 2> s2 = a;
        s2 = 2 * s2 + K;
        OV o = floor_div(s2, 2 * K);
        return o;
    }
};

// Depthwise convolution: channel c = cf * PE + pe multiplies its own K weights
// W[pe][cf][k], then the activation. The generated top partitions w completely in dim 1
// (the PE lanes), and the activation's thresholds as for the mvau.
template <unsigned PE, unsigned CF, unsigned K, class WT, class AccT, class Act>
struct DepthwiseOp {
    typename rom_int<WT::bits>::type w[PE][CF][K];
    Act act;
    AccT init() const { return AccT(0); }
    template <class V>
    AccT step(const AccT &a, const V &x, unsigned k, unsigned cf, unsigned pe) const {
#pragma HLS INLINE
        typename WT::value_t wv = w[pe][cf][k];
        AccT p = x * wv;
        return a + p;
    }
    template <class OV>
    OV finish(const AccT &a, unsigned cf, unsigned pe) const {
        return act.activate(cf, pe, a);
    }
};

// PIXELS: output pixels per frame. acc[cf] is read and written once per iteration, and the
// next access to the same cf comes CF iterations later: that distance is declared, so the
// pipeline keeps II = 1 (with CF = 1, acc is registers).
template <unsigned K, unsigned C, unsigned PE, class IT, class OT, class AccT, class Op, unsigned PIXELS, int ID>
void window_reduce(hls::stream<ap_uint<PE * IT::bits> > &in, hls::stream<ap_uint<PE * OT::bits> > &out, const Op &op,
                   unsigned frames) {
    const unsigned CF = C / PE;
    const unsigned long long TRIP = (unsigned long long)PIXELS * K * CF;
    AccT acc[CF][PE];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
#pragma HLS DEPENDENCE variable = acc inter RAW distance = CF true
    unsigned k = 0, cf = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * IT::bits> x = in.read();
        ap_uint<PE * OT::bits> o = 0;
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            AccT a = op.step((k == 0) ? op.init() : acc[cf][pe], IT::get(x, pe), k, cf, pe);
            acc[cf][pe] = a;
            if (k == K - 1) OT::put(o, pe, op.template finish<typename OT::value_t>(a, cf, pe));
        }
        if (k == K - 1) out.write(o);
        if (++cf == CF) {
            cf = 0;
            if (++k == K) k = 0;
        }
    }
}

}  // namespace edgec

#endif
