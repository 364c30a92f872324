// edgec HLS kernel library: upsampling by whole factors, nearest or zero insertion.
//
// In: the (H, W, C) map row by row, PE channels per word. Out: the (H*FH, W*FW, C) map,
// out[y][x] = in[y / FH][x / FW]. A line buffer holds one input row (W * C/PE words):
// the first copy of each input row reads its words as it writes them (each pixel FW
// times), the other FH - 1 copies come from the buffer. Each iteration writes one word
// (and reads at most one): max(H*W*C/PE, H*FH*W*FW*C/PE) iterations per frame.
// ZERO = 1: zero insertion (a transposed convolution's): out[y*FH][x*FW] = in[y][x] and
// the code ZV (real 0) in every lane of every other word; no buffer.
#ifndef EDGEC_UPSAMPLE_H
#define EDGEC_UPSAMPLE_H

#include "common.h"

namespace edgec {

template <unsigned H, unsigned W, unsigned C, unsigned FH, unsigned FW, unsigned PE, class T, int ID, int ZERO = 0,
          long long ZV = 0>
void upsample(hls::stream<ap_uint<PE * T::bits> > &in, hls::stream<ap_uint<PE * T::bits> > &out, unsigned frames) {
    const unsigned CF = C / PE;
    const unsigned long long IN_WORDS = (unsigned long long)H * W * CF;
    const unsigned long long OUT_WORDS = IN_WORDS * FH * FW;
    const unsigned long long TRIP = OUT_WORDS > IN_WORDS ? OUT_WORDS : IN_WORDS;
    // a word is read back CF iterations after it was written at the earliest (the next
    // copy of its pixel), or a whole output row later when FW = 1
    const unsigned DIST = FW > 1 ? CF : W * CF;
    (void)DIST;  // read by the pragma only
    ap_uint<PE * T::bits> row[W][CF];  // unused (optimised away) when ZERO
#pragma HLS DEPENDENCE variable = row inter RAW distance = DIST true
    ap_uint<PE * T::bits> zero = 0;
    for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
        T::put(zero, p, ZV);
    }
    unsigned fy = 0, x = 0, fx = 0, cf = 0;  // copy of the input row, input column and its copy, fold
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        ap_uint<PE * T::bits> w;
        if (fy == 0 && fx == 0) {
            w = in.read();
            if (!ZERO) row[x][cf] = w;
        } else if (ZERO) {
            w = zero;
        } else {
            w = row[x][cf];
        }
        out.write(w);
        if (++cf == CF) {
            cf = 0;
            if (++fx == FW) {
                fx = 0;
                if (++x == W) {
                    x = 0;
                    if (++fy == FH) fy = 0;
                }
            }
        }
    }
}

}  // namespace edgec

#endif
