`timescale 1ns / 1ps
// edgec RTL kernel library: fork — every word to both outputs, each with its own
// backpressure; the input advances when both consumers have taken the word.
module edgec_dup #(
    parameter W = 8
) (
    input wire clk,
    input wire rst_n,
    input wire [W-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output wire [W-1:0] a_tdata,
    output wire a_tlast,
    output wire a_tvalid,
    input wire a_tready,
    output wire [W-1:0] b_tdata,
    output wire b_tlast,
    output wire b_tvalid,
    input wire b_tready
);
    // each output keeps the word until its consumer took it; the input advances when both have
    reg a_done, b_done;
    assign a_tdata = s_tdata;
    assign b_tdata = s_tdata;
    assign a_tlast = s_tlast;
    assign b_tlast = s_tlast;
    assign a_tvalid = s_tvalid && !a_done;
    assign b_tvalid = s_tvalid && !b_done;
    wire a_ok = a_done || a_tready, b_ok = b_done || b_tready;
    assign s_tready = a_ok && b_ok;
    always @(posedge clk) begin
        if (!rst_n) begin
            a_done <= 1'b0;
            b_done <= 1'b0;
        end else if (s_tvalid) begin
            if (a_ok && b_ok) begin
                a_done <= 1'b0;
                b_done <= 1'b0;
            end else begin
                a_done <= a_ok;
                b_done <= b_ok;
            end
        end
    end
endmodule
