// edgec HLS kernel library: the sliding-window generator (line buffer) for convolution
// and pooling, with stride and padding.
//
// In: the (IH, IW, C) map row by row, SIMD channels per word (C/SIMD words per pixel).
// Out: for each output pixel (OH, OW) its KH x KW window in (ky, kx, c) order, SIMD
// channels per word; positions outside the map hold PAD. The buffer keeps the last KH
// input rows. Each loop iteration either reads one input word or writes one window word:
// IH*IW*C/SIMD + OH*OW*KH*KW*C/SIMD iterations per frame. Elements may change type on
// the way (a bipolar map padded with 0 leaves as 2-bit integers).
#ifndef EDGEC_SWG_H
#define EDGEC_SWG_H

#include "common.h"

namespace edgec {

template <unsigned IH, unsigned IW, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW, unsigned PT,
          unsigned PL, unsigned PB, unsigned PR, unsigned SIMD, class IT, class OT, int PAD, int ID>
void swg(hls::stream<ap_uint<SIMD * IT::bits> > &in, hls::stream<ap_uint<SIMD * OT::bits> > &out,
         unsigned frames) {
    const unsigned CF = C / SIMD;
    const unsigned OH = (IH + PT + PB - KH) / SH + 1, OW = (IW + PL + PR - KW) / SW + 1;
    const unsigned long long TRIP = (unsigned long long)IH * IW * CF + (unsigned long long)OH * OW * KH * KW * CF;
    // the last KH rows: a write goes to the row after the newest, which no window of the
    // output row being written needs, so reads never wait on writes
    ap_uint<SIMD * IT::bits> buf[KH][IW][CF];
#pragma HLS DEPENDENCE variable = buf inter RAW false
    unsigned loaded = 0, rx = 0, rc = 0;          // rows fully read; column and fold being read
    unsigned oy = 0, ox = 0, ky = 0, kx = 0, cf = 0;  // window word being written
    for (unsigned long long i = 0; i < frames * TRIP; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS LOOP_TRIPCOUNT min = TRIP max = TRIP
        EDGEC_TICK(ID);
        const unsigned need_rows = oy * SH + KH - PT;  // rows needed for output row oy
        const unsigned need = (oy < OH && need_rows < IH) ? need_rows : IH;
        if (loaded < need) {
            buf[loaded % KH][rx][rc] = in.read();
            if (++rc == CF) {
                rc = 0;
                if (++rx == IW) {
                    rx = 0;
                    ++loaded;
                }
            }
        } else {
            const int iy = (int)(oy * SH + ky) - (int)PT, ix = (int)(ox * SW + kx) - (int)PL;
            ap_uint<SIMD * OT::bits> o;
            if (iy >= 0 && iy < (int)IH && ix >= 0 && ix < (int)IW) {
                ap_uint<SIMD * IT::bits> w = buf[iy % KH][ix][cf];
                for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                    OT::put(o, s, IT::get(w, s));
                }
            } else {
                for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                    OT::put(o, s, PAD);
                }
            }
            out.write(o);
            if (++cf == CF) {
                cf = 0;
                if (++kx == KW) {
                    kx = 0;
                    if (++ky == KH) {
                        ky = 0;
                        if (++ox == OW) {
                            ox = 0;
                            ++oy;
                        }
                    }
                }
            }
        }
        if (oy == OH && loaded == IH) {  // frame done
            oy = 0;
            loaded = 0;
        }
    }
}

}  // namespace edgec

#endif
