`timescale 1ns / 1ps
// edgec RTL kernel library: skid buffer. Registers an AXI4-Stream (data + last) so that
// neither tvalid nor tready passes combinationally from one side to the other, at full
// throughput (two entries: the output register and the skid register).
module edgec_skid #(
    parameter W = 8
) (
    input wire clk,
    input wire rst_n,
    input wire [W-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output wire [W-1:0] m_tdata,
    output wire m_tlast,
    output wire m_tvalid,
    input wire m_tready
);
    reg [W:0] out_r, skid_r;
    reg out_v, skid_v;
    assign s_tready = !skid_v;
    assign m_tdata = out_r[W-1:0];
    assign m_tlast = out_r[W];
    assign m_tvalid = out_v;
    always @(posedge clk) begin
        if (!rst_n) begin
            out_v <= 1'b0;
            skid_v <= 1'b0;
        end else begin
            if (!out_v || m_tready) begin
                // the output register takes the skid entry first, else the input
                if (skid_v) begin
                    out_r <= skid_r;
                    out_v <= 1'b1;
                    skid_v <= 1'b0;
                end else begin
                    out_r <= {s_tlast, s_tdata};
                    out_v <= s_tvalid;
                end
            end else if (s_tvalid && !skid_v) begin
                skid_r <= {s_tlast, s_tdata};
                skid_v <= 1'b1;
            end
        end
    end
endmodule
