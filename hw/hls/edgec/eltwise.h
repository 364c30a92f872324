// edgec HLS kernel library: elementwise stages — the residual add, the concatenation of
// two branches along channels, a channel range of one (a split) and a stand-alone
// multi-threshold activation. PE elements
// per word, one word per iteration.
#ifndef EDGEC_ELTWISE_H
#define EDGEC_ELTWISE_H

#include "common.h"

namespace edgec {

// out = (a << SA) + (b << SB): codes of one scale (edgec aligns the scales of the two
// branches when it quantizes), or of scales a power of two apart, the coarser shifted onto
// the finer scale (wiring, no logic). WORDS per frame.
template <unsigned PE, class AT, class BT, class OT, unsigned WORDS, int ID, unsigned SA = 0, unsigned SB = 0>
void add(hls::stream<ap_uint<PE * AT::bits> > &a, hls::stream<ap_uint<PE * BT::bits> > &b,
         hls::stream<ap_uint<PE * OT::bits> > &out, unsigned frames) {
    const unsigned long long TRIP = WORDS;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * AT::bits> x = a.read();
        ap_uint<PE * BT::bits> y = b.read();
        ap_uint<PE * OT::bits> o;
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            typename OT::value_t s = AT::get(x, pe);
            s <<= SA;
            typename OT::value_t t = BT::get(y, pe);
            t <<= SB;
            s += t;
            OT::put(o, pe, s);
        }
        out.write(o);
    }
}

// out = a * b on PE lanes, OT wide enough for the product. GATE false: a and b of one shape,
// PIXELS * C / PE words of each per frame. GATE true (squeeze-and-excitation): b holds C
// values per frame, read first into `gate`, then every pixel of a is multiplied by them;
// (PIXELS + 1) * C / PE iterations per frame.
template <unsigned C, unsigned PE, class AT, class BT, class OT, unsigned PIXELS, bool GATE, int ID>
void mul(hls::stream<ap_uint<PE * AT::bits> > &a, hls::stream<ap_uint<PE * BT::bits> > &b,
         hls::stream<ap_uint<PE * OT::bits> > &out, unsigned frames) {
    const unsigned CF = C / PE;
    const unsigned long long TRIP = (unsigned long long)(PIXELS + (GATE ? 1 : 0)) * CF;
    ap_uint<PE * BT::bits> gate[CF];
    unsigned long long k = 0;  // the iteration within the frame
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        unsigned cf = (unsigned)(k % CF);
        if (GATE && k < CF) {
            gate[cf] = b.read();
        } else {
            ap_uint<PE * AT::bits> x = a.read();
            ap_uint<PE * BT::bits> y = GATE ? gate[cf] : b.read();
            ap_uint<PE * OT::bits> o;
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                typename OT::value_t v = AT::get(x, pe);
                v *= BT::get(y, pe);
                OT::put(o, pe, v);
            }
            out.write(o);
        }
        if (++k == TRIP) k = 0;
    }
}

// Concatenation along channels of two (PIXELS, C1) and (PIXELS, C2) streams into (PIXELS,
// C1 + C2): per pixel C1/PE words of a, then C2/PE words of b, each element widened to OT
// (a bipolar element becomes -1 or +1). PIXELS * (C1 + C2) / PE iterations per frame.
template <unsigned C1, unsigned C2, unsigned PE, class AT, class BT, class OT, unsigned PIXELS, int ID>
void concat(hls::stream<ap_uint<PE * AT::bits> > &a, hls::stream<ap_uint<PE * BT::bits> > &b,
            hls::stream<ap_uint<PE * OT::bits> > &out, unsigned frames) {
    const unsigned CF1 = C1 / PE, CF = (C1 + C2) / PE;
    const unsigned long long TRIP = (unsigned long long)PIXELS * CF;
    unsigned cf = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * OT::bits> o;
        if (cf < CF1) {
            ap_uint<PE * AT::bits> x = a.read();
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                OT::put(o, pe, AT::get(x, pe));
            }
        } else {
            ap_uint<PE * BT::bits> y = b.read();
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                OT::put(o, pe, BT::get(y, pe));
            }
        }
        out.write(o);
        if (++cf == CF) cf = 0;
    }
}

// The channels [LO, HI) of a (PIXELS, C) stream (one output of a split or chunk): every
// word is read, the words LO/PE .. HI/PE - 1 of each pixel are written (PE divides C, LO
// and HI). PIXELS * C / PE iterations per frame.
template <unsigned C, unsigned LO, unsigned HI, unsigned PE, class T, unsigned PIXELS, int ID>
void slice(hls::stream<ap_uint<PE * T::bits> > &in, hls::stream<ap_uint<PE * T::bits> > &out, unsigned frames) {
    const unsigned CF = C / PE, CLO = LO / PE, CHI = HI / PE;
    const unsigned long long TRIP = (unsigned long long)PIXELS * CF;
    unsigned cf = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * T::bits> x = in.read();
        if (cf - CLO < CHI - CLO) out.write(x);  // unsigned: false below CLO
        if (++cf == CF) cf = 0;
    }
}

// Activation of a (vectors, C) stream: channel c = cf * PE + pe, VECTORS per frame. The
// generated top partitions the thresholds (act_N.t) completely in dims 1 and 3.
template <unsigned C, unsigned PE, class IT, class OT, class Act, unsigned VECTORS, int ID>
void threshold(hls::stream<ap_uint<PE * IT::bits> > &in, hls::stream<ap_uint<PE * OT::bits> > &out, const Act &act,
               unsigned frames) {
    const unsigned CF = C / PE;
    const unsigned long long TRIP = (unsigned long long)VECTORS * CF;
    unsigned cf = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * IT::bits> x = in.read();
        ap_uint<PE * OT::bits> o;
        for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
            OT::put(o, pe, act.activate(cf, pe, IT::get(x, pe)));
        }
        out.write(o);
        if (++cf == CF) cf = 0;
    }
}

}  // namespace edgec

#endif
