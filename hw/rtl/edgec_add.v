`timescale 1ns / 1ps
// edgec RTL kernel library: residual add, out = (a << SA) + (b << SB) on PE lanes (codes
// of one scale, or of scales a power of two apart: the coarser input shifted onto the
// finer scale). A bipolar input (ABIP/BBIP: one bit per lane, 1 meaning +1, 0 meaning
// -1) enters as -1/+1. One word per cycle.
module edgec_add #(
    parameter PE = 1,
    parameter AB = 8,
    parameter AS = 0,
    parameter BB = 8,
    parameter BS = 0,
    parameter OB = 9,
    parameter SA = 0,
    parameter SB = 0,
    parameter ABIP = 0,
    parameter BBIP = 0
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
    wire out_free = !m_tvalid || m_tready;
    wire fire = a_tvalid && b_tvalid && out_free;
    assign a_tready = b_tvalid && out_free;
    assign b_tready = a_tvalid && out_free;
    wire unused_last = b_tlast;
    reg [PE*OB-1:0] sum;
    integer p;
    always @* begin
        for (p = 0; p < PE; p = p + 1)
            sum[p*OB+:OB] = ((ABIP != 0 ? {{(OB - 1) {~a_tdata[p*AB]}}, 1'b1}
                              : AS != 0 ? {{(OB - AB) {a_tdata[p*AB+AB-1]}}, a_tdata[p*AB+:AB]}
                                        : {{(OB - AB) {1'b0}}, a_tdata[p*AB+:AB]}) << SA)
                          + ((BBIP != 0 ? {{(OB - 1) {~b_tdata[p*BB]}}, 1'b1}
                              : BS != 0 ? {{(OB - BB) {b_tdata[p*BB+BB-1]}}, b_tdata[p*BB+:BB]}
                                        : {{(OB - BB) {1'b0}}, b_tdata[p*BB+:BB]}) << SB);
    end
    always @(posedge clk) begin
        if (!rst_n) begin
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (fire) begin
                m_tdata <= sum;
                m_tlast <= a_tlast;
                m_tvalid <= 1'b1;
            end
        end
    end
endmodule
