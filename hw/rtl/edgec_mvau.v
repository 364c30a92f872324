`timescale 1ns / 1ps
// edgec RTL kernel library: the matrix-vector-activation unit, folded by PE and SIMD.
//
// Per input vector of MW elements (SIMD per input word): MH outputs, PE per output word,
// (MH/PE)*(MW/SIMD) cycles. Output channel o = nf*PE + pe. The input vector is read in
// the first neuron fold (nf = 0) and replayed from a buffer.
//   KIND 0  xnor-popcount: bipolar inputs and weights (bit 1 = +1), acc = number of equal bits
//   KIND 1  binary add/sub: weights +-1 (bit 1 = +1), integer (or bipolar, XBIP) inputs
//   KIND 2  LUT MAC, KIND 3 DSP MAC: signed WB-bit weights times XB-bit inputs
// Weights: WFILE ($readmemh), SETS*NF*SF words of PE*SIMD*WB bits, word (set*NF + nf)*SF + sf,
// PE block pe at [pe*SIMD*WB +: SIMD*WB], element s of a block at [s*WB +: WB]. Input vector v
// of a frame (VECTORS a multiple of SETS) takes weight set v mod SETS: SETS > 1 is the
// Winograd mvau, one set per tile position.
// The activation is edgec_act's: thresholds in TFILE (NF words of PE*NT*CB bits, PE block
// pe, threshold i at [i*CB +: CB], two's complement) and negation flags in NFILE (NF words
// of PE bits, the same for every weight set); NT = 0 passes the accumulator's low OB bits.
// SIGNED_STEPS = 1: the falling-step flags in DFILE (NF words of PE*NT bits, lane pe's
// threshold i at bit pe*NT + i), as edgec_act counts them.
// RQ = 1 (a Requant activation): NT = 0, and the accumulators (RQB bits, two's complement)
// go through an edgec_requant (multipliers, biases, shifts beyond SMIN in MFILE, BFILE,
// SFILE, MB, BB and SHB bits, clip to [LO, HI]) into OB-bit outputs: two more registers,
// the same cycles.
// tlast: set on the last output word of each frame of VECTORS input vectors.
module edgec_mvau #(
    parameter MW = 4,
    parameter MH = 4,
    parameter SIMD = 1,
    parameter PE = 1,
    parameter KIND = 2,
    parameter XB = 2,
    parameter XS = 0,
    parameter XBIP = 0,
    parameter WB = 2,
    parameter AB = 8,
    parameter NT = 0,
    parameter CB = 10,
    parameter OB = 8,
    parameter OUT_LO = 0,
    parameter BIPOLAR = 0,
    parameter VECTORS = 1,
    parameter SETS = 1,
    parameter WFILE = "w.mem",
    parameter SIGNED_STEPS = 0,
    parameter TFILE = "t.mem",
    parameter NFILE = "n.mem",
    parameter DFILE = "d.mem",
    parameter RQ = 0,
    parameter RQB = 8,
    parameter MB = 18,
    parameter BB = 32,
    parameter SHB = 6,
    parameter SMIN = 0,
    parameter LO = 0,
    parameter HI = 255,
    parameter MFILE = "m.mem",
    parameter BFILE = "b.mem",
    parameter SFILE = "s.mem"
) (
    input wire clk,
    input wire rst_n,
    input wire [SIMD*XB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output wire [PE*OB-1:0] m_tdata,
    output wire m_tlast,
    output wire m_tvalid,
    input wire m_tready
);
    localparam CW = RQ != 0 ? RQB : OB;  // the width of the unit's own output (the activation's)
    localparam SF = MW / SIMD;
    localparam NF = MH / PE;
    localparam WW = PE * SIMD * WB;
    localparam TW = (NT > 0 ? NT : 1) * CB * PE;
    localparam DNW = (NT > 0 ? NT : 1) * PE;
    localparam SFW = SF > 1 ? $clog2(SF) : 1;
    localparam NFW = NF > 1 ? $clog2(NF) : 1;
    localparam VW = VECTORS > 1 ? $clog2(VECTORS) : 1;
    localparam WAW = SETS * NF * SF > 1 ? $clog2(SETS * NF * SF) : 1;
    localparam integer SF_L = SF - 1, NF_L = NF - 1, VEC_L = VECTORS - 1, WA_L = SETS * NF * SF - 1;
    localparam [SFW-1:0] SF_LAST = SF_L[SFW-1:0];
    localparam [NFW-1:0] NF_LAST = NF_L[NFW-1:0];
    localparam [VW-1:0] VEC_LAST = VEC_L[VW-1:0];
    localparam [WAW-1:0] WA_LAST = WA_L[WAW-1:0];
    // datapath width: holds the accumulator, every product and the compared value
    localparam DW0 = (AB > XB + WB + 2) ? AB + 1 : XB + WB + 3;
    localparam DW = (CB > DW0) ? CB : DW0;
    // an input element as a signed number, one signed product, the sum of SIMD of them
    // (exact at DS bits: the accumulator's range holds every partial sum)
    localparam XE = XB + 1;
    localparam PW = (KIND == 0) ? 2 : (KIND == 1 || WB == 1) ? XE + 1 : XB + WB + XBIP;
    localparam DS0 = PW + $clog2(SIMD + 1);
    localparam DS = DS0 < DW ? DS0 : DW;

    reg [WW-1:0] wmem[0:SETS*NF*SF-1];
    reg [TW-1:0] tmem[0:NF-1];
    reg [PE-1:0] nmem[0:NF-1];
    reg [DNW-1:0] dmem[0:NF-1];
    initial begin
        $readmemh(WFILE, wmem);
        if (NT > 0) begin
            $readmemh(TFILE, tmem);
            $readmemh(NFILE, nmem);
        end
        if (NT > 0 && SIGNED_STEPS != 0) $readmemh(DFILE, dmem);
    end

    reg [SIMD*XB-1:0] xbuf[0:SF-1];
    reg [SFW-1:0] sf;
    reg [NFW-1:0] nf;
    reg [VW-1:0] vec;
    wire need_in = (nf == 0);
    wire last_sf = (sf == SF_LAST);
    reg [PE*CW-1:0] o_tdata;
    reg o_tlast, o_tvalid;
    wire o_tready;
    wire out_free = !o_tvalid || o_tready;
    assign s_tready = need_in && (!last_sf || out_free);
    wire advance = (need_in ? s_tvalid : 1'b1) && (!last_sf || out_free);
    wire [SIMD*XB-1:0] x = need_in ? s_tdata : xbuf[sf];
    reg [WAW-1:0] waddr;  // (set*NF + nf)*SF + sf, counted along
    wire [WW-1:0] wrow = wmem[waddr];
    wire [TW-1:0] trow = tmem[nf];
    wire [PE-1:0] nrow = nmem[nf];
    wire [DNW-1:0] drow = dmem[nf];
    wire unused_tlast = s_tlast;  // frames are counted, not marked, on the input

    reg signed [DW-1:0] acc[0:PE-1];
    wire [PE*DW-1:0] sums;
    wire [PE*CW-1:0] act;
    edgec_act #(.PE(PE), .DW(DW), .NT(NT), .CB(CB), .OB(CW), .OUT_LO(OUT_LO), .BIPOLAR(BIPOLAR),
                .SIGNED_STEPS(SIGNED_STEPS)) activation (.acc(sums), .t(trow), .neg(nrow), .dn(drow), .out(act));

    genvar p, i;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            // the SIMD products at their own width, summed at DS bits, then widened
            wire [SIMD*PW-1:0] prods;
            for (i = 0; i < SIMD; i = i + 1) begin : el
                wire [XB-1:0] xr = x[i*XB+:XB];
                wire [WB-1:0] wr = wrow[(p*SIMD+i)*WB+:WB];
                wire [XE-1:0] xe = (XBIP != 0) ? (xr[0] ? {{(XE - 1) {1'b0}}, 1'b1} : {XE{1'b1}})
                                 : (XS != 0) ? {xr[XB-1], xr} : {1'b0, xr};
                if (KIND == 0) begin : popcount
                    assign prods[i*PW+:PW] = {{(PW - 1) {1'b0}}, xr[0] == wr[0]};
                    wire [XE-1:0] unused_xe = xe;
                end else if (KIND == 1) begin : addsub
                    assign prods[i*PW+:PW] = wr[0] ? {xe[XE-1], xe} : -{xe[XE-1], xe};
                end else begin : mul
                    assign prods[i*PW+:PW] = $signed({{(PW - XE) {xe[XE-1]}}, xe}) * $signed({{(PW - WB) {wr[WB-1]}}, wr});
                end
                if (KIND <= 1 && WB > 1) begin : wpad
                    wire [WB-2:0] unused_w = wr[WB-1:1];
                end
                if (KIND == 0 && XB > 1) begin : xpad
                    wire [XB-2:0] unused_x = xr[XB-1:1];
                end
            end
            // a balanced adder tree: node n sums nodes 2n and 2n+1, the products are the
            // leaves SIMD..2*SIMD-1 (synthesis narrows each adder to its operands' width)
            reg signed [DS-1:0] tree[1:2*SIMD-1];
            wire signed [DS-1:0] dot = tree[1];
            wire signed [DW-1:0] dotx;
            reg signed [DW-1:0] sum;
            integer j;
            always @* begin
                for (j = 0; j < SIMD; j = j + 1) tree[SIMD+j] = {{(DS - PW) {prods[j*PW+PW-1]}}, prods[j*PW+:PW]};
                for (j = SIMD - 1; j >= 1; j = j - 1) tree[j] = tree[2*j] + tree[2*j+1];
                sum = ((sf == 0) ? {DW{1'b0}} : acc[p]) + dotx;
            end
            if (DS < DW) begin : widen
                assign dotx = {{(DW - DS) {dot[DS-1]}}, dot};
            end else begin : same
                assign dotx = dot;
            end
            assign sums[p*DW+:DW] = sum;
            always @(posedge clk) if (advance) acc[p] <= sum;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            sf <= 0;
            nf <= 0;
            vec <= 0;
            waddr <= 0;
            o_tvalid <= 1'b0;
            o_tlast <= 1'b0;
        end else begin
            if (o_tvalid && o_tready) o_tvalid <= 1'b0;
            if (advance) begin
                if (need_in) xbuf[sf] <= s_tdata;
                waddr <= (waddr == WA_LAST) ? {WAW{1'b0}} : waddr + 1'b1;
                if (last_sf) begin
                    o_tdata <= act;
                    o_tvalid <= 1'b1;
                    o_tlast <= (nf == NF_LAST) && (vec == VEC_LAST);
                    sf <= 0;
                    if (nf == NF_LAST) begin
                        nf <= 0;
                        vec <= (vec == VEC_LAST) ? {VW{1'b0}} : vec + 1'b1;
                    end else nf <= nf + 1'b1;
                end else sf <= sf + 1'b1;
            end
        end
    end

    generate
        if (RQ != 0) begin : rq
            edgec_requant #(.C(MH), .PE(PE), .IB(CW), .IS(1), .OB(OB), .MB(MB), .BB(BB), .SHB(SHB), .SMIN(SMIN), .LO(LO),
                            .HI(HI),
                            .MFILE(MFILE), .BFILE(BFILE), .SFILE(SFILE))
                requant (.clk(clk), .rst_n(rst_n), .s_tdata(o_tdata), .s_tlast(o_tlast), .s_tvalid(o_tvalid),
                         .s_tready(o_tready), .m_tdata(m_tdata), .m_tlast(m_tlast), .m_tvalid(m_tvalid),
                         .m_tready(m_tready));
        end else begin : out
            assign m_tdata = o_tdata;
            assign m_tlast = o_tlast;
            assign m_tvalid = o_tvalid;
            assign o_tready = m_tready;
        end
    endgenerate
endmodule
