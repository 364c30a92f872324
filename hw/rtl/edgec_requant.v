`timescale 1ns / 1ps
// edgec RTL kernel library: the requantizer of a (vectors, C) stream, channel cf*PE + pe:
// out = clip((x * M[c] + B[c]) >>> (SMIN + S[c]), LO, HI) in OB bits, the shift arithmetic
// (floor). x: PE lanes of IB bits (IS: signed); M: MB-bit signed multipliers, B: BB-bit
// signed biases, S: SHB-bit unsigned shifts beyond the layer's least shift SMIN, from
// $readmemh images MFILE, BFILE, SFILE (CF = C/PE words each, lane p at [p*MB +: MB],
// [p*BB +: BB], [p*SHB +: SHB]). The sum is formed at max(XW + MB, BB) + 1 bits (XW: the
// input as a signed number), at most 64; the shift by SMIN is wiring (the sum's low bits
// dropped), the one by S a multiplexer of SHB levels over the rest.
// Two registers deep: the product x * M (a 25 x 18 multiply per lane maps to one DSP48E1,
// its M register this one; a wider x to two), then bias, shift and clip into the output
// register. Both move together when the output is free, one word per cycle.
// The mvau (RQ = 1) puts one after its accumulators.
module edgec_requant #(
    parameter C = 1,
    parameter PE = 1,
    parameter IB = 8,
    parameter IS = 1,
    parameter OB = 8,
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
    input wire [PE*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam integer CF_L = CF - 1;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam XW = IB + (IS != 0 ? 0 : 1);  // the input as a signed number
    localparam PW = XW + MB;  // the product
    localparam AW = (PW > BB ? PW : BB) + 1;  // the sum
    localparam RW = AW > SMIN ? AW - SMIN : 1;  // the sum shifted by SMIN
    localparam KW = (RW > OB + 1 ? RW : OB + 1) + 1;  // the compared value
    localparam integer LO_I = LO, HI_I = HI;
    localparam [63:0] LO_X = {{32{LO_I[31]}}, LO_I}, HI_X = {{32{HI_I[31]}}, HI_I};
    localparam signed [KW-1:0] LO_K = LO_X[KW-1:0], HI_K = HI_X[KW-1:0];

    reg [PE*MB-1:0] mmem[0:CF-1];
    reg [PE*BB-1:0] bmem[0:CF-1];
    reg [PE*SHB-1:0] smem[0:CF-1];
    initial begin
        $readmemh(MFILE, mmem);
        $readmemh(BFILE, bmem);
        $readmemh(SFILE, smem);
    end

    wire en = !m_tvalid || m_tready;  // the output is free: both registers move
    assign s_tready = en;
    reg [CFW-1:0] cf, cf1;  // the channel fold of the input word, of the product
    reg v1, l1;
    wire [PE*MB-1:0] mrow = mmem[cf];
    wire [PE*BB-1:0] brow = bmem[cf1];
    wire [PE*SHB-1:0] srow = smem[cf1];
    wire [PE*OB-1:0] outs;

    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            wire signed [XW-1:0] x;
            if (IS != 0) begin : sx
                assign x = s_tdata[p*IB+:IB];
            end else begin : ux
                assign x = {1'b0, s_tdata[p*IB+:IB]};
            end
            wire signed [MB-1:0] m = mrow[p*MB+:MB];
            reg signed [PW-1:0] prod;
            always @(posedge clk) if (en) prod <= $signed({{(PW - XW) {x[XW-1]}}, x}) * $signed({{(PW - MB) {m[MB-1]}}, m});
            wire signed [BB-1:0] b = brow[p*BB+:BB];
            wire [SHB-1:0] sh = srow[p*SHB+:SHB];
            reg signed [AW-1:0] sum;
            wire signed [RW-1:0] high;  // sum >>> SMIN
            reg signed [RW-1:0] shifted;
            reg signed [KW-1:0] k;
            reg [OB-1:0] o;
            if (AW > SMIN) begin : drop
                assign high = sum[AW-1:AW-RW];
                if (SMIN > 0) begin : low
                    wire [SMIN-1:0] unused_low = sum[SMIN-1:0];
                end
            end else begin : sign
                assign high = sum[AW-1];
                wire [AW-2:0] unused_low = sum[AW-2:0];
            end
            always @* begin
                sum = $signed({{(AW - PW) {prod[PW-1]}}, prod}) + $signed({{(AW - BB) {b[BB-1]}}, b});
                shifted = high >>> sh;
                k = {{(KW - RW) {shifted[RW-1]}}, shifted};
                o = (k < LO_K) ? LO_K[OB-1:0] : (k > HI_K) ? HI_K[OB-1:0] : k[OB-1:0];
            end
            assign outs[p*OB+:OB] = o;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= 0;
            cf1 <= 0;
            v1 <= 1'b0;
            l1 <= 1'b0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else if (en) begin
            v1 <= s_tvalid;
            l1 <= s_tlast;
            cf1 <= cf;
            if (s_tvalid) cf <= (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;
            m_tvalid <= v1;
            m_tlast <= l1;
            m_tdata <= outs;
        end
    end
endmodule
