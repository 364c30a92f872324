// edgec HLS kernel library: constant padding of a map (a Pad that does not fold into the
// window of its consumer).
//
// In: the (H, W, C) map row by row, PE channels per word. Out: the (PT + H + PB, PL + W +
// PR, C) map, the border holding the code VALUE, the inside the input widened to OT (a
// bipolar element becomes -1 or +1 unless OT is bipolar too). Each iteration writes one
// word and, inside the border, reads one: (PT + H + PB) * (PL + W + PR) * C/PE iterations
// per frame.
#ifndef EDGEC_PAD_H
#define EDGEC_PAD_H

#include "common.h"

namespace edgec {

template <unsigned H, unsigned W, unsigned C, unsigned PT, unsigned PL, unsigned PB, unsigned PR, unsigned PE,
          class IT, class OT, int VALUE, int ID>
void pad(hls::stream<ap_uint<PE * IT::bits> > &in, hls::stream<ap_uint<PE * OT::bits> > &out, unsigned frames) {
    const unsigned CF = C / PE, OH = PT + H + PB, OW = PL + W + PR;
    const unsigned long long TRIP = (unsigned long long)OH * OW * CF;
    unsigned y = 0, x = 0, cf = 0;
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * OT::bits> o;
        if (y - PT < H && x - PL < W) {  // unsigned: false above and left of the map
            ap_uint<PE * IT::bits> w = in.read();
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                OT::put(o, pe, IT::get(w, pe));
            }
        } else {
            for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                OT::put(o, pe, typename OT::value_t(VALUE));
            }
        }
        out.write(o);
        if (++cf == CF) {
            cf = 0;
            if (++x == OW) {
                x = 0;
                if (++y == OH) y = 0;
            }
        }
    }
}

}  // namespace edgec

#endif
