`timescale 1ns / 1ps
// edgec RTL kernel library: the sparse matrix-vector-activation unit.
//
// out[o] = act(o, sum_k W[o][k]*x[k]) for an MH x MW weight matrix of which only the
// non-zeros are stored and visited. Output channel o = nf*PE + pe.
// Input: per vector MW/IN_E words of IN_E elements (XB bits; XS signed; XBIP bipolar, bit
// 1 = +1). A loader fills one of two vector buffers, a word per cycle, while the computer
// works on the other: per vector max(MW/IN_E, CP) cycles in steady state, CP = the words of
// the vector's weight set.
// Weights: WFILE ($readmemh), STEPS words of PE*SIMD*(WB+IXB)+1 bits
// (edgec/backend/hls.py:sparse_stream): groups (set, nf), set-major, one or more words
// each; entry (pe, s) at [(pe*SIMD + s)*E +: E], E = WB + IXB, a signed WB-bit value in
// the low bits and an IXB-bit input index above it (padding: value 0, index 0); the top bit
// marks a group's last word. One word per cycle: lane pe adds value*x[index] of its SIMD
// entries; a group's last word emits PE outputs. Vector v uses set v mod SETS: the word
// pointer just runs on and wraps at STEPS.
// The activation is edgec_act's, as in edgec_mvau: TFILE (NF words of PE*NT*CB bits),
// NFILE (NF words of PE bits), with SIGNED_STEPS = 1 DFILE (NF words of PE*NT falling-step
// flags), NT = 0 passes the accumulator's low OB bits. AB: the
// accumulator's bits (signed or unsigned); the unit sums at AB + 1 signed bits or more.
// tlast: set on the last output word of each frame of VECTORS input vectors.
module edgec_smvau #(
    parameter MW = 4,
    parameter MH = 4,
    parameter PE = 1,
    parameter SIMD = 1,
    parameter IN_E = 1,
    parameter XB = 2,
    parameter XS = 0,
    parameter XBIP = 0,
    parameter WB = 2,
    parameter IXB = 2,
    parameter AB = 8,
    parameter NT = 0,
    parameter CB = 10,
    parameter OB = 8,
    parameter OUT_LO = 0,
    parameter BIPOLAR = 0,
    parameter SETS = 1,
    parameter STEPS = 4,
    parameter VECTORS = 1,
    parameter WFILE = "w.mem",
    parameter SIGNED_STEPS = 0,
    parameter TFILE = "t.mem",
    parameter NFILE = "n.mem",
    parameter DFILE = "d.mem"
) (
    input wire clk,
    input wire rst_n,
    input wire [IN_E*XB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam LD = MW / IN_E;
    localparam NF = MH / PE;
    localparam E = WB + IXB;
    localparam WW = PE * SIMD * E;  // the last-word flag is bit WW
    localparam TW = (NT > 0 ? NT : 1) * CB * PE;
    localparam DNW = (NT > 0 ? NT : 1) * PE;
    localparam LDW = LD > 1 ? $clog2(LD) : 1;
    localparam NFW = NF > 1 ? $clog2(NF) : 1;
    localparam VW = VECTORS > 1 ? $clog2(VECTORS) : 1;
    localparam SPW = STEPS > 1 ? $clog2(STEPS) : 1;
    localparam integer LD_L = LD - 1, NF_L = NF - 1, VEC_L = VECTORS - 1, STEPS_L = STEPS - 1;
    localparam [LDW-1:0] LD_LAST = LD_L[LDW-1:0];
    localparam [NFW-1:0] NF_LAST = NF_L[NFW-1:0];
    localparam [VW-1:0] VEC_LAST = VEC_L[VW-1:0];
    localparam [SPW-1:0] STEPS_LAST = STEPS_L[SPW-1:0];
    // an input element as a signed number, one signed product, the sum of SIMD of them
    // (exact at DS bits); the datapath holds the accumulator (AB bits, either signedness),
    // every product and the compared value
    localparam XE = XB + 1;
    localparam PW = XB + WB + XBIP;
    localparam DW0 = (AB + 1 > PW) ? AB + 1 : PW;
    localparam DW = (CB > DW0) ? CB : DW0;
    localparam DS0 = PW + $clog2(SIMD + 1);
    localparam DS = DS0 < DW ? DS0 : DW;

    reg [WW:0] wmem[0:STEPS-1];
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
    wire unused_tlast = s_tlast;  // frames are counted, not marked, on the input
    wire [31:0] unused_sets = SETS;  // the sets follow from the weight stream itself

    // the loader: buffer lsel, word lw; full[b]: buffer b holds a whole vector
    reg [1:0] full;
    reg lsel, csel;
    reg [LDW-1:0] lw;
    assign s_tready = !full[lsel];
    wire load = s_tvalid && !full[lsel];

    // the computer: buffer csel, weight word wp, neuron fold nf, vector vec of the frame
    reg [SPW-1:0] wp;
    reg [NFW-1:0] nf;
    reg [VW-1:0] vec;
    reg gstart;  // wp starts a group
    wire [WW:0] wrow = wmem[wp];
    wire glast = wrow[WW];
    wire out_free = !m_tvalid || m_tready;
    wire step = full[csel] && (!glast || out_free);
    wire [TW-1:0] trow = tmem[nf];
    wire [PE-1:0] nrow = nmem[nf];
    wire [DNW-1:0] drow = dmem[nf];

    // the two vector buffers, element k in word k/IN_E, lane k%IN_E; xv: the computer's
    wire [XB-1:0] xv[0:MW-1];
    genvar k, p, i;
    generate
        for (k = 0; k < MW; k = k + 1) begin : elem
            localparam integer KW = k / IN_E;
            localparam [LDW-1:0] KWORD = KW[LDW-1:0];
            reg [XB-1:0] b0, b1;
            always @(posedge clk)
                if (load && lw == KWORD) begin
                    if (lsel) b1 <= s_tdata[(k%IN_E)*XB+:XB];
                    else b0 <= s_tdata[(k%IN_E)*XB+:XB];
                end
            assign xv[k] = csel ? b1 : b0;
        end
    endgenerate

    reg signed [DW-1:0] acc[0:PE-1];
    wire [PE*DW-1:0] sums;
    wire [PE*OB-1:0] act;
    edgec_act #(.PE(PE), .DW(DW), .NT(NT), .CB(CB), .OB(OB), .OUT_LO(OUT_LO), .BIPOLAR(BIPOLAR),
                .SIGNED_STEPS(SIGNED_STEPS)) activation (.acc(sums), .t(trow), .neg(nrow), .dn(drow), .out(act));

    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            // the SIMD products at their own width, summed at DS bits, then widened
            wire [SIMD*PW-1:0] prods;
            for (i = 0; i < SIMD; i = i + 1) begin : el
                wire [E-1:0] ent = wrow[(p*SIMD+i)*E+:E];
                wire [WB-1:0] wr = ent[WB-1:0];
                wire [IXB-1:0] ix = ent[E-1:WB];
                wire [XB-1:0] xr;
                if (MW > 1) begin : pick
                    assign xr = xv[ix];
                end else begin : one
                    assign xr = xv[0];
                    wire [IXB-1:0] unused_ix = ix;
                end
                wire [XE-1:0] xe = (XBIP != 0) ? (xr[0] ? {{(XE - 1) {1'b0}}, 1'b1} : {XE{1'b1}})
                                 : (XS != 0) ? {xr[XB-1], xr} : {1'b0, xr};
                assign prods[i*PW+:PW] = $signed({{(PW - XE) {xe[XE-1]}}, xe}) * $signed({{(PW - WB) {wr[WB-1]}}, wr});
            end
            // a balanced adder tree: node n sums nodes 2n and 2n+1, the products are the
            // leaves SIMD..2*SIMD-1
            reg signed [DS-1:0] tree[1:2*SIMD-1];
            wire signed [DS-1:0] dot = tree[1];
            wire signed [DW-1:0] dotx;
            reg signed [DW-1:0] sum;
            integer j;
            always @* begin
                for (j = 0; j < SIMD; j = j + 1) tree[SIMD+j] = {{(DS - PW) {prods[j*PW+PW-1]}}, prods[j*PW+:PW]};
                for (j = SIMD - 1; j >= 1; j = j - 1) tree[j] = tree[2*j] + tree[2*j+1];
                sum = (gstart ? {DW{1'b0}} : acc[p]) + dotx;
            end
            if (DS < DW) begin : widen
                assign dotx = {{(DW - DS) {dot[DS-1]}}, dot};
            end else begin : same
                assign dotx = dot;
            end
            assign sums[p*DW+:DW] = sum;
            always @(posedge clk) if (step) acc[p] <= sum;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            full <= 2'b00;
            lsel <= 1'b0;
            csel <= 1'b0;
            lw <= 0;
            wp <= 0;
            nf <= 0;
            vec <= 0;
            gstart <= 1'b1;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (load) begin
                if (lw == LD_LAST) begin
                    lw <= 0;
                    full[lsel] <= 1'b1;
                    lsel <= !lsel;
                end else lw <= lw + 1'b1;
            end
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (step) begin
                wp <= (wp == STEPS_LAST) ? {SPW{1'b0}} : wp + 1'b1;
                gstart <= glast;
                if (glast) begin
                    m_tdata <= act;
                    m_tvalid <= 1'b1;
                    m_tlast <= (nf == NF_LAST) && (vec == VEC_LAST);
                    if (nf == NF_LAST) begin
                        nf <= 0;
                        vec <= (vec == VEC_LAST) ? {VW{1'b0}} : vec + 1'b1;
                        full[csel] <= 1'b0;  // lsel != csel whenever the loader fills one
                        csel <= !csel;
                    end else nf <= nf + 1'b1;
                end
            end
        end
    end
endmodule
