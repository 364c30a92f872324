`timescale 1ns / 1ps
// edgec RTL kernel library: concatenation along channels of two streams of one spatial
// shape (a U-Net's skip connection): per pixel C1/PE words of a, then C2/PE words of b,
// PE lanes per word, each element widened to OB bits (AB/BB-bit inputs, AS/BS signed,
// ABIP/BBIP bipolar: one bit, 1 meaning +1, becomes -1 or +1 unless both are bipolar and
// the output stays bipolar, OB = 1). One word per cycle: (C1 + C2)/PE cycles per pixel.
// tlast: b's, on the last word of a pixel (the frame's last word is b's last).
module edgec_concat #(
    parameter C1 = 1,
    parameter C2 = 1,
    parameter PE = 1,
    parameter AB = 4,
    parameter AS = 0,
    parameter ABIP = 0,
    parameter BB = 4,
    parameter BS = 0,
    parameter BBIP = 0,
    parameter OB = 4
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*AB-1:0] a_tdata,
    input wire a_tlast,
    input wire a_tvalid,
    output wire a_tready,
    input wire [PE*BB-1:0] b_tdata,
    input wire b_tlast,
    input wire b_tvalid,
    output wire b_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF1 = C1 / PE;
    localparam CF = (C1 + C2) / PE;
    localparam CFW = CF > 1 ? $clog2(CF) : 1;
    localparam integer CF_L = CF - 1;
    localparam [CFW-1:0] CF_LAST = CF_L[CFW-1:0];
    localparam [CFW:0] CF1_C = CF1[CFW:0];
    reg [CFW-1:0] cf;  // the word of the pixel: a's while cf < CF1, then b's
    wire from_a = {1'b0, cf} < CF1_C;
    wire out_free = !m_tvalid || m_tready;
    assign a_tready = from_a && out_free;
    assign b_tready = !from_a && out_free;
    wire fire = out_free && (from_a ? a_tvalid : b_tvalid);
    wire unused_last = a_tlast;

    reg [PE*OB-1:0] wa, wb;
    integer p;
    always @* begin
        for (p = 0; p < PE; p = p + 1) begin
            if (ABIP != 0 && OB > 1) wa[p*OB+:OB] = a_tdata[p*AB] ? {{(OB - 1) {1'b0}}, 1'b1} : {OB{1'b1}};
            else if (AS != 0) wa[p*OB+:OB] = {{(OB - AB) {a_tdata[p*AB+AB-1]}}, a_tdata[p*AB+:AB]};
            else wa[p*OB+:OB] = {{(OB - AB) {1'b0}}, a_tdata[p*AB+:AB]};
            if (BBIP != 0 && OB > 1) wb[p*OB+:OB] = b_tdata[p*BB] ? {{(OB - 1) {1'b0}}, 1'b1} : {OB{1'b1}};
            else if (BS != 0) wb[p*OB+:OB] = {{(OB - BB) {b_tdata[p*BB+BB-1]}}, b_tdata[p*BB+:BB]};
            else wb[p*OB+:OB] = {{(OB - BB) {1'b0}}, b_tdata[p*BB+:BB]};
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (fire) begin
                m_tdata <= from_a ? wa : wb;
                m_tlast <= !from_a && b_tlast && cf == CF_LAST;
                m_tvalid <= 1'b1;
                cf <= (cf == CF_LAST) ? {CFW{1'b0}} : cf + 1'b1;
            end
        end
    end
endmodule
