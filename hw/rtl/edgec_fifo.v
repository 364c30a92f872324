`timescale 1ns / 1ps
// edgec RTL kernel library: synchronous FIFO of DEPTH >= 2 AXI4-Stream beats (data +
// last; the network top uses powers of two up to 512 and multiples of 512 beyond, for the
// branches into a join). Full throughput; tready is low only when full.
module edgec_fifo #(
    parameter W = 8,
    parameter DEPTH = 2
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
    localparam AW = (DEPTH <= 2) ? 1 : $clog2(DEPTH);
    localparam integer LAST_I = DEPTH - 1;
    localparam [AW-1:0] LAST = LAST_I[AW-1:0];
    localparam [AW:0] FULL = LAST_I[AW:0] + 1'b1;
    reg [W:0] mem[0:DEPTH-1];
    reg [AW:0] count;
    reg [AW-1:0] rd, wr;
    wire push = s_tvalid && s_tready;
    wire pop = m_tvalid && m_tready;
    assign s_tready = (count != FULL);
    assign m_tvalid = (count != {(AW + 1) {1'b0}});
    assign m_tdata = mem[rd][W-1:0];
    assign m_tlast = mem[rd][W];
    always @(posedge clk) begin
        if (!rst_n) begin
            count <= 0;
            rd <= 0;
            wr <= 0;
        end else begin
            if (push) begin
                mem[wr] <= {s_tlast, s_tdata};
                wr <= (wr == LAST) ? {AW{1'b0}} : wr + 1'b1;
            end
            if (pop) rd <= (rd == LAST) ? {AW{1'b0}} : rd + 1'b1;
            count <= count + {{AW{1'b0}}, push} - {{AW{1'b0}}, pop};
        end
    end
endmodule
